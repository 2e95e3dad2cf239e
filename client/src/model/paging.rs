//! The Octopus paging envelope.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{Links, nullable};

/// Link name of the next page in a [`ResourceCollection`].
pub const PAGE_NEXT: &str = "Page.Next";

/// One page of a collection: `{ItemType, Items, TotalResults, ItemsPerPage, ...}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "PascalCase", bound(deserialize = "T: Deserialize<'de>"))]
pub struct ResourceCollection<T> {
    /// Item type name, e.g. `Project`.
    #[serde(default, deserialize_with = "nullable::deserialize")]
    pub item_type: String,
    /// Items of this page.
    #[serde(default, deserialize_with = "nullable::deserialize")]
    pub items: Vec<T>,
    /// Matching items over all pages.
    #[serde(default, deserialize_with = "nullable::deserialize")]
    pub total_results: i64,
    /// Page size (`take`).
    #[serde(default, deserialize_with = "nullable::deserialize")]
    pub items_per_page: i64,
    /// Number of pages.
    #[serde(default, deserialize_with = "nullable::deserialize")]
    pub number_of_pages: i64,
    /// Zero-based number of the last page.
    #[serde(default, deserialize_with = "nullable::deserialize")]
    pub last_page_number: i64,
    /// `Self`, `Template`, `Page.All`, `Page.Current`, `Page.Last`, `Page.Next`.
    #[serde(default, deserialize_with = "nullable::deserialize")]
    pub links: Links,
}

impl<T> ResourceCollection<T> {
    /// The link to the next page, if there is one.
    pub fn next_link(&self) -> Option<&str> {
        self.links
            .get(PAGE_NEXT)
            .map(String::as_str)
            .filter(|l| !l.is_empty())
    }
}

//! The Octopus error body.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::nullable;

/// `{ErrorMessage, Errors, FullException, HelpLink, HelpText, ParsedHelpLinks}`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "PascalCase")]
pub struct ErrorBody {
    /// Summary of what went wrong.
    #[serde(default, deserialize_with = "nullable::deserialize")]
    pub error_message: String,
    /// Individual problems, e.g. one per invalid field.
    #[serde(default, deserialize_with = "nullable::deserialize")]
    pub errors: Vec<String>,
    /// Server-side exception text, if any.
    #[serde(default)]
    pub full_exception: Option<String>,
    /// Link to help.
    #[serde(default)]
    pub help_link: Option<String>,
    /// Help text.
    #[serde(default)]
    pub help_text: Option<String>,
    /// Links found in the help text.
    #[serde(default, deserialize_with = "nullable::deserialize")]
    pub parsed_help_links: Vec<String>,
}

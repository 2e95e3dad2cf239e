//! Generic list/get/create/update/delete over the document store.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use octopus_client::model::{Links, Named, Resource, ResourceCollection};
use rusqlite::Connection;

use super::AppState;
use super::extract::{Body, ItemId, ListQuery, Scope};
use super::unknown::{self, UnknownFields};
use crate::error::{ApiError, ApiResult};
use crate::store::documents::{self, NO_SPACE};
use crate::util::encode_query;

/// A named document the generic handlers list, get, create, replace and delete.
/// Its identity (name, ID, space, links) comes from [`Named`].
pub trait ApiResource: Named + UnknownFields {
    /// ID prefix, e.g. `Projects` for `Projects-1`.
    const ID_PREFIX: &'static str;
    /// `ItemType` in collections, and the noun in messages.
    const ITEM_TYPE: &'static str;
    /// Longest accepted `Name` (unique per space and kind).
    const MAX_NAME: usize = 200;
    /// Extra list filters: lowercase query parameter to JSON path.
    const JSON_FILTERS: &'static [(&'static str, &'static str)] = &[];
    /// JSON path lists are sorted by (then creation order); `None`: creation order.
    const ORDER_BY: Option<&'static str> = None;

    /// Validates and normalizes an incoming document; `existing` is set on updates.
    /// Runs after [`Named::set_identity`].
    fn prepare(&mut self, tx: &Connection, space: &str, existing: Option<&Self>) -> ApiResult<()>;
    /// Runs in the creating transaction, after the insert.
    fn after_create(&self, _tx: &Connection, _space: &str) -> ApiResult<()> {
        Ok(())
    }
    /// Runs in the deleting transaction, before the delete; may refuse it.
    fn before_delete(&self, _tx: &Connection, _space: &str) -> ApiResult<()> {
        Ok(())
    }
    /// Runs after the deleting transaction committed, on the blocking pool: cleanup
    /// outside the database (files). The delete stands whatever happens here.
    fn after_delete(&self, _state: &super::State) {}
    /// Links to add when answering (besides `Self`).
    fn extra_links(&self, _space: &str, _links: &mut Links) {}
    /// Hides secrets before answering.
    fn redact(&mut self) {}
}

/// A document the generic read handlers ([`list`], [`get_one`]) serve and
/// [`present`] prepares: every [`ApiResource`], and deployment processes, which
/// have no name and are created and replaced by their own handlers.
pub trait Served: Resource {
    /// `ItemType` in collections, and the noun in messages.
    const ITEM_TYPE: &'static str;
    /// Extra list filters: lowercase query parameter to JSON path.
    const JSON_FILTERS: &'static [(&'static str, &'static str)] = &[];
    /// JSON path lists are sorted by (then creation order); `None`: creation order.
    const ORDER_BY: Option<&'static str> = None;

    /// The hypermedia links, replaced when answering.
    fn links(&mut self) -> &mut Links;
    /// Links to add when answering (besides `Self`).
    fn extra_links(&self, _space: &str, _links: &mut Links) {}
    /// Hides secrets before answering.
    fn redact(&mut self) {}
}

/// Named documents are served as their [`ApiResource`] impl says.
impl<T: ApiResource> Served for T {
    const ITEM_TYPE: &'static str = <T as ApiResource>::ITEM_TYPE;
    const JSON_FILTERS: &'static [(&'static str, &'static str)] = <T as ApiResource>::JSON_FILTERS;
    const ORDER_BY: Option<&'static str> = <T as ApiResource>::ORDER_BY;

    fn links(&mut self) -> &mut Links {
        self.links_mut()
    }
    fn extra_links(&self, space: &str, links: &mut Links) {
        ApiResource::extra_links(self, space, links);
    }
    fn redact(&mut self) {
        ApiResource::redact(self);
    }
}

/// Storage key of the space a resource type lives in.
fn storage_space<T: Resource>(scope: &Scope) -> &str {
    if T::SPACE_SCOPED { &scope.0 } else { NO_SPACE }
}

/// URL prefix of a collection.
pub fn collection_path<T: Resource>(space: &str) -> String {
    if T::SPACE_SCOPED {
        format!("/api/{space}/{}", T::COLLECTION)
    } else {
        format!("/api/{}", T::COLLECTION)
    }
}

/// Prepares a stored document for the response: links and redaction.
pub fn present<T: Served>(mut item: T, space: &str) -> T {
    item.redact();
    let mut links = Links::new();
    if let Some(id) = item.id() {
        links.insert(
            "Self".into(),
            format!("{}/{id}", collection_path::<T>(space)),
        );
    }
    item.extra_links(space, &mut links);
    *item.links() = links;
    item
}

fn check_unique<T: ApiResource>(
    tx: &Connection,
    space: &str,
    name: &str,
    own_id: Option<&str>,
) -> ApiResult<()> {
    match documents::id_by_name(tx, T::COLLECTION, space, name)? {
        Some(other) if Some(other.as_str()) != own_id => Err(ApiError::validation(vec![format!(
            "Name: A {} with the name '{}' already exists{}.",
            T::ITEM_TYPE.to_lowercase(),
            name.trim(),
            if T::SPACE_SCOPED {
                " in this space"
            } else {
                ""
            }
        )])),
        _ => Ok(()),
    }
}

/// Creates a resource in an open transaction (used by handlers and seeding).
/// `fixed_id` overrides the generated `<Prefix>-<n>` ID.
pub fn create_tx<T: ApiResource>(
    tx: &Connection,
    space: &str,
    mut item: T,
    fixed_id: Option<&str>,
) -> ApiResult<T> {
    // Checked in the transaction too: the space may have been deleted meanwhile.
    if T::SPACE_SCOPED && !documents::exists(tx, "spaces", NO_SPACE, space)? {
        return Err(ApiError::not_found("space", space));
    }
    let id = match fixed_id {
        Some(id) => id.to_owned(),
        None => documents::next_id(tx, T::ID_PREFIX)?,
    };
    unknown::check(&item)?;
    item.links_mut().clear();
    item.set_identity(id.clone(), space);
    item.prepare(tx, space, None)?;
    check_unique::<T>(tx, space, item.name(), None)?;
    documents::insert(tx, T::COLLECTION, space, &id, Some(item.name()), &item)?;
    item.after_create(tx, space)?;
    Ok(item)
}

fn update_tx<T: ApiResource>(tx: &Connection, space: &str, id: &str, mut item: T) -> ApiResult<T> {
    let existing: T = documents::get(tx, T::COLLECTION, space, id)?
        .ok_or_else(|| ApiError::not_found(T::ITEM_TYPE, id))?;
    if let Some(body_id) = item.id().filter(|b| *b != id) {
        return Err(ApiError::validation(vec![format!(
            "Id: The Id in the body ('{}') does not match the URL ('{id}').",
            body_id.chars().take(100).collect::<String>().escape_debug()
        )]));
    }
    unknown::check(&item)?;
    item.links_mut().clear();
    item.set_identity(id.to_owned(), space);
    item.prepare(tx, space, Some(&existing))?;
    check_unique::<T>(tx, space, item.name(), Some(id))?;
    documents::update(tx, T::COLLECTION, space, id, Some(item.name()), &item)?;
    Ok(item)
}

/// The page `q` asks for (`skip`, `take`) of every matching item, `all`, in the
/// paging envelope.
pub fn page_of<T>(
    all: Vec<T>,
    q: &ListQuery,
    base: &str,
    item_type: &str,
    template: &str,
) -> ResourceCollection<T> {
    let total = all.len() as i64;
    let items = all
        .into_iter()
        .skip(usize::try_from(q.skip).unwrap_or(usize::MAX))
        .take(usize::try_from(q.take).unwrap_or(usize::MAX))
        .collect();
    page(items, total, q, base, item_type, template)
}

/// Builds the paging envelope with Octopus' `Links`.
pub fn page<T>(
    items: Vec<T>,
    total: i64,
    q: &ListQuery,
    base: &str,
    item_type: &str,
    template: &str,
) -> ResourceCollection<T> {
    let take = q.take;
    let pages = if take == 0 {
        0
    } else {
        (total + take - 1) / take
    };
    let filters: String = q
        .raw
        .iter()
        .filter(|(k, _)| k != "skip" && k != "take")
        .map(|(k, v)| format!("&{}={}", encode_query(k), encode_query(v)))
        .collect();
    let link = |skip: i64, take: i64| format!("{base}?skip={skip}&take={take}{filters}");
    let mut links = Links::new();
    links.insert("Self".into(), link(q.skip, take));
    links.insert("Template".into(), format!("{base}{template}"));
    links.insert("Page.All".into(), link(0, i64::from(i32::MAX)));
    links.insert("Page.Current".into(), link(q.skip, take));
    if pages > 0 {
        links.insert("Page.Last".into(), link((pages - 1) * take, take));
    }
    if take > 0 && q.skip + take < total {
        links.insert("Page.Next".into(), link(q.skip + take, take));
    }
    ResourceCollection {
        item_type: item_type.to_owned(),
        items,
        total_results: total,
        items_per_page: take,
        number_of_pages: pages,
        last_page_number: (pages - 1).max(0),
        links,
    }
}

/// `GET` a collection page.
pub async fn list<T: Served>(
    State(st): State<AppState>,
    scope: Scope,
    mut q: ListQuery,
) -> ApiResult<Json<ResourceCollection<T>>> {
    let space = storage_space::<T>(&scope).to_owned();
    for (param, path) in T::JSON_FILTERS {
        if let Some((_, v)) = q.raw.iter().find(|(k, v)| k == param && !v.is_empty()) {
            q.filter.json_equals.push(((*path).to_owned(), v.clone()));
        }
    }
    q.filter.order_by = T::ORDER_BY;
    let (filter, skip, take) = (q.filter.clone(), q.skip, q.take);
    let sp = space.clone();
    let (items, total) = st
        .store
        .read(move |c| documents::list::<T>(c, T::COLLECTION, &sp, &filter, skip, take))
        .await?;
    let items = items.into_iter().map(|i| present(i, &space)).collect();
    let base = collection_path::<T>(&space);
    Ok(Json(page(
        items,
        total,
        &q,
        &base,
        T::ITEM_TYPE,
        "{/id}{?skip,take,ids,partialName,name}",
    )))
}

/// `GET` one item.
pub async fn get_one<T: Served>(
    State(st): State<AppState>,
    scope: Scope,
    ItemId(id): ItemId,
) -> ApiResult<Json<T>> {
    let space = storage_space::<T>(&scope).to_owned();
    let (sp, i) = (space.clone(), id.clone());
    let item: Option<T> = st
        .store
        .read(move |c| documents::get(c, T::COLLECTION, &sp, &i))
        .await?;
    let item = item.ok_or_else(|| ApiError::not_found(T::ITEM_TYPE, &id))?;
    Ok(Json(present(item, &space)))
}

/// `POST` a new item: 201 with the stored item.
pub async fn create<T: ApiResource>(
    State(st): State<AppState>,
    scope: Scope,
    Body(item): Body<T>,
) -> ApiResult<Response> {
    let space = storage_space::<T>(&scope).to_owned();
    let sp = space.clone();
    let created = st
        .store
        .write(move |tx| create_tx(tx, &sp, item, None))
        .await?;
    if !T::SPACE_SCOPED {
        st.refresh_spaces().await?;
    }
    Ok((StatusCode::CREATED, Json(present(created, &space))).into_response())
}

/// `PUT` a whole item.
pub async fn update<T: ApiResource>(
    State(st): State<AppState>,
    scope: Scope,
    ItemId(id): ItemId,
    Body(item): Body<T>,
) -> ApiResult<Json<T>> {
    let space = storage_space::<T>(&scope).to_owned();
    let sp = space.clone();
    let updated = st
        .store
        .write(move |tx| update_tx(tx, &sp, &id, item))
        .await?;
    if !T::SPACE_SCOPED {
        st.refresh_spaces().await?;
    }
    Ok(Json(present(updated, &space)))
}

/// `DELETE` an item: 204.
pub async fn delete<T: ApiResource>(
    State(st): State<AppState>,
    scope: Scope,
    ItemId(id): ItemId,
) -> ApiResult<StatusCode> {
    let space = storage_space::<T>(&scope).to_owned();
    let deleted = st
        .store
        .write(move |tx| {
            let existing: T = documents::get(tx, T::COLLECTION, &space, &id)?
                .ok_or_else(|| ApiError::not_found(T::ITEM_TYPE, &id))?;
            existing.before_delete(tx, &space)?;
            documents::delete(tx, T::COLLECTION, &space, &id)?;
            Ok(existing)
        })
        .await?;
    let state = st.clone();
    tokio::task::spawn_blocking(move || deleted.after_delete(&state))
        .await
        .map_err(ApiError::internal)?;
    if !T::SPACE_SCOPED {
        st.refresh_spaces().await?;
    }
    Ok(StatusCode::NO_CONTENT)
}

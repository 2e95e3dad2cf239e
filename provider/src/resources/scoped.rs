//! What space-scoped resources (environments, projects, ...) share: reading,
//! updating, deleting and importing an object of one API collection in one space.

use crate::Octopus;
use crate::errors::{api, field_of, not_found_as_none};
use octopus_client::{Client, Collection};
use tf_sdk::{Diagnostics, Model, Val};

/// A resource model backed by one space-scoped API collection.
pub(crate) trait SpaceScoped: Model + Clone {
    /// The API type.
    type Api: octopus_client::model::Resource;
    /// What it is called in messages ("environment").
    const WHAT: &'static str;
    /// Its collection in `space`.
    fn collection<'a>(client: &'a Client, space: &str) -> Collection<'a, Self::Api>;
    /// The API object for this model, on top of `existing` when updating.
    fn to_api(&self, space: &str, existing: Option<Self::Api>) -> Self::Api;
    /// The model of an API object.
    fn from_api(api: Self::Api, space: &str) -> Self;
    /// The `id` attribute.
    fn id(&self) -> &Val<String>;
    /// The `space_id` attribute.
    fn space_id(&self) -> &Val<String>;
}

/// Creates `api` in `space` (the caller prepares server defaults).
pub(crate) async fn create<M: SpaceScoped>(
    o: &Octopus,
    space: &str,
    api_obj: &M::Api,
) -> Result<M::Api, Diagnostics> {
    M::collection(&o.client, space)
        .create(api_obj)
        .await
        .map_err(|e| api(&format!("create the {}", M::WHAT), e, Some(&field_of::<M>)))
}

/// Reads the object of `state`; `None` when it is gone.
pub(crate) async fn read<M: SpaceScoped>(o: &Octopus, state: &M) -> Result<Option<M>, Diagnostics> {
    let space = o.space(state.space_id()).await?;
    let id = state.id().known().cloned().unwrap_or_default();
    let found = not_found_as_none(M::collection(&o.client, &space).get(&id).await)
        .map_err(|e| api(&format!("read the {}", M::WHAT), e, None))?;
    Ok(found.map(|a| M::from_api(a, &space)))
}

/// Updates the object of `prior` to `plan`, keeping fields the model does not manage.
pub(crate) async fn update<M: SpaceScoped>(
    o: &Octopus,
    prior: &M,
    plan: &M,
) -> Result<M, Diagnostics> {
    let space = o.space(prior.space_id()).await?;
    let id = prior.id().known().cloned().unwrap_or_default();
    let items = M::collection(&o.client, &space);
    let current = items
        .get(&id)
        .await
        .map_err(|e| api(&format!("read the {}", M::WHAT), e, None))?;
    let updated = items
        .update(&plan.to_api(&space, Some(current)))
        .await
        .map_err(|e| api(&format!("update the {}", M::WHAT), e, Some(&field_of::<M>)))?;
    Ok(M::from_api(updated, &space))
}

/// Deletes the object of `state`; one already gone is fine.
pub(crate) async fn delete<M: SpaceScoped>(o: &Octopus, state: &M) -> Result<(), Diagnostics> {
    let space = o.space(state.space_id()).await?;
    let id = state.id().known().cloned().unwrap_or_default();
    not_found_as_none(M::collection(&o.client, &space).delete(&id).await)
        .map_err(|e| api(&format!("delete the {}", M::WHAT), e, None))?;
    Ok(())
}

/// Imports by `Kind-1` (the provider's space) or `Spaces-2/Kind-1`.
pub(crate) async fn import<M: SpaceScoped>(o: &Octopus, import_id: &str) -> Result<M, Diagnostics> {
    let (space, id) = match import_id.split_once('/') {
        Some((space, rest)) => (Val::Known(space.to_string()), rest),
        None => (Val::Null, import_id),
    };
    let space = o.space(&space).await?;
    let found = M::collection(&o.client, &space)
        .get(id)
        .await
        .map_err(|e| api(&format!("import {} {import_id}", M::WHAT), e, None))?;
    Ok(M::from_api(found, &space))
}

//! One generic resource for everything backed by an Octopus API collection: a
//! resource is its model plus its mapping to the API type ([`ApiModel`]); create,
//! read, update, delete and import are written once, in [`ApiResource`].

use crate::Octopus;
use crate::errors::{FieldPath, api, field_of, not_found_as_none};
use octopus_client::Collection;
use octopus_client::model::{Named, Resource as _};
use std::future::Future;
use std::marker::PhantomData;
use tf_sdk::value::Value;
use tf_sdk::{Context, Diagnostic, Diagnostics, Model, PlanRequest, Resource, Val};

/// A resource model and its mapping to one API collection.
pub(crate) trait ApiModel: Model + Clone {
    /// The API document.
    type Api: Named + Default;

    /// Writes the model into an API document: a new one, or the server's current one
    /// when updating (so fields the model does not manage are kept). The generic
    /// resource sets the space.
    fn to_api(&self, doc: &mut Self::Api);
    /// The model of an API document read from `space`. A value the server has but never
    /// returns (a secret: Octopus answers only `HasValue`) is [`Val::Unknown`]: the
    /// resource puts the planned or stored value in its place, and an import leaves it
    /// null.
    fn from_api(doc: Self::Api, space: &str) -> Self;

    /// Whether a document is one this model manages (a feed of its type, say); the error
    /// says what it is instead.
    fn accepts(_doc: &Self::Api) -> Result<(), String> {
        Ok(())
    }
    /// Checks a configuration beyond its attributes' own validators (values may be
    /// unknown).
    fn check(&self, _diags: &mut Diagnostics) {}
    /// Plan-time checks of a configuration that need the provider (its Terraform version).
    fn plan_checks(&self, _o: &Octopus, _diags: &mut Diagnostics) {}

    /// Fills in what the server needs before a create (defaults looked up once).
    fn before_create(
        _o: &Octopus,
        _space: &str,
        _doc: &mut Self::Api,
    ) -> impl Future<Output = Result<(), Diagnostics>> + Send {
        async { Ok(()) }
    }
    /// Adjusts what a create made to the plan (a second write, say).
    fn after_create(
        _o: &Octopus,
        _space: &str,
        _plan: &Self,
        created: Self::Api,
    ) -> impl Future<Output = Result<Self::Api, Diagnostics>> + Send {
        async { Ok(created) }
    }
    /// Prepares an existing document for deletion.
    fn before_delete(
        _o: &Octopus,
        _space: &str,
        _current: Self::Api,
    ) -> impl Future<Output = Result<(), Diagnostics>> + Send {
        async { Ok(()) }
    }
}

/// The Terraform resource of an [`ApiModel`], with its type name without the
/// provider prefix (`environment`), also the noun in messages.
pub(crate) struct ApiResource<M> {
    name: &'static str,
    _model: PhantomData<fn() -> M>,
}

impl<M> ApiResource<M> {
    pub(crate) fn new(name: &'static str) -> Self {
        ApiResource {
            name,
            _model: PhantomData,
        }
    }
}

/// A string attribute of a model (`id`, `space_id`, `name`), read through its value;
/// empty is null. Lets generic code reach the identity every model has without an
/// accessor trait.
pub(crate) fn attr<M: Model>(model: &M, name: &str) -> Val<String> {
    match model.to_value().get(name).and_then(|v| v.as_str()) {
        Some(s) if !s.is_empty() => Val::Known(s.to_string()),
        _ => Val::Null,
    }
}

/// The ID of the object behind a state.
fn id_of<M: Model>(state: &M) -> String {
    attr(state, "id").into_known().unwrap_or_default()
}

/// The space of a model: its `space_id`, else the provider's.
async fn space_of<M: ApiModel>(o: &Octopus, model: &M) -> Result<String, Diagnostics> {
    if !M::Api::SPACE_SCOPED {
        return Ok(String::new());
    }
    o.space(&attr(model, "space_id")).await
}

/// `read` with every unknown attribute (what the server does not return) taken from
/// `known`, the plan or the prior state.
fn with_known<M: Model>(read: M, known: &M) -> M {
    let mut value = read.to_value();
    let (Value::Object(fields), Value::Object(known)) = (&mut value, known.to_value()) else {
        return read;
    };
    for (name, v) in fields.iter_mut() {
        if matches!(v, Value::Unknown(_)) {
            *v = known.get(name).cloned().unwrap_or(Value::Null);
        }
    }
    M::from_value(&value).unwrap_or(read)
}

impl<M: ApiModel> ApiResource<M> {
    /// The model of a document, unless it is not one this resource manages.
    fn model_of(&self, doc: M::Api, space: &str) -> Result<M, Diagnostics> {
        M::accepts(&doc).map_err(|why| {
            let id = doc.id().unwrap_or_default();
            let what = self.name.replace('_', " ");
            Diagnostics::from(Diagnostic::error(format!("{id} is not a {what}"), why))
        })?;
        Ok(M::from_api(doc, space))
    }

    fn items<'a>(&self, o: &'a Octopus, space: &str) -> Collection<'a, M::Api> {
        o.client.collection(space)
    }

    /// Maps a failed API call during `action` ("create") to diagnostics; with
    /// `with_fields`, validation errors naming a field point at its attribute.
    fn failed(
        &self,
        action: &str,
        with_fields: bool,
    ) -> impl Fn(octopus_client::Error) -> Diagnostics + use<M> {
        let action = format!("{action} the {}", self.name.replace('_', " "));
        move |e| {
            let fields: FieldPath = &field_of::<M>;
            api(&action, e, with_fields.then_some(fields))
        }
    }
}

impl<M: ApiModel> Resource<Octopus> for ApiResource<M> {
    type Model = M;

    fn name(&self) -> &str {
        self.name
    }

    fn validate(&self, config: &M, diags: &mut Diagnostics) {
        config.check(diags);
    }

    async fn modify_plan(
        &self,
        ctx: &Context<Octopus>,
        req: &mut PlanRequest<M>,
        diags: &mut Diagnostics,
    ) {
        if let Ok(o) = ctx.data() {
            req.config.plan_checks(o, diags);
        }
    }

    async fn create(&self, ctx: &Context<Octopus>, plan: M) -> Result<M, Diagnostics> {
        let o = ctx.data()?;
        let space = space_of(o, &plan).await?;
        let mut doc = M::Api::default();
        doc.set_space(&space);
        plan.to_api(&mut doc);
        M::before_create(o, &space, &mut doc).await?;
        let created = self
            .items(o, &space)
            .create(&doc)
            .await
            .map_err(self.failed("create", true))?;
        let created = M::after_create(o, &space, &plan, created).await?;
        Ok(with_known(M::from_api(created, &space), &plan))
    }

    async fn read(&self, ctx: &Context<Octopus>, state: M) -> Result<Option<M>, Diagnostics> {
        let o = ctx.data()?;
        let space = space_of(o, &state).await?;
        let found = not_found_as_none(self.items(o, &space).get(&id_of(&state)).await)
            .map_err(self.failed("read", false))?;
        match found {
            Some(doc) => Ok(Some(with_known(self.model_of(doc, &space)?, &state))),
            None => Ok(None),
        }
    }

    async fn update(&self, ctx: &Context<Octopus>, prior: M, plan: M) -> Result<M, Diagnostics> {
        let o = ctx.data()?;
        let space = space_of(o, &prior).await?;
        let items = self.items(o, &space);
        let mut doc = items
            .get(&id_of(&prior))
            .await
            .map_err(self.failed("read", false))?;
        doc.set_space(&space);
        plan.to_api(&mut doc);
        let updated = items
            .update(&doc)
            .await
            .map_err(self.failed("update", true))?;
        Ok(with_known(M::from_api(updated, &space), &plan))
    }

    async fn delete(&self, ctx: &Context<Octopus>, state: M) -> Result<(), Diagnostics> {
        let o = ctx.data()?;
        let space = space_of(o, &state).await?;
        let items = self.items(o, &space);
        let id = id_of(&state);
        let Some(current) =
            not_found_as_none(items.get(&id).await).map_err(self.failed("read", false))?
        else {
            return Ok(());
        };
        M::before_delete(o, &space, current).await?;
        not_found_as_none(items.delete(&id).await).map_err(self.failed("delete", false))?;
        Ok(())
    }

    /// Imports by ID: `Environments-1` (looked for in the provider's space, then in
    /// every space the key can see, since Octopus IDs are unique on a server) or
    /// `Spaces-2/Environments-1`.
    async fn import(&self, ctx: &Context<Octopus>, import_id: &str) -> Result<M, Diagnostics> {
        let o = ctx.data()?;
        let what = self.name.replace('_', " ");
        let import_failed = |e| api(&format!("import {what} {import_id}"), e, None);
        if !M::Api::SPACE_SCOPED {
            let doc = self
                .items(o, "")
                .get(import_id)
                .await
                .map_err(import_failed)?;
            return self.model_of(doc, "");
        }
        let (spaces, id) = o.import_spaces(import_id).await?;
        for space in &spaces {
            let found = self.items(o, space).get(id).await;
            if let Some(doc) = not_found_as_none(found).map_err(import_failed)? {
                return self.model_of(doc, space);
            }
        }
        Err(Diagnostic::error(
            format!("Cannot import {what} {import_id}"),
            format!(
                "No space the API key can see has it ({} spaces searched). Check the ID, \
                 or write it as <space-id>/{import_id}.",
                spaces.len()
            ),
        )
        .into())
    }
}

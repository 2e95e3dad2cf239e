//! The traits a provider implements: [`Provider`], [`Resource`] and [`DataSource`].
//!
//! Methods are `async` and typed by the resource's [`Model`]; the SDK does the wire
//! decoding, the plan pipeline and the consistency checks around them.

use crate::diag::{AttributePath, Diagnostic, Diagnostics};
use crate::model::Model;
use crate::schema::Schema;
use std::future::Future;
use std::sync::{Arc, Mutex};
use tokio_util::sync::CancellationToken;

/// What every resource and data source call gets: the provider's configured data and
/// a cancellation signal that fires when Terraform asks the provider to stop.
///
/// Warnings given with [`Context::warn`] reach Terraform with the call's result, so a
/// create can succeed and still say something worth knowing.
pub struct Context<D> {
    data: Option<Arc<D>>,
    cancel: CancellationToken,
    warnings: Arc<Mutex<Vec<Diagnostic>>>,
}

impl<D> Clone for Context<D> {
    fn clone(&self) -> Self {
        Context {
            data: self.data.clone(),
            cancel: self.cancel.clone(),
            warnings: self.warnings.clone(),
        }
    }
}

impl<D> Context<D> {
    pub(crate) fn new(data: Option<Arc<D>>, cancel: CancellationToken) -> Context<D> {
        Context {
            data,
            cancel,
            warnings: Arc::default(),
        }
    }

    /// Adds a warning to the result of the current call, whether it succeeds or not.
    pub fn warn(&self, warning: Diagnostic) {
        let warning = Diagnostic {
            severity: crate::diag::Severity::Warning,
            ..warning
        };
        self.warnings
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(warning);
    }

    /// The warnings given so far, removed from the context.
    pub(crate) fn take_warnings(&self) -> Diagnostics {
        Diagnostics(std::mem::take(
            &mut *self.warnings.lock().unwrap_or_else(|e| e.into_inner()),
        ))
    }

    /// The data `Provider::configure` returned, or an error diagnostic when the
    /// provider is not configured (for example when its configuration is unknown).
    pub fn data(&self) -> Result<&D, Diagnostics> {
        self.data.as_deref().ok_or_else(|| {
            Diagnostic::error(
                "Provider not configured",
                "The provider's configuration was not known yet or failed; fix the provider \
                 block and run again.",
            )
            .into()
        })
    }

    /// Whether Terraform asked to stop (for example on Ctrl-C).
    pub fn is_cancelled(&self) -> bool {
        self.cancel.is_cancelled()
    }

    /// Completes when Terraform asks to stop.
    pub async fn cancelled(&self) {
        self.cancel.cancelled().await
    }
}

/// A provider: its configuration model and the resources and data sources it serves.
pub trait Provider: Send + Sync + 'static {
    /// The provider block's model.
    type Config: Model;
    /// What `configure` produces and every resource gets (a client, say).
    type Data: Send + Sync + 'static;

    /// The provider's type name, the prefix of its resource names (`octopus`).
    fn type_name(&self) -> &str;

    /// Checks the provider block before it is used; values may be unknown.
    fn validate(&self, _config: &Self::Config, _diags: &mut Diagnostics) {}

    /// Builds the data resources use from the provider block.
    fn configure(
        &self,
        config: Self::Config,
        terraform_version: String,
    ) -> impl Future<Output = Result<Self::Data, Diagnostics>> + Send;

    /// The resources, each boxed with [`resource`].
    fn resources(&self) -> Vec<Box<dyn ErasedResource<Self::Data>>>;

    /// The data sources, each boxed with [`data_source`].
    fn data_sources(&self) -> Vec<Box<dyn ErasedDataSource<Self::Data>>> {
        Vec::new()
    }
}

/// What `modify_plan` sees and may change.
pub struct PlanRequest<M> {
    /// The configuration (values may be unknown).
    pub config: M,
    /// The prior state; `None` when the resource is being created.
    pub prior: Option<M>,
    /// The plan so far; change computed values here.
    pub plan: M,
    /// Add paths whose change must replace the resource.
    pub requires_replace: Vec<AttributePath>,
}

/// A managed resource type.
pub trait Resource<D>: Send + Sync + 'static {
    /// The model that is both configuration and state.
    type Model: Model + Clone;

    /// The type name without the provider prefix (`project` for `octopus_project`).
    fn name(&self) -> &str;

    /// Bump when stored state needs upgrading; see `upgrade_state`.
    fn schema_version(&self) -> i64 {
        0
    }

    /// Checks the configuration; values may be unknown.
    fn validate(&self, _config: &Self::Model, _diags: &mut Diagnostics) {}

    /// Adjusts the plan after the SDK's own pipeline (defaults, unknowns,
    /// `requires_replace`). Configured values cannot be changed here.
    fn modify_plan(
        &self,
        _ctx: &Context<D>,
        _req: &mut PlanRequest<Self::Model>,
        _diags: &mut Diagnostics,
    ) -> impl Future<Output = ()> + Send {
        async {}
    }

    /// Creates the object; returns the new state with computed values set.
    fn create(
        &self,
        ctx: &Context<D>,
        plan: Self::Model,
    ) -> impl Future<Output = Result<Self::Model, Diagnostics>> + Send;

    /// Reads the object; `None` when it no longer exists.
    fn read(
        &self,
        ctx: &Context<D>,
        state: Self::Model,
    ) -> impl Future<Output = Result<Option<Self::Model>, Diagnostics>> + Send;

    /// Updates the object in place.
    fn update(
        &self,
        ctx: &Context<D>,
        prior: Self::Model,
        plan: Self::Model,
    ) -> impl Future<Output = Result<Self::Model, Diagnostics>> + Send;

    /// Deletes the object. Deleting one that is already gone is not an error.
    fn delete(
        &self,
        ctx: &Context<D>,
        state: Self::Model,
    ) -> impl Future<Output = Result<(), Diagnostics>> + Send;

    /// Returns a state for the object with import ID `id`; `read` runs next.
    fn import(
        &self,
        _ctx: &Context<D>,
        _id: &str,
    ) -> impl Future<Output = Result<Self::Model, Diagnostics>> + Send {
        async {
            Err(Diagnostic::error(
                "Import not supported",
                "This resource type cannot be imported.",
            )
            .into())
        }
    }

    /// Upgrades stored state JSON from an older `schema_version` to the current one.
    fn upgrade_state(
        &self,
        from_version: i64,
        _state: serde_json::Value,
    ) -> Result<serde_json::Value, Diagnostics> {
        Err(Diagnostic::error(
            "Cannot upgrade state",
            format!("State version {from_version} cannot be upgraded by this provider."),
        )
        .into())
    }
}

/// A data source type.
pub trait DataSource<D>: Send + Sync + 'static {
    /// The model that is both configuration and result.
    type Model: Model + Clone;

    /// The type name without the provider prefix.
    fn name(&self) -> &str;

    /// Checks the configuration; values may be unknown.
    fn validate(&self, _config: &Self::Model, _diags: &mut Diagnostics) {}

    /// Reads the data; computed attributes are filled in.
    fn read(
        &self,
        ctx: &Context<D>,
        config: Self::Model,
    ) -> impl Future<Output = Result<Self::Model, Diagnostics>> + Send;
}

pub use crate::erased::{ErasedDataSource, ErasedResource, data_source, resource};

/// The schema of a model with a version.
pub fn schema_of<M: Model>(version: i64) -> Schema {
    Schema {
        version,
        block: M::block(),
    }
}

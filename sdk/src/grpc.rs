//! The `tfplugin6.Provider` gRPC service, on top of a [`Provider`].

use crate::diag::{AttributePath, Diagnostic, Diagnostics, PathStep, Severity};
use crate::erased::{ErasedDataSource, ErasedResource, codec_diag};
use crate::model::Model;
use crate::provider::{Context, Provider};
use crate::schema::{Attribute, AttributeType, Block, Nesting, Schema};
use crate::value::{Type, Value, json, msgpack};
use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex, RwLock};
use tf_proto::tfplugin6 as pb;
use tokio_util::sync::CancellationToken;
use tonic::{Request, Response, Status};

/// A registered resource or data source with its schema and value type, computed once.
struct Entry<T: ?Sized> {
    item: Box<T>,
    schema: Schema,
    ty: Type,
}

type ResourceEntry<D> = Entry<dyn ErasedResource<D>>;
type DataSourceEntry<D> = Entry<dyn ErasedDataSource<D>>;

/// Serves a [`Provider`] as `tfplugin6.Provider`.
pub struct ProviderService<P: Provider> {
    provider: Arc<P>,
    provider_schema: Schema,
    resources: HashMap<String, ResourceEntry<P::Data>>,
    data_sources: HashMap<String, DataSourceEntry<P::Data>>,
    schema_response: pb::get_provider_schema::Response,
    data: RwLock<Option<Arc<P::Data>>>,
    cancel: Mutex<CancellationToken>,
}

impl<P: Provider> ProviderService<P> {
    /// Builds the service: collects schemas once, up front.
    pub fn new(provider: P) -> ProviderService<P> {
        let prefix = format!("{}_", provider.type_name());
        let provider_schema = Schema {
            version: 0,
            block: P::Config::block(),
        };
        let resources: HashMap<_, _> = provider
            .resources()
            .into_iter()
            .map(|r| {
                let schema = r.schema();
                let ty = schema.value_type();
                (
                    format!("{prefix}{}", r.name()),
                    Entry {
                        item: r,
                        schema,
                        ty,
                    },
                )
            })
            .collect();
        let data_sources: HashMap<_, _> = provider
            .data_sources()
            .into_iter()
            .map(|d| {
                let schema = d.schema();
                let ty = schema.value_type();
                (
                    format!("{prefix}{}", d.name()),
                    Entry {
                        item: d,
                        schema,
                        ty,
                    },
                )
            })
            .collect();
        let schema_response = pb::get_provider_schema::Response {
            provider: Some(schema_to_pb(&provider_schema)),
            resource_schemas: resources
                .iter()
                .map(|(k, e)| (k.clone(), schema_to_pb(&e.schema)))
                .collect(),
            data_source_schemas: data_sources
                .iter()
                .map(|(k, e)| (k.clone(), schema_to_pb(&e.schema)))
                .collect(),
            server_capabilities: Some(capabilities()),
            ..Default::default()
        };
        ProviderService {
            provider: Arc::new(provider),
            provider_schema,
            resources,
            data_sources,
            schema_response,
            data: RwLock::new(None),
            cancel: Mutex::new(CancellationToken::new()),
        }
    }

    fn ctx(&self) -> Context<P::Data> {
        let data = self.data.read().expect("lock").clone();
        Context::new(data, self.cancel.lock().expect("lock").clone())
    }

    /// Runs `fut` unless Terraform asks to stop first.
    async fn cancellable<T>(
        &self,
        ctx: &Context<P::Data>,
        fut: impl Future<Output = T>,
    ) -> Result<T, Diagnostics> {
        tokio::select! {
            v = fut => Ok(v),
            _ = ctx.cancelled() => Err(Diagnostic::error(
                "Operation cancelled",
                "Terraform asked the provider to stop before the operation finished.",
            ).into()),
        }
    }

    fn resource(&self, name: &str) -> Result<&ResourceEntry<P::Data>, Status> {
        self.resources
            .get(name)
            .ok_or_else(|| Status::not_found(format!("unknown resource type {name:?}")))
    }

    fn data_source(&self, name: &str) -> Result<&DataSourceEntry<P::Data>, Status> {
        self.data_sources
            .get(name)
            .ok_or_else(|| Status::not_found(format!("unknown data source type {name:?}")))
    }
}

fn capabilities() -> pb::ServerCapabilities {
    pb::ServerCapabilities {
        plan_destroy: false,
        get_provider_schema_optional: true,
        move_resource_state: false,
        generate_resource_config: false,
    }
}

/// Decodes a `DynamicValue`: msgpack when present, else JSON, else null.
pub fn decode_dynamic(v: Option<&pb::DynamicValue>, ty: &Type) -> Result<Value, Diagnostics> {
    match v {
        Some(d) if !d.msgpack.is_empty() => {
            msgpack::decode(&d.msgpack, ty).map_err(|e| codec_diag("value", e))
        }
        Some(d) if !d.json.is_empty() => {
            json::decode(&d.json, ty).map_err(|e| codec_diag("value", e))
        }
        _ => Ok(Value::Null),
    }
}

/// Encodes a value as a msgpack `DynamicValue`.
pub fn encode_dynamic(v: &Value, ty: &Type) -> Result<pb::DynamicValue, Diagnostics> {
    msgpack::encode(v, ty)
        .map(|msgpack| pb::DynamicValue {
            msgpack,
            json: Vec::new(),
        })
        .map_err(|e| codec_diag("value produced by the provider", e))
}

/// The diagnostics of validating a configuration (or of failing to decode it).
fn validation(
    config: Option<&pb::DynamicValue>,
    block: &Block,
    ty: &Type,
    validate: impl FnOnce(&Value) -> Diagnostics,
) -> Vec<pb::Diagnostic> {
    match decode_dynamic(config, ty) {
        Ok(config) => diags_in(block, &validate(&config)),
        Err(d) => diags_to_pb(&d),
    }
}

fn diags_to_pb(d: &Diagnostics) -> Vec<pb::Diagnostic> {
    d.0.iter().map(diag_to_pb).collect()
}

/// Diagnostics about values of `block`: a path Terraform cannot follow into the
/// configuration (inside an attribute's value, such as a JSON attribute's members)
/// is cut to the attribute, so the diagnostic still shows its line, and the whole
/// path goes into the detail.
fn diags_in(block: &Block, d: &Diagnostics) -> Vec<pb::Diagnostic> {
    d.0.iter()
        .map(|d| match &d.path {
            Some(path) => match block.showable_path(path) {
                (shown, true) => {
                    let full = path.to_string();
                    let mut d = d.clone();
                    if !d.detail.contains(&full) && !d.summary.contains(&full) {
                        d.detail = format!("{} (at {full})", d.detail).trim_start().to_string();
                    }
                    d.path = Some(shown);
                    diag_to_pb(&d)
                }
                (_, false) => diag_to_pb(d),
            },
            None => diag_to_pb(d),
        })
        .collect()
}

fn diag_to_pb(d: &Diagnostic) -> pb::Diagnostic {
    pb::Diagnostic {
        severity: match d.severity {
            Severity::Error => pb::diagnostic::Severity::Error as i32,
            Severity::Warning => pb::diagnostic::Severity::Warning as i32,
        },
        summary: d.summary.clone(),
        detail: d.detail.clone(),
        attribute: d.path.as_ref().map(path_to_pb),
    }
}

/// Converts an attribute path to its protocol form.
pub fn path_to_pb(p: &AttributePath) -> pb::AttributePath {
    use pb::attribute_path::{Step, step::Selector};
    pb::AttributePath {
        steps: p
            .0
            .iter()
            .map(|s| Step {
                selector: Some(match s {
                    PathStep::Attr(a) => Selector::AttributeName(a.clone()),
                    PathStep::Key(k) => Selector::ElementKeyString(k.clone()),
                    PathStep::Index(i) => Selector::ElementKeyInt(*i),
                }),
            })
            .collect(),
    }
}

/// Converts a schema to its protocol form.
pub fn schema_to_pb(s: &Schema) -> pb::Schema {
    pb::Schema {
        version: s.version,
        block: Some(block_to_pb(&s.block, s.version)),
    }
}

fn block_to_pb(b: &Block, version: i64) -> pb::schema::Block {
    pb::schema::Block {
        version,
        attributes: b.attributes.iter().map(attr_to_pb).collect(),
        block_types: b
            .blocks
            .iter()
            .map(|nb| pb::schema::NestedBlock {
                type_name: nb.name.clone(),
                block: Some(block_to_pb(&nb.block, 0)),
                nesting: match nb.nesting {
                    Nesting::Single => pb::schema::nested_block::NestingMode::Single,
                    Nesting::List => pb::schema::nested_block::NestingMode::List,
                    Nesting::Set => pb::schema::nested_block::NestingMode::Set,
                    Nesting::Map => pb::schema::nested_block::NestingMode::Map,
                    Nesting::Group => pb::schema::nested_block::NestingMode::Group,
                } as i32,
                min_items: nb.min_items,
                max_items: nb.max_items,
            })
            .collect(),
        description: b.description.clone(),
        description_kind: pb::StringKind::Markdown as i32,
        deprecated: !b.deprecated.is_empty(),
        deprecation_message: b.deprecated.clone(),
    }
}

fn attr_to_pb(a: &Attribute) -> pb::schema::Attribute {
    let (ty, nested_type) = match &a.ty {
        AttributeType::Type(t) => (t.to_json().into_bytes(), None),
        AttributeType::Nested(n, attrs) => (
            Vec::new(),
            Some(pb::schema::Object {
                attributes: attrs.iter().map(attr_to_pb).collect(),
                nesting: match n {
                    Nesting::Single | Nesting::Group => pb::schema::object::NestingMode::Single,
                    Nesting::List => pb::schema::object::NestingMode::List,
                    Nesting::Set => pb::schema::object::NestingMode::Set,
                    Nesting::Map => pb::schema::object::NestingMode::Map,
                } as i32,
                ..Default::default()
            }),
        ),
    };
    pb::schema::Attribute {
        name: a.name.clone(),
        r#type: ty,
        nested_type,
        description: a.description.clone(),
        required: a.required,
        optional: a.optional,
        // Terraform up to at least 1.0 crashes planning a null single nested
        // attribute that is not computed when there is a prior state (objchange's
        // proposedNewNestedType reads attributes of the null object). Declared computed,
        // Terraform takes the prior value instead, and the SDK plans null whenever the
        // configuration is null (`plan::null_unconfigured`), as for any attribute the
        // provider does not compute.
        computed: a.computed || crate::plan::shielded_from_tf10(a),
        sensitive: a.sensitive,
        description_kind: pb::StringKind::Markdown as i32,
        deprecated: !a.deprecated.is_empty(),
        write_only: a.write_only,
        deprecation_message: a.deprecated.clone(),
    }
}

macro_rules! try_diags {
    ($e:expr, $resp:expr) => {
        match $e {
            Ok(v) => v,
            Err(d) => {
                let mut r = $resp;
                r.diagnostics = diags_to_pb(&d);
                return Ok(Response::new(r));
            }
        }
    };
}

#[tonic::async_trait]
impl<P: Provider> pb::provider_server::Provider for ProviderService<P> {
    async fn get_metadata(
        &self,
        _: Request<pb::get_metadata::Request>,
    ) -> Result<Response<pb::get_metadata::Response>, Status> {
        Ok(Response::new(pb::get_metadata::Response {
            server_capabilities: Some(capabilities()),
            resources: self
                .resources
                .keys()
                .map(|k| pb::get_metadata::ResourceMetadata {
                    type_name: k.clone(),
                })
                .collect(),
            data_sources: self
                .data_sources
                .keys()
                .map(|k| pb::get_metadata::DataSourceMetadata {
                    type_name: k.clone(),
                })
                .collect(),
            ..Default::default()
        }))
    }

    async fn get_provider_schema(
        &self,
        _: Request<pb::get_provider_schema::Request>,
    ) -> Result<Response<pb::get_provider_schema::Response>, Status> {
        Ok(Response::new(self.schema_response.clone()))
    }

    async fn validate_provider_config(
        &self,
        req: Request<pb::validate_provider_config::Request>,
    ) -> Result<Response<pb::validate_provider_config::Response>, Status> {
        let req = req.into_inner();
        let empty = pb::validate_provider_config::Response::default();
        let ty = self.provider_schema.value_type();
        let config = try_diags!(decode_dynamic(req.config.as_ref(), &ty), empty);
        let mut diags = Diagnostics::new();
        match <P::Config as Model>::from_value(&config) {
            Ok(m) => {
                Model::validate(&m, &AttributePath::default(), &mut diags);
                self.provider.validate(&m, &mut diags);
            }
            Err(e) => diags.extend(codec_diag("provider configuration", e)),
        }
        Ok(Response::new(pb::validate_provider_config::Response {
            diagnostics: diags_to_pb(&diags),
        }))
    }

    async fn validate_resource_config(
        &self,
        req: Request<pb::validate_resource_config::Request>,
    ) -> Result<Response<pb::validate_resource_config::Response>, Status> {
        let req = req.into_inner();
        let Entry {
            item: res,
            schema,
            ty,
        } = self.resource(&req.type_name)?;
        Ok(Response::new(pb::validate_resource_config::Response {
            diagnostics: validation(req.config.as_ref(), &schema.block, ty, |c| res.validate(c)),
        }))
    }

    async fn validate_data_resource_config(
        &self,
        req: Request<pb::validate_data_resource_config::Request>,
    ) -> Result<Response<pb::validate_data_resource_config::Response>, Status> {
        let req = req.into_inner();
        let Entry {
            item: ds,
            schema,
            ty,
        } = self.data_source(&req.type_name)?;
        Ok(Response::new(pb::validate_data_resource_config::Response {
            diagnostics: validation(req.config.as_ref(), &schema.block, ty, |c| ds.validate(c)),
        }))
    }

    async fn upgrade_resource_state(
        &self,
        req: Request<pb::upgrade_resource_state::Request>,
    ) -> Result<Response<pb::upgrade_resource_state::Response>, Status> {
        let req = req.into_inner();
        let Entry {
            item: res,
            schema,
            ty,
        } = self.resource(&req.type_name)?;
        let empty = pb::upgrade_resource_state::Response::default();
        let raw = req.raw_state.map(|r| r.json).unwrap_or_default();
        let value = try_diags!(res.upgrade(schema, req.version, &raw), empty.clone());
        let upgraded = try_diags!(encode_dynamic(&value, ty), empty);
        Ok(Response::new(pb::upgrade_resource_state::Response {
            upgraded_state: Some(upgraded),
            diagnostics: vec![],
        }))
    }

    async fn configure_provider(
        &self,
        req: Request<pb::configure_provider::Request>,
    ) -> Result<Response<pb::configure_provider::Response>, Status> {
        let req = req.into_inner();
        let empty = pb::configure_provider::Response::default();
        let ty = self.provider_schema.value_type();
        let config = try_diags!(decode_dynamic(req.config.as_ref(), &ty), empty.clone());
        let model = try_diags!(
            <P::Config as Model>::from_value(&config)
                .map_err(|e| codec_diag("provider configuration", e)),
            empty.clone()
        );
        let data = try_diags!(
            self.provider.configure(model, req.terraform_version).await,
            empty
        );
        *self.data.write().expect("lock") = Some(Arc::new(data));
        Ok(Response::new(pb::configure_provider::Response::default()))
    }

    async fn read_resource(
        &self,
        req: Request<pb::read_resource::Request>,
    ) -> Result<Response<pb::read_resource::Response>, Status> {
        let req = req.into_inner();
        let Entry {
            item: res,
            schema,
            ty,
        } = self.resource(&req.type_name)?;
        let fallback = pb::read_resource::Response {
            new_state: req.current_state.clone(),
            private: req.private.clone(),
            ..Default::default()
        };
        let state = try_diags!(
            decode_dynamic(req.current_state.as_ref(), ty),
            fallback.clone()
        );
        let ctx = self.ctx();
        let (new_state, diags) = try_diags!(
            self.cancellable(&ctx, res.read(&ctx, schema, state)).await,
            fallback.clone()
        );
        let encoded = try_diags!(encode_dynamic(&new_state, ty), fallback);
        Ok(Response::new(pb::read_resource::Response {
            new_state: Some(encoded),
            diagnostics: diags_in(&schema.block, &diags),
            private: req.private,
            ..Default::default()
        }))
    }

    async fn plan_resource_change(
        &self,
        req: Request<pb::plan_resource_change::Request>,
    ) -> Result<Response<pb::plan_resource_change::Response>, Status> {
        let req = req.into_inner();
        let Entry {
            item: res,
            schema,
            ty,
        } = self.resource(&req.type_name)?;
        let empty = pb::plan_resource_change::Response::default();
        let prior = try_diags!(decode_dynamic(req.prior_state.as_ref(), ty), empty.clone());
        let proposed = try_diags!(
            decode_dynamic(req.proposed_new_state.as_ref(), ty),
            empty.clone()
        );
        let config = try_diags!(decode_dynamic(req.config.as_ref(), ty), empty.clone());
        let ctx = self.ctx();
        let planned = try_diags!(
            self.cancellable(&ctx, res.plan(&ctx, schema, prior, proposed, config))
                .await,
            empty.clone()
        );
        let state = try_diags!(encode_dynamic(&planned.state, ty), empty);
        Ok(Response::new(pb::plan_resource_change::Response {
            planned_state: Some(state),
            requires_replace: planned.requires_replace.iter().map(path_to_pb).collect(),
            planned_private: req.prior_private,
            diagnostics: diags_in(&schema.block, &planned.diags),
            ..Default::default()
        }))
    }

    async fn apply_resource_change(
        &self,
        req: Request<pb::apply_resource_change::Request>,
    ) -> Result<Response<pb::apply_resource_change::Response>, Status> {
        let req = req.into_inner();
        let Entry {
            item: res,
            schema,
            ty,
        } = self.resource(&req.type_name)?;
        let fallback = pb::apply_resource_change::Response {
            new_state: req.prior_state.clone(),
            private: req.planned_private.clone(),
            ..Default::default()
        };
        let prior = try_diags!(
            decode_dynamic(req.prior_state.as_ref(), ty),
            fallback.clone()
        );
        let planned = try_diags!(
            decode_dynamic(req.planned_state.as_ref(), ty),
            fallback.clone()
        );
        let config = try_diags!(decode_dynamic(req.config.as_ref(), ty), fallback.clone());
        let ctx = self.ctx();
        let (new_state, diags) = try_diags!(
            self.cancellable(&ctx, res.apply(&ctx, schema, prior, planned, config))
                .await,
            fallback.clone()
        );
        let encoded = try_diags!(encode_dynamic(&new_state, ty), fallback);
        Ok(Response::new(pb::apply_resource_change::Response {
            new_state: Some(encoded),
            private: req.planned_private,
            diagnostics: diags_in(&schema.block, &diags),
            ..Default::default()
        }))
    }

    async fn import_resource_state(
        &self,
        req: Request<pb::import_resource_state::Request>,
    ) -> Result<Response<pb::import_resource_state::Response>, Status> {
        let req = req.into_inner();
        let Entry {
            item: res,
            schema,
            ty,
        } = self.resource(&req.type_name)?;
        let empty = pb::import_resource_state::Response::default();
        let ctx = self.ctx();
        let (state, diags) = try_diags!(
            self.cancellable(&ctx, res.import(&ctx, &req.id)).await,
            empty.clone()
        );
        if diags.has_errors() {
            return Ok(Response::new(pb::import_resource_state::Response {
                diagnostics: diags_in(&schema.block, &diags),
                ..Default::default()
            }));
        }
        let encoded = try_diags!(encode_dynamic(&state, ty), empty);
        Ok(Response::new(pb::import_resource_state::Response {
            imported_resources: vec![pb::import_resource_state::ImportedResource {
                type_name: req.type_name,
                state: Some(encoded),
                ..Default::default()
            }],
            diagnostics: diags_in(&schema.block, &diags),
            ..Default::default()
        }))
    }

    async fn read_data_source(
        &self,
        req: Request<pb::read_data_source::Request>,
    ) -> Result<Response<pb::read_data_source::Response>, Status> {
        let req = req.into_inner();
        let Entry {
            item: ds,
            schema,
            ty,
        } = self.data_source(&req.type_name)?;
        let empty = pb::read_data_source::Response::default();
        let config = try_diags!(decode_dynamic(req.config.as_ref(), ty), empty.clone());
        let ctx = self.ctx();
        let (state, diags) = try_diags!(
            self.cancellable(&ctx, ds.read(&ctx, schema, config)).await,
            empty.clone()
        );
        if diags.has_errors() {
            return Ok(Response::new(pb::read_data_source::Response {
                diagnostics: diags_in(&schema.block, &diags),
                ..Default::default()
            }));
        }
        let encoded = try_diags!(encode_dynamic(&state, ty), empty);
        Ok(Response::new(pb::read_data_source::Response {
            state: Some(encoded),
            diagnostics: diags_in(&schema.block, &diags),
            ..Default::default()
        }))
    }

    async fn stop_provider(
        &self,
        _: Request<pb::stop_provider::Request>,
    ) -> Result<Response<pb::stop_provider::Response>, Status> {
        // Cancel everything in flight; later calls get a fresh token.
        let old = std::mem::take(&mut *self.cancel.lock().expect("lock"));
        old.cancel();
        Ok(Response::new(pb::stop_provider::Response::default()))
    }
}

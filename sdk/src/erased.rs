//! Type erasure: resources and data sources as trait objects working on [`Value`]s,
//! with the plan pipeline and consistency rules applied around the typed methods.

use crate::diag::{AttributePath, Diagnostic, Diagnostics};
use crate::model::Model;
use crate::plan;
use crate::provider::{Context, DataSource, PlanRequest, Resource};
use crate::schema::{Block, Schema};
use crate::value::{CodecError, Value, json};
use crate::wire;
use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;

/// A boxed, sendable future.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// The outcome of planning: planned state, replacement paths and diagnostics.
pub struct Planned {
    /// The planned new state.
    pub state: Value,
    /// Paths whose change forces replacement.
    pub requires_replace: Vec<AttributePath>,
    /// What went wrong or is worth a warning.
    pub diags: Diagnostics,
}

/// A resource, erased to work on values. Build one with [`resource`].
pub trait ErasedResource<D>: Send + Sync {
    /// Type name without the provider prefix.
    fn name(&self) -> &str;
    /// The schema, with its version.
    fn schema(&self) -> Schema;
    /// Validates a configuration value.
    fn validate(&self, config: &Value) -> Diagnostics;
    /// Plans a change.
    fn plan<'a>(
        &'a self,
        ctx: &'a Context<D>,
        schema: &'a Schema,
        prior: Value,
        proposed: Value,
        config: Value,
    ) -> BoxFuture<'a, Planned>;
    /// Applies a planned change; returns the new state. `config` carries the values
    /// of write-only attributes, which the plan does not.
    fn apply<'a>(
        &'a self,
        ctx: &'a Context<D>,
        schema: &'a Schema,
        prior: Value,
        planned: Value,
        config: Value,
    ) -> BoxFuture<'a, (Value, Diagnostics)>;
    /// Refreshes a state; null when the object is gone.
    fn read<'a>(
        &'a self,
        ctx: &'a Context<D>,
        schema: &'a Schema,
        state: Value,
    ) -> BoxFuture<'a, (Value, Diagnostics)>;
    /// Imports by ID.
    fn import<'a>(
        &'a self,
        ctx: &'a Context<D>,
        id: &'a str,
    ) -> BoxFuture<'a, (Value, Diagnostics)>;
    /// Upgrades stored JSON state of `version` to the current schema.
    fn upgrade(&self, schema: &Schema, version: i64, raw_json: &[u8])
    -> Result<Value, Diagnostics>;
}

/// A data source, erased to work on values. Build one with [`data_source`].
pub trait ErasedDataSource<D>: Send + Sync {
    /// Type name without the provider prefix.
    fn name(&self) -> &str;
    /// The schema.
    fn schema(&self) -> Schema;
    /// Validates a configuration value.
    fn validate(&self, config: &Value) -> Diagnostics;
    /// Reads with a configuration.
    fn read<'a>(
        &'a self,
        ctx: &'a Context<D>,
        schema: &'a Schema,
        config: Value,
    ) -> BoxFuture<'a, (Value, Diagnostics)>;
}

struct ResourceAdapter<R, D>(R, PhantomData<fn(D)>);
struct DataSourceAdapter<S, D>(S, PhantomData<fn(D)>);

/// Boxes a resource for [`crate::Provider::resources`].
pub fn resource<D: Send + Sync + 'static, R: Resource<D>>(r: R) -> Box<dyn ErasedResource<D>> {
    Box::new(ResourceAdapter(r, PhantomData))
}

/// Boxes a data source for [`crate::Provider::data_sources`].
pub fn data_source<D: Send + Sync + 'static, S: DataSource<D>>(
    s: S,
) -> Box<dyn ErasedDataSource<D>> {
    Box::new(DataSourceAdapter(s, PhantomData))
}

/// A codec error as a diagnostic on the attribute it is about.
pub(crate) fn codec_diag(what: &str, e: CodecError) -> Diagnostics {
    let d = Diagnostic::error(format!("Invalid {what}"), e.message);
    if e.path.0.is_empty() {
        d.into()
    } else {
        d.at(e.path).into()
    }
}

/// A value as a user would write it, shortened, for messages.
fn show(v: &Value) -> String {
    fn write(v: &Value, out: &mut String) {
        match v.peel() {
            Value::Null => out.push_str("null"),
            Value::Unknown(_) => out.push_str("(known after apply)"),
            Value::String(s) => out.push_str(&serde_json::to_string(s).unwrap_or_default()),
            Value::Number(n) => out.push_str(&n.to_string()),
            Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            Value::List(items) | Value::Set(items) => {
                out.push('[');
                for (i, e) in items.iter().enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    write(e, out);
                }
                out.push(']');
            }
            Value::Map(m) | Value::Object(m) => {
                out.push('{');
                for (i, (k, e)) in m.iter().enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    out.push_str(k);
                    out.push_str(" = ");
                    write(e, out);
                }
                out.push('}');
            }
            Value::Dynamic(..) => {}
        }
    }
    let mut out = String::new();
    write(v, &mut out);
    if out.chars().count() > 300 {
        out = out.chars().take(300).collect::<String>() + "...";
    }
    out
}

/// Known planned values the remote system did not keep, as errors on their
/// attributes: the state would otherwise record what was asked, not what is there.
fn mismatch_diags(block: &Block, mismatches: &[plan::Mismatch]) -> Diagnostics {
    let mut diags = Diagnostics::new();
    for m in mismatches {
        let (planned, got) = if plan::is_sensitive(block, &m.path) {
            (
                "(sensitive value)".to_string(),
                "(sensitive value)".to_string(),
            )
        } else if plan::holds_sensitive(block, &m.path) {
            let hidden = "(a value holding sensitive attributes)".to_string();
            (hidden.clone(), hidden)
        } else {
            (show(&m.planned), show(&m.got))
        };
        let at = if m.path.0.is_empty() {
            "the object".to_string()
        } else {
            m.path.to_string()
        };
        diags.push(
            Diagnostic::error(
                format!("The remote system stored a different value for {at}"),
                format!(
                    "Terraform planned {planned}, but the remote system stored {got}. The \
                     state keeps the planned value, so the next plan shows the difference; \
                     change the configuration to the value the remote system keeps."
                ),
            )
            .at(m.path.clone()),
        );
    }
    diags
}

fn decode<M: Model>(what: &str, v: &Value) -> Result<M, Diagnostics> {
    M::from_value(v).map_err(|e| codec_diag(what, e))
}

fn validate_model<M: Model>(
    config: &Value,
    extra: impl FnOnce(&M, &mut Diagnostics),
) -> Diagnostics {
    let mut diags = Diagnostics::new();
    match decode::<M>("configuration", config) {
        Ok(m) => {
            m.validate(&AttributePath::default(), &mut diags);
            extra(&m, &mut diags);
        }
        Err(d) => diags.extend(d),
    }
    diags
}

/// Values from Terraform with the concrete types of their `dynamic` parts attached.
fn annotated<const N: usize>(block: &Block, mut values: [Value; N]) -> [Value; N] {
    for v in &mut values {
        wire::annotate(block, v, None);
    }
    values
}

/// Write-only attributes are sent in configuration but never planned or stored:
/// Terraform requires them null in the plan and in state.
fn null_write_only(block: &crate::schema::Block, value: &mut Value) {
    if let Value::Object(m) = value.peel_mut() {
        for a in block.attributes.iter().filter(|a| a.write_only) {
            m.insert(a.name.clone(), Value::Null);
        }
        for nb in &block.blocks {
            match m.get_mut(&nb.name).map(Value::peel_mut) {
                Some(v @ Value::Object(_)) if nb.nesting != crate::schema::Nesting::Map => {
                    null_write_only(&nb.block, v)
                }
                Some(Value::List(items) | Value::Set(items)) => {
                    items.iter_mut().for_each(|v| null_write_only(&nb.block, v))
                }
                Some(Value::Map(items) | Value::Object(items)) => items
                    .values_mut()
                    .for_each(|v| null_write_only(&nb.block, v)),
                _ => {}
            }
        }
    }
}

/// Copies the top-level write-only attributes of `config` into `value`.
fn copy_write_only(block: &crate::schema::Block, value: &mut Value, config: &Value) {
    if let Value::Object(m) = value {
        for a in block.attributes.iter().filter(|a| a.write_only) {
            if let Some(v) = config.get(&a.name) {
                m.insert(a.name.clone(), v.clone());
            }
        }
    }
}

fn log_restored(kind: &str, name: &str, paths: &[AttributePath]) {
    for p in paths {
        eprintln!("[WARN] tf-sdk: {name}: {kind} changed {p}; kept the value Terraform expects");
    }
}

impl<D: Send + Sync + 'static, R: Resource<D>> ErasedResource<D> for ResourceAdapter<R, D> {
    fn name(&self) -> &str {
        self.0.name()
    }

    fn schema(&self) -> Schema {
        Schema {
            version: self.0.schema_version(),
            block: R::Model::block(),
        }
    }

    fn validate(&self, config: &Value) -> Diagnostics {
        validate_model::<R::Model>(config, |m, d| self.0.validate(m, d))
    }

    fn plan<'a>(
        &'a self,
        ctx: &'a Context<D>,
        schema: &'a Schema,
        prior: Value,
        proposed: Value,
        config: Value,
    ) -> BoxFuture<'a, Planned> {
        Box::pin(async move {
            let [prior, proposed, config] = annotated(&schema.block, [prior, proposed, config]);
            let mut diags = Diagnostics::new();
            if proposed.is_null() {
                return Planned {
                    state: Value::Null,
                    requires_replace: vec![],
                    diags,
                };
            }
            let block = &schema.block;
            let mut planned = proposed;
            plan::apply_defaults(block, &mut planned, &config);
            plan::null_unconfigured(block, &mut planned, &config);
            plan::adopt_prior_in_sets(block, &mut planned, &config, &prior);
            if prior.is_null() || !planned.semantic_eq(&prior) {
                plan::mark_computed_unknown(block, &mut planned, &config, &prior);
            }
            let typed = (|| {
                Ok::<_, Diagnostics>(PlanRequest {
                    config: decode::<R::Model>("configuration", &config)?,
                    prior: if prior.is_null() {
                        None
                    } else {
                        Some(decode("prior state", &prior)?)
                    },
                    plan: decode::<R::Model>("planned state", &planned)?,
                    requires_replace: Vec::new(),
                })
            })();
            let mut req = match typed {
                Ok(r) => r,
                Err(d) => {
                    return Planned {
                        state: planned,
                        requires_replace: vec![],
                        diags: d,
                    };
                }
            };
            self.0.modify_plan(ctx, &mut req, &mut diags).await;
            diags.extend(ctx.take_warnings());
            let mut planned = req.plan.to_value();
            log_restored(
                "plan modification",
                self.0.name(),
                &plan::restore_config(block, &mut planned, &config),
            );
            null_write_only(block, &mut planned);
            wire::wrap(block, &mut planned);
            let mut replace = plan::requires_replace(block, &prior, &planned, &config);
            if !prior.is_null() {
                for p in req.requires_replace {
                    if !replace.contains(&p) {
                        replace.push(p);
                    }
                }
            }
            Planned {
                state: planned,
                requires_replace: replace,
                diags,
            }
        })
    }

    fn apply<'a>(
        &'a self,
        ctx: &'a Context<D>,
        schema: &'a Schema,
        prior: Value,
        planned: Value,
        config: Value,
    ) -> BoxFuture<'a, (Value, Diagnostics)> {
        Box::pin(async move {
            let [prior, planned, config] = annotated(&schema.block, [prior, planned, config]);
            if planned.is_null() {
                let state = match decode::<R::Model>("prior state", &prior) {
                    Ok(s) => s,
                    Err(d) => return (prior, d),
                };
                let result = self.0.delete(ctx, state).await;
                let mut diags = ctx.take_warnings();
                return match result {
                    Ok(()) => (Value::Null, diags),
                    Err(d) => {
                        diags.extend(d);
                        (prior, diags)
                    }
                };
            }
            // The resource sees write-only values (from the configuration); the plan
            // and the state never hold them.
            let mut for_resource = planned.clone();
            copy_write_only(&schema.block, &mut for_resource, &config);
            let plan_model = match decode::<R::Model>("planned state", &for_resource) {
                Ok(m) => m,
                Err(d) => return (prior, d),
            };
            let result = if prior.is_null() {
                self.0.create(ctx, plan_model).await
            } else {
                match decode::<R::Model>("prior state", &prior) {
                    Ok(p) => self.0.update(ctx, p, plan_model).await,
                    Err(d) => Err(d),
                }
            };
            let mut diags = ctx.take_warnings();
            match result {
                Ok(new) => {
                    let mut new = new.to_value();
                    null_write_only(&schema.block, &mut new);
                    let (mut state, mismatches) = plan::reconcile_applied(&planned, &new);
                    diags.extend(mismatch_diags(&schema.block, &mismatches));
                    null_write_only(&schema.block, &mut state);
                    wire::wrap(&schema.block, &mut state);
                    (state, diags)
                }
                Err(d) => {
                    diags.extend(d);
                    (prior, diags)
                }
            }
        })
    }

    fn read<'a>(
        &'a self,
        ctx: &'a Context<D>,
        schema: &'a Schema,
        state: Value,
    ) -> BoxFuture<'a, (Value, Diagnostics)> {
        Box::pin(async move {
            if state.is_null() {
                return (Value::Null, Diagnostics::new());
            }
            let [state] = annotated(&schema.block, [state]);
            let model = match decode::<R::Model>("state", &state) {
                Ok(m) => m,
                Err(d) => return (state, d),
            };
            let result = self.0.read(ctx, model).await;
            let mut diags = ctx.take_warnings();
            match result {
                Ok(Some(m)) => {
                    let mut v = plan::strip_unknown(&m.to_value());
                    null_write_only(&schema.block, &mut v);
                    plan::keep_prior_forms(&schema.block, &mut v, &state);
                    wire::wrap(&schema.block, &mut v);
                    (v, diags)
                }
                Ok(None) => (Value::Null, diags),
                Err(d) => {
                    diags.extend(d);
                    (state, diags)
                }
            }
        })
    }

    fn import<'a>(
        &'a self,
        ctx: &'a Context<D>,
        id: &'a str,
    ) -> BoxFuture<'a, (Value, Diagnostics)> {
        Box::pin(async move {
            let result = self.0.import(ctx, id).await;
            let mut diags = ctx.take_warnings();
            match result {
                Ok(m) => {
                    let mut v = plan::strip_unknown(&m.to_value());
                    wire::wrap(&R::Model::block(), &mut v);
                    (v, diags)
                }
                Err(d) => {
                    diags.extend(d);
                    (Value::Null, diags)
                }
            }
        })
    }

    fn upgrade(
        &self,
        schema: &Schema,
        version: i64,
        raw_json: &[u8],
    ) -> Result<Value, Diagnostics> {
        let ty = schema.value_type();
        if raw_json.is_empty() {
            return Ok(Value::Null);
        }
        if version > schema.version {
            return Err(Diagnostic::error(
                "State is from a newer provider",
                format!(
                    "The stored state has schema version {version}, newer than this provider's {}. \
                     Upgrade the provider.",
                    schema.version
                ),
            )
            .into());
        }
        let bytes = if version < schema.version {
            let old: serde_json::Value = serde_json::from_slice(raw_json).map_err(|e| {
                Diagnostics::from(Diagnostic::error("Invalid stored state", e.to_string()))
            })?;
            let new = self.0.upgrade_state(version, old)?;
            serde_json::to_vec(&new).expect("JSON value encodes")
        } else {
            raw_json.to_vec()
        };
        json::decode_lenient(&bytes, &ty).map_err(|e| codec_diag("stored state", e))
    }
}

impl<D: Send + Sync + 'static, S: DataSource<D>> ErasedDataSource<D> for DataSourceAdapter<S, D> {
    fn name(&self) -> &str {
        self.0.name()
    }

    fn schema(&self) -> Schema {
        Schema {
            version: 0,
            block: S::Model::block(),
        }
    }

    fn validate(&self, config: &Value) -> Diagnostics {
        validate_model::<S::Model>(config, |m, d| self.0.validate(m, d))
    }

    fn read<'a>(
        &'a self,
        ctx: &'a Context<D>,
        schema: &'a Schema,
        config: Value,
    ) -> BoxFuture<'a, (Value, Diagnostics)> {
        Box::pin(async move {
            let [config] = annotated(&schema.block, [config]);
            let model = match decode::<S::Model>("configuration", &config) {
                Ok(m) => m,
                Err(d) => return (Value::Null, d),
            };
            let result = self.0.read(ctx, model).await;
            let mut diags = ctx.take_warnings();
            match result {
                Ok(m) => {
                    let mut v = plan::strip_unknown(&m.to_value());
                    log_restored(
                        "read",
                        self.0.name(),
                        &plan::restore_config(&schema.block, &mut v, &config),
                    );
                    let mut v = plan::strip_unknown(&v);
                    wire::wrap(&schema.block, &mut v);
                    (v, diags)
                }
                Err(d) => {
                    diags.extend(d);
                    (Value::Null, diags)
                }
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::{Attribute, NestedBlock, Nesting};
    use crate::value::Type;
    use std::collections::BTreeMap;

    /// `name` (plain) and a `login` list block holding `user` (plain) and `password`
    /// (sensitive).
    fn block() -> Block {
        Block {
            attributes: vec![Attribute::new("name", Type::String)],
            blocks: vec![NestedBlock {
                name: "login".into(),
                block: Block {
                    attributes: vec![
                        Attribute::new("user", Type::String),
                        Attribute {
                            sensitive: true,
                            ..Attribute::new("password", Type::String)
                        },
                    ],
                    ..Block::default()
                },
                nesting: Nesting::List,
                min_items: 0,
                max_items: 0,
                requires_replace: false,
            }],
            ..Block::default()
        }
    }

    fn login(user: &str, password: &str) -> Value {
        Value::List(vec![Value::Object(BTreeMap::from([
            ("user".to_string(), Value::String(user.into())),
            ("password".to_string(), Value::String(password.into())),
        ]))])
    }

    /// A mismatch at a block that holds a sensitive attribute shows neither value, so
    /// neither secret reaches the error.
    #[test]
    fn mismatch_at_a_block_holding_a_secret_hides_both_values() {
        let path = AttributePath::root("login");
        let diags = mismatch_diags(
            &block(),
            &[plan::Mismatch {
                path: path.clone(),
                planned: login("admin", "planned-s3cret"),
                got: login("admin", "stored-s3cret"),
            }],
        );
        assert_eq!(diags.0.len(), 1, "{diags:?}");
        let d = &diags.0[0];
        assert!(diags.has_errors());
        assert_eq!(d.path.as_ref(), Some(&path));
        assert_eq!(
            d.summary,
            "The remote system stored a different value for login"
        );
        assert!(
            d.detail.starts_with(
                "Terraform planned (a value holding sensitive attributes), but the remote \
                 system stored (a value holding sensitive attributes)."
            ),
            "{}",
            d.detail
        );
        for text in [&d.summary, &d.detail] {
            assert!(!text.contains("s3cret"), "secret shown: {text}");
            assert!(!text.contains("admin"), "block values shown: {text}");
        }
    }

    /// A mismatch at the sensitive attribute itself says "(sensitive value)".
    #[test]
    fn mismatch_at_a_sensitive_attribute_hides_both_values() {
        let path = AttributePath::root("login").index(0).attr("password");
        let diags = mismatch_diags(
            &block(),
            &[plan::Mismatch {
                path,
                planned: Value::String("planned-s3cret".into()),
                got: Value::String("stored-s3cret".into()),
            }],
        );
        assert_eq!(diags.0.len(), 1, "{diags:?}");
        let d = &diags.0[0];
        assert!(
            d.detail.starts_with(
                "Terraform planned (sensitive value), but the remote system stored \
                 (sensitive value)."
            ),
            "{}",
            d.detail
        );
        assert!(!d.detail.contains("s3cret"), "{}", d.detail);
        assert!(!d.summary.contains("s3cret"), "{}", d.summary);
    }

    /// A mismatch at a plain attribute shows both values, as written in HCL.
    #[test]
    fn mismatch_at_a_plain_attribute_shows_both_values() {
        let path = AttributePath::root("name");
        let diags = mismatch_diags(
            &block(),
            &[plan::Mismatch {
                path: path.clone(),
                planned: Value::String("web-planned".into()),
                got: Value::String("web-stored".into()),
            }],
        );
        assert_eq!(diags.0.len(), 1, "{diags:?}");
        let d = &diags.0[0];
        assert!(diags.has_errors());
        assert_eq!(d.path.as_ref(), Some(&path));
        assert_eq!(
            d.summary,
            "The remote system stored a different value for name"
        );
        assert!(
            d.detail.starts_with(
                "Terraform planned \"web-planned\", but the remote system stored \
                 \"web-stored\"."
            ),
            "{}",
            d.detail
        );
        assert!(!d.detail.contains("sensitive"), "{}", d.detail);
    }
}

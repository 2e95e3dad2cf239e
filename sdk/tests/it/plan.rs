//! The plan pipeline and resource lifecycle through `ProviderService`, called directly
//! the way Terraform calls it over gRPC.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tf_proto::tfplugin6 as pb;
use tf_proto::tfplugin6::attribute_path::step::Selector;
use tf_proto::tfplugin6::provider_server::Provider as _;
use tf_sdk::__internal::ProviderService;
use tf_sdk::value::{Number, Type, Value, msgpack};
use tf_sdk::{
    AttributePath, Context, Diagnostic, Diagnostics, ErasedResource, Model, PlanRequest, Provider,
    Resource, Val, resource, validators,
};
use tonic::Request;

// ---------------------------------------------------------------------------------
// A small in-memory provider

#[derive(Model, Clone, Debug)]
struct Config {
    #[tf(optional)]
    label: Val<String>,
}

#[derive(Model, Clone, Debug, PartialEq)]
struct Rule {
    #[tf(required)]
    name: Val<String>,
    #[tf(optional, validate = validators::range(1, 65535))]
    port: Val<i64>,
}

/// A thing kept in memory.
#[derive(Model, Clone, Debug, PartialEq)]
struct Thing {
    #[tf(computed, use_state_for_unknown)]
    id: Val<String>,
    #[tf(required, requires_replace, validate = validators::length(1, 20))]
    name: Val<String>,
    #[tf(optional)]
    note: Val<String>,
    #[tf(optional, computed, default = 3)]
    size: Val<i64>,
    /// Changes on every write.
    #[tf(computed)]
    revision: Val<i64>,
    /// Computed and forces replacement when it really changes.
    #[tf(computed, requires_replace)]
    fingerprint: Val<String>,
    #[tf(optional)]
    big: Val<Number>,
    #[tf(optional, nested)]
    rules: Val<Vec<Rule>>,
    /// Sent to the resource at apply, never planned or stored.
    #[tf(optional, write_only)]
    secret: Val<String>,
}

type Store = Arc<Mutex<HashMap<String, Thing>>>;

struct TestProvider {
    store: Store,
}

impl Provider for TestProvider {
    type Config = Config;
    type Data = Store;

    fn type_name(&self) -> &str {
        "test"
    }

    async fn configure(&self, _: Config, _: String) -> Result<Store, Diagnostics> {
        Ok(self.store.clone())
    }

    fn resources(&self) -> Vec<Box<dyn ErasedResource<Store>>> {
        vec![resource(ThingResource)]
    }
}

struct ThingResource;

impl ThingResource {
    fn write(store: &Store, id: String, plan: Thing, revision: i64) -> Thing {
        let name = plan.name.known().cloned().unwrap_or_default();
        let mut out = Thing {
            id: Val::Known(id.clone()),
            revision: Val::Known(revision),
            fingerprint: Val::Known(format!("fp-{name}")),
            ..plan
        };
        match name.as_str() {
            // A provider bug: answers with a note other than the planned one.
            "liar" => out.note = Val::Known("provider-said".into()),
            // A provider that forgets to set a computed attribute.
            "forgetful" => out.revision = Val::Unknown,
            _ => {}
        }
        store.lock().unwrap().insert(id, out.clone());
        out
    }
}

impl Resource<Store> for ThingResource {
    type Model = Thing;

    fn name(&self) -> &str {
        "thing"
    }

    fn schema_version(&self) -> i64 {
        1
    }

    fn validate(&self, config: &Thing, diags: &mut Diagnostics) {
        if config.note.as_deref() == Some("forbidden") {
            diags.error_at(
                AttributePath::root("note"),
                "Forbidden note",
                "pick another",
            );
        }
    }

    async fn modify_plan(
        &self,
        _: &Context<Store>,
        req: &mut PlanRequest<Thing>,
        _: &mut Diagnostics,
    ) {
        if req.config.note.as_deref() == Some("override-me") {
            // Configured: the SDK must keep the configuration's value.
            req.plan.note = Val::Known("modified".into());
            // Computed and not configured: the provider may decide it.
            req.plan.revision = Val::Known(99);
        }
    }

    async fn create(&self, ctx: &Context<Store>, plan: Thing) -> Result<Thing, Diagnostics> {
        if plan.name.as_deref() == Some("hang") {
            std::future::pending::<()>().await;
        }
        if plan.name.as_deref() == Some("warner") {
            ctx.warn(
                Diagnostic::warning("Created with a caveat", "it is fine")
                    .at(AttributePath::root("name")),
            );
        }
        let store = ctx.data()?;
        let id = format!("id-{}", store.lock().unwrap().len() + 1);
        Ok(Self::write(store, id, plan, 1))
    }

    async fn read(&self, ctx: &Context<Store>, state: Thing) -> Result<Option<Thing>, Diagnostics> {
        let id = state.id.known().cloned().unwrap_or_default();
        Ok(ctx.data()?.lock().unwrap().get(&id).cloned())
    }

    async fn update(
        &self,
        ctx: &Context<Store>,
        prior: Thing,
        plan: Thing,
    ) -> Result<Thing, Diagnostics> {
        let id = prior.id.known().cloned().unwrap_or_default();
        let rev = prior.revision.known().copied().unwrap_or(0) + 1;
        Ok(Self::write(ctx.data()?, id, plan, rev))
    }

    async fn delete(&self, ctx: &Context<Store>, state: Thing) -> Result<(), Diagnostics> {
        let id = state.id.known().cloned().unwrap_or_default();
        ctx.data()?.lock().unwrap().remove(&id);
        Ok(())
    }

    async fn import(&self, ctx: &Context<Store>, id: &str) -> Result<Thing, Diagnostics> {
        ctx.data()?
            .lock()
            .unwrap()
            .get(id)
            .cloned()
            .ok_or_else(|| Diagnostic::error("Cannot import", format!("no thing {id:?}")).into())
    }

    fn upgrade_state(
        &self,
        from: i64,
        mut state: serde_json::Value,
    ) -> Result<serde_json::Value, Diagnostics> {
        assert_eq!(from, 0);
        // Version 0 called `name` `title`.
        let obj = state.as_object_mut().unwrap();
        let title = obj.remove("title").unwrap_or_default();
        obj.insert("name".into(), title);
        Ok(state)
    }
}

// ---------------------------------------------------------------------------------
// Helpers

const THING: &str = "test_thing";

fn ty() -> Type {
    Thing::block().value_type()
}

fn dv(v: &Value) -> Option<pb::DynamicValue> {
    Some(pb::DynamicValue {
        msgpack: msgpack::encode(v, &ty()).unwrap(),
        json: vec![],
    })
}

fn undv(d: Option<pb::DynamicValue>) -> Value {
    msgpack::decode(&d.expect("a value").msgpack, &ty()).unwrap()
}

async fn service() -> (ProviderService<TestProvider>, Store) {
    let store = Store::default();
    let svc = ProviderService::new(TestProvider {
        store: store.clone(),
    });
    let cfg = Value::object([("label", Value::Null)]);
    let cfg = msgpack::encode(&cfg, &Config::block().value_type()).unwrap();
    let r = svc
        .configure_provider(Request::new(pb::configure_provider::Request {
            config: Some(pb::DynamicValue {
                msgpack: cfg,
                json: vec![],
            }),
            terraform_version: "1.9.0".into(),
            ..Default::default()
        }))
        .await
        .unwrap()
        .into_inner();
    assert!(r.diagnostics.is_empty(), "{:?}", r.diagnostics);
    (svc, store)
}

/// A configuration: every attribute null except those given.
fn config(attrs: &[(&str, Value)]) -> Value {
    let Type::Object(types, _) = ty() else {
        unreachable!()
    };
    let mut m: std::collections::BTreeMap<String, Value> =
        types.keys().map(|k| (k.clone(), Value::Null)).collect();
    for (k, v) in attrs {
        m.insert(k.to_string(), v.clone());
    }
    Value::Object(m)
}

/// What Terraform proposes: the configuration, with computed attributes that are not
/// configured taken from the prior state.
fn proposed(config: &Value, prior: &Value) -> Value {
    let mut p = config.clone();
    let (Value::Object(pm), Value::Object(prior)) = (&mut p, prior) else {
        return p;
    };
    for a in Thing::block().attributes {
        if a.computed && pm.get(&a.name).is_none_or(Value::is_null) {
            pm.insert(
                a.name.clone(),
                prior.get(&a.name).cloned().unwrap_or(Value::Null),
            );
        }
    }
    p
}

struct Plan {
    state: Value,
    replace: Vec<Vec<Selector>>,
    diags: Vec<pb::Diagnostic>,
}

async fn plan(svc: &ProviderService<TestProvider>, prior: &Value, config: &Value) -> Plan {
    let r = svc
        .plan_resource_change(Request::new(pb::plan_resource_change::Request {
            type_name: THING.into(),
            prior_state: dv(prior),
            proposed_new_state: dv(&proposed(config, prior)),
            config: dv(config),
            ..Default::default()
        }))
        .await
        .unwrap()
        .into_inner();
    Plan {
        state: undv(r.planned_state),
        replace: r
            .requires_replace
            .into_iter()
            .map(|p| p.steps.into_iter().map(|s| s.selector.unwrap()).collect())
            .collect(),
        diags: r.diagnostics,
    }
}

async fn apply(
    svc: &ProviderService<TestProvider>,
    prior: &Value,
    planned: &Value,
) -> (Value, Vec<pb::Diagnostic>) {
    let r = svc
        .apply_resource_change(Request::new(pb::apply_resource_change::Request {
            type_name: THING.into(),
            prior_state: dv(prior),
            planned_state: dv(planned),
            config: dv(planned),
            ..Default::default()
        }))
        .await
        .unwrap()
        .into_inner();
    (undv(r.new_state), r.diagnostics)
}

fn attr(name: &str) -> Selector {
    Selector::AttributeName(name.into())
}

/// Creates a thing named `name` and returns its state.
async fn created(svc: &ProviderService<TestProvider>, name: &str) -> Value {
    let cfg = config(&[("name", Value::from(name))]);
    let p = plan(svc, &Value::Null, &cfg).await;
    let (state, diags) = apply(svc, &Value::Null, &p.state).await;
    assert!(diags.is_empty(), "{diags:?}");
    state
}

// ---------------------------------------------------------------------------------
// Plan

#[tokio::test]
async fn create_plan_marks_computed_unknown_and_applies_defaults() {
    let (svc, _) = service().await;
    let cfg = config(&[("name", Value::from("a")), ("note", Value::from("n"))]);
    let p = plan(&svc, &Value::Null, &cfg).await;
    assert!(p.diags.is_empty(), "{:?}", p.diags);
    assert_eq!(p.state.get("id"), Some(&Value::unknown()));
    assert_eq!(p.state.get("revision"), Some(&Value::unknown()));
    assert_eq!(p.state.get("fingerprint"), Some(&Value::unknown()));
    assert_eq!(
        p.state.get("size"),
        Some(&Value::from(3)),
        "default applied"
    );
    assert_eq!(p.state.get("name"), Some(&Value::from("a")));
    assert_eq!(p.state.get("note"), Some(&Value::from("n")));
    assert_eq!(
        p.state.get("big"),
        Some(&Value::Null),
        "optional, not computed, stays null"
    );
    assert!(
        p.replace.is_empty(),
        "nothing to replace on create: {:?}",
        p.replace
    );

    // A configured value of an attribute with a default wins over the default.
    let cfg = config(&[("name", Value::from("a")), ("size", Value::from(7))]);
    let p = plan(&svc, &Value::Null, &cfg).await;
    assert_eq!(p.state.get("size"), Some(&Value::from(7)));
}

#[tokio::test]
async fn unchanged_config_plans_exactly_the_prior_state() {
    let (svc, _) = service().await;
    let prior = created(&svc, "a").await;
    assert_eq!(prior.get("id"), Some(&Value::from("id-1")));
    let cfg = config(&[("name", Value::from("a"))]);
    let p = plan(&svc, &prior, &cfg).await;
    assert_eq!(p.state, prior, "an empty plan");
    assert_eq!(
        msgpack::encode(&p.state, &ty()).unwrap(),
        msgpack::encode(&prior, &ty()).unwrap()
    );
    assert!(p.replace.is_empty());
    assert!(!p.state.contains_unknown());
}

#[tokio::test]
async fn update_keeps_prior_id_and_does_not_replace_for_unknown_computed_values() {
    let (svc, _) = service().await;
    let prior = created(&svc, "a").await;
    let cfg = config(&[("name", Value::from("a")), ("note", Value::from("changed"))]);
    let p = plan(&svc, &prior, &cfg).await;
    assert_eq!(
        p.state.get("id"),
        Some(&Value::from("id-1")),
        "use_state_for_unknown"
    );
    assert_eq!(p.state.get("note"), Some(&Value::from("changed")));
    assert_eq!(p.state.get("revision"), Some(&Value::unknown()));
    // fingerprint is computed and requires_replace; being unknown is not a change.
    assert_eq!(p.state.get("fingerprint"), Some(&Value::unknown()));
    assert!(p.replace.is_empty(), "{:?}", p.replace);

    let (state, diags) = apply(&svc, &prior, &p.state).await;
    assert!(diags.is_empty(), "{diags:?}");
    assert_eq!(state.get("id"), Some(&Value::from("id-1")));
    assert_eq!(state.get("revision"), Some(&Value::from(2)));
    assert_eq!(state.get("note"), Some(&Value::from("changed")));
}

#[tokio::test]
async fn requires_replace_only_for_real_changes() {
    let (svc, _) = service().await;
    let prior = created(&svc, "a").await;
    let cfg = config(&[("name", Value::from("b"))]);
    let p = plan(&svc, &prior, &cfg).await;
    assert_eq!(p.replace, vec![vec![attr("name")]]);
    // An unknown configured value may change it, so it does count.
    let cfg = config(&[("name", Value::unknown())]);
    let p = plan(&svc, &prior, &cfg).await;
    assert_eq!(p.replace, vec![vec![attr("name")]]);
    // Changing a non-forcing attribute does not.
    let cfg = config(&[("name", Value::from("a")), ("size", Value::from(9))]);
    let p = plan(&svc, &prior, &cfg).await;
    assert!(p.replace.is_empty(), "{:?}", p.replace);
}

#[tokio::test]
async fn modify_plan_cannot_change_configured_values() {
    let (svc, _) = service().await;
    let cfg = config(&[
        ("name", Value::from("a")),
        ("note", Value::from("override-me")),
    ]);
    let p = plan(&svc, &Value::Null, &cfg).await;
    assert_eq!(
        p.state.get("note"),
        Some(&Value::from("override-me")),
        "plan keeps the configuration"
    );
    assert_eq!(
        p.state.get("revision"),
        Some(&Value::from(99)),
        "computed values may be planned"
    );
    assert_eq!(p.state.get("name"), Some(&Value::from("a")));
}

#[tokio::test]
async fn big_numbers_survive_plan_and_apply() {
    let (svc, _) = service().await;
    let big = Value::Number(Number::parse("18446744073709551617").unwrap());
    let cfg = config(&[("name", Value::from("n")), ("big", big.clone())]);
    let p = plan(&svc, &Value::Null, &cfg).await;
    assert_eq!(p.state.get("big"), Some(&big));
    let (state, _) = apply(&svc, &Value::Null, &p.state).await;
    assert_eq!(state.get("big"), Some(&big));
}

// ---------------------------------------------------------------------------------
// Apply

#[tokio::test]
async fn apply_reports_a_changed_planned_value_and_nulls_leftover_unknowns() {
    let (svc, store) = service().await;
    let cfg = config(&[
        ("name", Value::from("liar")),
        ("note", Value::from("planned")),
    ]);
    let p = plan(&svc, &Value::Null, &cfg).await;
    let (state, diags) = apply(&svc, &Value::Null, &p.state).await;
    // Honest state: the remote system kept another value than the configured one.
    // That is an error on the attribute naming both values, never a silent diff.
    assert_eq!(diags.len(), 1, "{diags:?}");
    let d = &diags[0];
    assert!(d.summary.contains("note"), "{d:?}");
    assert!(
        d.detail.contains("\"planned\"") && d.detail.contains("\"provider-said\""),
        "{d:?}"
    );
    assert!(d.attribute.is_some(), "{d:?}");
    // The state keeps what was planned (Terraform's consistency rule).
    assert_eq!(state.get("note"), Some(&Value::from("planned")));
    assert_eq!(
        store.lock().unwrap()["id-1"].note,
        Val::Known("provider-said".into()),
        "the provider did lie"
    );
    assert_eq!(
        state.get("id"),
        Some(&Value::from("id-1")),
        "unknowns take the provider's value"
    );

    let cfg = config(&[("name", Value::from("forgetful"))]);
    let p = plan(&svc, &Value::Null, &cfg).await;
    assert_eq!(p.state.get("revision"), Some(&Value::unknown()));
    let (state, diags) = apply(&svc, &Value::Null, &p.state).await;
    assert!(diags.is_empty(), "{diags:?}");
    assert_eq!(state.get("revision"), Some(&Value::Null));
    assert!(!state.contains_unknown());
}

#[tokio::test]
async fn apply_with_null_plan_deletes() {
    let (svc, store) = service().await;
    let prior = created(&svc, "a").await;
    assert_eq!(store.lock().unwrap().len(), 1);
    let (state, diags) = apply(&svc, &prior, &Value::Null).await;
    assert!(diags.is_empty(), "{diags:?}");
    assert_eq!(state, Value::Null);
    assert!(store.lock().unwrap().is_empty());
}

#[tokio::test]
async fn stop_provider_cancels_an_apply_in_flight() {
    let (svc, _) = service().await;
    let cfg = config(&[("name", Value::from("hang"))]);
    let p = plan(&svc, &Value::Null, &cfg).await;
    let stopper = async {
        tokio::time::sleep(Duration::from_millis(100)).await;
        svc.stop_provider(Request::new(pb::stop_provider::Request {}))
            .await
            .unwrap()
            .into_inner()
    };
    let both = async { tokio::join!(apply(&svc, &Value::Null, &p.state), stopper) };
    let ((state, diags), stop) = tokio::time::timeout(Duration::from_secs(5), both)
        .await
        .expect("apply returned after StopProvider");
    assert!(stop.error.is_empty());
    assert_eq!(diags.len(), 1, "{diags:?}");
    assert_eq!(diags[0].summary, "Operation cancelled");
    assert_eq!(diags[0].severity, pb::diagnostic::Severity::Error as i32);
    assert_eq!(state, Value::Null, "prior state (none) is kept");

    // Later calls work again.
    let state = created(&svc, "after").await;
    assert_eq!(state.get("name"), Some(&Value::from("after")));
}

// ---------------------------------------------------------------------------------
// Read, import, upgrade

#[tokio::test]
async fn read_resource_refreshes_or_reports_gone() {
    let (svc, store) = service().await;
    let state = created(&svc, "a").await;
    let read = |s: Value| {
        let svc = &svc;
        async move {
            svc.read_resource(Request::new(pb::read_resource::Request {
                type_name: THING.into(),
                current_state: dv(&s),
                ..Default::default()
            }))
            .await
            .unwrap()
            .into_inner()
        }
    };
    store.lock().unwrap().get_mut("id-1").unwrap().note = Val::Known("drifted".into());
    let r = read(state.clone()).await;
    assert!(r.diagnostics.is_empty());
    assert_eq!(undv(r.new_state).get("note"), Some(&Value::from("drifted")));

    store.lock().unwrap().clear();
    let r = read(state).await;
    assert!(r.diagnostics.is_empty(), "{:?}", r.diagnostics);
    assert_eq!(undv(r.new_state), Value::Null);
}

#[tokio::test]
async fn import_resource_state_returns_the_object() {
    let (svc, _) = service().await;
    created(&svc, "a").await;
    let r = svc
        .import_resource_state(Request::new(pb::import_resource_state::Request {
            type_name: THING.into(),
            id: "id-1".into(),
            ..Default::default()
        }))
        .await
        .unwrap()
        .into_inner();
    assert!(r.diagnostics.is_empty(), "{:?}", r.diagnostics);
    assert_eq!(r.imported_resources.len(), 1);
    let res = r.imported_resources.into_iter().next().unwrap();
    assert_eq!(res.type_name, THING);
    let state = undv(res.state);
    assert_eq!(state.get("id"), Some(&Value::from("id-1")));
    assert_eq!(state.get("name"), Some(&Value::from("a")));

    let r = svc
        .import_resource_state(Request::new(pb::import_resource_state::Request {
            type_name: THING.into(),
            id: "nope".into(),
            ..Default::default()
        }))
        .await
        .unwrap()
        .into_inner();
    assert!(r.imported_resources.is_empty());
    assert_eq!(r.diagnostics[0].summary, "Cannot import");
}

async fn upgrade(
    svc: &ProviderService<TestProvider>,
    version: i64,
    json: &str,
) -> pb::upgrade_resource_state::Response {
    svc.upgrade_resource_state(Request::new(pb::upgrade_resource_state::Request {
        type_name: THING.into(),
        version,
        raw_state: Some(pb::RawState {
            json: json.as_bytes().to_vec(),
            ..Default::default()
        }),
    }))
    .await
    .unwrap()
    .into_inner()
}

#[tokio::test]
async fn upgrade_resource_state_by_version() {
    let (svc, _) = service().await;
    // Same version: JSON decoded to msgpack, numbers kept exactly.
    let r = upgrade(
        &svc,
        1,
        r#"{"id":"x","name":"n","size":3,"big":18446744073709551617,"revision":1e400}"#,
    )
    .await;
    assert!(r.diagnostics.is_empty(), "{:?}", r.diagnostics);
    let v = undv(r.upgraded_state);
    assert_eq!(
        v.get("big"),
        Some(&Value::Number(
            Number::parse("18446744073709551617").unwrap()
        ))
    );
    assert_eq!(
        v.get("revision"),
        Some(&Value::Number(Number::parse("1e400").unwrap()))
    );
    assert_eq!(v.get("name"), Some(&Value::from("n")));
    assert_eq!(
        v.get("note"),
        Some(&Value::Null),
        "missing attributes are null"
    );

    // Older version: the resource's upgrade_state runs first.
    let r = upgrade(&svc, 0, r#"{"id":"x","title":"old-name"}"#).await;
    assert!(r.diagnostics.is_empty(), "{:?}", r.diagnostics);
    let v = undv(r.upgraded_state);
    assert_eq!(v.get("name"), Some(&Value::from("old-name")));
    assert_eq!(v.get("id"), Some(&Value::from("x")));

    // Newer version: an error, no state.
    let r = upgrade(&svc, 2, r#"{"id":"x","name":"n"}"#).await;
    assert_eq!(r.diagnostics.len(), 1);
    assert_eq!(
        r.diagnostics[0].severity,
        pb::diagnostic::Severity::Error as i32
    );
    assert!(r.upgraded_state.is_none());
}

// ---------------------------------------------------------------------------------
// Validation

#[tokio::test]
async fn validation_diagnostics_carry_attribute_paths() {
    let (svc, _) = service().await;
    let rules = Value::List(vec![
        Value::object([("name", Value::from("ok")), ("port", Value::from(80))]),
        Value::object([("name", Value::from("bad")), ("port", Value::from(0))]),
    ]);
    let cfg = config(&[
        ("name", Value::from("")),
        ("note", Value::from("forbidden")),
        ("rules", rules),
    ]);
    let r = svc
        .validate_resource_config(Request::new(pb::validate_resource_config::Request {
            type_name: THING.into(),
            config: dv(&cfg),
            ..Default::default()
        }))
        .await
        .unwrap()
        .into_inner();
    let paths: Vec<Vec<Selector>> = r
        .diagnostics
        .iter()
        .map(|d| {
            d.attribute
                .clone()
                .expect("a path")
                .steps
                .into_iter()
                .map(|s| s.selector.unwrap())
                .collect()
        })
        .collect();
    assert_eq!(
        paths,
        vec![
            vec![attr("name")],
            // Terraform cannot follow a path into an attribute's value, so it stops
            // at the element (whose line it shows) and the detail names the rest.
            vec![attr("rules"), Selector::ElementKeyInt(1)],
            vec![attr("note")],
        ],
        "{:?}",
        r.diagnostics
    );
    assert!(
        r.diagnostics
            .iter()
            .all(|d| d.severity == pb::diagnostic::Severity::Error as i32)
    );
    assert!(
        r.diagnostics[1].detail.ends_with("(at rules[1].port)"),
        "{:?}",
        r.diagnostics[1]
    );

    // A valid configuration with unknowns has no diagnostics.
    let cfg = config(&[("name", Value::unknown()), ("rules", Value::unknown())]);
    let r = svc
        .validate_resource_config(Request::new(pb::validate_resource_config::Request {
            type_name: THING.into(),
            config: dv(&cfg),
            ..Default::default()
        }))
        .await
        .unwrap()
        .into_inner();
    assert!(r.diagnostics.is_empty(), "{:?}", r.diagnostics);
}

#[tokio::test]
async fn json_dynamic_values_are_accepted() {
    let (svc, _) = service().await;
    let r = svc
        .validate_resource_config(Request::new(pb::validate_resource_config::Request {
            type_name: THING.into(),
            config: Some(pb::DynamicValue {
                msgpack: vec![],
                json: br#"{"name":"","big":1e400}"#.to_vec(),
            }),
            ..Default::default()
        }))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(r.diagnostics.len(), 1, "{:?}", r.diagnostics);
    assert_eq!(
        r.diagnostics[0].attribute.as_ref().unwrap().steps[0].selector,
        Some(attr("name"))
    );
}

#[tokio::test]
async fn write_only_values_reach_the_resource_but_never_the_plan_or_state() {
    let (svc, store) = service().await;
    let cfg = config(&[
        ("name", Value::from("w")),
        ("secret", Value::from("s3cr3t")),
    ]);
    let p = plan(&svc, &Value::Null, &cfg).await;
    assert!(p.diags.is_empty(), "{:?}", p.diags);
    assert_eq!(p.state.get("secret"), Some(&Value::Null), "not in the plan");
    let r = svc
        .apply_resource_change(Request::new(pb::apply_resource_change::Request {
            type_name: THING.into(),
            prior_state: dv(&Value::Null),
            planned_state: dv(&p.state),
            config: dv(&cfg),
            ..Default::default()
        }))
        .await
        .unwrap()
        .into_inner();
    assert!(r.diagnostics.is_empty(), "{:?}", r.diagnostics);
    let state = undv(r.new_state);
    assert_eq!(state.get("secret"), Some(&Value::Null), "not in the state");
    let stored = store.lock().unwrap().values().next().cloned().unwrap();
    assert_eq!(
        stored.secret,
        Val::Known("s3cr3t".into()),
        "the resource saw it"
    );
}

#[tokio::test]
async fn create_can_succeed_with_a_warning() {
    let (svc, _) = service().await;
    let cfg = config(&[("name", Value::from("warner"))]);
    let p = plan(&svc, &Value::Null, &cfg).await;
    let (state, diags) = apply(&svc, &Value::Null, &p.state).await;
    assert_eq!(state.get("id"), Some(&Value::from("id-1")), "created");
    assert_eq!(diags.len(), 1, "{diags:?}");
    assert_eq!(diags[0].severity, pb::diagnostic::Severity::Warning as i32);
    assert_eq!(diags[0].summary, "Created with a caveat");
    assert_eq!(
        diags[0].attribute.as_ref().unwrap().steps[0].selector,
        Some(attr("name"))
    );
}

#[derive(Model, Clone, Debug)]
struct Credentials {
    #[tf(optional)]
    user: Val<String>,
    #[tf(optional, sensitive)]
    secret: Val<String>,
}

#[derive(Model, Clone, Debug)]
struct WithCredentials {
    #[tf(optional)]
    name: Val<String>,
    #[tf(block = "list")]
    login: Val<Vec<Credentials>>,
    #[tf(optional)]
    plain: Val<Vec<String>>,
}

/// An honest-state error about a block whose attribute is a secret must not print the
/// block's values, the secret among them.
#[test]
fn values_holding_sensitive_attributes_are_not_shown() {
    use tf_sdk::__internal::plan::{holds_sensitive, is_sensitive};
    use tf_sdk::AttributePath;
    let block = WithCredentials::block();
    let login = AttributePath::root("login");
    assert!(!is_sensitive(&block, &login));
    assert!(holds_sensitive(&block, &login), "the block holds a secret");
    assert!(holds_sensitive(&block, &login.clone().index(0)));
    assert!(
        holds_sensitive(&block, &AttributePath::default()),
        "the whole object"
    );
    assert!(!holds_sensitive(&block, &login.index(0).attr("user")));
    assert!(!holds_sensitive(&block, &AttributePath::root("name")));
    assert!(!holds_sensitive(&block, &AttributePath::root("plain")));
}

//! A deployment process of 100 script steps through real Terraform: the create, a
//! no-change `terraform plan` and a one-step change `terraform apply` — wall time,
//! our CPU (provider and server) and Terraform's, and the HTTP requests the provider
//! makes — against a baseline provider (same schema, [`ProcessModel`]) that answers
//! from memory. Written to `bench-reports/process.md` and printed.
//!
//! Run with `cargo bench -p acceptance-tests --bench process100`
//! (`PROCESS100_RUNS` sets the runs per mode; `TF_ACC_TERRAFORM_PATH` the binary).

mod common;

use acceptance_tests::{Backend, TERRAFORM_BLOCK};
use common::*;
use octopus_client::model::Project;
use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::{Arc, Mutex};
use terraform_provider_octopus::ProviderConfig;
use terraform_provider_octopus::resources::ProcessModel;
use tf_sdk::{Context, Diagnostics, ErasedResource, Provider, Resource, Val, resource};
use tf_testing::WorkDir;

const STEPS: usize = 100;
const RUNS: usize = 5;

fn process_hcl(provider: &str, project_id: &str, changed: Option<usize>) -> String {
    let mut steps = String::new();
    for i in 0..STEPS {
        let body = if changed == Some(i) {
            "echo changed"
        } else {
            "echo run"
        };
        let _ = write!(
            steps,
            "  step {{\n    name = \"Step {i}\"\n    type = \"Octopus.Script\"\n    execution_properties = {{\n      \"Octopus.Action.Script.ScriptBody\" = \"{body} {i}\"\n    }}\n  }}\n"
        );
    }
    format!(
        "{TERRAFORM_BLOCK}\n{provider}\nresource \"octopus_deployment_process\" \"p\" {{\n  project_id = \"{project_id}\"\n{steps}}}\n"
    )
}

// ---------------------------------------------------------------------------------
// The baseline: octopus_deployment_process answered from memory
// ---------------------------------------------------------------------------------

struct BaselineProvider(Arc<Mutex<HashMap<String, ProcessModel>>>);

impl Provider for BaselineProvider {
    type Config = ProviderConfig;
    type Data = Arc<Mutex<HashMap<String, ProcessModel>>>;

    fn type_name(&self) -> &str {
        "octopus"
    }

    async fn configure(&self, _: ProviderConfig, _: String) -> Result<Self::Data, Diagnostics> {
        Ok(self.0.clone())
    }

    fn resources(&self) -> Vec<Box<dyn ErasedResource<Self::Data>>> {
        vec![resource(MemoryProcess)]
    }
}

struct MemoryProcess;

/// What the server would fill in: IDs for steps and actions.
fn complete(mut m: ProcessModel) -> ProcessModel {
    let project = m.project_id.known().cloned().unwrap_or_default();
    m.id = Val::Known(format!("deploymentprocess-{project}"));
    if !m.space_id.is_known() {
        m.space_id = Val::Known("Spaces-1".into());
    }
    if let Val::Known(steps) = &mut m.step {
        for s in steps.iter_mut() {
            let name = s.name.known().cloned().unwrap_or_default();
            s.id = Val::Known(format!("step-{name}"));
            s.action.action_id = Val::Known(format!("action-{name}"));
            s.child_step = Val::Known(s.child_step.known().cloned().unwrap_or_default());
        }
    }
    m
}

type Store = Arc<Mutex<HashMap<String, ProcessModel>>>;

impl Resource<Store> for MemoryProcess {
    type Model = ProcessModel;

    fn name(&self) -> &str {
        "deployment_process"
    }

    async fn create(
        &self,
        ctx: &Context<Store>,
        plan: ProcessModel,
    ) -> Result<ProcessModel, Diagnostics> {
        let m = complete(plan);
        let id = m.id.known().cloned().unwrap_or_default();
        ctx.data()?.lock().unwrap().insert(id, m.clone());
        Ok(m)
    }

    async fn read(
        &self,
        ctx: &Context<Store>,
        state: ProcessModel,
    ) -> Result<Option<ProcessModel>, Diagnostics> {
        let id = state.id.known().cloned().unwrap_or_default();
        Ok(ctx.data()?.lock().unwrap().get(&id).cloned())
    }

    async fn update(
        &self,
        ctx: &Context<Store>,
        _prior: ProcessModel,
        plan: ProcessModel,
    ) -> Result<ProcessModel, Diagnostics> {
        self.create(ctx, plan).await
    }

    async fn delete(&self, ctx: &Context<Store>, state: ProcessModel) -> Result<(), Diagnostics> {
        let id = state.id.known().cloned().unwrap_or_default();
        ctx.data()?.lock().unwrap().remove(&id);
        Ok(())
    }
}

// ---------------------------------------------------------------------------------

struct Results {
    create: Vec<Sample>,
    plan: Vec<Sample>,
    change: Vec<Sample>,
}

fn run_mode(wd: &WorkDir, threads: &[u32], provider_block: &str, project: &str) -> Results {
    let mut r = Results {
        create: vec![],
        plan: vec![],
        change: vec![],
    };
    let runs = std::env::var("PROCESS100_RUNS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(RUNS);
    wd.config(&process_hcl(provider_block, project, None));
    let (out, s) = measure(threads, || wd.run(&["apply", "-auto-approve", "-no-color"]));
    assert_eq!(out.code, 0, "create: {}", out.output());
    r.create.push(s);
    for i in 0..runs {
        let (out, s) = measure(threads, || {
            wd.run(&["plan", "-detailed-exitcode", "-no-color"])
        });
        assert_eq!(out.code, 0, "no-change plan: {}", out.output());
        r.plan.push(s);
        wd.config(&process_hcl(
            provider_block,
            project,
            (i % 2 == 0).then_some(STEPS / 2),
        ));
        let (out, s) = measure(threads, || wd.run(&["apply", "-auto-approve", "-no-color"]));
        assert_eq!(out.code, 0, "one-step change: {}", out.output());
        r.change.push(s);
    }
    let out = wd.run(&["destroy", "-auto-approve", "-no-color"]);
    assert_eq!(out.code, 0, "destroy: {}", out.output());
    r
}

fn provider_block(url: &str, key: &str, space: &str) -> String {
    format!(
        "provider \"octopus\" {{\n  address  = \"{url}\"\n  api_key  = \"{key}\"\n  space_id = \"{space}\"\n}}\n"
    )
}

fn main() {
    let (nproc, model) = machine();
    let tf = terraform_version();
    let load_before = loadavg();
    let backend = Backend::get();
    let admin = backend.client(None);
    let space = backend
        .block_on(
            admin
                .spaces()
                .create(&octopus_client::model::Space::new("bench-process")),
        )
        .expect("space");
    let space_id = space.id.clone().unwrap();
    let client = backend.client(Some(&space_id));
    let project_id = backend
        .block_on(async {
            let lifecycles = client
                .lifecycles(&space_id)
                .list_all(&Default::default())
                .await?;
            let groups = client
                .project_groups(&space_id)
                .list_all(&Default::default())
                .await?;
            let p = Project {
                name: "bench".into(),
                lifecycle_id: lifecycles[0].id.clone().unwrap(),
                project_group_id: groups[0].id.clone().unwrap(),
                ..Default::default()
            };
            client.projects(&space_id).create(&p).await
        })
        .expect("project")
        .id
        .unwrap();

    eprintln!("process100: real…");
    let (served, threads) = spawn_provider(terraform_provider_octopus::OctopusProvider);
    let mut wd = WorkDir::new(&[]);
    wd.env("TF_REATTACH_PROVIDERS", served.reattach_providers());
    let real = run_mode(
        &wd,
        &threads,
        &provider_block(backend.url(), backend.api_key(), &space_id),
        &project_id,
    );

    eprintln!("process100: requests…");
    let proxy = acceptance_tests::Proxy::counting();
    let via_proxy = provider_block(&proxy.url, backend.api_key(), &space_id);
    wd.config(&process_hcl(&via_proxy, &project_id, None));
    assert_eq!(wd.run(&["apply", "-auto-approve", "-no-color"]).code, 0);
    proxy.take();
    assert_eq!(wd.run(&["plan", "-detailed-exitcode", "-no-color"]).code, 0);
    let plan_requests = proxy.take();
    wd.config(&process_hcl(&via_proxy, &project_id, Some(STEPS / 2)));
    assert_eq!(wd.run(&["apply", "-auto-approve", "-no-color"]).code, 0);
    let change_requests = proxy.take();
    assert_eq!(wd.run(&["destroy", "-auto-approve", "-no-color"]).code, 0);
    drop(served);

    eprintln!("process100: baseline…");
    let (served, threads) = spawn_provider(BaselineProvider(Arc::default()));
    let mut wd = WorkDir::new(&[]);
    wd.env("TF_REATTACH_PROVIDERS", served.reattach_providers());
    let base = run_mode(&wd, &threads, "provider \"octopus\" {}\n", "Projects-1");

    let mut out = String::new();
    let _ = writeln!(
        out,
        "# Provider benchmark: a deployment process of {STEPS} steps\n"
    );
    let _ = writeln!(
        out,
        "Produced by `cargo bench -p acceptance-tests --bench process100` (`acceptance-tests/benches/process100.rs`), release profile. Machine: {nproc} CPUs, {model}; load average {load_before} before, {} after. Terraform: {tf}.\n",
        loadavg()
    );
    let _ = writeln!(
        out,
        "- **real**: the embedded octopus-lite and the real provider, served in this process; **baseline**: the same schema (`ProcessModel`) answered from memory."
    );
    let _ = writeln!(
        out,
        "- *create* applies the {STEPS} steps; *no-change plan* refreshes and plans; *one-step change* applies a new script body for one step. Medians of {} runs of each, one create.",
        real.plan.len()
    );
    let _ = writeln!(
        out,
        "- CPU columns as in provider.md: ours = this process (provider threads + server), Terraform = the child.\n"
    );
    let _ = writeln!(
        out,
        "| Mode | Phase | Wall | Ours (CPU) | … provider threads | … server (rest) | Terraform (CPU) | Ours / wall |\n|---|---|---|---|---|---|---|---|"
    );
    for (label, r) in [("real", &real), ("baseline", &base)] {
        out.push_str(&row(label, "create", &median_sample(&r.create)));
        out.push_str(&row(label, "no-change plan", &median_sample(&r.plan)));
        out.push_str(&row(label, "one-step change", &median_sample(&r.change)));
    }
    let overhead = |a: &[Sample], b: &[Sample]| {
        let (a, b) = (
            median_sample(a).wall.as_secs_f64(),
            median_sample(b).wall.as_secs_f64(),
        );
        pct((a - b) / a)
    };
    let _ = writeln!(
        out,
        "\nOverhead (real − baseline) / real, wall: no-change plan {}, one-step change {}.\n",
        overhead(&real.plan, &base.plan),
        overhead(&real.change, &base.change)
    );
    let _ = writeln!(
        out,
        "HTTP requests of the provider (counted by a proxy, real mode): no-change plan: {plan_requests}; one-step change apply: {change_requests}."
    );
    print!("{out}");
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../bench-reports/process.md");
    std::fs::write(&path, out).expect("write the report");
    eprintln!("process100: wrote {}", path.display());
}

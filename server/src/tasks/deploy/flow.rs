//! The order steps run in: batches, conditions, skipping, failure.

use std::collections::BTreeMap;
use std::sync::Arc;

use octopus_client::model::{Action, ServerTask, Step, TaskState, VariableSet};
use octopus_executor::Outcome;
use octostache::Variables;
use tokio::sync::watch;

use crate::api::AppState;
use crate::tasks::variables::{ScopeContext, resolve};

use super::action::text_of;
use super::action::{ActionAt, run_one};
use super::plan::system_variables;
use super::{Plan, RunEnd, Shared};

/// Steps grouped into batches that start together (`StartWithPrevious`).
fn batches(steps: &[Step]) -> Vec<Vec<(usize, &Step)>> {
    let mut out: Vec<Vec<(usize, &Step)>> = Vec::new();
    for (i, s) in steps.iter().enumerate() {
        let with_previous = s.start_trigger.as_deref() == Some("StartWithPrevious");
        match out.last_mut() {
            Some(batch) if with_previous => batch.push((i, s)),
            _ => out.push(vec![(i, s)]),
        }
    }
    out
}

pub(super) async fn run_plan(
    state: &AppState,
    plan: &Plan,
    task: &ServerTask,
    shared: &Arc<Shared>,
    work_root: &std::path::Path,
    cancel: watch::Receiver<bool>,
) -> RunEnd {
    let system = system_variables(plan, task);
    for batch in batches(&plan.process.steps) {
        if *cancel.borrow() {
            break;
        }
        let failed_before = shared
            .failed
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .is_some();
        let runs: Vec<_> = batch
            .into_iter()
            .map(|(i, step)| {
                let at = StepAt {
                    root: &task.id,
                    index: i,
                    step,
                    failed_before,
                };
                run_step(state, plan, &system, shared, work_root, at, cancel.clone())
            })
            .collect();
        join_all(runs).await;
        if *shared.canceled.lock().unwrap_or_else(|e| e.into_inner()) {
            break;
        }
    }
    let canceled = *cancel.borrow() || *shared.canceled.lock().unwrap_or_else(|e| e.into_inner());
    let failed = shared
        .failed
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .clone();
    match (canceled, failed) {
        (true, _) => RunEnd {
            state: TaskState::Canceled,
            error: "The task was canceled.".into(),
            warnings: true,
        },
        (false, Some(msg)) => RunEnd {
            state: TaskState::Failed,
            error: msg,
            warnings: true,
        },
        (false, None) => RunEnd {
            state: TaskState::Success,
            error: String::new(),
            warnings: false,
        },
    }
}

/// Runs futures concurrently on this task and waits for all of them (the one
/// place that needs it; no extra crate).
async fn join_all<F: std::future::Future<Output = ()>>(futs: Vec<F>) {
    let mut futs: Vec<Option<std::pin::Pin<Box<F>>>> =
        futs.into_iter().map(|f| Some(Box::pin(f))).collect();
    std::future::poll_fn(|cx| {
        let mut pending = false;
        for slot in futs.iter_mut() {
            if let Some(f) = slot {
                if f.as_mut().poll(cx).is_ready() {
                    *slot = None;
                } else {
                    pending = true;
                }
            }
        }
        if pending {
            std::task::Poll::Pending
        } else {
            std::task::Poll::Ready(())
        }
    })
    .await;
}

/// Whether an action applies to this deployment (disabled, environment, channel, skipped).
fn skip_reason(plan: &Plan, a: &Action) -> Option<&'static str> {
    let env = &plan.deployment.environment_id;
    if a.is_disabled {
        return Some("it is disabled");
    }
    if !a.environments.is_empty() && !a.environments.contains(env) {
        return Some("it does not run in this environment");
    }
    if a.excluded_environments.contains(env) {
        return Some("it is excluded from this environment");
    }
    if !a.channels.is_empty() && !a.channels.contains(&plan.release.channel_id) {
        return Some("it does not run in this channel");
    }
    let id = a.id.as_deref().unwrap_or_default();
    if plan.deployment.skip_actions.iter().any(|s| s == id) {
        return Some("it was skipped for this deployment");
    }
    None
}

/// A step of the process and where it stands in the run.
struct StepAt<'a> {
    /// The root node (the task ID).
    root: &'a str,
    index: usize,
    step: &'a Step,
    /// Whether an earlier step failed.
    failed_before: bool,
}

async fn run_step(
    state: &AppState,
    plan: &Plan,
    system: &Variables,
    shared: &Arc<Shared>,
    work_root: &std::path::Path,
    at: StepAt<'_>,
    cancel: watch::Receiver<bool>,
) {
    let StepAt {
        root,
        index,
        step,
        failed_before,
    } = at;
    let node = format!("{root}_step{}", index + 1);
    shared.open(&node, root, &format!("Step {}: {}", index + 1, step.name));
    let condition = step.condition.as_deref().unwrap_or("Success");
    let step_props: BTreeMap<String, String> = step
        .properties
        .iter()
        .map(|(k, v)| (k.clone(), text_of(v).0))
        .collect();
    let roles: Vec<String> = step_props
        .get("Octopus.Action.TargetRoles")
        .map(|r| {
            r.split(',')
                .map(|x| x.trim().to_owned())
                .filter(|x| !x.is_empty())
                .collect()
        })
        .unwrap_or_default();
    let base_ctx = ScopeContext {
        environment_id: plan.deployment.environment_id.clone(),
        channel_id: plan.release.channel_id.clone(),
        project_id: plan.project.id.clone().unwrap_or_default(),
        action_id: None,
        roles: roles.clone(),
    };
    let run_it = match condition {
        "Failure" => failed_before,
        "Always" => true,
        "Variable" => {
            let mut vars = system.clone();
            let sets: Vec<&VariableSet> = plan.variables.iter().collect();
            resolve(&sets, &base_ctx, &mut vars);
            for (k, v) in shared
                .outputs
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .iter()
            {
                vars.set(k, v);
            }
            let expr = step_props
                .get("Octopus.Step.ConditionVariableExpression")
                .cloned()
                .unwrap_or_default();
            is_truthy(&octostache::evaluate(&expr, &vars))
        }
        _ => !failed_before,
    };
    if !run_it {
        shared.line(
            &node,
            "Info",
            &format!("The step was skipped: its condition is {condition}."),
        );
        shared.close(&node, "Skipped");
        return;
    }
    let mut any_ran = false;
    let mut step_failed = false;
    for (ai, action) in step.actions.iter().enumerate() {
        if let Some(reason) = skip_reason(plan, action) {
            shared.line(
                &node,
                "Info",
                &format!("Skipping {}: {reason}.", action.name),
            );
            continue;
        }
        if step_failed || *cancel.borrow() {
            break;
        }
        any_ran = true;
        let anode = format!("{node}_a{}", ai + 1);
        shared.open(
            &anode,
            &node,
            &format!("{} on the built-in worker", action.name),
        );
        let ctx = ScopeContext {
            action_id: action.id.clone(),
            ..base_ctx.clone()
        };
        let work_dir = work_root.join(format!("{}-{}", index + 1, ai + 1));
        let at = ActionAt {
            step,
            action,
            step_index: index,
            action_index: ai,
            scope: &ctx,
            roles: &roles,
            work_dir,
            node: &anode,
        };
        let outcome = run_one(state, plan, system, shared, at, cancel.clone()).await;
        match outcome {
            Outcome::Success => shared.close(&anode, "Success"),
            Outcome::Canceled => {
                shared.line(&anode, "Error", "The action was canceled.");
                shared.close(&anode, "Canceled");
                *shared.canceled.lock().unwrap_or_else(|e| e.into_inner()) = true;
                shared.close(&node, "Canceled");
                return;
            }
            Outcome::Failed(msg) => {
                step_failed = true;
                let msg = shared.mask(&msg);
                shared.line(&anode, "Error", &msg);
                shared.close(&anode, "Failed");
                record_failure(shared, &step.name, &msg);
            }
            Outcome::TimedOut => {
                step_failed = true;
                let msg = format!(
                    "The action {} ran longer than its time limit of {} s and was stopped.",
                    action.name,
                    state.step_timeout.as_secs()
                );
                shared.line(&anode, "Error", &msg);
                shared.close(&anode, "Failed");
                record_failure(shared, &step.name, &msg);
            }
        }
    }
    let status = if step_failed {
        "Failed"
    } else if any_ran {
        "Success"
    } else {
        "Skipped"
    };
    shared.close(&node, status);
}

fn record_failure(shared: &Shared, step: &str, msg: &str) {
    let mut failed = shared.failed.lock().unwrap_or_else(|e| e.into_inner());
    if failed.is_none() {
        *failed = Some(format!("The step '{step}' failed: {msg}"));
    }
    let mut outputs = shared.outputs.lock().unwrap_or_else(|e| e.into_inner());
    outputs.set(
        "Octopus.Deployment.Error",
        format!("The step '{step}' failed"),
    );
    outputs.set("Octopus.Deployment.ErrorDetail", msg);
}

/// Whether a step's condition expression holds: Octostache's truthiness, and an
/// expression left unevaluated (a missing variable) is false.
pub fn is_truthy(s: &str) -> bool {
    !s.contains("#{") && octostache::truthy(s)
}

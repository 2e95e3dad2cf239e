//! Lifecycle progression: which environments a release may be deployed to.
//!
//! Octopus's rules: phases are entered in order; a phase's environments are its
//! automatic and optional targets, or, when it names none, every environment no
//! other phase names; a lifecycle without phases is one phase per environment in
//! environment order. A phase is complete when enough of its environments hold a
//! successful deployment of the release (`MinimumEnvironmentsBeforePromotion`, 0 =
//! all); an optional phase never holds the release back. Every environment of a
//! phase that is not `Pending` may be deployed to (earlier phases stay open for
//! redeployments), as may an environment the release already reached.

use std::collections::HashSet;

use octopus_client::model::{Environment, Lifecycle};

/// How far the release is in a phase.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Progress {
    /// Not reachable yet.
    Pending,
    /// Open, not complete.
    Current,
    /// Complete.
    Complete,
}

impl Progress {
    /// Octopus's name.
    pub fn as_str(self) -> &'static str {
        match self {
            Progress::Pending => "Pending",
            Progress::Current => "Current",
            Progress::Complete => "Complete",
        }
    }
}

/// One phase as the release sees it.
#[derive(Debug, Clone)]
pub struct PhaseProgress {
    /// Phase name.
    pub name: String,
    /// Its environments, in environment order.
    pub environments: Vec<String>,
    /// Automatic targets.
    pub automatic: Vec<String>,
    /// Successful deployments required to complete it.
    pub required: usize,
    /// Whether the phase may be skipped.
    pub optional: bool,
    /// Where the release is.
    pub progress: Progress,
}

/// The phases of `lifecycle` for a release that deployed successfully to `succeeded`.
/// `environments` are the space's environments in their order.
pub fn phases(
    lifecycle: &Lifecycle,
    environments: &[Environment],
    succeeded: &HashSet<String>,
) -> Vec<PhaseProgress> {
    let ordered: Vec<String> = environments.iter().filter_map(|e| e.id.clone()).collect();
    let mut out: Vec<PhaseProgress> = Vec::new();
    if lifecycle.phases.is_empty() {
        for e in environments {
            let Some(id) = e.id.clone() else { continue };
            out.push(PhaseProgress {
                name: e.name.clone(),
                environments: vec![id],
                automatic: Vec::new(),
                required: 1,
                optional: false,
                progress: Progress::Pending,
            });
        }
    } else {
        let named: HashSet<&String> = lifecycle
            .phases
            .iter()
            .flat_map(|p| {
                p.automatic_deployment_targets
                    .iter()
                    .chain(&p.optional_deployment_targets)
            })
            .collect();
        for p in &lifecycle.phases {
            let mine: HashSet<&String> = p
                .automatic_deployment_targets
                .iter()
                .chain(&p.optional_deployment_targets)
                .collect();
            let envs: Vec<String> = if mine.is_empty() {
                ordered
                    .iter()
                    .filter(|e| !named.contains(e))
                    .cloned()
                    .collect()
            } else {
                ordered
                    .iter()
                    .filter(|e| mine.contains(e))
                    .cloned()
                    .collect()
            };
            let min = usize::try_from(p.minimum_environments_before_promotion).unwrap_or(0);
            let required = if min == 0 {
                envs.len()
            } else {
                min.min(envs.len())
            };
            out.push(PhaseProgress {
                name: p.name.clone(),
                environments: envs,
                automatic: p.automatic_deployment_targets.clone(),
                required,
                optional: p.is_optional_phase,
                progress: Progress::Pending,
            });
        }
    }
    let mut reachable = true;
    for phase in &mut out {
        if !reachable {
            break;
        }
        let done = phase
            .environments
            .iter()
            .filter(|e| succeeded.contains(*e))
            .count();
        let complete = done >= phase.required;
        phase.progress = if complete {
            Progress::Complete
        } else {
            Progress::Current
        };
        reachable = complete || phase.optional;
    }
    out
}

/// Environments the release may be deployed to now.
pub fn deployable(phases: &[PhaseProgress], succeeded: &HashSet<String>) -> HashSet<String> {
    let mut out: HashSet<String> = phases
        .iter()
        .filter(|p| p.progress != Progress::Pending)
        .flat_map(|p| p.environments.iter().cloned())
        .collect();
    out.extend(succeeded.iter().cloned());
    out
}

/// Whether an environment is in any phase of the lifecycle.
pub fn in_lifecycle(phases: &[PhaseProgress], env: &str) -> bool {
    phases
        .iter()
        .any(|p| p.environments.iter().any(|e| e == env))
}

#[cfg(test)]
mod tests {
    use super::*;
    use octopus_client::model::Phase;

    fn env(id: &str) -> Environment {
        Environment {
            id: Some(id.into()),
            name: id.into(),
            ..Default::default()
        }
    }

    fn phase(name: &str, envs: &[&str], min: i32, optional: bool) -> Phase {
        Phase {
            name: name.into(),
            optional_deployment_targets: envs.iter().map(|e| (*e).to_owned()).collect(),
            minimum_environments_before_promotion: min,
            is_optional_phase: optional,
            ..Default::default()
        }
    }

    fn open(l: &Lifecycle, done: &[&str]) -> Vec<String> {
        let envs = [env("dev"), env("test"), env("prod")];
        let done: HashSet<String> = done.iter().map(|d| (*d).to_owned()).collect();
        let mut v: Vec<String> = deployable(&phases(l, &envs, &done), &done)
            .into_iter()
            .collect();
        v.sort();
        v
    }

    #[test]
    fn without_phases_environments_are_promoted_in_order() {
        let l = Lifecycle::default();
        assert_eq!(open(&l, &[]), ["dev"]);
        assert_eq!(open(&l, &["dev"]), ["dev", "test"]);
        assert_eq!(open(&l, &["dev", "test"]), ["dev", "prod", "test"]);
    }

    #[test]
    fn minimums_optional_phases_and_catch_all_phases() {
        let mut l = Lifecycle {
            phases: vec![
                phase("Dev", &["dev", "test"], 1, false),
                phase("Rest", &[], 0, false),
            ],
            ..Lifecycle::default()
        };
        assert_eq!(open(&l, &[]), ["dev", "test"]);
        assert_eq!(open(&l, &["test"]), ["dev", "prod", "test"]);
        l.phases = vec![
            phase("Dev", &["dev"], 0, true),
            phase("Test", &["test"], 0, false),
            phase("Prod", &["prod"], 0, false),
        ];
        assert_eq!(open(&l, &[]), ["dev", "test"]);
    }
}

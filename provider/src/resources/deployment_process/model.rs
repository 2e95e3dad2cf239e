//! The schema of `octopus_deployment_process`: a process, its steps, their actions.

use std::collections::BTreeMap;
use tf_sdk::model::Set;
use tf_sdk::value::Value;
use tf_sdk::{Json, Model, Val, validators};

/// A project's deployment process, as code: its steps in order, each matched to the
/// server's step of the same name, so inserting, removing or reordering a step
/// changes exactly that step. Steps can run scripts, deploy packages or use step
/// packages (`step_package`), whose inputs are checked at plan time against the
/// installed package's schema.
///
/// The process itself is created with its project and never deleted: destroying
/// this resource leaves the process without steps.
///
/// Secrets (`sensitive_execution_properties`, `sensitive_inputs`) never appear in plan
/// or apply output, but are kept in the state, as every Terraform secret is. Terraform's
/// own debug log (`TF_LOG=DEBUG` or finer) prints whole `step` values when it upgrades
/// the state, secrets included, because steps hold free-form values (`inputs`): do not
/// share such logs.
#[derive(Model, Clone, Debug)]
pub struct ProcessModel {
    /// The process ID, `deploymentprocess-<project ID>`.
    #[tf(computed, use_state_for_unknown)]
    pub id: Val<String>,
    /// The project whose process this is. Changing it replaces the resource.
    #[tf(required, requires_replace)]
    pub project_id: Val<String>,
    /// The space; defaults to the provider's space. Changing it replaces the resource.
    #[tf(optional, computed, use_state_for_unknown, requires_replace, validate = crate::resources::space_id)]
    pub space_id: Val<String>,
    /// The steps, in the order they run.
    #[tf(block = "list")]
    pub step: Val<Vec<StepModel>>,
}

/// A step: when it runs, and its first action (the attributes it shares with
/// `child_step`).
#[derive(Model, Clone, Debug, PartialEq)]
pub struct StepModel {
    /// The step's ID on the server.
    #[tf(computed)]
    pub id: Val<String>,
    /// The step's name, unique in the process; it also names the step's first action.
    #[tf(required, validate = crate::resources::name)]
    pub name: Val<String>,
    /// `StartAfterPrevious`, or `StartWithPrevious` to run in parallel with the step
    /// before.
    #[tf(optional, computed, default = "StartAfterPrevious", validate = validators::one_of(START_TRIGGERS))]
    pub start_trigger: Val<String>,
    /// When the step runs: `Success` (the steps before succeeded), `Failure`, `Always`
    /// or `Variable` (`condition_expression` is true).
    #[tf(optional, computed, default = "Success", validate = validators::one_of(CONDITIONS))]
    pub condition: Val<String>,
    /// The expression a `Variable` condition evaluates, e.g. `#{RunThisStep}`.
    #[tf(optional)]
    pub condition_expression: Val<String>,
    /// When packages are acquired: `LetOctopusDecide`, `BeforePackageAcquisition` or
    /// `AfterPackageAcquisition`.
    #[tf(optional, computed, default = "LetOctopusDecide", validate = validators::one_of(PACKAGE_REQUIREMENTS))]
    pub package_requirement: Val<String>,
    /// The step's own properties, such as `Octopus.Action.TargetRoles`.
    #[tf(optional, validate = crate::resources::property_names)]
    pub properties: Val<BTreeMap<String, String>>,
    /// The step's first action.
    #[tf(flatten)]
    pub action: ActionFields,
    /// Further actions of a rolling step, in order.
    #[tf(block = "list")]
    pub child_step: Val<Vec<ChildStepModel>>,
}

/// A further action of a step.
#[derive(Model, Clone, Debug, PartialEq)]
pub struct ChildStepModel {
    /// The action's name, unique in the process.
    #[tf(required, validate = crate::resources::name)]
    pub name: Val<String>,
    /// What the action does.
    #[tf(flatten)]
    pub action: ActionFields,
}

/// What an action does and where.
#[derive(Model, Clone, Debug, PartialEq)]
pub struct ActionFields {
    /// The action's ID on the server.
    #[tf(computed)]
    pub action_id: Val<String>,
    /// The action type, e.g. `Octopus.Script`; for a step package, the step's ID
    /// (which is the default when `step_package` is set).
    #[tf(optional, computed, name = "type")]
    pub action_type: Val<String>,
    /// The action's properties, e.g. `Octopus.Action.Script.ScriptBody`.
    #[tf(optional, validate = crate::resources::property_names)]
    pub execution_properties: Val<BTreeMap<String, String>>,
    /// Properties whose values are secrets: sent as sensitive values, which the server
    /// never returns. A secret cleared outside Terraform shows as a change; one
    /// changed outside Terraform to another secret cannot be seen.
    #[tf(optional, sensitive, validate = secret_properties)]
    pub sensitive_execution_properties: Val<BTreeMap<String, String>>,
    /// Environments the action runs in (all when empty).
    #[tf(optional, computed, default = Value::Set(vec![]), validate = crate::resources::reference_ids)]
    pub environments: Val<Set<Val<String>>>,
    /// Environments the action does not run in.
    #[tf(optional, computed, default = Value::Set(vec![]), validate = crate::resources::reference_ids)]
    pub excluded_environments: Val<Set<Val<String>>>,
    /// Channels the action runs for (all when empty).
    #[tf(optional, computed, default = Value::Set(vec![]), validate = crate::resources::reference_ids)]
    pub channels: Val<Set<Val<String>>>,
    /// Tenant tags the action runs for.
    #[tf(optional, computed, default = Value::Set(vec![]))]
    pub tenant_tags: Val<Set<Val<String>>>,
    /// Whether the action is skipped.
    #[tf(optional, computed, default = false)]
    pub is_disabled: Val<bool>,
    /// Whether the action cannot be skipped when deploying.
    #[tf(optional, computed, default = false)]
    pub is_required: Val<bool>,
    /// Free-text notes, at most 10000 characters.
    #[tf(optional, computed, default = "", validate = validators::length(0, 10_000))]
    pub notes: Val<String>,
    /// The worker pool the action runs on; empty for the default.
    #[tf(optional, computed, default = "", validate = crate::resources::reference_id_or_empty)]
    pub worker_pool_id: Val<String>,
    /// The package the action deploys or runs a script from.
    #[tf(optional, nested)]
    pub primary_package: Val<PrimaryPackageModel>,
    /// Further packages the action uses, by reference name: each
    /// `{ package_id, feed_id = "feeds-builtin", acquisition_location = "Server",
    /// extract_during_deployment = true, properties = {} }` (only `package_id` is
    /// required), checked at plan time. For a package input of a step-package step,
    /// `step_package_inputs_reference_id` is the `referenceId` the input names.
    #[tf(optional)]
    pub packages: Val<Json>,
    /// The container image the action runs in.
    #[tf(optional, nested)]
    pub container: Val<ContainerModel>,
    /// The step package this action runs (its step ID is the action type).
    #[tf(optional, nested)]
    pub step_package: Val<StepPackageModel>,
}

/// The primary package of an action.
#[derive(Model, Clone, Debug, PartialEq)]
pub struct PrimaryPackageModel {
    /// The package ID in its feed.
    #[tf(required, validate = package_id)]
    pub package_id: Val<String>,
    /// The feed; defaults to the built-in one.
    #[tf(optional, computed, default = "feeds-builtin", validate = crate::resources::id_or_default)]
    pub feed_id: Val<String>,
    /// Where the package is acquired: `Server`, `ExecutionTarget` or `NotAcquired`.
    #[tf(optional, computed, default = "Server")]
    pub acquisition_location: Val<String>,
    /// The reference's properties.
    #[tf(optional)]
    pub properties: Val<BTreeMap<String, String>>,
}

/// The container an action runs in.
#[derive(Model, Clone, Debug, PartialEq)]
pub struct ContainerModel {
    /// The feed holding the image.
    #[tf(optional, validate = crate::resources::reference_id_or_empty)]
    pub feed_id: Val<String>,
    /// The image, e.g. `octopusdeploy/worker-tools:6-ubuntu.22.04`.
    #[tf(optional)]
    pub image: Val<String>,
}

/// A step-package usage.
#[derive(Model, Clone, Debug, PartialEq)]
pub struct StepPackageModel {
    /// The step's ID (a step package may hold several steps).
    #[tf(required)]
    pub id: Val<String>,
    /// A major (`1`, following the server's automatic minor and patch upgrades) or an
    /// exact version (`1.2.0`). Changing the major upgrades explicitly.
    #[tf(required)]
    pub version: Val<String>,
    /// The step's inputs, in HCL, checked at plan time against the step's schema: the
    /// installed one, or that of an `octopus_step_package` this process depends on.
    #[tf(optional)]
    pub inputs: Val<Json>,
    /// Inputs whose values are secrets (merged with `inputs`), sent as sensitive
    /// values that the server never returns. A secret cleared outside Terraform shows
    /// as a change; one changed outside Terraform to another secret cannot be seen, and
    /// an import cannot know them.
    #[tf(optional, sensitive)]
    pub sensitive_inputs: Val<Json>,
    /// The version the server uses now.
    #[tf(computed)]
    pub resolved_version: Val<String>,
}

/// Sensitive property values: named as the server accepts, and not empty (the server
/// reads an empty secret as none, so it would never be stored). Messages never show
/// the values.
pub(crate) fn secret_properties(props: &BTreeMap<String, String>) -> Result<(), String> {
    crate::resources::property_names(props)?;
    match props.iter().find(|(_, v)| v.is_empty()) {
        Some((k, _)) => Err(format!(
            "the value of {k:?} is empty, which the server reads as no secret (it would never \
             be stored); remove {k:?} for no secret, or give it a value"
        )),
        None => Ok(()),
    }
}

/// A package ID as the server checks it: 1 to 200 characters, visible, no control or
/// bidirectional formatting characters.
pub(crate) fn package_id(s: &String) -> Result<(), String> {
    validators::length(1, 200)(s)?;
    crate::resources::visible_text(s)
}

/// Step start triggers.
pub const START_TRIGGERS: &[&str] = &["StartAfterPrevious", "StartWithPrevious"];
/// Step conditions.
pub const CONDITIONS: &[&str] = &["Success", "Failure", "Always", "Variable"];
/// Step package requirements.
pub const PACKAGE_REQUIREMENTS: &[&str] = &[
    "LetOctopusDecide",
    "BeforePackageAcquisition",
    "AfterPackageAcquisition",
];

// Releases, deployments and server tasks through the client's Executions API
// (ReleaseRepository.create, DeploymentRepository.create), its task waiter and task
// repositories: a real Bash script runs on octopus-lite's built-in worker.
import test from "node:test";
import assert from "node:assert/strict";
import { api, connect, spaceName, unique } from "./helpers.mjs";

function bashStep(name, script) {
  return {
    Name: name,
    Properties: {},
    Condition: api.RunCondition.Success,
    StartTrigger: api.StartTrigger.StartAfterPrevious,
    PackageRequirement: api.PackageRequirement.LetOctopusDecide,
    Actions: [
      {
        Name: name,
        ActionType: "Octopus.Script",
        IsDisabled: false,
        IsRequired: false,
        Environments: [],
        ExcludedEnvironments: [],
        Channels: [],
        TenantTags: [],
        Packages: [],
        Properties: {
          "Octopus.Action.RunOnServer": "true",
          "Octopus.Action.Script.ScriptSource": "Inline",
          "Octopus.Action.Script.Syntax": "Bash",
          "Octopus.Action.Script.ScriptBody": script,
        },
      },
    ],
  };
}

/** Two environments, a lifecycle with one phase each (first, then second), and a project on it. */
async function setUp(client) {
  const envs = new api.EnvironmentRepository(client, spaceName);
  const first = await envs.create({ Name: unique("Compat Dev"), UseGuidedFailure: false });
  const second = await envs.create({ Name: unique("Compat Prod"), UseGuidedFailure: false });
  const keep = { Unit: "Items", QuantityToKeep: 0, ShouldKeepForever: true };
  const phase = (name, env) => ({
    Name: name,
    AutomaticDeploymentTargets: [],
    OptionalDeploymentTargets: [env.Id],
    MinimumEnvironmentsBeforePromotion: 0,
    IsOptionalPhase: false,
  });
  const lifecycle = await new api.LifecycleRepository(client, spaceName).create({
    Name: unique("Compat Lifecycle"),
    Phases: [phase("First", first), phase("Second", second)],
    ReleaseRetentionPolicy: keep,
    TentacleRetentionPolicy: keep,
  });
  assert.equal(lifecycle.Phases.length, 2);
  const groups = await new api.ProjectGroupRepository(client, spaceName).list({ partialName: "Default Project Group" });
  const group = groups.Items.find((g) => g.Name === "Default Project Group");
  assert.ok(group, "the space has its default project group");
  const project = await new api.ProjectRepository(client, spaceName).create(
    api.NewProject(unique("Compat Exec"), group, lifecycle),
  );
  return { first, second, lifecycle, project };
}

async function setSteps(client, project, steps) {
  const processes = new api.DeploymentProcessRepository(client, spaceName);
  const process = await processes.get(project);
  process.Steps = steps;
  return processes.update(project, process);
}

/** Every log line of an activity tree, depth first. */
function logLines(nodes) {
  return nodes.flatMap((n) => [...(n.LogElements ?? []).map((e) => e.MessageText), ...logLines(n.Children ?? [])]);
}

test("executions: release with server defaults, deploy, wait, log, lifecycle order, cancel", async () => {
  const client = await connect();
  const { first, second, lifecycle, project } = await setUp(client);

  // A project variable, through the client's generic request methods (3.11.0 has no
  // variable repository): GET the project's variable set, add one, PUT it back.
  const setPath = "~/api/{spaceId}/variables/{id}";
  const setArgs = { spaceId: project.SpaceId, id: project.VariableSetId };
  const set = await client.get(setPath, setArgs);
  assert.equal(set.OwnerId, project.Id);
  set.Variables.push({ Name: "Compat.Who", Value: "the compat suite", Type: "String", IsSensitive: false, Scope: {} });
  const savedSet = await client.doUpdate(setPath, set, setArgs);
  assert.equal(savedSet.Version, set.Version + 1);
  assert.ok(savedSet.Variables.some((v) => v.Name === "Compat.Who" && v.Id), "the variable got an ID");

  await setSteps(client, project, [
    bashStep("Say hello", 'echo "hello from #{Octopus.Environment.Name}"\necho "sent by #{Compat.Who}"\nset_octopusvariable Greeting hi'),
    bashStep("Read output", 'echo "greeting was #{Octopus.Action[Say hello].Output.Greeting}"'),
  ]);

  // Release: only ProjectName; the server picks version and channel.
  const releases = new api.ReleaseRepository(client, spaceName);
  const created = await releases.create({ spaceName, ProjectName: project.Name });
  assert.match(created.ReleaseId, /^Releases-\d+$/);
  assert.ok(created.ReleaseVersion, "the server chose a version");
  const release = await releases.get(created.ReleaseId);
  assert.equal(release.Version, created.ReleaseVersion);
  assert.equal(release.ProjectId, project.Id);
  assert.ok(release.ChannelId, "the server chose a channel");
  assert.ok(release.ProjectDeploymentProcessSnapshotId, "the process was snapshotted");
  const listed = await releases.listForProject(project.Id);
  assert.deepEqual(listed.Items.map((r) => r.Id), [release.Id]);

  const deployments = new api.DeploymentRepository(client, spaceName);
  const deploy = (version, env) =>
    deployments.create({ spaceName, ProjectName: project.Name, ReleaseVersion: version, EnvironmentNames: [env.Name] });

  // The second phase is not open before the first one is complete.
  await assert.rejects(deploy(release.Version, second), (e) => {
    assert.equal(e.StatusCode, 400);
    const text = [e.ErrorMessage, ...(e.Errors ?? [])].join("\n");
    assert.ok(text.includes(second.Name) && text.includes(lifecycle.Name), `lifecycle error names env and lifecycle: ${text}`);
    return true;
  });

  const answer = await deploy(release.Version, first);
  assert.equal(answer.DeploymentServerTasks.length, 1);
  const { DeploymentId, ServerTaskId } = answer.DeploymentServerTasks[0];
  assert.match(DeploymentId, /^Deployments-\d+$/);
  assert.match(ServerTaskId, /^ServerTasks-\d+$/);
  const deployment = await deployments.get(DeploymentId);
  assert.equal(deployment.TaskId, ServerTaskId);
  assert.equal(deployment.EnvironmentId, first.Id);
  assert.equal(deployment.ReleaseId, release.Id);

  const waiter = new api.ServerTaskWaiter(client, spaceName);
  const seen = [];
  const [done] = await waiter.waitForServerTasksToComplete([ServerTaskId], 200, 60000, (t) => seen.push(t.State));
  assert.equal(done.Id, ServerTaskId);
  assert.ok(seen.length >= 1);
  const tasks = new api.SpaceServerTaskRepository(client, spaceName);
  const task = await tasks.getById(ServerTaskId);
  assert.equal(task.State, api.TaskState.Success, `task ended ${task.State}: ${task.ErrorMessage}`);
  assert.equal(task.IsCompleted, true);
  assert.equal(task.FinishedSuccessfully, true);
  assert.equal(task.Name, "Deploy");
  assert.equal(task.Arguments.DeploymentId, DeploymentId);

  const details = await tasks.getDetails(ServerTaskId);
  assert.equal(details.Task.Id, ServerTaskId);
  assert.equal(details.Task.State, api.TaskState.Success);
  assert.ok(details.ActivityLogs.length >= 1, "the task has an activity log");
  const lines = logLines(details.ActivityLogs);
  assert.ok(lines.includes(`hello from ${first.Name}`), `the echo is logged: ${JSON.stringify(lines)}`);
  assert.ok(lines.includes("sent by the compat suite"), "the project variable was substituted");
  assert.ok(lines.includes("greeting was hi"), "the output variable reached the next step");

  const raw = await tasks.getRaw(ServerTaskId);
  assert.equal(typeof raw, "string");
  assert.ok(raw.includes(`hello from ${first.Name}`), `raw log has the echo:\n${raw}`);

  // With the first phase complete the second environment is open.
  const prod = await deploy(release.Version, second);
  const [prodTask] = await waiter.waitForServerTasksToComplete([prod.DeploymentServerTasks[0].ServerTaskId], 200, 60000);
  assert.equal(prodTask.State, api.TaskState.Success, prodTask.ErrorMessage);
  const prodRaw = await tasks.getRaw(prodTask.Id);
  assert.ok(prodRaw.includes(`hello from ${second.Name}`), prodRaw);

  // A second release whose step sleeps; cancel its task while the script runs.
  await setSteps(client, project, [bashStep("Sleep", 'echo "going to sleep"\nsleep 300')]);
  const slow = await releases.create({ spaceName, ProjectName: project.Name });
  assert.notEqual(slow.ReleaseVersion, release.Version, "the server picked a new version");
  const slowDeploy = await deploy(slow.ReleaseVersion, first);
  const slowTaskId = slowDeploy.DeploymentServerTasks[0].ServerTaskId;

  const deadline = Date.now() + 30000;
  for (;;) {
    const d = await tasks.getDetails(slowTaskId);
    if (logLines(d.ActivityLogs).includes("going to sleep")) break;
    assert.ok(!d.Task.IsCompleted, `the sleeping task ended early: ${d.Task.State} ${d.Task.ErrorMessage}`);
    assert.ok(Date.now() < deadline, "the script started within 30 s");
    await new Promise((r) => setTimeout(r, 200));
  }
  assert.equal((await tasks.getById(slowTaskId)).State, api.TaskState.Executing);

  const started = Date.now();
  await new api.ServerTaskRepository(client).cancel(slowTaskId);
  const canceled = await waiter.waitForServerTaskToComplete(slowTaskId, 200, 20000);
  const took = Date.now() - started;
  assert.equal(canceled.State, api.TaskState.Canceled);
  assert.equal(canceled.IsCompleted, true);
  assert.equal(canceled.FinishedSuccessfully, false);
  assert.ok(took < 10000, `canceled within 10 s (took ${took} ms)`);
  const slowDetails = await tasks.getDetails(slowTaskId);
  assert.equal(slowDetails.Task.State, api.TaskState.Canceled);
});

test("executions: explicit versions, duplicates, several environments at once, deployment filters, failure, cancel on timeout", async () => {
  const client = await connect();
  const { first, second, project } = await setUp(client);
  await setSteps(client, project, [bashStep("Print", 'echo "version #{Octopus.Release.Number} to #{Octopus.Environment.Name}"')]);

  const releases = new api.ReleaseRepository(client, spaceName);
  const deployments = new api.DeploymentRepository(client, spaceName);
  const waiter = new api.ServerTaskWaiter(client, spaceName);
  const tasks = new api.SpaceServerTaskRepository(client, spaceName);

  // ProjectName takes the project's ID too.
  const r1 = await releases.create({ spaceName, ProjectName: project.Id, ReleaseVersion: "2.5.0", ReleaseNotes: "first cut" });
  assert.equal(r1.ReleaseVersion, "2.5.0");
  assert.equal((await releases.get(r1.ReleaseId)).ReleaseNotes, "first cut");
  await assert.rejects(releases.create({ spaceName, ProjectName: project.Name, ReleaseVersion: "2.5.0" }), (e) => {
    assert.equal(e.StatusCode, 400);
    assert.match(e.ErrorMessage + (e.Errors ?? []).join(" "), /already exists/);
    return true;
  });
  const again = await releases.create({ spaceName, ProjectName: project.Name, ReleaseVersion: "2.5.0", IgnoreIfAlreadyExists: true });
  assert.equal(again.ReleaseId, r1.ReleaseId);
  const noProject = unique("No Such Project");
  await assert.rejects(releases.create({ spaceName, ProjectName: noProject }), (e) => {
    assert.equal(e.StatusCode, 404);
    assert.equal(e.ErrorMessage, `The project '${noProject}' was not found.`);
    return true;
  });
  const searched = await releases.listForProject(project.Id, { searchByVersion: "2.5" });
  assert.deepEqual(searched.Items.map((r) => r.Id), [r1.ReleaseId]);

  const deploy = (version, envs) =>
    deployments.create({ spaceName, ProjectName: project.Name, ReleaseVersion: version, EnvironmentNames: envs.map((e) => e.Name) });
  await assert.rejects(deploy("9.9.9", [first]), (e) => {
    assert.equal(e.StatusCode, 404);
    assert.equal(e.ErrorMessage, "The release '9.9.9' was not found.");
    return true;
  });
  const noEnv = unique("No Such Env");
  await assert.rejects(deploy("2.5.0", [{ Name: noEnv }]), (e) => {
    assert.equal(e.StatusCode, 404);
    assert.equal(e.ErrorMessage, `The environment '${noEnv}' was not found.`);
    return true;
  });

  const dev = await deploy("2.5.0", [first]);
  const [devTask] = await waiter.waitForServerTasksToComplete([dev.DeploymentServerTasks[0].ServerTaskId], 200, 60000);
  assert.equal(devTask.State, api.TaskState.Success, devTask.ErrorMessage);

  // One deployment and task per environment named.
  const both = await deploy("2.5.0", [first, second]);
  assert.equal(both.DeploymentServerTasks.length, 2);
  const ids = both.DeploymentServerTasks.map((t) => t.ServerTaskId);
  assert.notEqual(ids[0], ids[1]);
  const finished = await waiter.waitForServerTasksToComplete(ids, 200, 60000);
  assert.deepEqual(finished.map((t) => t.Id).sort(), [...ids].sort());
  assert.ok(finished.every((t) => t.State === api.TaskState.Success && t.FinishedSuccessfully), JSON.stringify(finished.map((t) => t.State)));
  const byDeployment = await Promise.all(both.DeploymentServerTasks.map((t) => deployments.get(t.DeploymentId)));
  assert.deepEqual(byDeployment.map((d) => d.EnvironmentId), [first.Id, second.Id]);
  assert.ok((await tasks.getRaw(ids[1])).includes(`version 2.5.0 to ${second.Name}`));

  const mine = await deployments.list({ projects: [project.Id] });
  assert.equal(mine.TotalResults, 3);
  const toSecond = await deployments.list({ projects: [project.Id], environments: [second.Id] });
  assert.deepEqual(toSecond.Items.map((d) => d.Id), [both.DeploymentServerTasks[1].DeploymentId]);

  // A failing script fails the task, and later steps do not run.
  await setSteps(client, project, [
    bashStep("Fail", 'echo "about to fail"\nexit 3'),
    bashStep("Never", 'echo "this should not run"'),
  ]);
  await releases.create({ spaceName, ProjectName: project.Name, ReleaseVersion: "2.6.0" });
  const bad = await deploy("2.6.0", [first]);
  const badId = bad.DeploymentServerTasks[0].ServerTaskId;
  const [failed] = await waiter.waitForServerTasksToComplete([badId], 200, 60000);
  assert.equal(failed.State, api.TaskState.Failed);
  assert.equal(failed.IsCompleted, true);
  assert.equal(failed.FinishedSuccessfully, false);
  assert.ok(failed.ErrorMessage, "a failed task has an error message");
  const badLines = logLines((await tasks.getDetails(badId)).ActivityLogs);
  assert.ok(badLines.includes("about to fail"), JSON.stringify(badLines));
  assert.ok(!badLines.includes("this should not run"), "the step after the failure did not run");
  const successes = await deployments.list({ projects: [project.Id], taskState: api.TaskState.Success });
  assert.equal(successes.TotalResults, 3, "taskState=Success leaves out the failed deployment");
  const failures = await deployments.list({ projects: [project.Id], taskState: api.TaskState.Failed });
  assert.deepEqual(failures.Items.map((d) => d.Id), [bad.DeploymentServerTasks[0].DeploymentId]);

  // The waiter's own cancel-on-timeout (what GitHub's await-task-action uses).
  await setSteps(client, project, [bashStep("Sleep", "sleep 300")]);
  await releases.create({ spaceName, ProjectName: project.Name, ReleaseVersion: "2.7.0" });
  const slow = await deploy("2.7.0", [first]);
  const slowId = slow.DeploymentServerTasks[0].ServerTaskId;
  await assert.rejects(waiter.waitForServerTaskToComplete(slowId, 200, 1500, undefined, true), /Timeout reached/);
  const canceled = await waiter.waitForServerTaskToComplete(slowId, 200, 20000);
  assert.equal(canceled.State, api.TaskState.Canceled);
  assert.equal(canceled.FinishedSuccessfully, false);
});

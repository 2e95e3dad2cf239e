import test from "node:test";
import assert from "node:assert/strict";
import { api, connect, spaceName, unique } from "./helpers.mjs";

async function newProject(client) {
  const lifecycles = await new api.LifecycleRepository(client, spaceName).list({ partialName: "Default Lifecycle" });
  const groups = await new api.ProjectGroupRepository(client, spaceName).list({ partialName: "Default Project Group" });
  const lifecycle = lifecycles.Items.find((l) => l.Name === "Default Lifecycle");
  const group = groups.Items.find((g) => g.Name === "Default Project Group");
  assert.ok(lifecycle && group, "the space has its default lifecycle and project group");
  const projects = new api.ProjectRepository(client, spaceName);
  const project = await projects.create(api.NewProject(unique("Compat Project"), group, lifecycle));
  return { projects, project, lifecycle, group };
}

test("projects: create with the default lifecycle and group, get, update a field", async () => {
  const client = await connect();
  const { projects, project, lifecycle, group } = await newProject(client);
  assert.match(project.Id, /^Projects-\d+$/);
  assert.equal(project.LifecycleId, lifecycle.Id);
  assert.equal(project.ProjectGroupId, group.Id);
  assert.ok(project.DeploymentProcessId, "a deployment process is created with the project");

  const got = await projects.get(project.Id);
  assert.equal(got.Name, project.Name);
  assert.equal(got.PersistenceSettings.Type, "Database");

  const modified = await projects.modify({ ...got, Description: "updated by the compat suite" });
  assert.equal(modified.Description, "updated by the compat suite");
  const again = await projects.get(project.Id);
  assert.equal(again.Description, "updated by the compat suite");
  assert.equal(again.Name, project.Name);

  const listed = await projects.list({ partialName: project.Name });
  assert.deepEqual(listed.Items.map((p) => p.Id), [project.Id]);
});

test("deployment process: get, add a script step, update, read back", async () => {
  const client = await connect();
  const { project } = await newProject(client);
  const processes = new api.DeploymentProcessRepository(client, spaceName);

  const process = await processes.get(project);
  assert.equal(process.Id, project.DeploymentProcessId);
  assert.equal(process.ProjectId, project.Id);
  assert.deepEqual(process.Steps, []);

  const script = 'Write-Host "hello from the compat suite"';
  process.Steps.push({
    Name: "Run a script",
    Properties: { "Octopus.Action.TargetRoles": "web" },
    Condition: api.RunCondition.Success,
    StartTrigger: api.StartTrigger.StartAfterPrevious,
    PackageRequirement: api.PackageRequirement.LetOctopusDecide,
    Actions: [
      {
        Name: "Run a script",
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
          "Octopus.Action.Script.Syntax": "PowerShell",
          "Octopus.Action.Script.ScriptBody": script,
        },
      },
    ],
  });
  const updated = await processes.update(project, process);
  assert.equal(updated.Version, process.Version + 1);
  assert.equal(updated.Steps.length, 1);
  assert.ok(updated.Steps[0].Id, "the step got an ID");
  assert.ok(updated.Steps[0].Actions[0].Id, "the action got an ID");

  const read = await processes.get(project);
  assert.equal(read.Version, updated.Version);
  assert.equal(read.Steps[0].Name, "Run a script");
  const action = read.Steps[0].Actions[0];
  assert.equal(action.ActionType, "Octopus.Script");
  assert.equal(action.Properties["Octopus.Action.Script.ScriptBody"], script);

  // A second update from the stale copy is refused (the Version check).
  await assert.rejects(processes.update(project, process));
});

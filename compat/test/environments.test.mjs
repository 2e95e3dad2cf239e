import test from "node:test";
import assert from "node:assert/strict";
import { api, connect, spaceName, unique } from "./helpers.mjs";

test("environments: create, list, get", async () => {
  const client = await connect();
  const envs = new api.EnvironmentRepository(client, spaceName);

  const name = unique("Compat Env");
  const created = await envs.create({ Name: name, Description: "compat", UseGuidedFailure: true });
  assert.match(created.Id, /^Environments-\d+$/);
  assert.equal(created.Name, name);
  assert.equal(created.UseGuidedFailure, true);
  assert.deepEqual(created.ExtensionSettings, []);

  const listed = await envs.list({ partialName: name });
  assert.deepEqual(listed.Items.map((e) => e.Id), [created.Id]);

  const all = await envs.list({ take: api.EnvironmentRepository.TakeAll });
  assert.ok(all.Items.some((e) => e.Id === created.Id));

  const got = await envs.get(created.Id);
  assert.equal(got.Name, name);
  assert.equal(got.Description, "compat");

  const byName = await envs.getEnvironmentByName(name);
  assert.equal(byName?.Id, created.Id);
});

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

test("environments: the v2 list, a new sort order, and the capabilities check", async () => {
  const client = await connect();
  const envs = new api.EnvironmentRepository(client, spaceName);
  const first = await envs.create({ Name: unique("Compat Sort A") });
  const second = await envs.create({ Name: unique("Compat Sort B") });

  const v2 = new api.EnvironmentV2Repository(client, spaceName);
  const listed = await v2.list({ partialName: "Compat Sort" });
  for (const e of [first, second]) {
    assert.ok(listed.Items.some((i) => i.Id === e.Id), `${e.Id} in the v2 list`);
  }

  // Second before first, the rest after them.
  const all = await envs.list({ take: api.EnvironmentRepository.TakeAll });
  const rest = all.Items.map((e) => e.Id).filter((id) => id !== first.Id && id !== second.Id);
  await envs.sort([second.Id, first.Id, ...rest]);
  const [a, b] = [await envs.get(first.Id), await envs.get(second.Id)];
  assert.ok(b.SortOrder < a.SortOrder, `sorted: ${b.SortOrder} < ${a.SortOrder}`);

  assert.equal(await api.checkForCapability(client, "GetAllSpacesRequest", "2022.3"), null);
});

import test from "node:test";
import assert from "node:assert/strict";
import { api, connect, unique } from "./helpers.mjs";

test("spaces: list, create a space, get it", async () => {
  const client = await connect();
  const spaces = new api.SpaceRepository(client);

  const before = await spaces.list({ take: api.SpaceRepository.TakeAll });
  const def = before.Items.find((s) => s.IsDefault);
  assert.ok(def, "the default space is listed");
  assert.equal(typeof before.TotalResults, "number");

  const name = unique("Compat Space");
  const created = await spaces.create({
    Name: name,
    Description: "made by the compat suite",
    IsDefault: false,
    SpaceManagersTeams: [],
    SpaceManagersTeamMembers: [],
  });
  assert.match(created.Id, /^Spaces-\d+$/);
  assert.equal(created.Name, name);
  assert.equal(created.IsDefault, false);

  const got = await spaces.get(created.Id);
  assert.equal(got.Id, created.Id);
  assert.equal(got.Name, name);
  assert.equal(got.Description, "made by the compat suite");

  const found = await spaces.list({ partialName: name });
  assert.deepEqual(found.Items.map((s) => s.Id), [created.Id]);

  // The client resolves a space by name for space-scoped repositories.
  const envs = new api.EnvironmentRepository(client, name);
  const env = await envs.create({ Name: unique("Compat Env") });
  assert.equal(env.SpaceId, created.Id);
});

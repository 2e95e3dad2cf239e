import test from "node:test";
import assert from "node:assert/strict";
import { api, feedsApi, connect, spaceName, unique } from "./helpers.mjs";

test("feeds: find the built-in feed, create an external NuGet feed with a secret", async () => {
  const client = await connect();
  const feeds = new feedsApi.FeedRepository(client, spaceName);

  const all = await feeds.list({ take: feedsApi.FeedRepository.TakeAll });
  const builtIn = all.Items.find((f) => f.FeedType === feedsApi.FeedType.BuiltIn);
  assert.ok(builtIn, "the built-in feed is listed");
  assert.equal(builtIn.Id, "feeds-builtin");
  const onlyBuiltIn = await feeds.list({ feedType: feedsApi.FeedType.BuiltIn });
  assert.deepEqual(onlyBuiltIn.Items.map((f) => f.Id), ["feeds-builtin"]);

  const name = unique("Compat NuGet");
  const secret = unique("s3cret");
  const created = await feeds.create({
    Name: name,
    FeedType: feedsApi.FeedType.Nuget,
    FeedUri: "https://api.nuget.org/v3/index.json",
    EnhancedMode: false,
    DownloadAttempts: 5,
    DownloadRetryBackoffSeconds: 10,
    Username: "compat-user",
    Password: { HasValue: true, NewValue: secret },
  });
  assert.match(created.Id, /^Feeds-\d+$/);
  assert.equal(created.FeedType, feedsApi.FeedType.Nuget);
  assert.ok(!JSON.stringify(created).includes(secret), "the answer does not contain the secret");

  const got = await feeds.get(created.Id);
  assert.equal(got.Name, name);
  assert.equal(got.FeedUri, "https://api.nuget.org/v3/index.json");
  assert.equal(got.Username, "compat-user");
  assert.equal(got.Password?.HasValue, true);
  assert.equal(got.Password?.NewValue ?? null, null);
  assert.ok(!JSON.stringify(got).includes(secret), "a read does not contain the secret");

  const nuget = await feeds.list({ feedType: feedsApi.FeedType.Nuget, partialName: name });
  assert.deepEqual(nuget.Items.map((f) => f.Id), [created.Id]);
});

import test from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, mkdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { api, connect, spaceName, unique } from "./helpers.mjs";

const quiet = { debug() {}, info() {}, warn() {}, error() {} };

async function sourceTree() {
  const dir = await mkdtemp(path.join(tmpdir(), "compat-pkg-"));
  const src = path.join(dir, "src");
  await mkdir(path.join(src, "bin"), { recursive: true });
  await writeFile(path.join(src, "app.txt"), "hello from the compat suite\n");
  await writeFile(path.join(src, "bin", "run.sh"), "#!/bin/sh\necho run\n");
  await writeFile(path.join(src, "empty.txt"), "");
  const out = path.join(dir, "out");
  await mkdir(out);
  return { dir, src, out };
}

test("packages: build a zip and a nupkg with the client's builders, push, find them", async (t) => {
  const client = await connect();
  const { dir, src, out } = await sourceTree();
  t.after(() => rm(dir, { recursive: true, force: true }));

  // Package IDs are letters, digits, '.', '-', '_'; unique() adds a hex suffix.
  const zipId = unique("Compat.Zip");
  const nupkgId = unique("Compat.NuGet");
  const common = { basePath: src, inputFilePatterns: ["**/*"], outputFolder: out, logger: quiet };

  const zipName = await new api.ZipPackageBuilder().pack({ ...common, packageId: zipId, version: "1.0.0" });
  assert.equal(zipName, `${zipId}.1.0.0.zip`);
  const nupkgName = await new api.NuGetPackageBuilder().pack({
    ...common,
    packageId: nupkgId,
    version: "2.1.0",
    nuspecArgs: { description: "compat package", authors: ["compat"] },
  });
  assert.equal(nupkgName, `${nupkgId}.2.1.0.nupkg`);

  const packages = new api.PackageRepository(client, spaceName);
  await packages.push([path.join(out, zipName), path.join(out, nupkgName)]);

  // FailIfExists (the default) refuses the same version again; IgnoreIfExists accepts it.
  await assert.rejects(packages.push([path.join(out, zipName)]));
  await packages.push([path.join(out, zipName)], api.OverwriteMode.IgnoreIfExists);
  await packages.push([path.join(out, zipName)], api.OverwriteMode.OverwriteExisting);

  const zips = await packages.list({ filter: zipId });
  assert.equal(zips.Items.length, 1);
  const zip = zips.Items[0];
  assert.equal(zip.PackageId, zipId);
  assert.equal(zip.Version, "1.0.0");
  assert.equal(zip.FileExtension, ".zip");
  assert.equal(zip.FeedId, "feeds-builtin");

  const nupkgs = await packages.list({ nuGetPackageId: nupkgId });
  assert.deepEqual(nupkgs.Items.map((p) => [p.PackageId, p.Version, p.FileExtension]), [[nupkgId, "2.1.0", ".nupkg"]]);

  const got = await packages.get(zip.Id);
  assert.equal(got.Id, zip.Id);
  assert.equal(got.PackageId, zipId);

  const latest = await packages.list({ latest: true, filter: "Compat." });
  assert.ok(latest.Items.some((p) => p.PackageId === nupkgId));
});

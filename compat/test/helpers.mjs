// Shared set-up for the compatibility tests: the client (resolved through NODE_PATH,
// which scripts/compat points at .tools/compat/node_modules), a connected Client, and
// unique names so tests never collide with each other or with earlier runs.
import { createRequire } from "node:module";
import { randomBytes } from "node:crypto";

const require = createRequire(import.meta.url);
export const api = require("@octopusdeploy/api-client");
// 3.11.0 does not re-export the feeds module from its root (features/index omits it), so
// FeedRepository and FeedType come from the module itself.
export const feedsApi = require("@octopusdeploy/api-client/dist/features/feeds");

export const instanceURL = process.env.OCTOPUS_URL;
export const apiKey = process.env.OCTOPUS_API_KEY;
if (!instanceURL || !apiKey) {
  throw new Error("OCTOPUS_URL and OCTOPUS_API_KEY must be set: run the suite with scripts/compat");
}

/** The space every test but the spaces test works in (octopus-lite creates it on first start). */
export const spaceName = "Default";

const quiet = { debug() {}, info() {}, warn() {}, error() {} };

export function connect() {
  return api.Client.create({ instanceURL, apiKey, userAgentApp: "octopus-lite-compat", logging: quiet });
}

export function unique(prefix) {
  return `${prefix}-${randomBytes(4).toString("hex")}`;
}

// octopus-lite's node bootstrapper for Octopus-format step packages.
//
//   node <this file> <step dir> <invocation.json>
//
// Loads `<step dir>/executor.js` (a CommonJS bundle built by Octopus's step-package CLI),
// calls its default export with `{inputs, target: undefined, context}` and awaits it.
// Everything reaches the executor as stdout lines: plain text (Info) and Octopus service
// messages (base64 attributes). A thrown error, a rejected promise or `context.failStep`
// writes a `resultMessage` and exits with code 1.
"use strict";

const fs = require("fs");
const path = require("path");

const MIN_NODE_MAJOR = 18;

function b64(text) {
  return Buffer.from(String(text), "utf8").toString("base64");
}

// stdout is a pipe: writes are synchronous on Linux, so ordering is kept.
function out(line) {
  process.stdout.write(line + "\n");
}

function serviceMessage(name, attributes) {
  const attrs = Object.keys(attributes || {})
    .filter((k) => attributes[k] !== undefined && attributes[k] !== null)
    .map((k) => " " + k + "='" + b64(attributes[k]) + "'")
    .join("");
  out("##octopus[" + name + attrs + "]");
}

function text(message) {
  if (message === undefined) return "";
  if (message instanceof Error) return message.message;
  return typeof message === "string" ? message : String(message);
}

// Prints in a log category, then switches stdout back to Info.
function printIn(category, message) {
  if (category) serviceMessage("stdout-" + category);
  for (const line of text(message).split(/\r?\n/)) out(line);
  if (category) serviceMessage("stdout-default");
}

let finished = false;

function exit(code) {
  if (finished) return;
  finished = true;
  // Let stdout drain before the process ends.
  process.stdout.write("", () => process.exit(code));
}

function fail(message, stack) {
  if (finished) return;
  const msg = text(message) || "The step failed";
  if (stack) printIn("verbose", stack);
  serviceMessage("resultMessage", { message: msg });
  exit(1);
}

/** Thrown by `context.failStep` so that the executor stops where it called it. */
class StepFailed extends Error {}

let failedWith = null;

function errorOf(e) {
  if (e instanceof StepFailed) return { message: e.message };
  if (e instanceof Error) return { message: e.message || String(e), stack: e.stack };
  return { message: text(e) };
}

function loadExecutor(stepDir) {
  const file = path.resolve(stepDir, "executor.js");
  let mod;
  try {
    mod = require(file);
  } catch (e) {
    if (e && e.code === "ERR_REQUIRE_ESM") {
      return import(require("url").pathToFileURL(file).href).then(pick);
    }
    throw e;
  }
  return Promise.resolve(pick(mod));
}

// `module.exports = fn` or `exports.default = fn`.
function pick(mod) {
  if (typeof mod === "function") return mod;
  if (mod && typeof mod.default === "function") return mod.default;
  throw new Error(
    "executor.js does not export a function (module.exports = fn or exports.default = fn)"
  );
}

function makeContext(variables) {
  return {
    print: (m) => printIn(null, m),
    printVerbose: (m) => printIn("verbose", m),
    printHighlight: (m) => printIn("highlight", m),
    printWait: (m) => printIn("wait", m),
    printWarning: (m) => printIn("warning", m),
    getOctopusVariable: (name) =>
      Object.prototype.hasOwnProperty.call(variables, name) ? variables[name] : undefined,
    setOctopusVariable: (name, value, sensitive) =>
      serviceMessage("setVariable", {
        name: name,
        value: value === undefined || value === null ? "" : String(value),
        sensitive: sensitive ? "True" : undefined,
      }),
    createArtifact: (file, name) => {
      const full = path.resolve(String(file));
      let length;
      try {
        length = fs.statSync(full).size;
      } catch (_) {
        length = undefined;
      }
      serviceMessage("createArtifact", {
        path: full,
        name: name === undefined ? path.basename(full) : String(name),
        length: length,
      });
    },
    updateProgress: (percentage, message) =>
      serviceMessage("progress", {
        percentage: String(Math.max(0, Math.min(100, Math.round(Number(percentage) || 0)))),
        message: message === undefined ? "" : text(message),
      }),
    failStep: (message) => {
      failedWith = text(message) || "The step failed";
      throw new StepFailed(failedWith);
    },
  };
}

async function main() {
  const major = Number(process.versions.node.split(".")[0]);
  if (major < MIN_NODE_MAJOR) {
    fail(
      "Node.js " + MIN_NODE_MAJOR + " or later is needed to run this step; the worker has " +
        process.version
    );
    return;
  }
  const [stepDir, invocationPath] = process.argv.slice(2);
  if (!stepDir || !invocationPath) {
    fail("usage: node bootstrapper.js <step dir> <invocation.json>");
    return;
  }
  const invocation = JSON.parse(fs.readFileSync(invocationPath, "utf8"));
  const context = makeContext((invocation.context && invocation.context.variables) || {});
  const inputs = invocation.inputs || {};
  const executor = await loadExecutor(stepDir);
  // 2021 API shapes: (inputs, target, context) and (inputs, context).
  if (executor.length === 3) await executor(inputs, undefined, context);
  else if (executor.length === 2) await executor(inputs, context);
  else await executor({ inputs: inputs, target: undefined, context: context });
}

process.on("uncaughtException", (e) => {
  const err = errorOf(e);
  fail(failedWith || err.message, err.stack);
});
process.on("unhandledRejection", (e) => {
  const err = errorOf(e);
  fail(failedWith || err.message, err.stack);
});

main().then(
  () => {
    if (failedWith !== null) fail(failedWith);
    else exit(0);
  },
  (e) => {
    const err = errorOf(e);
    fail(failedWith || err.message, err.stack);
  }
);

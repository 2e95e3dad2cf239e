// octopus-lite's runner for an Octopus step package's migration.js (run with `node -e`).
//
// stdin:  {"source": "<migration.js>", "inputs": {...}, "timeoutMs": n}
// stdout: {"result": {...}} or {"error": "<message>"}
//
// The migration runs in a fresh vm context holding only `module` and `exports`: no
// `require`, `process`, timers, fs or network. Everything it touches is created inside that
// context (the inputs are parsed there, the result is serialized there), so no object of
// this realm is reachable from it. Microtasks run inside the evaluation, so the vm timeout
// also bounds an async migration; the executor kills the process as a second line.
"use strict";

const vm = require("vm");

function reply(value) {
  process.stdout.write(JSON.stringify(value) + "\n", () => process.exit(0));
}

function main() {
  let request;
  try {
    request = JSON.parse(require("fs").readFileSync(0, "utf8"));
  } catch (e) {
    reply({ error: "the migration runner got no valid request: " + e.message });
    return;
  }

  const context = vm.createContext(Object.create(null), {
    name: "migration.js",
    codeGeneration: { strings: false, wasm: false },
    microtaskMode: "afterEvaluate",
  });
  context.__inputsJson = JSON.stringify(request.inputs);
  const timeout = Math.max(1, Number(request.timeoutMs) || 5000);

  // Runs in the migration's context: defines module/exports, calls the default export, and
  // leaves only strings behind (`__state`: ok, error (thrown), bad (result),
  // `__result`, `__error`).
  const PRELUDE = "var module = { exports: {} }; var exports = module.exports;";
  const CALL = `(function () {
    var state = "pending";
    function done(r) {
      try {
        var json = JSON.stringify(r);
        if (json === undefined) { __error = "migration.js returned " + (typeof r) + ", not JSON"; state = "bad"; }
        else if (r === null || typeof r !== "object" || Array.isArray(r)) { __error = "migration.js must return an object of inputs, got " + json; state = "bad"; }
        else { __result = json; state = "ok"; }
      } catch (e) { __error = "migration.js returned a value that is not JSON: " + (e && e.message); state = "bad"; }
      __state = state;
    }
    function failed(e) {
      var m;
      try { m = (e && typeof e.message === "string") ? e.message : String(e); } catch (_) { m = "an error"; }
      __error = m; __state = "error";
    }
    try {
      var fn = typeof module.exports === "function" ? module.exports
        : (module.exports && typeof module.exports.default === "function") ? module.exports.default
        : null;
      if (!fn) { __error = "migration.js does not export a function (module.exports = fn or exports.default = fn)"; __state = "error"; return; }
      var r = fn(JSON.parse(__inputsJson));
      if (r && typeof r.then === "function") { r.then(done, failed); } else { done(r); }
    } catch (e) { failed(e); }
  })();`;

  function read(name) {
    const v = context[name];
    return typeof v === "string" ? v : undefined;
  }

  try {
    vm.runInContext(PRELUDE, context, { timeout });
    try {
      vm.runInContext(String(request.source), context, { filename: "migration.js", timeout });
    } catch (e) {
      if (e && e.code === "ERR_SCRIPT_EXECUTION_TIMEOUT") throw e;
      let m;
      try {
        m = e && typeof e.message === "string" ? e.message : String(e);
      } catch (_) {
        m = "an error";
      }
      const kind = e instanceof SyntaxError || (e && e.name === "SyntaxError") ? "has a syntax error" : "failed";
      reply({ error: "migration.js " + kind + ": " + m });
      return;
    }
    context.__state = "pending";
    vm.runInContext(CALL, context, { timeout });
  } catch (e) {
    if (e && e.code === "ERR_SCRIPT_EXECUTION_TIMEOUT") {
      reply({ error: "migration.js ran longer than " + timeout + " ms" });
    } else {
      reply({ error: "migration.js failed: " + (e && e.message) });
    }
    return;
  }

  const state = read("__state");
  if (state === "ok") {
    reply({ result: JSON.parse(read("__result")) });
  } else if (state === "error") {
    reply({ error: "migration.js failed: " + (read("__error") || "an error") });
  } else if (state === "bad") {
    reply({ error: read("__error") || "migration.js returned no inputs" });
  } else {
    reply({ error: "migration.js returned a promise that never settled" });
  }
}

main();

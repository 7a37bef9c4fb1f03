// The Pulumi program's entry point (Pulumi.yaml `main`): makes dist/ current (scripts/compile.js: a stat of
// the sources when nothing changed, an incremental tsc build when something did), then runs the compiled
// index.ts. Its exports are the stack outputs.
"use strict";
// Pulumi's run harness installs source-map-support, which maps every captured stack (the SDK takes a few
// per resource) through the .js.map files: ~10 ms per resource. Stack traces name dist/*.js instead
// (NODE_OPTIONS=--enable-source-maps maps them to the .ts sources when wanted).
if (
    !process.execArgv.includes("--enable-source-maps") &&
    !/--enable-source-maps/.test(process.env.NODE_OPTIONS ?? "")
) {
    Error.prepareStackTrace = undefined;
}
require("./compile").ensureCompiled();
module.exports = require("../dist/index.js");

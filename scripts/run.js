#!/usr/bin/env node
// `node scripts/run.js <file.ts> [args]`: runs a command-line TypeScript entry point (npm run lab, verify,
// narrow, matrix, bench, provider-docs; npm start) from the JavaScript tsc already emitted to dist/, instead of
// transpiling every module again under ts-node on each run. First ensureCompiled() (scripts/compile.js: a
// stat of the sources, an incremental build when one changed), so what runs is never stale. Each `.ts` module is
// then loaded from its dist/ output but under its own source path, so __dirname, __filename and relative
// paths (the project root, stacks/, .lab/) are what they are under ts-node. No type check: `npm test` does that.
// Plain JavaScript on purpose: it runs before anything is compiled.
"use strict";
const fs = require("fs");
const path = require("path");
const { ensureCompiled, ROOT } = require("./compile");

/** The emitted JavaScript of `source` (a .ts file under `root`), or undefined when the build does not cover it. */
function emittedOf(source, root = ROOT, outDir = path.join(root, "dist")) {
    const rel = path.relative(root, source);
    if (rel.startsWith("..") || path.isAbsolute(rel)) return undefined;
    const js = path.join(outDir, rel.replace(/\.ts$/, ".js"));
    return fs.existsSync(js) ? js : undefined;
}

/** Loads `.ts` modules from their dist/ output (registered once per process). */
function install(root = ROOT) {
    // require.extensions is deprecated, but it is the hook ts-node uses too; there is no other for CommonJS
    require.extensions[".ts"] = (module, filename) => {
        const js = emittedOf(filename, root);
        if (!js) {
            throw new Error(
                `pinhole: ${path.relative(root, filename)} is not compiled: add its directory to tsconfig.build.json's include (scripts/run.js runs dist/ output only)`,
            );
        }
        // The source map comment is relative to dist/: made absolute, so --enable-source-maps still maps to the .ts lines.
        const code = fs
            .readFileSync(js, "utf8")
            .replace(
                /\n\/\/# sourceMappingURL=(\S+)\s*$/,
                (_, map) =>
                    `\n//# sourceMappingURL=${require("url").pathToFileURL(path.resolve(path.dirname(js), map)).href}\n`,
            );
        module._compile(code, filename);
    };
}

module.exports = { emittedOf, install };

if (require.main === module) {
    const [entry, ...args] = process.argv.slice(2);
    if (!entry) {
        process.stderr.write("usage: node scripts/run.js <file.ts> [args]\n");
        process.exit(2);
    }
    try {
        ensureCompiled();
    } catch (e) {
        process.stderr.write(`${e.message}\n`);
        process.exit(1);
    }
    install();
    // The entry runs as the main module (its `require.main === module` holds), with its own argv.
    const file = path.resolve(entry);
    process.argv = [process.argv[0], file, ...args];
    require("module")._load(file, null, true);
}

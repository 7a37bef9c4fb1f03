#!/usr/bin/env node
// Compiled start-up: the Pulumi program and the provider plugin run as JavaScript in dist/, emitted by
// `tsc -b tsconfig.build.json` (no type check there: `npm test` type-checks). Before they start, the
// launchers (scripts/program.js, provider/bin/pulumi-resource-pinhole) call ensureCompiled(): a stat of
// every source file and directory against dist's stamp — a few milliseconds — and an incremental
// rebuild only when a source is newer, so nobody ever runs stale code and nobody waits for tsc on a
// no-op `pulumi up`. Plain JavaScript on purpose: it runs before anything is compiled.
//
//   node scripts/compile.js          rebuild if stale (set-up runs this), prints what it did
//   node scripts/compile.js --check  exit 1 if dist is stale (nothing built)
"use strict";
const { spawnSync } = require("child_process");
const fs = require("fs");
const path = require("path");

const ROOT = path.resolve(__dirname, "..");
const CONFIG = "tsconfig.build.json";
const STAMP = ".pinhole-built";

/** The build config's `include` patterns ("dir/**\/*.ts" or "file.ts") as directories and files to watch. */
function watchedRoots(root, config) {
    const cfg = JSON.parse(fs.readFileSync(path.join(root, config), "utf8"));
    const dirs = [];
    const files = [path.join(root, config), path.join(root, "tsconfig.json"), path.join(root, "package-lock.json")];
    for (const pattern of cfg.include ?? []) {
        const m = /^(.*?)\/\*\*\/\*\.ts$/.exec(pattern);
        if (m) dirs.push(path.join(root, m[1]));
        else files.push(path.join(root, pattern));
    }
    return { dirs, files, outDir: path.join(root, cfg.compilerOptions?.outDir ?? "dist") };
}

function walk(dir, visit) {
    let entries;
    try {
        entries = fs.readdirSync(dir, { withFileTypes: true });
    } catch {
        return;
    }
    visit(dir, true);
    for (const e of entries) {
        const p = path.join(dir, e.name);
        if (e.isDirectory()) walk(p, visit);
        else if (e.name.endsWith(".ts") && !e.name.endsWith(".d.ts")) visit(p, false);
    }
}

const mtimeMs = (p) => {
    try {
        return fs.statSync(p).mtimeMs;
    } catch {
        return 0;
    }
};

/**
 * The first input newer than the stamp (a source file, a directory whose entries changed — added,
 * removed or renamed files — or a config file), or undefined when dist is current.
 */
function staleReason(root = ROOT, config = CONFIG) {
    const { dirs, files, outDir } = watchedRoots(root, config);
    const stamp = mtimeMs(path.join(outDir, STAMP));
    if (!stamp) return "never compiled";
    for (const f of files) if (mtimeMs(f) > stamp) return path.relative(root, f);
    let reason;
    for (const d of dirs) {
        walk(d, (p) => {
            if (reason === undefined && mtimeMs(p) > stamp) reason = path.relative(root, p) || ".";
        });
        if (reason) return reason;
    }
    return undefined;
}

/** Removes dist/X.js(.map) whose source X.ts is gone: `require("./x")` must never load a deleted module. */
function pruneOrphans(root, outDir) {
    const removed = [];
    const visit = (dir) => {
        let entries;
        try {
            entries = fs.readdirSync(dir, { withFileTypes: true });
        } catch {
            return;
        }
        for (const e of entries) {
            const p = path.join(dir, e.name);
            if (e.isDirectory()) {
                visit(p);
                continue;
            }
            const m = /^(.*)\.js(\.map)?$/.exec(e.name);
            if (!m) continue;
            const source = path.join(root, path.relative(outDir, dir), `${m[1]}.ts`);
            if (!fs.existsSync(source)) {
                fs.rmSync(p, { force: true });
                removed.push(path.relative(root, p));
            }
        }
    };
    visit(outDir);
    return removed;
}

/** Runs tsc -b; the stamp gets the time the build STARTED, so an edit made during the build is seen next time. */
function build(root, config, log) {
    const { outDir } = watchedRoots(root, config);
    const started = new Date();
    const t0 = Date.now();
    const tsc = require.resolve("typescript/bin/tsc", { paths: [root] });
    const r = spawnSync(process.execPath, [tsc, "-b", config], { cwd: root, encoding: "utf8" });
    if (r.status !== 0) {
        const out = `${r.stdout ?? ""}${r.stderr ?? ""}`.trim();
        throw new Error(
            `pinhole: compiling the sources failed (tsc -b ${config}, exit ${r.status ?? r.signal}):\n${out}`,
        );
    }
    const removed = pruneOrphans(root, outDir);
    fs.mkdirSync(outDir, { recursive: true });
    fs.writeFileSync(path.join(outDir, STAMP), `${started.toISOString()}\n`);
    fs.utimesSync(path.join(outDir, STAMP), started, started);
    log(
        `pinhole: compiled in ${((Date.now() - t0) / 1000).toFixed(1)} s${removed.length ? ` (removed ${removed.length} output(s) of deleted sources)` : ""}`,
    );
}

/**
 * Makes dist current. Cheap when it is (stats only); otherwise one process at a time rebuilds (flock on
 * dist's lock file): the program and the provider plugin can start together, and several stacks can run
 * at once in one checkout.
 */
function ensureCompiled(opts = {}) {
    const root = opts.root ?? ROOT;
    const config = opts.config ?? CONFIG;
    const log = opts.log ?? ((m) => process.stderr.write(`${m}\n`));
    const reason = staleReason(root, config);
    if (reason === undefined) return false;
    if (opts.locked) {
        build(root, config, log);
        return true;
    }
    const { outDir } = watchedRoots(root, config);
    fs.mkdirSync(outDir, { recursive: true });
    log(`pinhole: sources changed (${reason}): compiling (tsc -b ${config}) ...`);
    const args = [
        path.join(outDir, ".compile.lock"),
        process.execPath,
        __filename,
        "--locked",
        "--root",
        root,
        "--config",
        config,
    ];
    let r = spawnSync("flock", args, { stdio: ["ignore", "inherit", "inherit"] });
    if (r.error) r = spawnSync(process.execPath, args.slice(2), { stdio: ["ignore", "inherit", "inherit"] }); // no flock: unlocked
    if (r.status !== 0)
        throw new Error(
            `pinhole: compiling the sources failed (see the tsc output above; run: node scripts/compile.js)`,
        );
    return true;
}

module.exports = { ensureCompiled, staleReason, pruneOrphans, ROOT };

if (require.main === module) {
    const argv = process.argv.slice(2);
    const opt = (name) => {
        const i = argv.indexOf(name);
        return i >= 0 ? argv[i + 1] : undefined;
    };
    const root = opt("--root") ?? ROOT;
    const config = opt("--config") ?? CONFIG;
    try {
        if (argv.includes("--check")) {
            const reason = staleReason(root, config);
            process.stdout.write(reason === undefined ? "dist is current\n" : `dist is stale: ${reason}\n`);
            process.exit(reason === undefined ? 0 : 1);
        }
        const built = ensureCompiled({ root, config, locked: argv.includes("--locked") });
        if (!built && !argv.includes("--locked")) process.stderr.write("pinhole: dist is current\n");
    } catch (e) {
        process.stderr.write(`${e.message}\n`);
        process.exit(1);
    }
}

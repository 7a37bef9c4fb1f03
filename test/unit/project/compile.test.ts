// Compiled start-up (scripts/compile.js): dist/ is rebuilt exactly when a source changed, a deleted source's
// output goes away, a failed build says so, and the build config covers every module the program and the
// provider import — so what `pulumi` runs is always the current source.
import { expect } from "chai";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";

const ROOT = path.resolve(__dirname, "..", "..", "..");
const compile = require(path.join(ROOT, "scripts", "compile.js")) as {
    ensureCompiled(o: { root: string; log?: (m: string) => void }): boolean;
    staleReason(root: string): string | undefined;
};

function scratchProject(): string {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "pinhole-compile-"));
    fs.symlinkSync(path.join(ROOT, "node_modules"), path.join(dir, "node_modules"));
    fs.copyFileSync(path.join(ROOT, "tsconfig.json"), path.join(dir, "tsconfig.json"));
    fs.writeFileSync(path.join(dir, "package-lock.json"), "{}\n");
    const build = JSON.parse(fs.readFileSync(path.join(ROOT, "tsconfig.build.json"), "utf8"));
    build.include = ["index.ts", "lib/**/*.ts", "scripts/build/globals.d.ts"];
    fs.writeFileSync(path.join(dir, "tsconfig.build.json"), JSON.stringify(build));
    fs.mkdirSync(path.join(dir, "scripts", "build"), { recursive: true });
    fs.copyFileSync(
        path.join(ROOT, "scripts", "build", "globals.d.ts"),
        path.join(dir, "scripts", "build", "globals.d.ts"),
    );
    fs.mkdirSync(path.join(dir, "lib"));
    fs.writeFileSync(
        path.join(dir, "index.ts"),
        `import { greet } from "./lib/greet";\nexport const out = greet("a");\n`,
    );
    fs.writeFileSync(
        path.join(dir, "lib", "greet.ts"),
        `export function greet(n: string): string { return "v1 " + n; }\n`,
    );
    fs.writeFileSync(path.join(dir, "lib", "old.ts"), `export const old = 1;\n`);
    return dir;
}

/**
 * Marks `p` as the only thing edited since the last build, whatever the file system's time resolution:
 * every file of the project goes an hour back, the stamp a minute back, `p` to now.
 */
function touchLater(dir: string, p: string): void {
    const at = (f: string, ms: number) => fs.utimesSync(f, new Date(ms), new Date(ms));
    const now = Date.now();
    const age = (d: string) => {
        for (const e of fs.readdirSync(d, { withFileTypes: true })) {
            if (e.name === "node_modules") continue;
            const f = path.join(d, e.name);
            if (e.isDirectory()) age(f);
            at(f, now - 3_600_000);
        }
    };
    age(dir);
    at(path.join(dir, "dist", ".pinhole-built"), now - 60_000);
    at(p, now);
}

const run = (dir: string) => {
    const lines: string[] = [];
    const built = compile.ensureCompiled({ root: dir, log: (m) => lines.push(m) });
    return { built, lines };
};
const load = (dir: string) => {
    const file = path.join(dir, "dist", "index.js");
    delete require.cache[require.resolve(file)];
    delete require.cache[require.resolve(path.join(dir, "dist", "lib", "greet.js"))];
    return (require(file) as { out: string }).out;
};

describe("scripts/compile.js: compiled start-up", function () {
    this.timeout(120_000);
    let dir: string;
    before(() => {
        dir = scratchProject();
    });
    after(() => fs.rmSync(dir, { recursive: true, force: true }));

    it("builds a never-compiled checkout, then does nothing while no source changes", () => {
        expect(compile.staleReason(dir)).to.equal("never compiled");
        expect(run(dir).built).to.equal(true);
        expect(load(dir)).to.equal("v1 a");
        expect(compile.staleReason(dir)).to.equal(undefined);
        expect(run(dir).built).to.equal(false);
    });

    it("rebuilds when an imported source changes, and runs the new code", () => {
        fs.writeFileSync(
            path.join(dir, "lib", "greet.ts"),
            `export function greet(n: string): string { return "v2 " + n; }\n`,
        );
        touchLater(dir, path.join(dir, "lib", "greet.ts"));
        expect(compile.staleReason(dir)).to.equal(path.join("lib", "greet.ts"));
        const r = run(dir);
        expect(r.built).to.equal(true);
        expect(r.lines.join("\n")).to.match(/sources changed \(lib\/greet\.ts\): compiling/);
        expect(load(dir)).to.equal("v2 a");
    });

    it("removes the output of a deleted source (require must not find a stale module)", () => {
        expect(fs.existsSync(path.join(dir, "dist", "lib", "old.js"))).to.equal(true);
        fs.rmSync(path.join(dir, "lib", "old.ts"));
        touchLater(dir, path.join(dir, "lib"));
        expect(compile.staleReason(dir)).to.equal("lib");
        expect(run(dir).built).to.equal(true);
        expect(fs.existsSync(path.join(dir, "dist", "lib", "old.js"))).to.equal(false);
        expect(fs.existsSync(path.join(dir, "dist", "lib", "old.js.map"))).to.equal(false);
    });

    it("a change of the build config rebuilds too", () => {
        touchLater(dir, path.join(dir, "tsconfig.json"));
        expect(compile.staleReason(dir)).to.equal("tsconfig.json");
        expect(run(dir).built).to.equal(true);
    });

    it("fails with a clear message on a syntax error, and stays stale until fixed", () => {
        fs.writeFileSync(
            path.join(dir, "lib", "greet.ts"),
            `export function greet(n: string): string { return "v3 " + n;\n`,
        );
        touchLater(dir, path.join(dir, "lib", "greet.ts"));
        expect(() => run(dir)).to.throw(/compiling the sources failed/);
        expect(compile.staleReason(dir)).to.equal(path.join("lib", "greet.ts"));
    });
});

describe("tsconfig.build.json covers what the program and the provider import", () => {
    it("every relative import reachable from index.ts and provider/main.ts is under an included path", () => {
        const include: string[] = JSON.parse(fs.readFileSync(path.join(ROOT, "tsconfig.build.json"), "utf8")).include;
        const covered = (rel: string) =>
            include.some((p) => {
                const m = /^(.*)\/\*\*\/\*\.ts$/.exec(p);
                return m ? rel.startsWith(`${m[1]}/`) : rel === p;
            });
        const seen = new Set<string>();
        const visit = (file: string) => {
            if (seen.has(file)) return;
            seen.add(file);
            const text = fs.readFileSync(file, "utf8");
            for (const m of text.matchAll(/(?:from|import|require\()\s*["'](\.{1,2}\/[^"']+)["']/g)) {
                const base = path.resolve(path.dirname(file), m[1]);
                const target = [`${base}.ts`, path.join(base, "index.ts")].find((f) => fs.existsSync(f));
                expect(target, `${path.relative(ROOT, file)} imports ${m[1]}, which is no .ts source`).to.not.equal(
                    undefined,
                );
                visit(target!);
            }
        };
        visit(path.join(ROOT, "index.ts"));
        visit(path.join(ROOT, "provider", "main.ts"));
        expect(seen.size).to.be.greaterThan(10);
        const missing = [...seen].map((f) => path.relative(ROOT, f)).filter((f) => !covered(f));
        expect(missing, "add their directories to tsconfig.build.json's include").to.deep.equal([]);
    });
});

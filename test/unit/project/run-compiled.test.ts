// scripts/run.js: the npm command-line entry points (lab, verify, narrow, matrix, bench, provider-docs, start) run
// from dist/ — never stale (a changed source is rebuilt before it runs), each module under its source path
// (__dirname as under ts-node), the entry as the main module with its own arguments.
import { expect } from "chai";
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";

const ROOT = path.resolve(__dirname, "..", "..", "..");

/** A scratch project with the real compile.js and run.js, and a command-line entry lib/cli.ts. */
function scratchProject(): string {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "pinhole-run-"));
    fs.symlinkSync(path.join(ROOT, "node_modules"), path.join(dir, "node_modules"));
    fs.copyFileSync(path.join(ROOT, "tsconfig.json"), path.join(dir, "tsconfig.json"));
    fs.writeFileSync(path.join(dir, "package-lock.json"), "{}\n");
    const build = JSON.parse(fs.readFileSync(path.join(ROOT, "tsconfig.build.json"), "utf8"));
    build.include = ["lib/**/*.ts", "scripts/build/globals.d.ts"];
    fs.writeFileSync(path.join(dir, "tsconfig.build.json"), JSON.stringify(build));
    fs.mkdirSync(path.join(dir, "scripts", "build"), { recursive: true });
    for (const f of ["compile.js", "run.js", "build/globals.d.ts"])
        fs.copyFileSync(path.join(ROOT, "scripts", f), path.join(dir, "scripts", f));
    fs.mkdirSync(path.join(dir, "lib"));
    fs.writeFileSync(
        path.join(dir, "lib", "greet.ts"),
        `export function greet(n: string): string { return "v1 " + n; }\n`,
    );
    fs.writeFileSync(
        path.join(dir, "lib", "cli.ts"),
        `import { greet } from "./greet";
if (require.main === module) process.stdout.write(JSON.stringify({ out: greet(process.argv[2]), dir: __dirname, argv: process.argv.slice(2) }) + "\\n");
`,
    );
    return dir;
}

const runIn = (dir: string, ...args: string[]) => {
    const r = spawnSync(process.execPath, [path.join(dir, "scripts", "run.js"), ...args], {
        cwd: dir,
        encoding: "utf8",
    });
    return {
        status: r.status,
        stderr: r.stderr,
        out: r.status === 0 ? (JSON.parse(r.stdout) as { out: string; dir: string; argv: string[] }) : undefined,
    };
};

describe("scripts/run.js: command-line entry points from dist/", function () {
    this.timeout(120_000);
    let dir: string;
    before(() => {
        dir = scratchProject();
    });
    after(() => fs.rmSync(dir, { recursive: true, force: true }));

    it("compiles a never-built checkout, runs the entry as the main module with its arguments and its source directory", () => {
        const r = runIn(dir, "lib/cli.ts", "a", "--flag");
        expect(r.status, r.stderr).to.equal(0);
        expect(r.stderr).to.match(/compiling/);
        expect(r.out).to.deep.equal({ out: "v1 a", dir: path.join(dir, "lib"), argv: ["a", "--flag"] });
        expect(fs.existsSync(path.join(dir, "dist", "lib", "cli.js"))).to.equal(true);
        const again = runIn(dir, "lib/cli.ts", "b");
        expect(again.stderr, "nothing changed: no rebuild").to.equal("");
        expect(again.out!.out).to.equal("v1 b");
    });

    it("never runs stale code: an edited import is rebuilt before the entry runs", () => {
        const later = new Date(Date.now() + 5000);
        fs.writeFileSync(
            path.join(dir, "lib", "greet.ts"),
            `export function greet(n: string): string { return "v2 " + n; }\n`,
        );
        fs.utimesSync(path.join(dir, "lib", "greet.ts"), later, later);
        const r = runIn(dir, "lib/cli.ts", "c");
        expect(r.status, r.stderr).to.equal(0);
        expect(r.stderr).to.match(/sources changed \(lib\/greet\.ts\)/);
        expect(r.out!.out).to.equal("v2 c");
    });

    it("a module the build does not cover is refused, naming it and tsconfig.build.json", () => {
        fs.mkdirSync(path.join(dir, "other"));
        fs.writeFileSync(path.join(dir, "other", "x.ts"), "export const x = 1;\n");
        const r = runIn(dir, "other/x.ts");
        expect(r.status).to.not.equal(0);
        expect(r.stderr).to.contain("other/x.ts is not compiled: add its directory to tsconfig.build.json's include");
    });

    it("the project's npm entry points all go through it, and every entry is inside the build", () => {
        const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, "package.json"), "utf8")) as {
            scripts: Record<string, string>;
        };
        const build = JSON.parse(fs.readFileSync(path.join(ROOT, "tsconfig.build.json"), "utf8")) as {
            include: string[];
        };
        for (const name of ["lab", "verify", "narrow", "matrix", "bench", "provider-docs"]) {
            const m = /^node scripts\/run\.js (\S+\.ts)$/.exec(pkg.scripts[name]);
            expect(m, `npm run ${name}: ${pkg.scripts[name]}`).to.not.equal(null);
            expect(
                build.include.some((p) => p === m![1] || m![1].startsWith(p.replace(/\*\*\/\*\.ts$/, ""))),
                `${m![1]} in tsconfig.build.json`,
            ).to.equal(true);
        }
        expect(fs.readFileSync(path.join(ROOT, "scripts", "start.sh"), "utf8")).to.match(
            /exec node scripts\/run\.js tools\/start\/main\.ts "\$@"/,
        );
    });
});

// The layout's rule (README "Layout"): which folder may hold what (file and function lengths: house-rules.test.ts).
import { expect } from "chai";
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as path from "path";

const ROOT = path.resolve(__dirname, "..", "..", "..");
const tracked = execFileSync("git", ["-C", ROOT, "ls-files"], { encoding: "utf8" }).split("\n").filter(Boolean);
const sources = tracked.filter(
    (f) => /\.(ts|js)$/.test(f) && !f.startsWith("test/") && fs.existsSync(path.join(ROOT, f)),
);
/** test/unit/'s own folders: the project-wide rules (no single source folder), and what the tests share. */
const PROJECT_RULES = "project";
const SHARED = ["helpers", "fixtures"];

/** Every folder under test/unit/ (relative to it, "/"-separated) and every file, from the disk: a test not yet
 * committed is checked too. helpers/ and fixtures/ are not walked: they hold no tests, whatever their shape. */
function walkUnit(dir = ""): { dirs: string[]; files: string[] } {
    const out = { dirs: [] as string[], files: [] as string[] };
    for (const e of fs.readdirSync(path.join(ROOT, "test", "unit", dir), { withFileTypes: true })) {
        const rel = dir ? `${dir}/${e.name}` : e.name;
        if (!e.isDirectory()) out.files.push(rel);
        else if (!(dir === "" && SHARED.includes(e.name))) {
            const inner = walkUnit(rel);
            out.dirs.push(rel, ...inner.dirs);
            out.files.push(...inner.files);
        }
    }
    return out;
}

/** A source folder is a folder outside test/ that holds tracked files (so test/unit/<it>/ mirrors something real). */
function isSourceFolder(dir: string): boolean {
    return !dir.startsWith("test/") && tracked.some((f) => f.startsWith(`${dir}/`));
}

/** test/unit/ folders that mirror nothing: neither the project rules' folder nor an existing source folder. */
function foldersMirroringNothing(dirs: string[]): string[] {
    return dirs.filter((d) => d !== PROJECT_RULES && !d.startsWith(`${PROJECT_RULES}/`) && !isSourceFolder(d));
}

describe("layout: one place for each thing", () => {
    it("no lib/: shared code sits in the folder of its step (tools/common, program, remote, model, render)", () => {
        expect(tracked.filter((f) => f.startsWith("lib/"))).to.deep.equal([]);
    });
    it("scripts/ holds entry points only: shell, the JS launchers, the language host and the build's globals", () => {
        const allowed = /^scripts\/([\w-]+\.(sh|js)|langhost(\/[\w.-]+)?|build\/globals\.d\.ts)$/;
        expect(tracked.filter((f) => f.startsWith("scripts/") && !allowed.test(f))).to.deep.equal([]);
    });
    it("render/ does no I/O (model/ is checked file by file in model/purity.test.ts)", () => {
        const io = /from "(fs|fs\/promises|child_process|net|http|https|js-yaml|node:[^"]+)"/;
        expect(
            sources.filter((f) => f.startsWith("render/") && io.test(fs.readFileSync(path.join(ROOT, f), "utf8"))),
        ).to.deep.equal([]);
    });
    it("test/unit/ mirrors the source folders: no test at its top, each folder a source folder or project/", () => {
        const { dirs, files } = walkUnit();
        expect(files.filter((f) => !f.includes("/") && f.endsWith(".test.ts"))).to.deep.equal([]);
        expect(foldersMirroringNothing(dirs)).to.deep.equal([]);
        expect(files.filter((f) => f.endsWith(".test.ts")).length).to.be.greaterThan(50);
    });
    it("every tool is tools/<command>/main.ts, and npm's scripts run those", () => {
        const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, "package.json"), "utf8")) as {
            scripts: Record<string, string>;
        };
        const ran = Object.values(pkg.scripts).flatMap((s) =>
            [...s.matchAll(/\b(tools\/[\w-]+\/[\w-]+\.ts)\b/g)].map((m) => m[1]),
        );
        expect(ran.length).to.be.greaterThan(3);
        for (const f of ran) {
            expect(f, f).to.match(/^tools\/[\w-]+\/main\.ts$/);
            expect(fs.existsSync(path.join(ROOT, f)), f).to.equal(true);
        }
    });
});

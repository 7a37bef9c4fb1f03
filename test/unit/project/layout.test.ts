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
describe("layout: one place for each thing", () => {
    it("no lib/: shared code sits in the folder of its step (tools/common, program, remote, model, render)", () => {
        expect(tracked.filter((f) => f.startsWith("lib/"))).to.deep.equal([]);
    });
    it("scripts/ holds entry points only: shell, the JS launchers, the language host and the build's globals", () => {
        const allowed = /^scripts\/([\w-]+\.(sh|js)|langhost(\/[\w.-]+)?|build\/globals\.d\.ts)$/;
        expect(tracked.filter((f) => f.startsWith("scripts/") && !allowed.test(f))).to.deep.equal([]);
    });
    it("render/ does no I/O (model/ is checked file by file in model-purity.test.ts)", () => {
        const io = /from "(fs|fs\/promises|child_process|net|http|https|js-yaml|node:[^"]+)"/;
        expect(
            sources.filter((f) => f.startsWith("render/") && io.test(fs.readFileSync(path.join(ROOT, f), "utf8"))),
        ).to.deep.equal([]);
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

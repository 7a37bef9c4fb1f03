// The GitHub Actions workflow: actionlint (built by toolchain/actionlint.sh) passes on every workflow file, and the
// workflow keeps the pulumi/actions conventions docs/operations.md promises (checks on every change, preview after
// the checks with a PR comment, up through a protected environment, a drift job that fails on any difference).
import { expect } from "chai";
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as yaml from "js-yaml";

const ROOT = path.resolve(__dirname, "..", "..", "..");
const WORKFLOWS = path.join(ROOT, ".github", "workflows");
const workflowFiles = fs
    .readdirSync(WORKFLOWS)
    .filter((f) => /\.ya?ml$/.test(f))
    .map((f) => path.join(WORKFLOWS, f));

function actionlintBinary(): string {
    const r = spawnSync("bash", [path.join(ROOT, "toolchain", "actionlint.sh")], { encoding: "utf8" });
    if (r.status !== 0) throw new Error(`toolchain/actionlint.sh failed: ${r.stderr}`);
    return r.stdout.trim().split("\n").pop()!;
}

function actionlint(files: string[], cwd = ROOT) {
    return spawnSync(actionlintBinary(), ["-no-color", ...files], { cwd, encoding: "utf8" });
}

type Step = { uses?: string; run?: string; with?: Record<string, unknown>; if?: string };
type Job = { needs?: string | string[]; if?: string; environment?: unknown; "runs-on"?: unknown; steps: Step[] };

describe("GitHub Actions workflows", function () {
    this.timeout(180000); // the first call may build actionlint (set-up normally has)

    it("actionlint passes on every workflow file", () => {
        expect(workflowFiles).to.not.be.empty;
        const r = actionlint(workflowFiles.map((f) => path.relative(ROOT, f)));
        expect(r.stdout + r.stderr, "actionlint findings").to.equal("");
        expect(r.status).to.equal(0);
    });

    it("actionlint finds a broken workflow (the lint really runs)", () => {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "pinhole-actionlint-"));
        fs.mkdirSync(path.join(dir, ".github", "workflows"), { recursive: true });
        const bad = path.join(dir, ".github", "workflows", "bad.yml");
        fs.writeFileSync(
            bad,
            "on: push\njobs:\n  a:\n    runs-on: ubuntu-latest\n    needs: missing\n    steps:\n      - uses: pulumi/actions@v6\n        with: { comand: up }\n",
        );
        try {
            const r = actionlint([bad], dir);
            expect(r.status).to.equal(1);
            expect(r.stdout)
                .to.match(/missing/)
                .and.to.match(/comand/);
        } finally {
            fs.rmSync(dir, { recursive: true, force: true });
        }
    });

    describe("pinhole.yml", () => {
        const wf = yaml.load(fs.readFileSync(path.join(WORKFLOWS, "pinhole.yml"), "utf8")) as {
            on: Record<string, Record<string, unknown> | null>;
            env: Record<string, string>;
            jobs: Record<string, Job>;
        };
        const needs = (j: Job) => ([] as string[]).concat(j.needs ?? []);
        const pulumiStep = (j: Job, command: string) =>
            j.steps.find((s) => s.uses?.startsWith("pulumi/actions@") && s.with?.command === command);

        it("runs the checks on every change: no path filter on pull requests or pushes", () => {
            for (const ev of ["pull_request", "push"]) {
                expect(wf.on, ev).to.have.property(ev);
                expect(wf.on[ev] ?? {}, ev).to.not.have.any.keys("paths", "paths-ignore");
            }
            expect(wf.jobs.checks.if, "checks run on every event").to.equal(undefined);
            expect(wf.jobs.checks.steps.map((s) => s.run ?? "").join("\n")).to.match(/npm test/);
        });

        it("installs the project's dependencies once (set-up's npm ci), never npm ci twice", () => {
            for (const [name, job] of Object.entries(wf.jobs)) {
                const ci = job.steps.filter((s) => /\bnpm (ci|install)\b/.test(s.run ?? ""));
                expect(ci, `${name}: npm ci is set-up's job`).to.deep.equal([]);
            }
        });

        it("previews with a diff and a PR comment, after the checks", () => {
            const p = wf.jobs.preview;
            expect(needs(p)).to.include("checks");
            const step = pulumiStep(p, "preview")!;
            expect(step, "pulumi/actions preview").to.not.equal(undefined);
            expect(step.with).to.include({ diff: true, "comment-on-pr": true });
        });

        it("runs up on merge to main, after the checks, through the protected environment", () => {
            const u = wf.jobs.up;
            expect(needs(u)).to.include("checks");
            expect(u.if).to.match(/refs\/heads\/main/);
            expect(u.environment).to.equal("production");
            expect(pulumiStep(u, "up"), "pulumi/actions up").to.not.equal(undefined);
        });

        it("checks drift on a schedule: refresh --expect-no-changes (state untouched), preview --expect-no-changes, verify", () => {
            expect(wf.on).to.have.property("schedule");
            const d = wf.jobs.drift;
            expect(d.if).to.match(/schedule/);
            const runs = d.steps.map((s) => s.run ?? "").join("\n");
            expect(runs).to.match(/refresh .*--preview-only .*--expect-no-changes/);
            expect(pulumiStep(d, "preview")?.with).to.include({ "expect-no-changes": true });
            expect(runs).to.match(/npm run -s verify/);
        });

        it("pins the CLI to the SDK version and Node.js to the project's LTS line", () => {
            const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, "package.json"), "utf8"));
            expect(wf.env.PULUMI_VERSION).to.equal(pkg.dependencies["@pulumi/pulumi"]);
            const nodeSh = fs.readFileSync(path.join(ROOT, "toolchain", "node.sh"), "utf8");
            expect(wf.env.NODE_VERSION).to.equal(/^NODE_MIN_MAJOR=(\d+)/m.exec(nodeSh)![1]);
        });
    });
});

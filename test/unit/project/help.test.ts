// `--help` of every command is instant and has no side effects: it prints the usage, exits 0, loads none of the
// heavy modules (the engine SDK, the lab, the provider's SSH: tools/common/help-gate.ts answers before they load), and
// leaves the checkout as it was (no set-up, no compile, no state, no lab: .lab/ is in the checkout) and the lab's
// lease with none of its processes (the lease and the namespaces are machine-wide: other checkouts change them).
import { expect } from "chai";
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { parseStartArgs, START_USAGE } from "../../../tools/start/progress";

const ROOT = path.resolve(__dirname, "..", "..", "..");
const COMMANDS: { cmd: string[]; usage: RegExp }[] = [
    { cmd: ["start", "--", "--help"], usage: /^usage: npm start /m },
    { cmd: ["run", "-s", "matrix", "--", "--help"], usage: /^usage: npm run matrix /m },
    { cmd: ["run", "-s", "verify", "--", "--stack", "x", "-h"], usage: /^usage: npm run verify /m },
    { cmd: ["run", "-s", "lab", "--", "--help"], usage: /^usage: npm run lab /m },
    { cmd: ["run", "-s", "bench", "--", "--help"], usage: /^usage: npm run bench /m },
    { cmd: ["run", "-s", "narrow", "--", "--help"], usage: /^usage: npm run narrow /m },
    { cmd: ["run", "-s", "pulumi", "--", "--help"], usage: /^(Usage:\s+pulumi|usage: npm run pulumi )/m },
];
/** Modules whose loading means the help path went past the gate. */
const HEAVY =
    /node_modules\/@pulumi\/|\/lab\/(index|netns|stack)\.ts$|\/provider\/|\/lib\/(stack-file|start-lab)\.ts$|\/tools\/verify\/run\.ts$|\/model\/(policy|matrix)\.ts$/;

/** Every file under the checkout with size and mtime (node_modules, .git and Node's compile cache aside). */
function snapshot(dir = ROOT, out = new Map<string, string>()): Map<string, string> {
    for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
        const p = path.join(dir, e.name);
        const rel = path.relative(ROOT, p);
        if (["node_modules", ".git", path.join(".pulumi", "node-compile-cache")].includes(rel)) continue;
        if (e.isDirectory()) snapshot(p, out);
        else {
            const st = fs.lstatSync(p);
            out.set(rel, `${st.size}:${st.mtimeMs}`);
        }
    }
    return out;
}
/** The pid holding the machine's lab lease, if any (other checkouts take it too: only our own pids count). */
function leaseHolder(): number | undefined {
    try {
        return (JSON.parse(fs.readFileSync("/run/pinhole-lab/lease", "utf8")) as { pid?: number }).pid;
    } catch {
        return undefined;
    }
}

describe("--help of every command: instant, no side effects", function () {
    this.timeout(120_000);
    const trace = fs.mkdtempSync(path.join(os.tmpdir(), "pinhole-help-"));
    const tracer = path.join(trace, "tracer.js");
    // Loaded into every Node process of the run: at exit, the process's argv and the modules it loaded.
    fs.writeFileSync(
        tracer,
        `process.on("exit", () => require("fs").writeFileSync(${JSON.stringify(trace)} + "/" + process.pid + ".json",
        JSON.stringify({ argv: process.argv, modules: Object.keys(require.cache) })));\n`,
    );
    after(() => fs.rmSync(trace, { recursive: true, force: true }));

    for (const { cmd, usage } of COMMANDS) {
        it(`npm ${cmd.join(" ")}`, () => {
            for (const f of fs.readdirSync(trace)) if (f.endsWith(".json")) fs.rmSync(path.join(trace, f));
            const before = snapshot();
            const t0 = Date.now();
            const env = {
                ...process.env,
                PATH: `${path.dirname(process.execPath)}:${process.env.PATH}`,
                NODE_OPTIONS: `--require ${tracer}`,
            };
            const r = spawnSync("npm", cmd, { cwd: ROOT, env, encoding: "utf8", timeout: 60_000 });
            const ms = Date.now() - t0;
            expect(r.status, `${r.stderr}`).to.equal(0);
            expect(r.stdout).to.match(usage);
            expect(r.stderr, "help writes nothing else (no set-up, no lab)").to.not.match(/\[setup\]|\[lab\]|compil/);
            const ours = new Set<number>();
            for (const f of fs.readdirSync(trace).filter((x) => x.endsWith(".json"))) {
                ours.add(Number(f.replace(/\.json$/, "")));
                const p = JSON.parse(fs.readFileSync(path.join(trace, f), "utf8")) as {
                    argv: string[];
                    modules: string[];
                };
                if (!p.argv.some((a) => a.includes("ts-node"))) continue;
                expect(
                    p.modules.filter((m) => HEAVY.test(m)),
                    `${p.argv.slice(1).join(" ")} loaded heavy modules for --help`,
                ).to.deep.equal([]);
            }
            // The lab (lab/index.ts, netns, the lease) is never loaded above; and no process of this run holds its lease.
            expect(ours.has(leaseHolder() ?? -1), "a --help process took the lab lease").to.equal(false);
            const afterwards = snapshot();
            const changed = [...new Set([...before.keys(), ...afterwards.keys()])].filter(
                (k) => before.get(k) !== afterwards.get(k),
            );
            expect(changed, "files in the checkout created or changed").to.deep.equal([]);
            process.stdout.write(`      (${ms} ms)\n`);
        });
    }
});

describe("npm start --backend (the state backend of one run)", () => {
    it("takes a backend URL of a scheme the CLI serves, inline or as the next argument", () => {
        const url = "s3://pinhole-state?endpoint=http://127.0.0.1:9000&use_path_style=true&region=us-east-1";
        expect(parseStartArgs(["--backend", url])).to.deep.include({ backend: url, model: "modular" });
        expect(parseStartArgs([`--backend=file:///srv/pinhole-state`])).to.deep.include({
            backend: "file:///srv/pinhole-state",
        });
        expect(parseStartArgs([])).to.not.have.property("backend");
    });
    it("refuses anything else, naming the flag", () => {
        for (const bad of ["pinhole-state", "ftp://x/y", "s3:bucket"]) {
            const r = parseStartArgs(["--backend", bad]);
            expect(r, bad)
                .to.be.a("string")
                .and.match(/^--backend needs a backend URL/)
                .and.include(bad);
            expect(r as string).to.include(START_USAGE);
        }
        expect(parseStartArgs(["--backend"])).to.match(/^--backend needs a value/);
    });
    it("npm start refuses a value that is no URL before set-up runs (exit 64, nothing written)", () => {
        const before = snapshot();
        for (const args of [["--backend", "pinhole-state"], ["--backend=s3:bucket"], ["--backend"]]) {
            const r = spawnSync("bash", [path.join(ROOT, "scripts", "start.sh"), ...args], {
                cwd: ROOT,
                encoding: "utf8",
                timeout: 30_000,
            });
            expect(r.status, args.join(" ")).to.equal(64);
            expect(r.stderr).to.match(/--backend needs a backend URL/);
            expect(r.stdout + r.stderr).to.not.match(/\[setup\]/);
        }
        expect([...snapshot()]).to.deep.equal([...before]);
    });
});

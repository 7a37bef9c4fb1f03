// Team use for real: Pulumi state in an S3-compatible object store (gofakes3's server, built from the Go module
// proxy by toolchain/go-tool.sh and started here), secrets with the passphrase provider. Two operators run
// `pulumi up` on one stack at once: the second is refused by the state lock, the first completes, the state is
// intact (export parses, preview sees no changes), and the second succeeds once the first is done. And
// `npm start -- --backend s3://...` runs end to end (lab, up, verify) with its state in that store, the local
// file backend (the default) untouched.
import { expect } from "chai";
import { ChildProcess, spawn, spawnSync } from "child_process";
import * as fs from "fs";
import * as net from "net";
import * as os from "os";
import * as path from "path";
import { createHash } from "crypto";
import { labDown } from "../../lab";
import { PROJECT_ROOT, pulumiEnv } from "../../tools/common/pulumi-env";
import { s3ServerBinary } from "./helpers/go-tool";

const TEAM_DIR = path.join(PROJECT_ROOT, "test", "fixtures", "team");
const BUCKET = "pinhole-state";

function freePort(): Promise<number> {
    return new Promise((resolve, reject) => {
        const srv = net
            .createServer()
            .listen(0, "127.0.0.1", () => {
                const port = (srv.address() as net.AddressInfo).port;
                srv.close(() => resolve(port));
            })
            .on("error", reject);
    });
}

async function waitForPort(port: number, ms: number): Promise<void> {
    const end = Date.now() + ms;
    while (Date.now() < end) {
        const ok = await new Promise<boolean>((resolve) => {
            const s = net
                .connect(port, "127.0.0.1", () => {
                    s.destroy();
                    resolve(true);
                })
                .on("error", () => resolve(false));
        });
        if (ok) return;
        await new Promise((r) => setTimeout(r, 200));
    }
    throw new Error(`the S3 server did not listen on 127.0.0.1:${port} within ${ms} ms`);
}

interface Run {
    code: number | null;
    out: string;
}

describe("team backend: state in an S3 server, two concurrent `pulumi up`", function () {
    this.timeout(600_000);
    let server: ChildProcess;
    let stopping = false;
    let dir: string;
    let env: NodeJS.ProcessEnv;
    const stack = `team-${process.pid}`;

    /** One operator's pulumi command (own process, as from another shell); resolves when it exits. */
    const pulumi = (args: string[], onOut?: (s: string) => void): Promise<Run> =>
        new Promise((resolve) => {
            const child = spawn("pulumi", [...args, "--stack", stack, "--non-interactive", "--color", "never"], {
                cwd: TEAM_DIR,
                env,
            });
            let out = "";
            const take = (b: Buffer) => {
                out += b.toString();
                onOut?.(out);
            };
            child.stdout.on("data", take);
            child.stderr.on("data", take);
            child.on("close", (code) => resolve({ code, out }));
        });

    before(async () => {
        const bin = s3ServerBinary();
        dir = fs.mkdtempSync(path.join(os.tmpdir(), "pinhole-s3-"));
        const port = await freePort();
        server = spawn(bin, ["-host", `127.0.0.1:${port}`, "-backend", "memory", "-initialbucket", BUCKET], {
            stdio: ["ignore", "ignore", fs.openSync(path.join(dir, "s3.log"), "w")],
        });
        server.on("exit", (code, signal) => {
            if (!stopping)
                process.stderr.write(
                    `      · the S3 server exited (${code ?? signal}):\n${fs.readFileSync(path.join(dir, "s3.log"), "utf8").split("goroutine ")[0].slice(-2500)}\n`,
                );
        });
        await waitForPort(port, 20_000);
        env = {
            ...process.env,
            ...pulumiEnv(),
            PULUMI_BACKEND_URL: `s3://${BUCKET}?endpoint=http://127.0.0.1:${port}&use_path_style=true&region=us-east-1`,
            AWS_ACCESS_KEY_ID: "pinhole-test",
            AWS_SECRET_ACCESS_KEY: "pinhole-test-secret",
            AWS_REGION: "us-east-1",
            PULUMI_CONFIG_PASSPHRASE: "team passphrase for this test only",
        };
        delete env.PULUMI_CONFIG_PASSPHRASE_FILE;
        const init = await pulumi(["stack", "init"]);
        expect(init.code, init.out).to.equal(0);
        for (const [k, v, secret] of [
            ["holdSeconds", "12", false],
            ["keys", "3", false],
            ["operator", "alice", true],
        ] as const) {
            const r = await pulumi(["config", "set", ...(secret ? ["--secret"] : []), k, v]);
            expect(r.code, r.out).to.equal(0);
        }
    });

    after(async () => {
        if (env) {
            await pulumi(["destroy", "--yes", "--skip-preview"]);
            await pulumi(["stack", "rm", "--yes", "--force"]);
        }
        fs.rmSync(path.join(TEAM_DIR, `Pulumi.${stack}.yaml`), { force: true });
        stopping = true;
        server?.kill();
        if (dir) fs.rmSync(dir, { recursive: true, force: true });
    });

    it("refuses the second operator's up while the first holds the lock; the first completes, nothing is corrupted", async () => {
        let firstUpdating!: () => void;
        const updating = new Promise<void>((r) => {
            firstUpdating = r;
        });
        const first = pulumi(["up", "--yes", "--skip-preview"], (out) => {
            if (/Updating \(/.test(out)) firstUpdating();
        });
        await updating; // the first holds the lock from here until it ends (the program waits holdSeconds)
        const second = await pulumi(["up", "--yes", "--skip-preview"]);
        expect(second.code, second.out).to.not.equal(0);
        expect(second.out).to.match(/currently locked/i);

        const one = await first;
        expect(one.code, one.out).to.equal(0);
        expect(one.out).to.match(/3 created|\+ 4 created|created/);

        const exported = spawnSync("pulumi", ["stack", "export", "--stack", stack], {
            cwd: TEAM_DIR,
            env,
            encoding: "utf8",
        });
        expect(exported.status, exported.stderr).to.equal(0);
        const state = JSON.parse(exported.stdout) as { deployment: { resources: { type: string }[] } };
        expect(state.deployment.resources.filter((r) => r.type === "pinhole:tls:PrivateKey")).to.have.length(3);
        expect(exported.stdout).to.not.contain("alice"); // the secret config stays encrypted
        expect(exported.stdout).to.not.contain("PRIVATE KEY");

        const preview = await pulumi(["preview", "--expect-no-changes"]);
        expect(preview.code, preview.out).to.equal(0);
    });

    it("the second operator's up succeeds once the first is done (no stale lock left)", async () => {
        const r = await pulumi(["up", "--yes", "--skip-preview"]);
        expect(r.code, r.out).to.equal(0);
        expect(r.out).to.match(/4 unchanged/);
    });
});

/** The local file backend's files (path → content hash): where `npm start` without --backend writes. */
function localBackend(
    dir = path.join(PROJECT_ROOT, ".pulumi", "state"),
    out = new Map<string, string>(),
): Map<string, string> {
    if (!fs.existsSync(dir)) return out;
    for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
        const p = path.join(dir, e.name);
        if (e.isDirectory()) localBackend(p, out);
        else out.set(path.relative(PROJECT_ROOT, p), createHash("sha256").update(fs.readFileSync(p)).digest("hex"));
    }
    return out;
}

describe("npm start -- --backend s3://... (lab, up and verify with the state in an S3 server)", function () {
    // npm start waits for the lab while another checkout holds it (up to 30 min, tools/start/lab.ts), then runs ~2 min.
    this.timeout(2_400_000);
    let server: ChildProcess;
    let dir: string;
    let url: string;
    let started = false;
    const aws = {
        AWS_ACCESS_KEY_ID: "pinhole-test",
        AWS_SECRET_ACCESS_KEY: "pinhole-test-secret",
        AWS_REGION: "us-east-1",
    };

    before(async function () {
        if (process.getuid?.() !== 0) this.skip(); // npm start runs the lab: root only
        const bin = s3ServerBinary();
        dir = fs.mkdtempSync(path.join(os.tmpdir(), "pinhole-s3-start-"));
        const port = await freePort();
        server = spawn(bin, ["-host", `127.0.0.1:${port}`, "-backend", "memory", "-initialbucket", BUCKET], {
            stdio: ["ignore", "ignore", fs.openSync(path.join(dir, "s3.log"), "w")],
        });
        await waitForPort(port, 20_000);
        url = `s3://${BUCKET}?endpoint=http://127.0.0.1:${port}&use_path_style=true&region=us-east-1`;
    });

    after(async () => {
        if (started) await labDown({ log: () => undefined }); // npm start leaves the lab up; a test never does
        server?.kill();
        if (dir) fs.rmSync(dir, { recursive: true, force: true });
    });

    it("brings up the standalone lab, applies and verifies it; the stack and its state are in the S3 store only", async () => {
        const before = localBackend();
        const env: NodeJS.ProcessEnv = {
            ...process.env,
            ...aws,
            PATH: `${path.dirname(process.execPath)}:${process.env.PATH}`,
        };
        delete env.PULUMI_BACKEND_URL; // the flag alone chooses the backend
        started = true;
        const run = spawnSync(
            "bash",
            [path.join(PROJECT_ROOT, "scripts", "start.sh"), "--model", "standalone", "--backend", url],
            { cwd: PROJECT_ROOT, env, encoding: "utf8", timeout: 2_280_000, maxBuffer: 64 << 20 },
        );
        const out = `${run.stdout}\n${run.stderr}`;
        expect(run.status, out.slice(-4000)).to.equal(0);
        expect(out).to.match(/\[setup\].*backend s3:\/\/pinhole-state\?/);
        expect(out).to.match(/pulumi up --refresh: succeeded/);
        expect(out).to.match(/npm start: done in/);

        // The stack lives in the S3 store: its state has the lab node's firewall, its secret stays encrypted.
        const s3env = { ...process.env, ...pulumiEnv(), ...aws, PULUMI_BACKEND_URL: url };
        const exported = spawnSync("pulumi", ["stack", "export", "--stack", "lab-standalone", "--cwd", PROJECT_ROOT], {
            env: s3env,
            encoding: "utf8",
        });
        expect(exported.status, exported.stderr).to.equal(0);
        const state = JSON.parse(exported.stdout) as { deployment: { resources: { type: string }[] } };
        expect(state.deployment.resources.filter((r) => r.type === "pinhole:node:Firewall")).to.have.length(1);
        expect(exported.stdout).to.not.contain("PRIVATE KEY");
        // ... and the default local file backend holds nothing new of that stack (other tests may use it meanwhile).
        const ofLab = (m: Map<string, string>) =>
            [...m].filter(([f]) => /\/lab-standalone(\.|$)/.test(f) || /\/lab-standalone\//.test(f));
        expect(ofLab(localBackend())).to.deep.equal(ofLab(before));
    });
});

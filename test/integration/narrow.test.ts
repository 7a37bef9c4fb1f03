// `npm run narrow` on the modular lab with the real engine. The lab's nodes first listen on every port (so a
// probe can tell "filtered" from "refused"); here each node's listener is replaced by what a platform node of
// its role serves (sshd 22, nginx 80/443, snmpd 161/udp, cluster 8443, database 27017, the arbiter 27030 on
// the arbiter node only). The command must list the openings nothing listens on (27019/27020, 27030 off the
// arbiter, 22/udp), propose settings that narrow only those, and — applied with `pulumi up` — every service
// that the reference profile let a source reach must still answer it (the probe, nodes and external services).
import { expect } from "chai";
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { LocalWorkspace, Stack } from "@pulumi/pulumi/automation";
import * as yaml from "js-yaml";
import { labDown, labStatus, labUp, probe, LabStatus, ProbeResult } from "../../lab";
import { LABNET_BIN, nodeDir } from "../../lab/state";
import { parseStackFile } from "../../tools/common/stack-file";
import { PROJECT_ROOT, usePulumiEnv } from "../../tools/common/pulumi-env";
import { waitForForeignLabHolders } from "../../tools/start/lab";
import { readEvidence } from "../../program/evidence-file";
import { buildPolicy } from "../../model/policy";
import { ClusterModel, Role } from "../../model/types";
import { compareProbe, formatMismatches } from "./helpers/expected";

const log = (m: string) => process.stderr.write(`      · ${m}\n`);
const STACK = "test-narrow-modular";

/** What a platform node of each role serves besides sshd (22/tcp) and nginx (80/tcp, 443/tcp). */
function servicesOf(role: Role, arbiter: boolean): { tcp: number[]; udp: number[] } {
    const tcp = [8443, ...(role === "database" || role === "unified" ? [27017] : []), ...(arbiter ? [27030] : [])];
    return { tcp, udp: [161] };
}
const served = (role: Role, arbiter: boolean, protocol: string, port: number) =>
    (protocol === "tcp" && [22, 80, 443].includes(port)) ||
    servicesOf(role, arbiter)[protocol as "tcp" | "udp"].includes(port);

function narrowCli(...args: string[]): { code: number; stdout: string; stderr: string } {
    const r = spawnSync(
        process.execPath,
        [
            path.join(PROJECT_ROOT, "node_modules/ts-node/dist/bin.js"),
            "--transpile-only",
            path.join(PROJECT_ROOT, "tools/narrow/main.ts"),
            "--stack",
            STACK,
            ...args,
        ],
        { cwd: PROJECT_ROOT, encoding: "utf8", timeout: 300_000 },
    );
    return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

/** Resolves once process `pid` has exited (a zombie counts as gone: it holds no sockets). */
async function exited(pid: number): Promise<void> {
    for (let i = 0; i < 100; i++) {
        let state = "";
        try {
            state = fs.readFileSync(`/proc/${pid}/stat`, "utf8").replace(/^.*\) /, "")[0];
        } catch {
            return;
        }
        if (state === "Z") return;
        await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error(`listener pid ${pid} did not exit within 5 s of SIGTERM`);
}

function loadModel(file: string): ClusterModel {
    const parsed = parseStackFile(file);
    if (!parsed.model) throw new Error(parsed.errors.map((e) => `${e.path}: ${e.message}`).join("\n"));
    return parsed.model;
}

describe("narrow: narrowing from evidence on the modular lab (real engine)", function () {
    this.timeout(900_000);
    let lab: LabStatus;
    let stack: Stack;
    let reference: ClusterModel;
    let baseline: ProbeResult[];

    before(async () => {
        const env = usePulumiEnv();
        await waitForForeignLabHolders(log);
        lab = await labUp({ model: "modular", log, stack: STACK });
        stack = await LocalWorkspace.createOrSelectStack(
            { stackName: lab.stack!, workDir: PROJECT_ROOT },
            { envVars: env },
        );
        // The lab keeps other firewall keys of its stack file: start from the default profile every time.
        const doc = yaml.load(fs.readFileSync(lab.stackFile!, "utf8")) as {
            config: Record<string, Record<string, unknown>>;
        };
        const { profile: _p, narrow: _n, ...firewall } = doc.config["pinhole:firewall"] ?? {};
        void _p;
        void _n;
        doc.config["pinhole:firewall"] = firewall;
        fs.writeFileSync(lab.stackFile!, yaml.dump(doc, { lineWidth: 200 }));
        reference = loadModel(lab.stackFile!);
        expect(reference.firewall.profile).to.equal("reference");
        const up = await stack.up({ refresh: true, onOutput: () => undefined });
        expect(up.summary.result).to.equal("succeeded");
        // Each node now listens only on what its role serves.
        for (const n of lab.nodes) {
            // The old listener must be gone before the new one binds: labnet skips a port it cannot bind.
            if (n.pids.listener) {
                process.kill(n.pids.listener, "SIGTERM");
                await exited(n.pids.listener);
            }
            const s = servicesOf(n.role, n.arbiter);
            const r = spawnSync(
                "ip",
                [
                    "netns",
                    "exec",
                    n.netns,
                    LABNET_BIN,
                    "listen",
                    "--tcp",
                    s.tcp.join(","),
                    "--udp",
                    s.udp.join(","),
                    "--daemon",
                    "--pidfile",
                    path.join(nodeDir(n.name), "realistic-listener.pid"),
                ],
                { encoding: "utf8", timeout: 10_000 },
            );
            expect(`${r.status} ${(r.stderr ?? "").trim()}`, `${n.name}: the realistic listener`).to.equal(
                `0 labnet: listening on ${2 * (s.tcp.length + s.udp.length)} sockets`,
            ); // IPv4 and IPv6 each
        }
        lab = await labStatus();
    });
    after(async () => {
        await stack
            ?.destroy({ onOutput: () => undefined })
            .catch((e: Error) => log(`destroy: ${e.message.split("\n")[0]}`));
        await labDown({ log: () => undefined });
    });

    let proposal: { profile: "reference" | "strict"; narrow: Record<string, boolean> };

    it("lists, per narrowing, the openings nothing listens on and no traffic used, and proposes only those", async () => {
        // Evidence first: a probe's own connection attempts are not traffic the cluster uses (unanswered ones are
        // ignored anyway), but keep the window clean.
        const text = narrowCli("--window", "3");
        expect(text.code, text.stderr).to.equal(0);
        log(
            text.stdout
                .split("\n")
                .filter((l) => /^(SAFE|KEEP|N\/A)/.test(l))
                .join("\n      · "),
        );
        expect(text.stdout).to.match(/SAFE {2}databasePortsFromTables/);
        expect(text.stdout).to.match(/nothing listens, no traffic \(\d+\): 27019\/tcp /);
        const json = narrowCli("--window", "2", "--json");
        expect(json.code, json.stderr).to.equal(0);
        const out = JSON.parse(json.stdout) as {
            verdicts: { narrowing: string; safe: boolean; applies: boolean }[];
            proposal: typeof proposal;
        };
        const verdict = Object.fromEntries(out.verdicts.map((v) => [v.narrowing, v.safe]));
        // The lab's LDAP entry names its protocols (tcp and udp): ldapTcpOnly has nothing to close there.
        expect(out.verdicts.find((v) => v.narrowing === "ldapTcpOnly")!.applies).to.equal(false);
        // Nothing serves these on the lab's nodes: safe to narrow.
        for (const id of ["databasePortsFromTables", "arbiterOnArbiterNodes", "sshTcpOnly"])
            expect(verdict[id], id).to.equal(true);
        // sshd, nginx (80, 443) and snmpd (161/udp) listen; external receivers answer on TCP 162 / UDP: keep.
        for (const id of [
            "noSshBetweenNodes",
            "noHttpBetweenNodes",
            "noSnmpBetweenNodes",
            "serviceListAsTables",
            "snmpTrapsUdpOnly",
        ])
            expect(verdict[id], id).to.equal(false);
        proposal = out.proposal;
        expect(readEvidence(STACK)?.nodes.length).to.equal(lab.nodes.length);
        baseline = await probe({});
    });

    it("the proposed settings, applied, keep every lab service reachable from every source the reference allowed", async () => {
        const file = lab.stackFile!;
        const doc = yaml.load(fs.readFileSync(file, "utf8")) as { config: Record<string, Record<string, unknown>> };
        doc.config["pinhole:firewall"] = { ...doc.config["pinhole:firewall"], ...proposal };
        fs.writeFileSync(file, yaml.dump(doc, { lineWidth: 200 }));
        const narrowed = loadModel(file);
        const up = await stack.up({ onOutput: () => undefined });
        expect(up.summary.result).to.equal("succeeded");
        const after = await probe({});
        // 1. The measured matrix equals the narrowed policy (allowed but unserved ports answer "refused").
        const roleOf = new Map(lab.nodes.map((n) => [n.name, n]));
        const mismatches = compareProbe(narrowed, buildPolicy(narrowed), lab, after).filter((m) => {
            const node = roleOf.get(m.row.to);
            const unserved = node && !served(node.role, node.arbiter, m.row.protocol, m.row.port);
            return !(m.expected === "open" && m.row.result === "refused" && unserved);
        });
        expect(mismatches, formatMismatches(mismatches)).to.have.length(0);
        // 2. Every service that answered a source before the narrowing still answers it.
        const key = (r: ProbeResult) => `${r.from}>${r.to}(${r.address}):${r.port}/${r.protocol}`;
        const now = new Map(after.map((r) => [key(r), r.result]));
        const lost = baseline.filter((r) => r.result === "open").filter((r) => now.get(key(r)) !== "open");
        expect(lost.map(key), "services no longer reachable").to.deep.equal([]);
        // 3. And something was narrowed: 27019 was open before (reference), is filtered now.
        const db = lab.nodes.find((n) => n.role === "database")!;
        const app = lab.nodes.find((n) => n.role === "application")!;
        const r27019 = (rows: ProbeResult[]) =>
            rows.find((r) => r.from === app.name && r.to === db.name && r.port === 27019 && r.protocol === "tcp")
                ?.result;
        expect(r27019(baseline)).to.equal("refused");
        expect(r27019(after)).to.equal("filtered");
        log(
            `narrowed with ${JSON.stringify(proposal)}; ${baseline.filter((r) => r.result === "open").length} service answers kept`,
        );
    });
});

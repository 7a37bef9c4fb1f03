// The IPv6-only lab (issue 16 item 1, `up --ipv6-only`) with the real engine: the nodes have IPv6 addresses
// only (no IPv4 on eth0), pinhole provisions them over IPv6 SSH, and the probe's measured matrix equals the
// policy exactly; a second preview shows no changes; destroy gives the nodes back.
import { expect } from "chai";
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { LocalWorkspace, Stack } from "@pulumi/pulumi/automation";
import { labDown, labUp, probe, LabStatus } from "../../lab";
import { familyOf } from "../../lab/probe-plan";
import { NODES_DIR } from "../../lab/state";
import { buildPolicy } from "../../model/policy";
import { ClusterModel } from "../../model/types";
import { parseStackFile } from "../../tools/common/stack-file";
import { PROJECT_ROOT, usePulumiEnv } from "../../tools/common/pulumi-env";
import { compareProbe, familySummary, formatMismatches } from "./helpers/expected";

const log = (m: string) => process.stderr.write(`      · ${m}\n`);
const quiet = { onOutput: () => undefined };
const inNs = (netns: string, args: string[]) =>
    execFileSync("ip", ["-n", netns, ...args], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });

describe("IPv6-only lab (up --ipv6-only) with the real engine", function () {
    this.timeout(1_800_000);
    let lab: LabStatus;
    let cluster: ClusterModel;
    let stack: Stack;
    let sshLog: string;

    before(async () => {
        sshLog = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "pinhole-ipv6-only-")), "ssh.log");
        // boot: false: the IPv6-only lab is process-tier only, even in a run with PINHOLE_LAB_TIER=boot
        lab = await labUp({ model: "modular", ipv6Only: true, boot: false, log, stack: "test-ipv6-only" });
        const parsed = parseStackFile(lab.stackFile!);
        if (!parsed.model)
            throw new Error(`lab stack invalid:\n${parsed.errors.map((e) => `${e.path}: ${e.message}`).join("\n")}`);
        cluster = parsed.model;
        const env = { ...usePulumiEnv(), PINHOLE_SSH_LOG: sshLog };
        stack = await LocalWorkspace.selectStack({ stackName: lab.stack!, workDir: PROJECT_ROOT }, { envVars: env });
    });
    after(async () => {
        await stack?.destroy({ continueOnError: true, ...quiet }).catch(() => undefined);
        await labDown({ log: () => undefined });
    });

    it("gives the nodes IPv6 addresses only: none IPv4 on eth0, the stack lists IPv6 address and ssh.host", () => {
        expect(lab.nodes).to.have.length(8);
        for (const n of lab.nodes) {
            expect(familyOf(n.address), `${n.name} address ${n.address}`).to.equal(6);
            expect(n.address6, n.name).to.equal(undefined);
            expect(inNs(n.netns, ["-4", "addr", "show", "dev", "eth0"]).trim(), `${n.name}: IPv4 on eth0`).to.equal("");
            expect(inNs(n.netns, ["-6", "addr", "show", "dev", "eth0"]), n.name).to.contain(` ${n.address}/64 `);
        }
        for (const n of cluster.nodes) {
            expect(n.address6, n.name).to.equal(undefined);
            expect(n.ssh.host, n.name).to.equal(n.address);
            expect(familyOf(n.address), n.name).to.equal(6);
        }
        // not nodes: vantages and the provisioning host stay dual-stack
        expect(lab.provisioner.address6).to.be.a("string");
        for (const v of lab.vantages) {
            expect(v.address6, v.name).to.be.a("string");
            expect(inNs(v.netns, ["-4", "addr", "show", "dev", "eth0"]), v.name).to.contain(` ${v.address}/`);
        }
        log(`nodes: ${lab.nodes.map((n) => `${n.name} ${n.address}`).join(", ")}; no IPv4 on any node's eth0`);
    });

    it("pulumi up succeeds over IPv6 SSH, and the measured matrix equals the policy exactly", async () => {
        const t0 = Date.now();
        const up = await stack.up({ ...quiet, refresh: true });
        expect(up.summary.result).to.equal("succeeded");
        log(`pulumi up: ${((Date.now() - t0) / 1000).toFixed(1)} s`);
        // every session the provider opened went to a node's IPv6 address, and each node's sshd saw the
        // provisioning host arrive from its IPv6 address
        const hosts = fs
            .readFileSync(sshLog, "utf8")
            .trim()
            .split("\n")
            .map((l) => (JSON.parse(l) as { node: string; host: string }).host);
        expect(hosts.length).to.be.greaterThan(0);
        expect(hosts.filter((h) => familyOf(h) !== 6)).to.deep.equal([]);
        for (const n of lab.nodes) {
            const sshd = fs.readFileSync(path.join(NODES_DIR, n.name, "sshd.log"), "utf8");
            expect(sshd, `${n.name}'s sshd.log`).to.match(
                new RegExp(
                    `Accepted publickey for ${n.sshUser} from ${lab.provisioner.address6!.replace(/\./g, "\\.")} `,
                ),
            );
        }
        log(
            `provider: ${hosts.length} SSH sessions, all to IPv6 addresses; every sshd accepted the provisioning host over IPv6`,
        );

        const policies = buildPolicy(cluster);
        const rows = await probe({});
        const mismatches = compareProbe(cluster, policies, lab, rows);
        const open = rows.filter((r) => r.result === "open").length;
        log(
            `probe: ${rows.length} rows, ${open} open, ${mismatches.length} mismatches; ${familySummary(rows, mismatches)}`,
        );
        expect(mismatches, formatMismatches(mismatches)).to.have.length(0);
        // the nodes have no IPv4: every row is IPv6 (to a node, or from a node to an external), none repeated
        expect(rows.filter((r) => familyOf(r.address) === 4)).to.deep.equal([]);
        const keys = rows.map((r) => `${r.from} ${r.address} ${r.port}/${r.protocol}`);
        expect(new Set(keys).size, "no duplicated rows").to.equal(keys.length);
        expect(open).to.be.greaterThan(0);
        expect(rows.filter((r) => r.result === "filtered").length).to.be.greaterThan(0);
        expect(
            rows.some((r) => !lab.nodes.some((n) => n.name === r.to)),
            "rows toward externals",
        ).to.equal(true);
    });

    it("shows no changes on a second preview", async () => {
        await stack.preview({ expectNoChanges: true, ...quiet });
    });

    it("destroy removes every node's pinhole table", async () => {
        await stack.destroy(quiet);
        for (const n of lab.nodes) {
            const tables = execFileSync("ip", ["netns", "exec", n.netns, "nft", "list", "tables"], {
                encoding: "utf8",
            });
            expect(tables, n.name).to.not.contain("inet pinhole");
        }
    });
});

// Other firewall managers on booted lab nodes, with the real engine (modular lab, booted tier): pinhole finds
// each at `up`; with the default choice (refuse) it applies nothing where a manager's drop would override its
// openings and says which; managers that drop nothing (stock nftables.service, Docker's tables) stay, and a
// restart of nftables.service (flush ruleset!) keeps pinhole's table; with take-over pinhole stops, disables
// and masks the dropping ones, the openings work, and restarting them does not bring their drop back.
import { expect } from "chai";
import * as fs from "fs";
import { LocalWorkspace, Stack } from "@pulumi/pulumi/automation";
import * as yaml from "js-yaml";
import { labDown, labUp, probe, LabStatus } from "../../lab";
import { execInNode } from "../../lab/boot";
import { enableManager, LabManager, managerRestart } from "../../lab/boot-managers";
import { buildPlan } from "../../lab/shapes";
import { parseStackFile } from "../../lib/stack-file";
import { buildPolicy } from "../../model/policy";
import { ClusterModel, NodePolicy } from "../../model/types";
import { PROJECT_ROOT, usePulumiEnv } from "../../lib/pulumi-env";
import { waitForForeignLabHolders } from "../../lib/start-lab";
import { compareProbe, formatMismatches } from "./helpers/expected";

const log = (m: string) => process.stderr.write(`      · ${m}\n`);

const MANAGERS: Record<string, LabManager> = {
    "app-1": "nftables.service", "app-2": "ufw", "app-3": "firewalld", "db-1": "iptables-drop", "db-2": "docker-tables",
};
const DROPPING = ["app-2", "app-3", "db-1"];

describe("booted tier: other firewall managers on the nodes (modular lab, real engine)", function () {
    this.timeout(1_200_000);
    let lab: LabStatus;
    let stack: Stack;
    let cluster: ClusterModel;
    let policies: NodePolicy[];
    let restoreConfig = () => undefined as void;
    const plan = buildPlan({ model: "modular" });
    const node = (name: string) => plan.nodes.find((n) => n.name === name)!;
    const inNode = async (name: string, script: string) => (await execInNode(node(name), ["sh", "-c", script], { timeoutMs: 60_000 }));
    const hasPinholeTable = async (name: string) => (await inNode(name, "nft list table inet pinhole >/dev/null 2>&1 && echo yes || echo no")).stdout.trim() === "yes";

    async function expectMatrix(nodes: string[]): Promise<void> {
        const rows = (await probe({})).filter((r) => nodes.includes(r.to) || nodes.includes(r.from));
        const mismatches = compareProbe(cluster, policies, lab, rows);
        log(`probe (rows touching ${nodes.join(", ")}): ${rows.length} rows, ${mismatches.length} mismatches`);
        expect(mismatches, formatMismatches(mismatches)).to.have.length(0);
    }

    before(async () => {
        const env = usePulumiEnv();
        await waitForForeignLabHolders(log);
        await labDown({ log: () => undefined });
        lab = await labUp({ model: "modular", boot: true, log, stack: "test-boot-managers" });
        const parsed = parseStackFile(lab.stackFile!);
        if (!parsed.model) throw new Error(parsed.errors.map((e: { path: string; message: string }) => `${e.path}: ${e.message}`).join("\n"));
        cluster = parsed.model;
        policies = buildPolicy(cluster);
        stack = await LocalWorkspace.createOrSelectStack({ stackName: lab.stack!, workDir: PROJECT_ROOT }, { envVars: env });
        for (const [n, m] of Object.entries(MANAGERS)) await enableManager(node(n), m);
    });
    after(async () => {
        restoreConfig();
        await stack?.destroy({ onOutput: () => undefined }).catch((e: Error) => log(`destroy: ${e.message.split("\n")[0]}`));
        await labDown({ log: () => undefined });
    });

    it("refuse (default): the nodes with a dropping manager get nothing and the error names each; the others converge", async () => {
        let message = "";
        let out = "";
        try { await stack.up({ refresh: true, onOutput: (o) => { out += o; } }); } catch (e) { message = (e as Error).message; }
        expect(message, "up fails").to.not.equal("");
        for (const n of DROPPING) expect(message, n).to.match(new RegExp(`firewall not applied on node ${n}: `));
        expect(message).to.contain("ufw is enabled").and.contain("firewalld is running").and.contain("iptables rules")
            .and.contain("does not beat a drop").and.contain("otherFirewalls to take-over");
        for (const n of DROPPING) expect(await hasPinholeTable(n), `${n}: nothing applied`).to.equal(false);
        for (const n of ["app-1", "db-2", "db-3", "proxy-1", "proxy-2"]) expect(await hasPinholeTable(n), n).to.equal(true);
        expect(out).to.contain("nftables.service is enabled and /etc/nftables.conf starts with flush ruleset");
        expect(out).to.contain("Docker's tables");
    });

    it("nftables.service (stock flush ruleset) restarted: pinhole's table is back at once; Docker's tables are untouched", async () => {
        const before = (await inNode("app-1", "nft -s list table inet pinhole")).stdout;
        const r = await inNode("app-1", managerRestart("nftables.service"));
        expect(r.code, r.stderr).to.equal(0);
        expect((await inNode("app-1", "nft -s list table inet pinhole")).stdout.replace(/elements = \{[^}]*\}/g, "")).to.equal(before.replace(/elements = \{[^}]*\}/g, ""));
        expect((await inNode("app-1", "nft list tables")).stdout).to.contain("table inet filter");
        const stop = await inNode("app-1", "systemctl stop nftables.service; nft list table inet pinhole >/dev/null && echo kept");
        expect(stop.stdout.trim(), "stop flushes the ruleset; the drop-in loads pinhole's again").to.equal("kept");
        await inNode("app-1", "systemctl start nftables.service");
        const docker = (await inNode("db-2", "iptables -S; iptables -t nat -S")).stdout;
        expect(docker).to.contain("-N DOCKER-USER").and.contain("-P FORWARD DROP").and.contain("-A PREROUTING -m addrtype --dst-type LOCAL -j DOCKER");
        await expectMatrix(["app-1", "db-2"]);
    });

    it("take-over: pinhole applies everywhere, stops and masks the dropping managers; the matrix equals the policy; their restart brings no drop back", async () => {
        const file = lab.stackFile!;
        const original = fs.readFileSync(file, "utf8");
        const doc = yaml.load(original) as { config: Record<string, Record<string, unknown>> };
        doc.config["pinhole:firewall"] = { ...(doc.config["pinhole:firewall"] ?? {}), otherFirewalls: "take-over" };
        fs.writeFileSync(file, yaml.dump(doc, { lineWidth: 200 }));
        restoreConfig = () => fs.writeFileSync(file, original);
        let out = "";
        const up = await stack.up({ refresh: true, onOutput: (o) => { out += o; } });
        expect(up.summary.result).to.equal("succeeded");
        expect(out).to.contain("pinhole stops, disables and masks it");
        for (const n of DROPPING) expect(await hasPinholeTable(n), n).to.equal(true);
        expect((await inNode("app-2", "systemctl is-enabled ufw.service")).stdout.trim()).to.equal("masked");
        expect((await inNode("app-3", "systemctl is-enabled firewalld.service")).stdout.trim()).to.equal("masked");
        expect((await inNode("db-1", "iptables -S INPUT")).stdout).to.contain("-P INPUT ACCEPT");
        await expectMatrix(plan.nodes.map((n) => n.name));
        for (const n of ["app-2", "app-3"]) {
            const r = await inNode(n, managerRestart(MANAGERS[n]));
            expect(r.code, `${n}: restart of a masked manager fails`).to.not.equal(0);
            expect(r.stderr).to.contain("masked");
        }
        await expectMatrix(["app-2", "app-3"]);
    });
});

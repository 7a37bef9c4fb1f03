// The booted tier (every node a systemd-nspawn container booting systemd) with the real engine, on the
// modular lab (all three node types): systemd is running on every node, the measured matrix equals the
// policy after `up`, a real `systemctl reboot` of each node type loads pinhole's ruleset before the network
// and sshd with no forbidden port open at any moment, and a broken persisted ruleset boots into the
// management-only fail-safe ruleset that verify reports and the next up repairs.
import { expect } from "chai";
import * as fs from "fs";
import * as path from "path";
import { LocalWorkspace, Stack } from "@pulumi/pulumi/automation";
import { labDown, labStatus, labUp, probe, reboot, LabStatus } from "../../lab";
import { execInNode } from "../../lab/boot";
import { hammerNode } from "../../lab/boot-probe";
import { NODE_PORTS } from "../../lab/ports";
import { buildPlan, LabNode } from "../../lab/shapes";
import { normaliseListing } from "../../render/nftables";
import { nodeDir } from "../../lab/state";
import { parseStackFile } from "../../tools/common/stack-file";
import { buildPolicy } from "../../model/policy";
import { expectedReachability } from "../../model/reachability";
import { ClusterModel, NodePolicy } from "../../model/types";
import { PROJECT_ROOT, usePulumiEnv } from "../../tools/common/pulumi-env";
import { waitForForeignLabHolders } from "../../tools/start/lab";
import { formatReport } from "../../tools/verify/verify";
import { runVerify } from "../../tools/verify/run";
import { compareProbe, formatMismatches } from "./helpers/expected";
import { managementSources } from "../../components/firewall";
import { cidrContains } from "../../model/net";

const log = (m: string) => process.stderr.write(`      · ${m}\n`);
/** The system state once the boot has finished (`--wait`: under load a node that answers SSH may still be "starting"). */
const SYSTEM_STATE = ["timeout", "120", "systemctl", "is-system-running", "--wait"];
const WAIT = { timeoutMs: 130_000 };
/** Units whose failure is a real failure of the node: pinhole's firewall and what the node is for. */
const ESSENTIAL_UNITS = ["pinhole-firewall.service", "ssh.service", "nginx.service", "pinhole-lab-listener.service"];

describe("booted tier: systemd-nspawn nodes with the real engine (modular lab)", function () {
    this.timeout(1_200_000);
    let lab: LabStatus;
    let stack: Stack;
    let cluster: ClusterModel;
    let policies: NodePolicy[];
    const plan = buildPlan({ model: "modular" });
    const planNode = (name: string): LabNode => plan.nodes.find((n) => n.name === name)!;

    before(async () => {
        const env = usePulumiEnv();
        await waitForForeignLabHolders(log);
        const t0 = Date.now();
        lab = await labUp({ model: "modular", boot: true, log, stack: "test-boot-modular" });
        log(`booted-tier lab up in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
        const parsed = parseStackFile(lab.stackFile!);
        if (!parsed.model) throw new Error(parsed.errors.map((e) => `${e.path}: ${e.message}`).join("\n"));
        cluster = parsed.model;
        policies = buildPolicy(cluster);
        stack = await LocalWorkspace.createOrSelectStack(
            { stackName: lab.stack!, workDir: PROJECT_ROOT },
            { envVars: env },
        );
    });
    after(async () => {
        await stack
            ?.destroy({ onOutput: () => undefined })
            .catch((e: Error) => log(`destroy: ${e.message.split("\n")[0]}`));
        await labDown({ log: () => undefined });
    });

    async function expectMatrix(): Promise<void> {
        const rows = await probe({});
        const mismatches = compareProbe(cluster, policies, await labStatus(), rows);
        log(
            `probe: ${rows.length} rows, ${rows.filter((r) => r.result === "open").length} open, ${mismatches.length} mismatches`,
        );
        expect(mismatches, formatMismatches(mismatches)).to.have.length(0);
    }

    /**
     * The node's boot finished `running`, or `degraded` by units that are neither pinhole's nor a service the node
     * exists for (the issue allows degraded with the reason shown: under load a stock unit such as
     * systemd-user-sessions has failed at random on one of eight containers). The reason and its journal are logged.
     */
    async function expectBooted(n: LabNode): Promise<void> {
        const state = (await execInNode(n, SYSTEM_STATE, WAIT)).stdout.trim();
        if (state === "running") return;
        const failed = (await execInNode(n, ["systemctl", "--failed", "--no-legend", "--plain"])).stdout.trim();
        const units = failed
            .split("\n")
            .map((l) => l.trim().split(/\s+/)[0])
            .filter(Boolean);
        for (const u of units)
            log(
                `${n.name}: ${state}: ${u} failed: ${(await execInNode(n, ["journalctl", "-b", "-u", u, "--no-pager", "-n", "4", "-o", "cat"])).stdout.trim().replace(/\n/g, " | ")}`,
            );
        expect(state, `${n.name}: ${state} ${failed}`).to.equal("degraded");
        expect(
            units.filter((u) => ESSENTIAL_UNITS.includes(u)),
            `${n.name}: essential units failed`,
        ).to.deep.equal([]);
        expect(units, `${n.name}: degraded without a failed unit`).not.to.have.length(0);
    }

    it("every node boots systemd as PID 1 and reaches `running` (or `degraded` by a stock unit, shown)", async () => {
        expect(lab.tier).to.equal("boot");
        for (const n of plan.nodes) {
            await expectBooted(n);
            expect((await execInNode(n, ["cat", "/proc/1/comm"])).stdout.trim(), n.name).to.equal("systemd");
        }
    });

    it("pulumi up: the measured matrix equals the policy", async () => {
        const up = await stack.up({ refresh: true, onOutput: () => undefined });
        expect(up.summary.result).to.equal("succeeded");
        await expectMatrix();
    });

    for (const name of ["app-1", "db-1", "proxy-1"]) {
        it(`systemctl reboot of ${name}: ruleset loaded before network-pre and sshd, no forbidden port open at any moment`, async () => {
            const node = planNode(name);
            const reach = expectedReachability(cluster, policies);
            const client = plan.vantages.find((v) => v.name === "client")!;
            const before = (await execInNode(node, ["nft", "-s", "list", "table", "inet", "pinhole"])).stdout;
            const rebooting = reboot(name, { log });
            const seen = await hammerNode(plan, "client", node, rebooting);
            const boot = await rebooting;
            log(`${name} rebooted in ${boot.ms} ms; ${seen.rounds} probe rounds from the client during the boot`);
            expect(boot.firewall).to.equal("loaded");
            expect(seen.rounds, "the prober ran through the boot").to.be.greaterThan(3);
            const forbidden = seen.open.filter(
                (s) => !reach.inbound({ source: client.address, to: name, protocol: s.protocol, port: s.port }).allowed,
            );
            expect(
                forbidden.map((s) => `${s.port}/${s.protocol} open at +${s.atMs} ms`),
                JSON.stringify(seen.timeline),
            ).to.deep.equal([]);
            // what the policy allows from the client came back (the prober really saw the node boot)
            const allowed = NODE_PORTS.filter(
                (p) => reach.inbound({ source: client.address, to: name, protocol: p.protocol, port: p.port }).allowed,
            );
            const seenOpen = new Set(seen.open.map((s) => `${s.port}/${s.protocol}`));
            expect(
                allowed.filter((p) => !seenOpen.has(`${p.port}/${p.protocol}`)).map((p) => `${p.port}/${p.protocol}`),
                JSON.stringify(seen.timeline),
            ).to.deep.equal([]);
            expect(
                normaliseListing((await execInNode(node, ["nft", "-s", "list", "table", "inet", "pinhole"])).stdout),
            ).to.equal(normaliseListing(before));
            // systemd's own record of this boot: when each unit became active / started (monotonic µs)
            const when = async (unit: string, prop: string) =>
                Number(
                    /=(\d+)/.exec((await execInNode(node, ["systemctl", "show", "-p", prop, unit])).stdout)?.[1] ?? NaN,
                );
            const fw = await when("pinhole-firewall.service", "ActiveEnterTimestampMonotonic");
            const netPre = await when("network-pre.target", "ActiveEnterTimestampMonotonic");
            const sshd = await when("ssh.service", "InactiveExitTimestampMonotonic");
            const nginx = await when("nginx.service", "InactiveExitTimestampMonotonic");
            const listener = await when("pinhole-lab-listener.service", "InactiveExitTimestampMonotonic");
            log(
                `${name} boot (µs since boot): pinhole-firewall active ${fw}, network-pre.target ${netPre}, ssh start ${sshd}, nginx start ${nginx}, listener start ${listener}`,
            );
            expect(fw, "pinhole's unit ran").to.be.greaterThan(0);
            expect(netPre, "network-pre.target after pinhole's unit").to.be.at.least(fw);
            for (const [what, t] of [
                ["sshd", sshd],
                ["nginx", nginx],
                ["listener", listener],
            ] as const)
                expect(t, `${what} starts after pinhole's unit`).to.be.greaterThan(fw);
            // and the boot messages (console) of this boot say it in that order
            const consoleLog = fs.readFileSync(path.join(nodeDir(name), "boot", "console.log"), "utf8");
            const thisBoot = consoleLog
                .slice(Math.max(0, consoleLog.lastIndexOf("supervisor: ")))
                .replace(/\x1b\[[0-9;]*m/g, "");
            const at = (re: RegExp) => thisBoot.search(re);
            // (the console shortens long unit names: "pinhole-firewall.…")
            expect(at(/Finished pinhole-firewall/), "console shows pinhole's unit").to.be.greaterThan(-1);
            expect(at(/Reached target network-pre/)).to.be.greaterThan(at(/Finished pinhole-firewall/));
            expect(at(/Starting ssh\.service/)).to.be.greaterThan(at(/Reached target network-pre/));
            await expectBooted(node);
        });
    }

    it("a broken persisted ruleset boots into the management-only fail-safe; verify reports it; the next up restores it", async () => {
        const node = planNode("db-2");
        const file = path.join(nodeDir(node.name), "etc", "pinhole", "firewall.nft");
        const good = fs.readFileSync(file, "utf8");
        fs.writeFileSync(file, good.slice(0, Math.floor(good.length / 2)) + "\nthis is not nft\n");
        const boot = await reboot(node.name, { log });
        expect(boot.firewall).to.equal("failed");
        expect((await execInNode(node, ["cat", "/run/pinhole/boot-state"])).stdout.trim()).to.equal("failsafe");
        const state = (await execInNode(node, SYSTEM_STATE, WAIT)).stdout.trim();
        const failed = (await execInNode(node, ["systemctl", "--failed", "--no-legend", "--plain"])).stdout.trim();
        log(`db-2 after a broken boot: ${state} (${failed})`);
        expect(state).to.equal("degraded");
        expect(failed).to.contain("pinhole-firewall.service");
        // management SSH from the provisioning host works; from elsewhere only the management SSH port answers, and only
        // to the sources the policy allows on it (under the reference profile that includes cluster nodes: ssh & sftp)
        const fromProvisioner = await probe({ from: ["provisioner"], to: ["db-2"] });
        expect(fromProvisioner.find((r) => r.port === 22 && r.protocol === "tcp")?.result).to.equal("open");
        const management = new Set(managementSources(policies.find((p) => p.node.name === "db-2")!));
        const status = await labStatus();
        const addressOf = (name: string) =>
            status.nodes.find((n) => n.name === name)?.address ?? plan.vantages.find((v) => v.name === name)!.address;
        const fromOthers = await probe({ from: ["client", "app-1"], to: ["db-2"] });
        const expectedOpen = ["client", "app-1"]
            .filter((s) => [...management].some((m) => cidrContains(m, addressOf(s))))
            .map((s) => `${s} 22/tcp`);
        expect(
            fromOthers
                .filter((r) => r.result === "open")
                .map((r) => `${r.from} ${r.port}/${r.protocol}`)
                .sort(),
        ).to.deep.equal(expectedOpen.sort());
        expect(expectedOpen, "the client network is not a management source").not.to.include("client 22/tcp");

        const report = await runVerify({ stack: lab.stack!, log: () => undefined });
        const text = formatReport(report);
        expect(text).to.contain("db-2").and.contain("fail-safe");

        const up = await stack.up({ refresh: true, onOutput: () => undefined });
        expect(up.summary.result).to.equal("succeeded");
        expect(fs.readFileSync(file, "utf8")).to.equal(good);
        await expectMatrix();
        const again = await runVerify({ stack: lab.stack!, log: () => undefined });
        expect(formatReport(again)).not.to.contain("fail-safe");
    });
});

// The booted tier (every node a systemd-nspawn container booting systemd) with the real engine, on the
// modular lab (all three node types): systemd is running on every node, the measured matrix equals the
// policy after `up`, a real `systemctl reboot` of each node type loads pinhole's ruleset before the network
// and sshd with no forbidden port open at any moment, and a broken persisted ruleset boots into the
// management-only fail-safe ruleset that verify reports and the next up repairs.
// (The other models, and a reboot in the middle of `pulumi up`: boot-models.test.ts.)
import { expect } from "chai";
import * as fs from "fs";
import * as path from "path";
import { labDown, labStatus, probe, reboot } from "../../lab";
import { execInNode } from "../../lab/boot";
import { nodeDir } from "../../lab/state";
import { formatReport } from "../../tools/verify";
import { runVerify } from "../../tools/verify/run";
import { managementSources } from "../../model/policy";
import { cidrContains } from "../../model/net";
import {
    bootLab,
    BootLab,
    expectAllBooted,
    expectMatrix,
    log,
    rebootUnderProbe,
    SYSTEM_STATE,
    WAIT,
} from "./helpers/boot";

describe("booted tier: systemd-nspawn nodes with the real engine (modular lab)", function () {
    this.timeout(1_200_000);
    let b: BootLab;

    before(async () => {
        b = await bootLab("modular", "test-boot-modular");
    });
    after(async () => {
        await b?.stack
            .destroy({ onOutput: () => undefined })
            .catch((e: Error) => log(`destroy: ${e.message.split("\n")[0]}`));
        await labDown({ log: () => undefined });
    });

    it("every node boots systemd as PID 1 and reaches `running` (or `degraded` by a stock unit, shown)", async () => {
        await expectAllBooted(b);
    });

    it("pulumi up: the measured matrix equals the policy", async () => {
        const up = await b.stack.up({ refresh: true, onOutput: () => undefined });
        expect(up.summary.result).to.equal("succeeded");
        await expectMatrix(b);
    });

    for (const name of ["app-1", "db-1", "proxy-1"]) {
        it(`systemctl reboot of ${name}: ruleset loaded before network-pre and sshd, no forbidden port open at any moment`, async () => {
            await rebootUnderProbe(b, name);
        });
    }

    it("a broken persisted ruleset boots into the management-only fail-safe; verify reports it; the next up restores it", async () => {
        const node = b.node("db-2");
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
        const management = new Set(managementSources(b.policies.find((p) => p.node.name === "db-2")!));
        const status = await labStatus();
        const addressOf = (name: string) =>
            status.nodes.find((n) => n.name === name)?.address ?? b.plan.vantages.find((v) => v.name === name)!.address;
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

        const report = await runVerify({ stack: b.lab.stack!, log: () => undefined });
        const text = formatReport(report);
        expect(text).to.contain("db-2").and.contain("fail-safe");

        const up = await b.stack.up({ refresh: true, onOutput: () => undefined });
        expect(up.summary.result).to.equal("succeeded");
        expect(fs.readFileSync(file, "utf8")).to.equal(good);
        await expectMatrix(b);
        const again = await runVerify({ stack: b.lab.stack!, log: () => undefined });
        expect(formatReport(again)).not.to.contain("fail-safe");
    });
});

// The booted tier on the other lab models (standalone, unified, multisite; modular is boot.test.ts), and a node
// rebooted in the middle of `pulumi up` (issue 17 item 4), with the real engine:
//   - every model boots systemd on every node and the measured matrix equals the policy after `up` (multisite
//     dual-stack: every row in both families);
//   - a reboot of a dc2 node behind the multisite NAT, under the boot-time prober;
//   - a node that reboots after pinhole applied its new ruleset and before pinhole confirmed it (the provider is
//     held, SIGSTOP, at the moment the apply starts; the node finishes the apply; then a real `systemctl reboot`):
//     the node boots its persisted, previous ruleset (never none), the up fails naming the node and saying
//     so, and the next plain `up` converges;
//   - a node that reboots after the confirmation saved the new ruleset and before the provider heard back: it
//     boots the new ruleset, the up completes, and the next preview has nothing to do.
import { expect } from "chai";
import * as fs from "fs";
import * as path from "path";
import { labDown, reboot, BootResult } from "../../lab";
import { containerLeader } from "../../lab/boot";
import { LabNode } from "../../lab/shapes";
import { nodeDir } from "../../lab/state";
import {
    bootLab,
    BootLab,
    expectAllBooted,
    expectMatrix,
    freeze,
    liveTable,
    log,
    ownProviderPids,
    rebootUnderProbe,
} from "./helpers/boot";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const quiet = { onOutput: () => undefined };
/** The rules logDrops adds: the new ruleset of these tests (logDrops: false) has none. */
const DROP_LOG = /pinhole drop in/;
const persistedFile = (n: LabNode) => path.join(nodeDir(n.name), "etc", "pinhole", "firewall.nft");

function runFiles(n: LabNode): string[] {
    try {
        return fs.readdirSync(`/proc/${containerLeader(n)}/root/run/pinhole`);
    } catch {
        return [];
    }
}

const applying = (n: LabNode) => runFiles(n).some((f) => /^firewall\..+\.nft$/.test(f));

/**
 * Runs `pulumi up` and reboots `victim` in its middle, holding the provider (SIGSTOP) from a moment it cannot have
 * gone past yet until the node has rebooted:
 *   "applied": held when the victim's apply starts (its run file appears); the node finishes the apply on its own
 *     (the new table live, the rollback timer armed), then reboots before any confirmation;
 *   "confirmed": held when the confirmation has persisted the new ruleset; the node finishes the confirmation
 *     on its own, then reboots before the provider has read its answer.
 * Resolves with the up's error text ("" when it succeeded), the boot, and the table the node booted with.
 */
async function upWithRebootAt(
    b: BootLab,
    victim: LabNode,
    step: "applied" | "confirmed",
): Promise<{ failure: string; boot: BootResult; tableAtBoot: string }> {
    let out = "";
    let settled = false;
    const running = b.stack
        .up({
            onOutput: (s) => {
                out += s;
            },
        })
        .then(
            () => "",
            (e: Error) => `${e.message}\n${out}`,
        )
        .finally(() => {
            settled = true;
        });
    try {
        const old = fs.readFileSync(persistedFile(victim), "utf8");
        const hold = () =>
            step === "applied" ? applying(victim) : fs.readFileSync(persistedFile(victim), "utf8") !== old;
        const reached = async () =>
            step === "applied"
                ? runFiles(victim).some((f) => f.startsWith("timer.")) && !DROP_LOG.test(await liveTable(victim))
                : !applying(victim);
        let providers: number[] = [];
        let lastScan = 0;
        while (!hold()) {
            if (settled)
                throw new Error(
                    `up ended before ${victim.name} was ${step === "applied" ? "applying" : "confirming"}:\n${await running}`,
                );
            if (!providers.length && Date.now() - lastScan > 100) {
                providers = ownProviderPids();
                lastScan = Date.now();
            }
            await sleep(2);
        }
        const resume = freeze(providers.length ? providers : ownProviderPids());
        try {
            const t0 = Date.now();
            while (!(await reached())) {
                if (Date.now() - t0 > 60_000)
                    throw new Error(
                        `${victim.name} did not get to "${step}" within 60 s (run files: ${runFiles(victim).join(" ")})`,
                    );
                await sleep(20);
            }
            log(`${victim.name}: provider held; the node got to "${step}" after ${Date.now() - t0} ms: rebooting it`);
            const boot = await reboot(victim.name, { log });
            const tableAtBoot = await liveTable(victim);
            resume();
            return { failure: await running, boot, tableAtBoot };
        } finally {
            resume();
        }
    } finally {
        await running;
    }
}

describe("booted tier: standalone, unified and multisite, and a reboot in the middle of pulumi up (real engine)", function () {
    this.timeout(1_800_000);
    after(async () => {
        await labDown({ log: () => undefined });
    });

    describe("standalone", () => {
        let b: BootLab;
        before(async () => {
            b = await bootLab("standalone", "test-boot-standalone");
        });
        after(async () => {
            await b?.stack.destroy(quiet).catch((e: Error) => log(`destroy: ${e.message.split("\n")[0]}`));
        });

        it("boots systemd, and after pulumi up the measured matrix equals the policy", async () => {
            await expectAllBooted(b);
            expect((await b.stack.up(quiet)).summary.result).to.equal("succeeded");
            await expectMatrix(b);
        });
    });

    describe("unified (two sites)", () => {
        let b: BootLab;
        before(async () => {
            b = await bootLab("unified", "test-boot-unified");
        });
        after(async () => {
            await b?.stack.destroy(quiet).catch((e: Error) => log(`destroy: ${e.message.split("\n")[0]}`));
        });

        it("every node boots systemd; after pulumi up the measured matrix equals the policy", async () => {
            await expectAllBooted(b);
            expect((await b.stack.up(quiet)).summary.result).to.equal("succeeded");
            await expectMatrix(b);
        });

        it("rebooted between apply and confirmation: boots the previous ruleset, up fails naming the node, the next up converges", async () => {
            const victim = b.node("unified-2");
            const old = await liveTable(victim);
            const oldPersisted = fs.readFileSync(persistedFile(victim), "utf8");
            expect(old).to.match(DROP_LOG);
            // every node's ruleset changes; a long rollback window, so that holding the provider rolls no other node back
            await b.stack.setConfig("pinhole:firewall.logDrops", { value: "false" }, true);
            await b.stack.setConfig("pinhole:firewall.rollbackSeconds", { value: "120" }, true);
            const { failure, boot, tableAtBoot } = await upWithRebootAt(b, victim, "applied");
            expect(boot.firewall).to.equal("loaded");
            expect(tableAtBoot, "the node booted its persisted, previous ruleset").to.equal(old);
            expect(fs.readFileSync(persistedFile(victim), "utf8")).to.equal(oldPersisted);
            log(`up: ${failure.split("\n").find((l) => l.includes("NOT confirmed")) ?? failure.slice(0, 300)}`);
            expect(failure, "up failed").not.to.equal("");
            expect(failure).to.match(
                /firewall on node unified-2 NOT confirmed: the node rebooted [^\n]*its boot loaded the persisted ruleset[^\n]*the previous confirmed one/,
            );
            expect(failure).not.to.contain("cut the management SSH path");

            const up = await b.stack.up(quiet);
            expect(up.summary.result).to.equal("succeeded");
            expect(await liveTable(victim), "the new ruleset is live")
                .not.to.match(DROP_LOG)
                .and.not.to.equal("");
            expect(fs.readFileSync(persistedFile(victim), "utf8"), "and persisted for boot").not.to.match(DROP_LOG);
            const again = await b.stack.preview(quiet);
            expect(
                Object.keys(again.changeSummary).filter((k) => k !== "same"),
                JSON.stringify(again.changeSummary),
            ).to.deep.equal([]);
            await expectMatrix(b);
        });
    });

    describe("multisite, dual-stack (dc2 behind 1:1 NAT for IPv4, routed for IPv6)", () => {
        let b: BootLab;
        before(async () => {
            b = await bootLab("multisite", "test-boot-multisite", { ipv6: true });
        });
        after(async () => {
            await b?.stack.destroy(quiet).catch((e: Error) => log(`destroy: ${e.message.split("\n")[0]}`));
        });

        it("every node boots systemd; after pulumi up the measured matrix equals the policy", async () => {
            await expectAllBooted(b);
            expect((await b.stack.up(quiet)).summary.result).to.equal("succeeded");
            await expectMatrix(b);
        });

        it("systemctl reboot of a dc2 node behind the NAT: ruleset loaded first, no forbidden port open at any moment", async () => {
            await rebootUnderProbe(b, "unified-3");
        });

        it("rebooted after the confirmation saved the new ruleset, before pinhole heard back: boots it, up completes, nothing left to do", async () => {
            const victim = b.node("unified-3");
            expect(await liveTable(victim)).to.match(DROP_LOG);
            await b.stack.setConfig("pinhole:firewall.logDrops", { value: "false" }, true);
            await b.stack.setConfig("pinhole:firewall.rollbackSeconds", { value: "120" }, true);
            const { failure, boot, tableAtBoot } = await upWithRebootAt(b, victim, "confirmed");
            expect(boot.firewall).to.equal("loaded");
            expect(tableAtBoot, "the node booted the new ruleset").not.to.match(DROP_LOG).and.not.to.equal("");
            expect(failure, "up completed").to.equal("");
            const again = await b.stack.preview(quiet);
            expect(
                Object.keys(again.changeSummary).filter((k) => k !== "same"),
                JSON.stringify(again.changeSummary),
            ).to.deep.equal([]);
            await expectMatrix(b);
        });
    });
});

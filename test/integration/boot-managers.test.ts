// Other firewall managers on booted nodes (issue 17 item 3), with the real engine on ONE modular boot lab:
// each manager of LAB_MANAGERS is turned on on its own node (lab/boot-managers.ts), then
//   refuse (the default): `pulumi up` fails on the nodes whose manager drops what pinhole opens, naming the
//     node and the manager, and changes nothing there; the managers that drop nothing pinhole opens (stock
//     nftables.service, Docker's tables) are reported and the node gets pinhole's table;
//   take-over: `up` succeeds, the measured matrix equals the policy on every node, and a restart of each
//     manager leaves pinhole's rules in place (masked managers stay off; nftables.service's stock
//     `flush ruleset` is followed by pinhole's drop-in reload). When that stock config is loaded outside
//     the unit (`nft -f /etc/nftables.conf` by hand), verify flags the missing table and the next up repairs it.
//   Docker's chains are still there after pinhole applies. Container traffic itself cannot run here: docker.io
//   needs a container runtime that an nspawn node cannot give it, so its table layout is reproduced.
import { expect } from "chai";
import { labDown } from "../../lab";
import { execInNode } from "../../lab/boot";
import { enableManager, LAB_MANAGERS, LabManager, managerRestart } from "../../lab/boot-managers";
import { LabNode } from "../../lab/shapes";
import { normaliseListing } from "../../render/nftables";
import { formatReport } from "../../tools/verify";
import { runVerify } from "../../tools/verify/run";
import { detectScript, findings, parseDetection } from "../../remote/coexist";
import { bootLab, BootLab, expectMatrix, log } from "./helpers/boot";

/**
 * A node's firewall state: the whole ruleset and pinhole's firewall files and unit. (Not all of /etc/pinhole: with
 * --continue-on-error the node's web server still gets its certificate, in /etc/pinhole/web, when its firewall is refused.)
 */
const FIREWALL_STATE =
    "nft -s list ruleset; ls /etc/pinhole/firewall.nft /etc/pinhole/firewall.owner /etc/pinhole/failsafe.nft /etc/pinhole/load-firewall /etc/systemd/system/pinhole-firewall.service 2>&1";

/** One manager per node (the nodes not listed carry none). */
const PLACEMENT: Record<LabManager, string> = {
    "nftables.service": "app-1",
    ufw: "app-2",
    firewalld: "db-1",
    "iptables-drop": "db-2",
    "docker-tables": "proxy-1",
};
/** What pinhole's detection calls each lab manager, and whether its drop is in the way of pinhole's openings. */
const EXPECT: Record<LabManager, { manager: string; blocks: boolean }> = {
    "nftables.service": { manager: "nftables.service", blocks: false },
    ufw: { manager: "ufw", blocks: true },
    firewalld: { manager: "firewalld", blocks: true },
    "iptables-drop": { manager: "iptables", blocks: true },
    "docker-tables": { manager: "docker", blocks: false },
};

describe("booted tier: other firewall managers, refused or taken over (modular lab, real engine)", function () {
    this.timeout(1_500_000);
    let b: BootLab;
    const planNode = (name: string): LabNode => b.node(name);
    const nodeOf = (m: LabManager) => planNode(PLACEMENT[m]);
    const sh = async (n: LabNode, script: string) =>
        execInNode(n, ["sh", "-c", script], { allowFail: true, timeoutMs: 60_000 });
    const detect = async (n: LabNode) => findings(parseDetection((await sh(n, detectScript())).stdout));
    const pinholeTable = async (n: LabNode) =>
        (await sh(n, "nft list table inet pinhole >/dev/null 2>&1 && echo present || echo absent")).stdout.trim();

    before(async () => {
        expect(Object.keys(PLACEMENT).sort(), "every lab manager is placed").to.deep.equal([...LAB_MANAGERS].sort());
        // (a stack left over from an earlier run starts without take-over: bootLab removes the tests' settings)
        b = await bootLab("modular", "test-boot-managers");
        for (const m of LAB_MANAGERS) {
            await enableManager(nodeOf(m), m);
            log(`${m} on ${nodeOf(m).name}`);
        }
    });
    after(async () => {
        await b?.stack
            .destroy({ onOutput: () => undefined })
            .catch((e: Error) => log(`destroy: ${e.message.split("\n")[0]}`));
        await labDown({ log: () => undefined });
    });

    it("pinhole's detection names each manager on its node, and which of them drop what pinhole opens", async () => {
        for (const m of LAB_MANAGERS) {
            const found = await detect(nodeOf(m));
            log(
                `${nodeOf(m).name} (${m}): ${found.map((f) => `${f.manager}${f.blocks ? " BLOCKS" : ""}: ${f.what}`).join("; ")}`,
            );
            const f = found.find((x) => x.manager === EXPECT[m].manager);
            expect(f, `${nodeOf(m).name}: ${m} detected`).to.exist;
            expect(f!.blocks, `${nodeOf(m).name}: ${m} blocks`).to.equal(EXPECT[m].blocks);
        }
        // a node with no manager has no finding
        expect(await detect(planNode("app-3"))).to.deep.equal([]);
    });

    it("refuse (default): up fails on the blocking managers' nodes, naming node and manager, and changes nothing there", async () => {
        const blocking = LAB_MANAGERS.filter((m) => EXPECT[m].blocks);
        const before = new Map<string, string>();
        for (const m of blocking) before.set(m, (await sh(nodeOf(m), FIREWALL_STATE)).stdout);
        let out = "";
        let failure = "";
        try {
            // --continue-on-error: without it the engine starts nothing after the first refusal, and the nodes that
            // must get pinhole's table might not have started yet
            await b.stack.up({
                refresh: true,
                continueOnError: true,
                onOutput: (s) => {
                    out += s;
                },
            });
        } catch (e) {
            failure = `${(e as Error).message}\n${out}`;
        }
        expect(failure, "up failed").not.to.equal("");
        for (const m of blocking) {
            const n = nodeOf(m);
            expect(failure, `${n.name}/${m}`).to.match(
                new RegExp(`firewall not applied on node ${n.name}: [^\\n]*${EXPECT[m].manager}`),
            );
            const now = (await sh(n, FIREWALL_STATE)).stdout;
            const was = before.get(m)!;
            if (now !== was) {
                const [a, b] = [new Set(was.split("\n")), new Set(now.split("\n"))];
                log(
                    `${n.name} changed: - ${[...a].filter((l) => !b.has(l)).join(" | ")} + ${[...b].filter((l) => !a.has(l)).join(" | ")}`,
                );
            }
            expect(now, `${n.name}: nothing changed`).to.equal(was);
            expect(await pinholeTable(n)).to.equal("absent");
        }
        // the others are reported (not refused) and got pinhole's table
        for (const m of LAB_MANAGERS.filter((x) => !EXPECT[x].blocks)) {
            const n = nodeOf(m);
            expect(failure, `${n.name} not refused`).not.to.contain(`firewall not applied on node ${n.name}`);
            expect(out, `${n.name}: ${m} reported`).to.match(
                new RegExp(
                    `${n.name}: ${m === "docker-tables" ? "Docker's tables" : "nftables.service is enabled"}[^\\n]*left`,
                ),
            );
            expect(await pinholeTable(n), n.name).to.equal("present");
        }
        for (const name of ["app-3", "db-3", "proxy-2"])
            expect(await pinholeTable(planNode(name)), name).to.equal("present");
    });

    it("take-over: up succeeds and the measured matrix equals the policy on every node", async () => {
        await b.stack.setConfig("pinhole:firewall.otherFirewalls", { value: "take-over" }, true);
        let out = "";
        const up = await b.stack.up({
            refresh: true,
            onOutput: (s) => {
                out += s;
            },
        });
        expect(up.summary.result).to.equal("succeeded");
        for (const m of LAB_MANAGERS.filter((x) => EXPECT[x].blocks)) {
            expect(out, `${m} taken over`).to.match(
                new RegExp(`${nodeOf(m).name}: [^\\n]*take-over, so once pinhole's ruleset is confirmed`),
            );
            const left = (await detect(nodeOf(m))).filter((f) => f.blocks);
            expect(
                left.map((f) => f.what),
                `${nodeOf(m).name}: nothing blocks after take-over`,
            ).to.deep.equal([]);
        }
        for (const n of b.plan.nodes) expect(await pinholeTable(n), n.name).to.equal("present");
        await expectMatrix(b);
    });

    it("a restart of each manager leaves pinhole's rules in place (masked, or reloaded by pinhole's drop-in)", async () => {
        for (const m of LAB_MANAGERS) {
            const n = nodeOf(m);
            const before = normaliseListing((await sh(n, "nft -s list table inet pinhole")).stdout);
            const r = await sh(n, managerRestart(m));
            const state = (
                await sh(
                    n,
                    `systemctl is-enabled ${m === "iptables-drop" ? "netfilter-persistent" : m === "docker-tables" ? "docker" : m.replace(/\.service$/, "")}.service 2>&1`,
                )
            ).stdout.trim();
            log(
                `${n.name}: ${managerRestart(m)}: exit ${r.code} ${(r.stderr || r.stdout).trim().split("\n")[0] ?? ""}; unit ${state}`,
            );
            if (m === "ufw" || m === "firewalld") {
                expect(r.code, `${m} is masked: its restart is refused`).not.to.equal(0);
                expect(state).to.equal("masked");
            }
            if (m === "nftables.service") expect(r.code, "nftables.service restarts").to.equal(0);
            expect(before, `${n.name}: pinhole's table before`).not.to.equal("");
            expect(
                normaliseListing((await sh(n, "nft -s list table inet pinhole")).stdout),
                `${n.name}: pinhole's table after ${m} restart`,
            ).to.equal(before);
            expect(
                (await detect(n)).filter((f) => f.blocks).map((f) => f.what),
                `${n.name}: nothing blocks after the restart`,
            ).to.deep.equal([]);
        }
        await expectMatrix(b);
    });

    it("nftables.service's stock config loaded by hand (flush ruleset): verify flags the missing table; the next up repairs it", async () => {
        const n = nodeOf("nftables.service");
        const conf = (await sh(n, "cat /etc/nftables.conf")).stdout;
        expect(conf).to.match(/^\s*flush ruleset/m);
        const r = await sh(n, "nft -f /etc/nftables.conf");
        expect(r.code, r.stderr).to.equal(0);
        expect(await pinholeTable(n)).to.equal("absent");
        const report = formatReport(await runVerify({ stack: b.lab.stack!, log: () => undefined }));
        log(
            `verify: ${report
                .split("\n")
                .filter((l) => l.includes(n.name))
                .slice(0, 3)
                .join(" | ")}`,
        );
        expect(report).to.match(
            new RegExp(`${n.name}[^\\n]*pinhole's table is missing|pinhole's table is missing[^\\n]*`),
        );
        expect(report).to.contain(n.name);
        const up = await b.stack.up({ refresh: true, onOutput: () => undefined });
        expect(up.summary.result).to.equal("succeeded");
        expect(await pinholeTable(n)).to.equal("present");
        expect(formatReport(await runVerify({ stack: b.lab.stack!, log: () => undefined }))).not.to.contain(
            "pinhole's table is missing",
        );
        await expectMatrix(b);
    });

    it("Docker's tables keep their chains after pinhole applies (container traffic cannot run in an nspawn node)", async () => {
        const n = nodeOf("docker-tables");
        const filter = (await sh(n, "iptables -S")).stdout;
        const nat = (await sh(n, "iptables -t nat -S")).stdout;
        for (const c of ["DOCKER", "DOCKER-USER", "DOCKER-ISOLATION-STAGE-1", "DOCKER-ISOLATION-STAGE-2"])
            expect(filter, c).to.contain(`-N ${c}`);
        expect(filter).to.contain("-P FORWARD DROP").and.contain("-A FORWARD -j DOCKER-USER");
        expect(nat).to.contain("-N DOCKER").and.contain("MASQUERADE");
        expect(await pinholeTable(n)).to.equal("present");
    });
});

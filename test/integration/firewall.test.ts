// Node firewalls on the lab, with the real engine: for every deployment model the measured
// reachability matrix must equal the policy's, exactly. On the modular lab also: no-op re-runs,
// only affected nodes re-applied, anti-lockout, a node down during `up`, drift, reboot, destroy.
import { expect } from "chai";
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { EngineEvent, LocalWorkspace, Stack } from "@pulumi/pulumi/automation";
import * as yaml from "js-yaml";
import { labDown, labStatus, labUp, NODE_PORTS, probe, reboot, LabStatus, ProbeResult } from "../../lab";
import { parseStackFile } from "../../tools/common/stack-file";
import { buildPolicy } from "../../model/policy";
import { ClusterModel, NodePolicy } from "../../model/types";
import { normaliseListing, renderRuleset } from "../../render/nftables";
import { applyFirewall } from "../../provider/firewall";
import { managementSources } from "../../model/policy";
import { connectionOf } from "../../remote/connection";
import { PROJECT_ROOT, usePulumiEnv } from "../../tools/common/pulumi-env";
import { compareProbe, familySummary, formatMismatches } from "./helpers/expected";
import { familyOf } from "../../lab/probe-plan";
import { literalPolicies } from "../unit/helpers/literal-reading";

const log = (m: string) => process.stderr.write(`      · ${m}\n`);

/** The error lines of a failed engine run (the full output is long; these say what went wrong). */
const errorLines = (message: string) =>
    message
        .split("\n")
        .filter((l) => /error|fail/i.test(l))
        .slice(0, 30)
        .join("\n");

function loadModel(stackFile: string): ClusterModel {
    const parsed = parseStackFile(stackFile);
    if (!parsed.model)
        throw new Error(
            `lab stack ${stackFile} is invalid:\n${parsed.errors.map((e) => `${e.path}: ${e.message}`).join("\n")}`,
        );
    return parsed.model;
}

/** Names of pinhole:node:Firewall resources the engine touched with `op` (from the event stream). */
function firewallsWith(events: EngineEvent[], op: string): string[] {
    return events
        .filter(
            (e) =>
                e.resourcePreEvent?.metadata.type === "pinhole:node:Firewall" && e.resourcePreEvent.metadata.op === op,
        )
        .map((e) =>
            e
                .resourcePreEvent!.metadata.urn.split("::")
                .pop()!
                .replace(/-firewall-nft$/, ""),
        )
        .sort();
}

/**
 * Edits the test stack's file (the engine reads it on every operation) and returns the undo. Used instead
 * of `config set --path`, which stores a JSON list as a string.
 */
function editConfig(stackFile: string, edit: (config: Record<string, any>) => void): () => void {
    // any: YAML as written
    const original = fs.readFileSync(stackFile, "utf8");
    const doc = yaml.load(original) as { config: Record<string, any> };
    edit(doc.config);
    fs.writeFileSync(stackFile, yaml.dump(doc, { lineWidth: 200 }));
    return () => fs.writeFileSync(stackFile, original);
}

function liveTable(lab: LabStatus, node: string): string {
    const ns = lab.nodes.find((n) => n.name === node)!.netns;
    try {
        // Normalised: rate-limit meters (dynamic set elements) are state, not rules.
        return normaliseListing(
            execFileSync("ip", ["netns", "exec", ns, "nft", "-s", "list", "table", "inet", "pinhole"], {
                encoding: "utf8",
                stdio: ["ignore", "pipe", "ignore"],
            }),
        );
    } catch {
        return "";
    }
}

function nodeSshWorks(lab: LabStatus, node: string): boolean {
    const n = lab.nodes.find((x) => x.name === node)!;
    const kh = path.join(PROJECT_ROOT, ".lab", "firewall-test-known_hosts");
    fs.writeFileSync(kh, `${n.sshHost} ${n.hostKey}\n`);
    try {
        execFileSync(
            "ssh",
            [
                "-i",
                lab.sshKey,
                "-o",
                "BatchMode=yes",
                "-o",
                "StrictHostKeyChecking=yes",
                "-o",
                `UserKnownHostsFile=${kh}`,
                "-o",
                "ConnectTimeout=5",
                "-p",
                String(n.sshPort),
                `${n.sshUser}@${n.sshHost}`,
                "true",
            ],
            { stdio: "ignore", timeout: 15_000 },
        );
        return true;
    } catch {
        return false;
    }
}

async function expectMatrix(model: ClusterModel, policies: NodePolicy[], lab: LabStatus): Promise<ProbeResult[]> {
    const rows = await probe({});
    const mismatches = compareProbe(model, policies, lab, rows);
    const open = rows.filter((r) => r.result === "open").length;
    log(
        `probe: ${rows.length} rows, ${open} open, ${rows.length - open} filtered/refused, ${mismatches.length} mismatches`,
    );
    log(`probe: ${familySummary(rows, mismatches)}`);
    expect(mismatches, formatMismatches(mismatches)).to.have.length(0);
    // dual-stack lab: both families measured, and in each some openings open and some rows blocked
    for (const f of [4, 6]) {
        const rs = rows.filter((r) => familyOf(r.address) === f);
        expect(rs.filter((r) => r.result === "open").length, `IPv${f} rows open`).to.be.greaterThan(0);
        expect(rs.filter((r) => r.result === "filtered").length, `IPv${f} rows filtered`).to.be.greaterThan(0);
    }
    // The default (reference) profile: the measured matrix is also a literal reading of every table
    // (test/unit/helpers/literal-reading.ts, written from the reference text, not from model code).
    if ((model.firewall.profile ?? "reference") === "reference" && !Object.keys(model.firewall.narrow ?? {}).length) {
        const literal = compareProbe(model, literalPolicies(model), lab, rows);
        expect(literal, `against the literal reading:\n${formatMismatches(literal)}`).to.have.length(0);
        log("probe: equals the literal reading of every table");
    }
    return rows;
}

function inNs(netns: string, args: string[]): string {
    return execFileSync("ip", ["netns", "exec", netns, ...args], { encoding: "utf8" });
}

/**
 * ICMPv6 neighbour discovery under default-deny: every node's and the provisioning host's IPv6 neighbour
 * cache is flushed (the lab sets no static IPv6 neighbours), then the provisioning host and every node reach
 * the nodes over IPv6 on SSH as the policy says, and the peers were learnt by ND. Control: a node whose firewall drops neighbour solicitations is cut off
 * over IPv6 while IPv4 still reaches it.
 */
async function expectNeighbourDiscovery(model: ClusterModel, policies: NodePolicy[], lab: LabStatus): Promise<void> {
    const flush = () => {
        for (const n of lab.nodes) inNs(n.netns, ["ip", "-6", "neigh", "flush", "all"]);
    };
    flush();
    const ssh = NODE_PORTS.filter((p) => p.protocol === "tcp" && p.port === 22);
    execFileSync("ip", ["-6", "neigh", "flush", "dev", "phlab0"]);
    const nodes = lab.nodes.map((n) => n.name);
    const rows = await probe({ from: ["provisioner", ...nodes], to: nodes, ports: ssh, families: [6], retries: 0 });
    const mismatches = compareProbe(model, policies, lab, rows);
    log(
        `neighbour discovery: ${rows.length} IPv6 SSH rows (provisioning host and nodes to nodes) after flushing every cache, ${rows.filter((r) => r.result === "open").length} open, ${mismatches.length} mismatches`,
    );
    expect(mismatches, formatMismatches(mismatches)).to.have.length(0);
    expect(rows.filter((r) => r.result === "open").length).to.be.greaterThan(0);
    const [first] = lab.nodes;
    const learnt = inNs(first.netns, ["ip", "-6", "neigh", "show", "dev", "eth0"]);
    expect(learnt, `${first.name}'s IPv6 neighbours`).to.match(/lladdr [0-9a-f:]{17} (REACHABLE|STALE|DELAY|PROBE)/);
    expect(learnt).to.not.contain("PERMANENT");
    // control: a node on the lab bridge drops neighbour solicitations: from the provisioning host (its
    // neighbour cache flushed too), IPv6 to it is filtered while IPv4 (static ARP) is still open
    const victim = lab.nodes.filter((n) => !n.advertisedAddress).slice(-1)[0];
    const echo = inNs(victim.netns, [
        "nft",
        "--echo",
        "--handle",
        "insert",
        "rule",
        "inet",
        "pinhole",
        "input",
        "icmpv6",
        "type",
        "nd-neighbor-solicit",
        "drop",
    ]);
    const handle = /# handle (\d+)/.exec(echo)?.[1];
    expect(handle, echo).to.be.a("string");
    try {
        flush();
        execFileSync("ip", ["-6", "neigh", "flush", "dev", "phlab0"]);
        const cut = await probe({ from: ["provisioner"], to: [victim.name], ports: ssh, retries: 0 });
        const by = (f: number) => cut.find((r) => familyOf(r.address) === f)!.result;
        log(`neighbour discovery control: ${victim.name} dropping solicitations: IPv4 ${by(4)}, IPv6 ${by(6)}`);
        expect(by(4)).to.equal("open");
        expect(by(6)).to.equal("filtered");
    } finally {
        inNs(victim.netns, ["nft", "delete", "rule", "inet", "pinhole", "input", "handle", handle!]);
        execFileSync("ip", ["-6", "neigh", "flush", "dev", "phlab0"]);
    }
}

describe("firewall: lab clusters with the real engine", function () {
    this.timeout(1_800_000);
    let env: Record<string, string>;

    before(() => {
        env = usePulumiEnv();
    });
    after(async () => {
        await labDown({ log: () => undefined });
    });

    /** Test cleanup: whatever a failed test left behind, no pinhole table stays on the lab's nodes. */
    async function cleanNodes(): Promise<void> {
        const lab = await labStatus();
        for (const n of lab.nodes) {
            try {
                execFileSync("ip", ["netns", "exec", n.netns, "nft", "delete", "table", "inet", "pinhole"], {
                    stdio: "ignore",
                });
            } catch {
                /* none */
            }
        }
    }

    async function bringUp(
        model: "standalone" | "unified" | "modular" | "multisite",
    ): Promise<{ lab: LabStatus; stack: Stack; cluster: ClusterModel; policies: NodePolicy[] }> {
        // dual-stack: every model's matrix is measured and compared in IPv4 and IPv6
        const lab = await labUp({ model, log, stack: `test-fw-${model}`, ipv6: true });
        const cluster = loadModel(lab.stackFile!);
        const stack = await LocalWorkspace.selectStack(
            { stackName: lab.stack!, workDir: PROJECT_ROOT },
            { envVars: env },
        );
        return { lab, stack, cluster, policies: buildPolicy(cluster) };
    }

    for (const model of ["standalone", "unified", "multisite"] as const) {
        describe(`${model} lab`, () => {
            let ctx: Awaited<ReturnType<typeof bringUp>>;
            before(async () => {
                ctx = await bringUp(model);
            });
            after(async () => {
                await ctx?.stack.destroy({ continueOnError: true }).catch(() => undefined);
                await cleanNodes();
            });

            it("opens every required port and nothing else, as measured from nodes, vantages and the provisioning host", async () => {
                const up = await ctx.stack.up({ onOutput: () => undefined, refresh: true });
                expect(up.summary.result).to.equal("succeeded");
                await expectMatrix(ctx.cluster, ctx.policies, ctx.lab);
            });

            it("IPv6 neighbour discovery keeps working under default-deny", async () => {
                await expectNeighbourDiscovery(ctx.cluster, ctx.policies, ctx.lab);
            });

            it("shows no changes on a second preview", async () => {
                await ctx.stack.preview({ expectNoChanges: true });
            });

            it("destroy gives every node back wide open", async () => {
                await ctx.stack.destroy();
                for (const n of ctx.lab.nodes) expect(liveTable(ctx.lab, n.name), n.name).to.equal("");
                const rows = await probe({ from: ["client", "provisioner", ctx.lab.nodes[0].name] });
                const closed = rows.filter((r) => r.result !== "open");
                expect(
                    closed,
                    closed
                        .slice(0, 5)
                        .map((r) => `${r.from}→${r.to} ${r.port}/${r.protocol} ${r.result}`)
                        .join("\n"),
                ).to.have.length(0);
            });
        });
    }

    describe("modular lab", () => {
        let ctx: Awaited<ReturnType<typeof bringUp>>;
        before(async () => {
            ctx = await bringUp("modular");
        });
        after(async () => {
            await ctx?.stack.destroy({ continueOnError: true }).catch(() => undefined);
            await cleanNodes();
        });

        it("opens every required port and nothing else (egress included), root and sudo nodes alike", async () => {
            const up = await ctx.stack.up({ onOutput: () => undefined, refresh: true });
            expect(up.summary.result).to.equal("succeeded");
            expect(ctx.lab.nodes.some((n) => n.sudo)).to.equal(true);
            await expectMatrix(ctx.cluster, ctx.policies, ctx.lab);
        });

        it("IPv6 neighbour discovery keeps working under default-deny", async () => {
            await expectNeighbourDiscovery(ctx.cluster, ctx.policies, ctx.lab);
        });

        it("strict profile: the measured matrix equals the strict policy (pinhole's least-privilege narrowings)", async () => {
            const undo = editConfig(ctx.lab.stackFile!, (c) => {
                c["pinhole:firewall"] = { ...c["pinhole:firewall"], profile: "strict" };
            });
            try {
                const strict = loadModel(ctx.lab.stackFile!);
                expect(strict.firewall.profile).to.equal("strict");
                const policies = buildPolicy(strict);
                const lines: string[] = [];
                const up = await ctx.stack.up({ onOutput: (l) => lines.push(l) });
                expect(up.summary.result).to.equal("succeeded");
                // the preview/up names the reference rows the profile narrowed
                expect(lines.join("")).to.match(/narrowing databasePortsFromTables closes \d+ reference opening/);
                expect(Object.keys(up.outputs.narrowedReferenceOpenings?.value ?? {}).length).to.be.greaterThan(0);
                await expectMatrix(strict, policies, ctx.lab);
            } finally {
                undo();
            }
            const up = await ctx.stack.up({ onOutput: () => undefined });
            expect(up.summary.result).to.equal("succeeded");
        });

        it("a no-op up changes nothing", async () => {
            const events: EngineEvent[] = [];
            const up = await ctx.stack.up({ onEvent: (e) => events.push(e) });
            expect(up.summary.resourceChanges?.update ?? 0).to.equal(0);
            expect(firewallsWith(events, "update")).to.deep.equal([]);
        });

        it("an address change re-applies only the nodes whose rules change (preview)", async () => {
            const db2 = ctx.cluster.nodes.findIndex((n) => n.name === "db-2");
            const moved = structuredClone(ctx.cluster);
            moved.nodes[db2].address = "10.77.1.199";
            moved.nodes[db2].ssh.host = "10.77.1.199";
            const expected = ctx.policies
                .map((p) => p.node.name)
                .filter((name) => {
                    const before = ctx.policies.find((p) => p.node.name === name)!;
                    const after = buildPolicy(moved).find((p) => p.node.name === name)!;
                    return (
                        renderRuleset(before, ctx.cluster.firewall) !== renderRuleset(after, moved.firewall) ||
                        name === "db-2"
                    );
                })
                .sort();
            expect(expected.length).to.be.lessThan(ctx.cluster.nodes.length);
            const undo = editConfig(ctx.lab.stackFile!, (c) => {
                c["pinhole:nodes"][db2].address = "10.77.1.199";
                c["pinhole:nodes"][db2].ssh.host = "10.77.1.199";
            });
            try {
                const events: EngineEvent[] = [];
                await ctx.stack.preview({ onEvent: (e) => events.push(e) });
                expect(firewallsWith(events, "update")).to.deep.equal(expected);
                expect(firewallsWith(events, "replace")).to.deep.equal([]);
            } finally {
                undo();
            }
        });

        it("a lockout attempt fails clearly and leaves every node reachable with its previous rules", async () => {
            const before = Object.fromEntries(ctx.lab.nodes.map((n) => [n.name, liveTable(ctx.lab, n.name)]));
            const admin = ctx.cluster.networks.admin;
            // The admin vantage's network only: the provisioning host (10.77.0.1) is left out.
            const undo = editConfig(ctx.lab.stackFile!, (c) => {
                c["pinhole:networks"].admin = admin.filter((a) => !a.startsWith(ctx.lab.provisioner.address));
            });
            try {
                let message = "";
                try {
                    await ctx.stack.up({ onOutput: () => undefined, continueOnError: true });
                } catch (e) {
                    message = String((e as Error).message);
                }
                expect(message, errorLines(message)).to.match(
                    /would cut the management path|cut the management SSH path/,
                );
                expect(message, errorLines(message)).to.contain(ctx.lab.provisioner.address);
                for (const n of ctx.lab.nodes) {
                    expect(nodeSshWorks(ctx.lab, n.name), `${n.name} reachable`).to.equal(true);
                    expect(liveTable(ctx.lab, n.name), `${n.name} rules unchanged`).to.equal(before[n.name]);
                }
            } finally {
                undo();
            }
            await ctx.stack.preview({ expectNoChanges: true });
        });

        it("the node's own timer rolls back a ruleset that cuts the SSH path even when the pre-check can't see it", async () => {
            // The pre-check is skipped here to exercise the second line of defence: the rollback timer that
            // only a fresh SSH connection can cancel.
            const node = "proxy-1";
            const before = liveTable(ctx.lab, node);
            const policy = structuredClone(ctx.policies.find((p) => p.node.name === node)!);
            for (const o of policy.inbound) if (o.port === 22) o.peer.addresses = ["10.77.100.0/24"];
            const started = Date.now();
            let message = "";
            try {
                await applyFirewall(
                    {
                        node,
                        connection: connectionOf(policy.node),
                        privateKey: fs.readFileSync(ctx.lab.sshKey, "utf8"),
                        ruleset: renderRuleset(policy, ctx.cluster.firewall),
                        managementSources: managementSources(policy),
                        rollbackSeconds: 12,
                        skipPrecheck: true,
                    },
                    "rollback-test",
                );
            } catch (e) {
                message = (e as Error).message;
            }
            log(`rollback path: ${Math.round((Date.now() - started) / 1000)}s`);
            expect(message).to.match(/node proxy-1 NOT applied: the new ruleset cut the management SSH path/);
            expect(message).to.contain("rolled back to its previous ruleset and SSH works again");
            expect(liveTable(ctx.lab, node)).to.equal(before);
            expect(nodeSshWorks(ctx.lab, node)).to.equal(true);
        });

        it("a node down during up: the others converge, the error names it, the next up finishes", async () => {
            const down = "app-2";
            const ns = ctx.lab.nodes.find((n) => n.name === down)!.netns;
            const pids = execFileSync("ip", ["netns", "pids", ns], { encoding: "utf8" }).split(/\s+/).filter(Boolean);
            const sshd = pids.filter((p) => {
                try {
                    return fs.readFileSync(`/proc/${p}/comm`, "utf8").trim() === "sshd";
                } catch {
                    return false;
                }
            });
            expect(sshd.length).to.be.greaterThan(0);
            sshd.forEach((p) => process.kill(Number(p), "SIGKILL"));
            const beforeDown = liveTable(ctx.lab, down);
            const extraNtp = "10.77.50.99";
            const undo = editConfig(ctx.lab.stackFile!, (c) => {
                c["pinhole:external"].ntp = [...c["pinhole:external"].ntp, extraNtp];
            });
            try {
                let message = "";
                try {
                    await ctx.stack.up({ onOutput: () => undefined, continueOnError: true });
                } catch (e) {
                    message = String((e as Error).message);
                }
                expect(message, errorLines(message)).to.match(new RegExp(`node ${down} .*(unreachable|refused)`));
                for (const n of ctx.lab.nodes.filter((x) => x.name !== down)) {
                    expect(liveTable(ctx.lab, n.name), `${n.name} converged`).to.contain(extraNtp);
                }
                expect(liveTable(ctx.lab, down), `${down} untouched`).to.equal(beforeDown);
                await reboot(down, { log });
                const up = await ctx.stack.up({ onOutput: () => undefined });
                expect(up.summary.result).to.equal("succeeded");
                expect(liveTable(ctx.lab, down)).to.contain(extraNtp);
                await ctx.stack.preview({ expectNoChanges: true });
            } finally {
                undo();
            }
            const up = await ctx.stack.up({ onOutput: () => undefined });
            expect(up.summary.result).to.equal("succeeded");
        });

        it("drift: a rule added by hand is seen by refresh and reverted by the next up", async () => {
            const node = ctx.lab.nodes.find((n) => n.name === "db-1")!;
            execFileSync("ip", [
                "netns",
                "exec",
                node.netns,
                "nft",
                "insert",
                "rule",
                "inet",
                "pinhole",
                "input",
                "tcp",
                "dport",
                "3306",
                "accept",
            ]);
            const leaked = await probe({ from: ["client"], to: ["db-1"] });
            expect(leaked.find((r) => r.port === 3306 && r.protocol === "tcp")?.result).to.equal("open");
            await ctx.stack.refresh({ onOutput: () => undefined });
            const events: EngineEvent[] = [];
            await ctx.stack.preview({ onEvent: (e) => events.push(e) });
            expect(firewallsWith(events, "update")).to.deep.equal(["db-1"]);
            await ctx.stack.up({ onOutput: () => undefined });
            const fixed = await probe({ from: ["client"], to: ["db-1"] });
            expect(fixed.find((r) => r.port === 3306 && r.protocol === "tcp")?.result).to.equal("filtered");
            await ctx.stack.preview({ expectNoChanges: true });
        });

        it("the firewall is persisted and loaded at boot before the services", async () => {
            const before = liveTable(ctx.lab, "db-1");
            const boot = await reboot("db-1", { log });
            expect(boot.firewall).to.equal("loaded");
            expect(liveTable(ctx.lab, "db-1")).to.equal(before);
            const lab = await labStatus();
            await expectMatrix(ctx.cluster, ctx.policies, lab);
        });

        it("destroy removes only pinhole's table and leaves the nodes reachable and open", async () => {
            const node = ctx.lab.nodes.find((n) => n.name === "app-1")!;
            execFileSync("ip", ["netns", "exec", node.netns, "nft", "add", "table", "inet", "docker_like"]);
            await ctx.stack.destroy({ onOutput: () => undefined });
            for (const n of ctx.lab.nodes) expect(liveTable(ctx.lab, n.name), n.name).to.equal("");
            const tables = execFileSync("ip", ["netns", "exec", node.netns, "nft", "list", "tables"], {
                encoding: "utf8",
            });
            expect(tables).to.contain("docker_like");
            execFileSync("ip", ["netns", "exec", node.netns, "nft", "delete", "table", "inet", "docker_like"]);
            const rows = await probe({ from: ["client", "app-1"] });
            expect(rows.filter((r) => r.result !== "open")).to.have.length(0);
            for (const n of ctx.lab.nodes) expect(nodeSshWorks(ctx.lab, n.name)).to.equal(true);
        });
    });
});

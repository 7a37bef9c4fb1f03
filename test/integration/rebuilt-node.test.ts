// A rebuilt node must not stay open (issue 17 item 5), with the real engine on the lab: a node that comes back
// without pinhole's table is shown by the next plain `preview` and repaired by the next plain `up` (no
// --refresh: the Firewall diff reads each unchanged node once), and a node that comes back with a new SSH host
// key is refused, naming the node and saying how to pin the new key — until the operator pins it.
import { expect } from "chai";
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { EngineEvent, LocalWorkspace, Stack } from "@pulumi/pulumi/automation";
import * as yaml from "js-yaml";
import { labDown, labUp, reboot, LabStatus } from "../../lab";
import { nodeDir } from "../../lab/state";
import { bootBinds } from "../../lab/boot-render";
import { PRIVATE_BINDS } from "../../lab/render";
import { normaliseListing } from "../../render/nftables";
import { NFTABLES_DROPIN, PERSISTED_RULESET, UNIT_PATH, UNIT_WANTS_LINK } from "../../remote/firewall-scripts";
import { STATE_DIR } from "../../remote/shell";
import { PROJECT_ROOT, usePulumiEnv } from "../../tools/common/pulumi-env";

const log = (m: string) => process.stderr.write(`      · ${m}\n`);
const STACK = "test-rebuilt";
const quiet = { onOutput: () => undefined };

function liveTable(lab: LabStatus, node: string): string {
    const ns = lab.nodes.find((n) => n.name === node)!.netns;
    try {
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

/**
 * Where a path of the node is on this machine: through the node's bind mounts (its /etc/pinhole is the node
 * directory's on both tiers), else the booted tier's overlay root; the process tier shares the host's other files.
 */
function onNode(lab: LabStatus, node: string, file: string): string {
    const D = nodeDir(node);
    const binds: [string, string][] =
        lab.tier === "boot"
            ? bootBinds({ nodeDir: D, authorizedKeys: "", labBin: "" }).map(([h, c]) => [h, c])
            : PRIVATE_BINDS.map(([src, m]) => [path.join(D, src), m]);
    const bind = binds.find(([, c]) => file === c || file.startsWith(`${c}/`));
    if (bind) return bind[0] + file.slice(bind[1].length);
    if (lab.tier === "boot") return path.join(D, "boot", "root", file);
    throw new Error(`${file} is the machine's own file on the process tier, not ${node}'s`);
}

/** Firewall resources (by node) the engine touched with `op`. */
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

/** Sets one node's pinned host key in the stack file (the engine reads it on every run); returns the undo. */
function pinHostKey(stackFile: string, node: string, hostKey: string): () => void {
    const original = fs.readFileSync(stackFile, "utf8");
    const doc = yaml.load(original) as { config: Record<string, { name: string; ssh: { hostKey: string } }[]> };
    const entry = doc.config["pinhole:nodes"].find((n) => n.name === node)!;
    entry.ssh.hostKey = hostKey;
    fs.writeFileSync(stackFile, yaml.dump(doc, { lineWidth: 200 }));
    return () => fs.writeFileSync(stackFile, original);
}

// Both tiers in every run: the process tier, and the booted tier, where a reimage also removes what pinhole put at
// the node's real paths (boot unit, its link, the nftables drop-in) and the node really boots without them.
for (const tier of ["process", "boot"] as const)
    describe(`rebuilt nodes on the ${tier} tier: plain preview and up see them (no --refresh)`, function () {
        this.timeout(1_800_000);
        let lab: LabStatus;
        let stack: Stack;
        let victim: string;

        before(async () => {
            const env = usePulumiEnv();
            // process: undefined keeps PINHOLE_LAB_TIER's choice (a whole run on the booted tier stays there)
            lab = await labUp({ model: "modular", log, stack: STACK, boot: tier === "boot" ? true : undefined });
            stack = await LocalWorkspace.selectStack(
                { stackName: lab.stack!, workDir: PROJECT_ROOT },
                { envVars: env },
            );
            victim = lab.nodes.find((n) => n.role === "database")!.name;
            const up = await stack.up(quiet);
            expect(up.summary.result).to.equal("succeeded");
            expect(liveTable(lab, victim)).to.match(/table inet pinhole/);
        });
        after(async () => {
            await stack?.destroy({ continueOnError: true, ...quiet }).catch(() => undefined);
            await labDown({ log: () => undefined });
        });

        it("an unchanged cluster: preview and up change nothing (each node's table is read and found as applied)", async () => {
            const events: EngineEvent[] = [];
            const pv = await stack.preview({ onEvent: (e) => events.push(e), ...quiet });
            expect(pv.changeSummary.update ?? 0).to.equal(0);
            const up = await stack.up(quiet);
            expect(up.summary.resourceChanges?.update ?? 0).to.equal(0);
        });

        it("a node reimaged without pinhole's table: preview shows its firewall only, a plain up restores it", async () => {
            const applied = liveTable(lab, victim);
            // Reimage: everything pinhole put on the node goes (its state, its boot unit and the unit's link, the
            // nftables.service drop-in), as on a node freshly installed from its image; it boots without any table.
            for (const p of [STATE_DIR, UNIT_PATH, UNIT_WANTS_LINK, NFTABLES_DROPIN])
                fs.rmSync(onNode(lab, victim, p), { recursive: true, force: true });
            fs.mkdirSync(onNode(lab, victim, STATE_DIR));
            const boot = await reboot(victim, { log });
            expect(boot.firewall).to.equal("none");
            expect(liveTable(lab, victim)).to.equal("");

            const previewEvents: EngineEvent[] = [];
            await stack.preview({ onEvent: (e) => previewEvents.push(e), ...quiet });
            expect(firewallsWith(previewEvents, "update")).to.deep.equal([victim]);
            const pre = previewEvents.find((e) => e.resourcePreEvent?.metadata.op === "update")!;
            expect(Object.keys(pre.resourcePreEvent!.metadata.detailedDiff ?? {})).to.deep.equal(["drift"]);

            const upEvents: EngineEvent[] = [];
            const up = await stack.up({ onEvent: (e) => upEvents.push(e), ...quiet });
            expect(up.summary.result).to.equal("succeeded");
            expect(firewallsWith(upEvents, "update")).to.deep.equal([victim]);
            expect(liveTable(lab, victim)).to.equal(applied);
            expect(fs.existsSync(onNode(lab, victim, PERSISTED_RULESET)), "persisted for the next boot").to.equal(true);
            const again = await stack.preview(quiet);
            expect(again.changeSummary.update ?? 0).to.equal(0);
        });

        it("a node rebuilt with a new SSH host key: preview and up refuse it naming the node and how to pin; pinned, up goes on", async () => {
            const keyFile = path.join(nodeDir(victim), "ssh", "ssh_host_ed25519_key");
            const saved = [fs.readFileSync(keyFile), fs.readFileSync(`${keyFile}.pub`)];
            const restore: (() => void)[] = [];
            try {
                for (const f of [keyFile, `${keyFile}.pub`]) fs.rmSync(f);
                execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", "rebuilt", "-f", keyFile]);
                restore.push(() => {
                    fs.writeFileSync(keyFile, saved[0], { mode: 0o600 });
                    fs.writeFileSync(`${keyFile}.pub`, saved[1]);
                });
                await reboot(victim, { log });
                const newKey = fs.readFileSync(`${keyFile}.pub`, "utf8").trim().split(/\s+/).slice(0, 2).join(" ");

                for (const [what, run] of [
                    ["preview", () => stack.preview(quiet)],
                    ["up", () => stack.up(quiet)],
                ] as const) {
                    const err = await (run as () => Promise<unknown>)().then(
                        () => undefined,
                        (e: Error) => e,
                    );
                    expect(err, `${what} must refuse the node`).to.be.instanceOf(Error);
                    const msg = (err as Error).message;
                    expect(msg, what).to.contain(`node ${victim}`);
                    expect(msg, what).to.match(/is not the pinned ssh\.hostKey — refusing to connect/);
                    expect(msg, what).to.match(new RegExp(`set ssh\\.hostKey of node ${victim} in pinhole:nodes`));
                    expect(msg, what).to.contain("ssh-keyscan -t ed25519");
                }

                // The operator checked the new key and pins it: the next up reaches the node and applies nothing new.
                restore.push(pinHostKey(lab.stackFile!, victim, newKey));
                const up = await stack.up(quiet);
                expect(up.summary.result).to.equal("succeeded");
                expect(liveTable(lab, victim)).to.match(/table inet pinhole/);
            } finally {
                for (const undo of restore.reverse()) undo();
                await reboot(victim, { log }).catch(() => undefined);
            }
            const back = await stack.up(quiet);
            expect(back.summary.result).to.equal("succeeded");
        });
    });

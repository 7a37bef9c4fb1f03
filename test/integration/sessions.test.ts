// SSH sessions per node (issue 18 item 2), with the real engine on the lab, counted twice: by each node's own
// sshd (its log's "Accepted publickey" lines) and by the provider (PINHOLE_SSH_LOG). An unchanged node costs one
// read session on `up` and on `preview`; `refresh` reads each node in ONE session (a web node's Firewall and
// WebServer reads share it); a changed node costs the apply session and the fresh confirming one, no more.
// The lab's nodes log in a sudo user (the sudo path of the shared session is the one exercised). The proof after
// apply is off here (its sessions are its own; proof.test.ts).
import { expect } from "chai";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { LocalWorkspace, Stack } from "@pulumi/pulumi/automation";
import { labDown, labUp, LabStatus } from "../../lab";
import { nodeDir } from "../../lab/state";
import { PROJECT_ROOT, usePulumiEnv } from "../../tools/common/pulumi-env";
import { readStack } from "../../tools/common/stack-file";

const log = (m: string) => process.stderr.write(`      · ${m}\n`);
const STACK = "test-sessions";
const quiet = { onOutput: () => undefined };

/** Logins each node's sshd accepted so far. */
function sshdLogins(lab: LabStatus): Map<string, number> {
    return new Map(
        lab.nodes.map((n) => {
            const text = fs.existsSync(path.join(nodeDir(n.name), "sshd.log"))
                ? fs.readFileSync(path.join(nodeDir(n.name), "sshd.log"), "utf8")
                : "";
            return [n.name, (text.match(/Accepted publickey for /g) ?? []).length];
        }),
    );
}

describe("SSH sessions per node: one read when unchanged, one per node on refresh, apply + confirm when changed", function () {
    this.timeout(1_800_000);
    let lab: LabStatus;
    let stack: Stack;
    let logFile: string;
    let webNodes: Set<string>;

    /** Runs `fn` and returns the sessions per node it cost, as sshd counted them and as the provider did. */
    async function sessions(what: string, fn: () => Promise<unknown>): Promise<Map<string, number>> {
        const before = sshdLogins(lab);
        fs.writeFileSync(logFile, "");
        await fn();
        await new Promise((r) => setTimeout(r, 1000)); // sshd writes its line as the login completes
        const after = sshdLogins(lab);
        const bySshd = new Map(lab.nodes.map((n) => [n.name, after.get(n.name)! - before.get(n.name)!]));
        const byProvider = new Map(lab.nodes.map((n) => [n.name, 0]));
        for (const line of fs.readFileSync(logFile, "utf8").split("\n").filter(Boolean)) {
            const node = (JSON.parse(line) as { node: string }).node;
            byProvider.set(node, (byProvider.get(node) ?? 0) + 1);
        }
        log(`${what}: ${[...bySshd].map(([n, c]) => `${n} ${c}`).join(", ")}`);
        expect(Object.fromEntries(byProvider), `${what}: the provider's count is sshd's`).to.deep.equal(
            Object.fromEntries(bySshd),
        );
        return bySshd;
    }

    before(async () => {
        logFile = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "pinhole-sessions-")), "ssh.log");
        const env = { ...usePulumiEnv(), PINHOLE_SSH_LOG: logFile };
        lab = await labUp({ model: "modular", sudoUser: true, log, stack: STACK });
        stack = await LocalWorkspace.selectStack({ stackName: lab.stack!, workDir: PROJECT_ROOT }, { envVars: env });
        // The Firewalls' and WebServers' own sessions are counted here; the proof after apply (one more per node
        // when it runs) is off: the one-node change moves a node to an address nothing answers on, which the
        // proof would rightly fail (test/integration/proof.test.ts covers the proof).
        await stack.setConfig("pinhole:proof.enabled", { value: "false" }, true);
    });
    after(async () => {
        await stack?.destroy({ continueOnError: true, ...quiet }).catch(() => undefined);
        await labDown({ log: () => undefined });
    });

    it("cold up: each node's firewall in two sessions (apply, fresh confirm), a web node's front end in one more", async () => {
        const counts = await sessions("cold up", async () =>
            expect((await stack.up(quiet)).summary.result).to.equal("succeeded"),
        );
        const state = await stack.exportStack();
        webNodes = new Set(
            (state.deployment.resources as { type: string; inputs?: { node?: string } }[])
                .filter((r) => r.type === "pinhole:node:WebServer")
                .map((r) => r.inputs!.node!),
        );
        expect(webNodes.size, "the modular lab has web nodes").to.be.greaterThan(0);
        for (const [node, n] of counts) expect(n, node).to.equal(webNodes.has(node) ? 3 : 2);
    });

    it("no-op up and preview: one read session per node", async () => {
        for (const [what, run] of [
            ["no-op up", () => stack.up(quiet)],
            ["preview", () => stack.preview(quiet)],
        ] as const) {
            const counts = await sessions(what, run as () => Promise<unknown>);
            for (const [node, n] of counts) expect(n, `${what}: ${node}`).to.equal(1);
        }
    });

    it("refresh: one session per node, web nodes (Firewall + WebServer) included", async () => {
        const counts = await sessions("refresh", async () =>
            expect((await stack.refresh(quiet)).summary.result).to.equal("succeeded"),
        );
        for (const [node, n] of counts) expect(n, node).to.equal(1);
        const pv = await stack.preview(quiet);
        expect(pv.changeSummary.update ?? 0, "refresh found the cluster as applied").to.equal(0);
    });

    it("a one-node change: a changed node costs apply + confirm, an unchanged one its read", async () => {
        const model = readStack(lab.stack!, { dir: path.dirname(lab.stackFile!) }).model!;
        const idx = model.nodes.findIndex((n) => n.role === "database");
        const cfg = await stack.getConfig(`pinhole:nodes[${idx}].address`, true);
        await stack.setConfig(`pinhole:nodes[${idx}].address`, { value: "10.77.9.1" }, true);
        try {
            let changed: string[] = [];
            const counts = await sessions("one-node change up", async () => {
                const up = await stack.up({
                    ...quiet,
                    onEvent: (e) => {
                        const m = e.resourcePreEvent?.metadata;
                        if (m?.type === "pinhole:node:Firewall" && m.op === "update")
                            changed.push(
                                m.urn
                                    .split("::")
                                    .pop()!
                                    .replace(/-firewall-nft$/, ""),
                            );
                    },
                });
                expect(up.summary.result).to.equal("succeeded");
            });
            changed = [...new Set(changed)];
            expect(changed.length, "firewalls the change touched").to.be.greaterThan(0);
            for (const [node, n] of counts) expect(n, node).to.equal(changed.includes(node) ? 2 : 1);
        } finally {
            await stack.setConfig(`pinhole:nodes[${idx}].address`, { value: cfg.value }, true);
            await stack.up(quiet);
        }
    });
});

// pinhole:rollout on the modular lab with the real engine (issue 14.3, "Must show"): with a canary and batches,
// the engine's event order is canary → its proof → batch 1 → its proof → ...; a foreign table on a node of
// batch 2 that drops a required port makes that batch's proof fail, the rollout stops there, and the node of
// the last batch is left untouched (its ruleset as before, no Firewall step started); with the table gone the
// next up goes on and finishes. One lab (8 nodes), three `up`s.
import { expect } from "chai";
import * as fs from "fs";
import { EngineEvent, LocalWorkspace, Stack } from "@pulumi/pulumi/automation";
import * as yaml from "js-yaml";
import { labDown, labUp, LabStatus } from "../../lab";
import { PROJECT_ROOT, usePulumiEnv } from "../../tools/common/pulumi-env";
import { waitForForeignLabHolders } from "../../tools/start/lab";
import { FOREIGN_MONGODB_DROP, nft } from "./helpers/nft";

const log = (m: string) => process.stderr.write(`      · ${m}\n`);
const PORT = 9446; // the change every node gets in the second up

const nameOf = (urn: string) => urn.split("::").pop()!;
/** Index in the event list of the first step the engine started / finished for a resource named `name`. */
const startedAt = (events: EngineEvent[], name: string) =>
    events.findIndex((e) => e.resourcePreEvent && nameOf(e.resourcePreEvent.metadata.urn) === name);
const finishedAt = (events: EngineEvent[], name: string) =>
    events.findIndex((e) => e.resOutputsEvent && nameOf(e.resOutputsEvent.metadata.urn) === name);
const changedFirewalls = (events: EngineEvent[]) =>
    events
        .filter(
            (e) =>
                e.resourcePreEvent &&
                e.resourcePreEvent.metadata.type === "pinhole:node:Firewall" &&
                e.resourcePreEvent.metadata.op !== "same",
        )
        .map((e) => nameOf(e.resourcePreEvent!.metadata.urn).replace(/-firewall-nft$/, ""));

describe("rollout in batches with a canary (modular lab, real engine)", function () {
    this.timeout(900_000);
    let lab: LabStatus;
    let stack: Stack;
    let original: string;
    let steps: { label: string; nodes: string[]; proof: string }[];
    const ns = (node: string) => lab.nodes.find((n) => n.name === node)!.netns;

    before(async () => {
        await waitForForeignLabHolders(log);
        lab = await labUp({ model: "modular", log, stack: "test-rollout" });
        original = fs.readFileSync(lab.stackFile!, "utf8");
        const doc = yaml.load(original) as { config: Record<string, unknown> };
        doc.config["pinhole:rollout"] = { canary: 1, batchSize: 3 };
        fs.writeFileSync(lab.stackFile!, yaml.dump(doc, { lineWidth: 200 }));
        // What the config says, worked out here by hand: the first node, then threes in pinhole:nodes' order.
        const names = lab.nodes.map((n) => n.name);
        expect(names.length, "the modular lab's default size").to.equal(8);
        steps = [
            { label: "canary", nodes: names.slice(0, 1), proof: "cluster-proof-canary-run" },
            { label: "batch 1", nodes: names.slice(1, 4), proof: "cluster-proof-batch-1-run" },
            { label: "batch 2", nodes: names.slice(4, 7), proof: "cluster-proof-batch-2-run" },
            { label: "batch 3", nodes: names.slice(7), proof: "cluster-proof-run" },
        ];
        stack = await LocalWorkspace.createOrSelectStack(
            { stackName: lab.stack!, workDir: PROJECT_ROOT },
            { envVars: usePulumiEnv() },
        );
    });
    after(async () => {
        for (const n of lab?.nodes ?? [])
            try {
                nft(n.netns, ["delete", "table", "inet", "othermgr"]);
            } catch {
                /* none */
            }
        await stack?.destroy({ onOutput: () => undefined }).catch((e: Error) => log(`destroy: ${e.message}`));
        if (original !== undefined) fs.writeFileSync(lab.stackFile!, original);
        await labDown({ log: () => undefined });
    });

    it("up: canary, its proof, then each batch after the proof of the one before; preview names the steps", async () => {
        const preview = await stack.preview({ refresh: true, onOutput: () => undefined });
        const said = `rollout in 4 steps, each proven before the next: ${steps.map((s) => `${s.label} [${s.nodes.join(", ")}]`).join(" → ")}`;
        expect(preview.stdout).to.contain(said);
        const events: EngineEvent[] = [];
        const t0 = Date.now();
        const up = await stack.up({ refresh: true, onEvent: (e) => events.push(e), onOutput: () => undefined });
        expect(up.summary.result).to.equal("succeeded");
        const order: string[] = [];
        steps.forEach((step, k) => {
            const proofDone = finishedAt(events, step.proof);
            expect(proofDone, `${step.proof} ran`).to.be.greaterThan(-1);
            for (const node of step.nodes) {
                const fwDone = finishedAt(events, `${node}-firewall-nft`);
                expect(fwDone, `${node}'s firewall applied`).to.be.greaterThan(-1);
                expect(fwDone, `${node}'s firewall before ${step.proof}`).to.be.lessThan(proofDone);
            }
            const next = steps[k + 1];
            for (const node of next?.nodes ?? []) {
                const started = startedAt(events, `${node}-firewall-nft`);
                expect(started, `${node} (${next.label}) starts after ${step.proof}`).to.be.greaterThan(proofDone);
                const web = startedAt(events, `${node}-web-server`);
                if (web > -1) expect(web, `${node}'s web server after ${step.proof}`).to.be.greaterThan(proofDone);
            }
            order.push(`${step.label} [${step.nodes.join(", ")}] → proof`);
        });
        log(`order seen: ${order.join(" → ")} (${Math.round((Date.now() - t0) / 1000)} s)`);
    });

    it("a foreign table on a node of batch 2 dropping a required port: batch 2's proof fails, batch 3 is untouched", async () => {
        const victim = steps[2].nodes.find((n) => n.startsWith("db-"))!;
        expect(victim, "a database node in batch 2").to.be.a("string");
        nft(ns(victim), ["-f", "-"], FOREIGN_MONGODB_DROP);
        const last = steps[3].nodes[0];
        const lastBefore = nft(ns(last), ["list", "table", "inet", "pinhole"]);
        const doc = yaml.load(fs.readFileSync(lab.stackFile!, "utf8")) as { config: Record<string, any> }; // any: YAML as written
        doc.config["pinhole:firewall"] = {
            ...(doc.config["pinhole:firewall"] ?? {}),
            // not on the victim: a node whose ruleset changes would refuse the foreign table (otherFirewalls: refuse)
            extraInbound: [
                {
                    port: PORT,
                    from: ["admin"],
                    nodes: lab.nodes.map((n) => n.name).filter((n) => n !== victim),
                    reason: "rollout test: a change on every other node",
                },
            ],
        };
        fs.writeFileSync(lab.stackFile!, yaml.dump(doc, { lineWidth: 200 }));
        const events: EngineEvent[] = [];
        let failed: Error | undefined;
        try {
            await stack.up({ onEvent: (e) => events.push(e), onOutput: () => undefined });
        } catch (e) {
            failed = e as Error;
        }
        expect(failed, "the up must fail").to.not.equal(undefined);
        const msg = failed!.message;
        if (!msg.includes("proof after apply failed")) log(msg.slice(-3000));
        expect(msg).to.contain("proof after apply failed");
        expect(msg).to.match(new RegExp(`→ ${victim} \\([^)]*\\) 27017/tcp: required but filtered`));
        log(
            `batch 2's proof: ${msg
                .split("\n")
                .find((l) => l.includes("27017/tcp"))
                ?.trim()}`,
        );
        // canary, batch 1 and batch 2 changed; batch 3 never started
        const changed = changedFirewalls(events);
        expect(changed.sort()).to.deep.equal(
            [...steps[0].nodes, ...steps[1].nodes, ...steps[2].nodes].filter((n) => n !== victim).sort(),
        );
        expect(startedAt(events, steps[2].proof)).to.be.greaterThan(-1);
        expect(finishedAt(events, "cluster-proof-run"), "the last step's proof did not run").to.equal(-1);
        expect(nft(ns(last), ["list", "table", "inet", "pinhole"]), `${last}'s table`).to.equal(lastBefore);
        expect(nft(ns(steps[1].nodes[0]), ["list", "table", "inet", "pinhole"])).to.contain(`${PORT}`);
    });

    it("with the foreign table gone, the next up goes on from batch 2's proof and finishes the rollout", async () => {
        const victim = steps[2].nodes.find((n) => n.startsWith("db-"))!;
        nft(ns(victim), ["delete", "table", "inet", "othermgr"]);
        const events: EngineEvent[] = [];
        const up = await stack.up({ onEvent: (e) => events.push(e), onOutput: () => undefined });
        expect(up.summary.result).to.equal("succeeded");
        expect(changedFirewalls(events)).to.deep.equal(steps[3].nodes);
        expect(finishedAt(events, steps[2].proof)).to.be.lessThan(
            startedAt(events, `${steps[3].nodes[0]}-firewall-nft`),
        );
        for (const n of lab.nodes.filter((n) => n.name !== victim))
            expect(nft(n.netns, ["list", "table", "inet", "pinhole"]), n.name).to.contain(`${PORT}`);
        await stack.preview({ expectNoChanges: true, onOutput: () => undefined });
    });
});

// The proof after apply on the modular lab with the real engine (issue 14, "Must show"): `up` ends with the
// pinhole:node:Proof, run after every Firewall and WebServer; a foreign nftables table on db-1 that drops a
// required port (standing in for another firewall manager), then a config change on another node, makes that
// `up` fail in the proof naming node, peer and port; with the foreign table gone, the next `up` (no config
// change) runs the proof again and passes. With pinhole:proof.rollback on, the same failure rolls back every node
// the `up` applied (their tables listed before and after), and the next `up` applies them again. One lab, five `up`s.
import { expect } from "chai";
import * as fs from "fs";
import { EngineEvent, LocalWorkspace, Stack } from "@pulumi/pulumi/automation";
import * as yaml from "js-yaml";
import { labDown, labUp, LabStatus } from "../../lab";
import { PROJECT_ROOT, usePulumiEnv } from "../../tools/common/pulumi-env";
import { waitForForeignLabHolders } from "../../tools/start/lab";
import { normaliseListing } from "../../render/nftables";
import { FOREIGN_MONGODB_DROP, nft } from "./helpers/nft";

const log = (m: string) => process.stderr.write(`      · ${m}\n`);
const PROOF = "pinhole:node:Proof";

/** "<type> <name> <op>" of every step the engine started, in order. */
function steps(events: EngineEvent[]): string[] {
    return events
        .filter((e) => e.resourcePreEvent && e.resourcePreEvent.metadata.op !== "same")
        .map((e) => {
            const m = e.resourcePreEvent!.metadata;
            return `${m.type} ${m.urn.split("::").pop()} ${m.op}`;
        });
}

/** "<type> <name>" of every step the engine finished (resOutputsEvent), in order. */
function finished(events: EngineEvent[]): string[] {
    return events
        .filter((e) => e.resOutputsEvent && e.resOutputsEvent.metadata.op !== "same")
        .map((e) => `${e.resOutputsEvent!.metadata.type} ${e.resOutputsEvent!.metadata.urn.split("::").pop()}`);
}

/**
 * The stack file without what this test adds (pinhole:firewall.extraInbound, pinhole:proof). The lab keeps a stack
 * file's other keys when it writes it (lab/stack.ts mergeStackDocument), so a run after an earlier one in the
 * same checkout would otherwise start with that run's openings applied and the failing case's change a no-op.
 */
function withoutTestKeys(text: string): string {
    const doc = yaml.load(text) as { config: Record<string, any> }; // any: YAML as written
    const fw = { ...((doc.config["pinhole:firewall"] ?? {}) as Record<string, unknown>) };
    delete fw.extraInbound;
    if (Object.keys(fw).length) doc.config["pinhole:firewall"] = fw;
    else delete doc.config["pinhole:firewall"];
    delete doc.config["pinhole:proof"];
    return yaml.dump(doc, { lineWidth: 200 });
}

async function proofState(stack: Stack): Promise<Record<string, unknown> | undefined> {
    const state = await stack.exportStack();
    const res = ((state.deployment?.resources ?? []) as { type: string; outputs?: Record<string, unknown> }[]).find(
        (r) => r.type === PROOF,
    );
    return res?.outputs;
}

describe("the proof after apply (modular lab, real engine)", function () {
    this.timeout(900_000);
    let lab: LabStatus;
    let stack: Stack;
    let db1ns: string;
    let labStack: string | undefined;

    before(async () => {
        await waitForForeignLabHolders(log);
        lab = await labUp({ model: "modular", log, stack: "test-proof" });
        labStack = withoutTestKeys(fs.readFileSync(lab.stackFile!, "utf8"));
        fs.writeFileSync(lab.stackFile!, labStack);
        stack = await LocalWorkspace.createOrSelectStack(
            { stackName: lab.stack!, workDir: PROJECT_ROOT },
            { envVars: usePulumiEnv() },
        );
        db1ns = lab.nodes.find((n) => n.name === "db-1")!.netns;
        try {
            nft(db1ns, ["delete", "table", "inet", "othermgr"]);
        } catch {
            /* none yet */
        }
    });
    after(async () => {
        try {
            nft(db1ns, ["delete", "table", "inet", "othermgr"]);
        } catch {
            /* gone */
        }
        await stack?.destroy({ onOutput: () => undefined }).catch((e: Error) => log(`destroy: ${e.message}`));
        if (labStack !== undefined) fs.writeFileSync(lab.stackFile!, labStack); // as the lab wrote it, without this test's keys
        await labDown({ log: () => undefined });
    });

    it("up passes with the proof, which runs after every Firewall and WebServer is applied", async () => {
        const events: EngineEvent[] = [];
        const t0 = Date.now();
        // refresh: a lab rebuilt since the stack's last up has no tables yet
        const up = await stack.up({ refresh: true, onEvent: (e) => events.push(e), onOutput: () => undefined });
        expect(up.summary.result).to.equal("succeeded");
        const done = finished(events);
        const proofAt = done.findIndex((s) => s.startsWith(`${PROOF} `));
        expect(proofAt, done.join("\n")).to.be.greaterThan(-1);
        const appliers = done.filter((s) => /^pinhole:node:(Firewall|WebServer) /.test(s));
        expect(appliers.length, "firewalls and web servers applied").to.be.greaterThan(lab.nodes.length);
        for (const s of appliers) expect(done.indexOf(s), `${s} before the proof`).to.be.lessThan(proofAt);
        const outs = await proofState(stack);
        expect(outs?.probes as number, "probes").to.be.greaterThan(lab.nodes.length * 4);
        expect(outs?.provedAt).to.be.a("string");
        // the listen audit ran `ss` on every node: db-1's labnet also holds 3306, which no opening covers
        const warnings = (outs?.warnings ?? []) as string[];
        const blocked =
            /^listening: db-1: \d+ listener\(s\) no opening covers \(the firewall drops them\): .*\b3306\/tcp\b/;
        expect(
            warnings.filter((w) => blocked.test(w)),
            warnings.join("\n"),
        ).to.have.length(1);
        log(
            `up with the proof: ${Math.round((Date.now() - t0) / 1000)} s; the proof ran ${outs?.probes} probes in ${outs?.seconds} s`,
        );
    });

    it("a foreign table dropping a required port on db-1, then a config change elsewhere: up fails in the proof naming node, peer and port", async () => {
        nft(db1ns, ["-f", "-"], FOREIGN_MONGODB_DROP);
        const file = lab.stackFile!;
        const original = fs.readFileSync(file, "utf8");
        const doc = yaml.load(original) as { config: Record<string, any> }; // any: YAML as written
        const fw = (doc.config["pinhole:firewall"] ?? {}) as Record<string, unknown>;
        doc.config["pinhole:firewall"] = {
            ...fw,
            extraInbound: [{ port: 9444, from: ["admin"], nodes: ["proxy-1"], reason: "proof test: any change" }],
        };
        fs.writeFileSync(file, yaml.dump(doc, { lineWidth: 200 }));
        const before = await proofState(stack);
        const events: EngineEvent[] = [];
        let failed: Error | undefined;
        try {
            await stack.up({ onEvent: (e) => events.push(e), onOutput: () => undefined });
        } catch (e) {
            failed = e as Error;
        }
        expect(
            failed,
            `up must fail; steps:\n${steps(events).join("\n")}\n${nft(db1ns, ["list", "ruleset"]).slice(0, 3000)}`,
        ).to.not.equal(undefined);
        const msg = failed!.message;
        const lines = msg.split("\n").filter((l) => l.includes("27017/tcp"));
        log(`the proof's failure:\n${lines.slice(0, 4).join("\n")}`);
        expect(msg).to.contain("proof after apply failed");
        // Every application node must reach db-1's MongoDB: each is named, with the address, the port and what was seen.
        const db1 = lab.nodes.find((n) => n.name === "db-1")!;
        for (const app of lab.nodes.filter((n) => n.role === "application"))
            expect(msg, app.name).to.contain(
                `${app.name} → db-1 (${db1.address}) 27017/tcp: required but filtered (timed out)`,
            );
        // Only proxy-1's firewall changed (db-1's was not re-applied, so nothing refused the foreign table there).
        const changed = steps(events).filter((s) => s.startsWith("pinhole:node:Firewall "));
        expect(changed).to.deep.equal(["pinhole:node:Firewall proxy-1-firewall-nft update"]);
        expect(steps(events).some((s) => s.startsWith(`${PROOF} `))).to.equal(true);
        // The failed proof keeps its old state: the next up runs it again.
        expect((await proofState(stack))?.provedAt).to.equal(before?.provedAt);
    });

    it("with the foreign table gone, the next up (no config change) runs the proof again and passes", async () => {
        nft(db1ns, ["delete", "table", "inet", "othermgr"]);
        const events: EngineEvent[] = [];
        const up = await stack.up({ onEvent: (e) => events.push(e), onOutput: () => undefined });
        expect(up.summary.result).to.equal("succeeded");
        expect(steps(events).filter((s) => s.startsWith(`${PROOF} `))).to.have.length(1);
        expect(steps(events).filter((s) => s.startsWith("pinhole:node:Firewall "))).to.deep.equal([]);
        await stack.preview({ expectNoChanges: true, onOutput: () => undefined });
    });

    /** pinhole's table on a node as the drift check compares it (rate-limit sets and counters left out). */
    const table = (node: string) =>
        normaliseListing(
            nft(lab.nodes.find((n) => n.name === node)!.netns, ["-s", "list", "table", "inet", "pinhole"]),
        );
    const tables = (node: string) => nft(lab.nodes.find((n) => n.name === node)!.netns, ["list", "tables"]);
    const CHANGED = ["app-1", "proxy-1"];

    it("with pinhole:proof.rollback on, the failing up puts every node it changed back on its previous ruleset", async () => {
        await stack.setConfig("pinhole:proof.rollback", { value: "true" }, true);
        const before = Object.fromEntries(CHANGED.map((n) => [n, table(n)]));
        nft(db1ns, ["-f", "-"], FOREIGN_MONGODB_DROP);
        const file = lab.stackFile!;
        const doc = yaml.load(fs.readFileSync(file, "utf8")) as { config: Record<string, any> }; // any: YAML as written
        const fw = (doc.config["pinhole:firewall"] ?? {}) as { extraInbound?: unknown[] };
        doc.config["pinhole:firewall"] = {
            ...fw,
            extraInbound: [
                ...(fw.extraInbound ?? []),
                { port: 9445, from: ["admin"], nodes: CHANGED, reason: "proof test: rolled back" },
            ],
        };
        fs.writeFileSync(file, yaml.dump(doc, { lineWidth: 200 }));
        const events: EngineEvent[] = [];
        let failed: Error | undefined;
        try {
            await stack.up({ onEvent: (e) => events.push(e), onOutput: () => undefined });
        } catch (e) {
            failed = e as Error;
        }
        expect(failed, `up must fail; steps:\n${steps(events).join("\n")}`).to.not.equal(undefined);
        const msg = failed!.message;
        log(
            `the rollback:\n${msg
                .split("\n")
                .filter((l) => /rollback|back on|NOT rolled/.test(l))
                .join("\n")}`,
        );
        expect(msg).to.contain("proof after apply failed");
        expect(msg).to.contain("27017/tcp: required but filtered (timed out)");
        const changed = steps(events).filter((s) => s.startsWith("pinhole:node:Firewall "));
        expect(changed.sort()).to.deep.equal(CHANGED.map((n) => `pinhole:node:Firewall ${n}-firewall-nft update`));
        expect(msg).to.contain(`every node this up changed is back on its previous ruleset (${CHANGED.length})`);
        for (const n of CHANGED) {
            expect(msg).to.contain(`  ${n}: back on its previous ruleset`);
            const after = table(n);
            log(`${n} after the rollback: ${tables(n).trim().split("\n").join(", ")}`);
            expect(after, `${n}'s table after the rollback`).to.equal(before[n]);
            expect(after).to.not.contain("9445");
        }
        // Other tables are not pinhole's to roll back: the foreign one stays on db-1.
        expect(tables("db-1")).to.contain("table inet othermgr").and.contain("table inet pinhole");
    });

    it("after the rollback, the next up (no config change) applies the changed nodes again and proves them", async () => {
        nft(db1ns, ["delete", "table", "inet", "othermgr"]);
        const events: EngineEvent[] = [];
        const up = await stack.up({ onEvent: (e) => events.push(e), onOutput: () => undefined });
        expect(up.summary.result).to.equal("succeeded");
        const changed = steps(events).filter((s) => s.startsWith("pinhole:node:Firewall "));
        expect(changed.sort()).to.deep.equal(CHANGED.map((n) => `pinhole:node:Firewall ${n}-firewall-nft update`));
        expect(steps(events).filter((s) => s.startsWith(`${PROOF} `))).to.have.length(1);
        for (const n of CHANGED) expect(table(n), n).to.contain("9445");
        await stack.preview({ expectNoChanges: true, onOutput: () => undefined });
    });

    it("the proof's listen audit names a dead pinhole once db-1's database stops (the up still passes: refused is open)", async () => {
        const db1 = lab.nodes.find((n) => n.name === "db-1")!;
        expect(db1.pids.listener, "db-1's listener pid").to.be.a("number");
        process.kill(db1.pids.listener!, "SIGKILL");
        const state = await stack.exportStack();
        const urn = ((state.deployment?.resources ?? []) as { type: string; urn: string }[]).find(
            (r) => r.type === PROOF,
        )!.urn;
        const up = await stack.up({ replace: [urn], onOutput: () => undefined });
        expect(up.summary.result).to.equal("succeeded");
        const warnings = ((await proofState(stack))?.warnings ?? []) as string[];
        const db1Lines = warnings.filter((w) => w.startsWith("listening: db-1: "));
        log(`listen audit on db-1:\n        ${db1Lines.join("\n        ")}`);
        const dead = /^listening: db-1: \d+ dead pinhole\(s\), opened but nothing listens: .*\b27017\/tcp \(database/;
        expect(
            db1Lines.filter((w) => dead.test(w)),
            "27017 is a dead pinhole now",
        ).to.have.length(1);
        expect(
            db1Lines.some((w) => /\b3306\/tcp\b/.test(w)),
            "labnet's 3306 went with it",
        ).to.equal(false);
    });
});

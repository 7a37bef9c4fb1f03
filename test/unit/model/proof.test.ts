// The proof after apply: pinhole:proof's validation, the Proof resource's inputs as the program builds them
// (model/proof.ts), the provider's check of those inputs and its failure message (provider/proof.ts; host probes
// against a listener on this machine's loopback, no SSH).
import { expect } from "chai";
import * as net from "net";
import { parseClusterConfig } from "../../../model/config";
import { DEFAULT_PROOF } from "../../../model/config/keys";
import { buildClusterPolicy } from "../../../model/policy";
import { probePlan } from "../../../model/probes";
import { hostTargetLines, nodeTargetLines, parseTargetLine, PROVISIONING_HOST, targetLine } from "../../../model/proof";
import { MAX_PROOF_TARGETS, parseProofInputs, proofHandler, runProof } from "../../../provider/proof";
import { handlers } from "../../../provider/main";
import { digestOf } from "../../../components/proof";
import { mustParse, rawCluster } from "../helpers/model-builders";

const NODES = [
    { name: "app-1", role: "application", address: "10.77.1.11", address6: "fd77::1:11" },
    { name: "db-1", role: "database", address: "10.77.1.101", address6: "fd77::1:101" },
    { name: "proxy-1", role: "webproxy", address: "10.77.1.201" },
];
const parse = (proof?: unknown) =>
    parseClusterConfig(rawCluster("modular", NODES, proof === undefined ? {} : { proof }));
const conn = { host: "10.77.1.11", port: 22, user: "root", hostKey: "ssh-ed25519 AAAA", sudo: false };

describe("pinhole:proof: validated like every section, each error naming the key", () => {
    it("absent or {}: on, with the documented defaults", () => {
        expect(parse().model!.proof).to.deep.equal({
            enabled: true,
            denyPerNode: 2,
            maxProbes: 10000,
            timeoutSeconds: 2,
            rollback: false,
        });
        expect(parse({}).model!.proof).to.deep.equal(DEFAULT_PROOF);
    });
    const accepted: [unknown, object][] = [
        [{ enabled: false }, { enabled: false, denyPerNode: 2, maxProbes: 10000, timeoutSeconds: 2, rollback: false }],
        [
            { enabled: "false", denyPerNode: "0" },
            { enabled: false, denyPerNode: 0, maxProbes: 10000, timeoutSeconds: 2, rollback: false },
        ],
        [
            { denyPerNode: 50, maxProbes: 10000, timeoutSeconds: 30 },
            { enabled: true, denyPerNode: 50, maxProbes: 10000, timeoutSeconds: 30, rollback: false },
        ],
        [
            { timeoutSeconds: 1 },
            { enabled: true, denyPerNode: 2, maxProbes: 10000, timeoutSeconds: 1, rollback: false },
        ],
        [{ rollback: true }, { enabled: true, denyPerNode: 2, maxProbes: 10000, timeoutSeconds: 2, rollback: true }],
        [{ maxProbes: "20000" }, { ...DEFAULT_PROOF, maxProbes: 20000 }],
        [{ maxProbes: 100 }, { ...DEFAULT_PROOF, maxProbes: 100 }],
        [{ rollback: "false" }, { ...DEFAULT_PROOF, rollback: false }],
    ];
    for (const [raw, want] of accepted)
        it(`accepts ${JSON.stringify(raw)}`, () => {
            const r = parse(raw);
            expect(r.errors).to.deep.equal([]);
            expect(r.model!.proof).to.deep.equal(want);
        });
    const refused: [unknown, string, RegExp][] = [
        ["on", "pinhole:proof", /expected a map/],
        [{ enable: true }, "pinhole:proof.enable", /unknown key "enable".*enabled/],
        [{ enabled: "yes" }, "pinhole:proof.enabled", /expected true or false/],
        [{ rollback: "on" }, "pinhole:proof.rollback", /expected true or false/],
        [{ denyPerNode: 51 }, "pinhole:proof.denyPerNode", /51 is out of range \(0-50\)/],
        [{ denyPerNode: -1 }, "pinhole:proof.denyPerNode", /out of range/],
        [{ maxProbes: 20001 }, "pinhole:proof.maxProbes", /20001 is out of range \(100-20000\)/],
        [{ maxProbes: 99 }, "pinhole:proof.maxProbes", /out of range/],
        [{ maxProbes: "lots" }, "pinhole:proof.maxProbes", /expected a whole number/],
        [{ timeoutSeconds: 0 }, "pinhole:proof.timeoutSeconds", /0 is out of range \(1-30\)/],
        [{ timeoutSeconds: 2.5 }, "pinhole:proof.timeoutSeconds", /expected a whole number/],
    ];
    for (const [raw, where, what] of refused)
        it(`refuses ${JSON.stringify(raw)} at ${where}`, () => {
            const r = parse(raw);
            expect(r.model).to.equal(undefined);
            expect(r.errors.map((e) => e.path)).to.deep.equal([where]);
            expect(r.errors[0].message).to.match(what);
        });
});

describe("the Proof's inputs (model/proof.ts) and the provider's check of them", () => {
    const model = mustParse(rawCluster("modular", NODES));
    const policy = buildClusterPolicy(model);

    it("per node: exactly that node's targets of the bounded plan, as lines that parse back", () => {
        const lines = nodeTargetLines(model, policy.flows, policy.nodes, { denyPerNode: 2, maxProbes: 10000 }).lines;
        expect(Object.keys(lines)).to.deep.equal(NODES.map((n) => n.name));
        const plan = probePlan(model, policy.flows, { denySample: { perNode: 2 } }, policy.nodes);
        for (const n of NODES) {
            const mine = plan.filter((t) => t.from === n.name);
            expect(lines[n.name], n.name).to.deep.equal(mine.map(targetLine));
            expect(mine.some((t) => t.expect === "open") && mine.some((t) => t.expect === "blocked"), n.name).to.equal(
                true,
            );
            for (const l of lines[n.name]) expect(parseTargetLine(n.name, l), l).to.be.an("object");
        }
        const more = nodeTargetLines(model, policy.flows, policy.nodes, { denyPerNode: 6, maxProbes: 10000 }).lines;
        const count = (x: Record<string, string[]>) => Object.values(x).flat().length;
        expect(count(more)).to.be.greaterThan(count(lines));
    });

    it("from the provisioning host: each node's SSH port, and a denied port once the apply's source is known", () => {
        const before = hostTargetLines(model, policy.nodes, {});
        expect(before.map((l) => l.split(" ").slice(0, 5).join(" "))).to.deep.equal(
            NODES.map((n) => `open tcp ${n.name} ${n.address} 22`),
        );
        const after = hostTargetLines(model, policy.nodes, { "db-1": "192.168.100.5" });
        const blocked = after.filter((l) => l.startsWith("blocked "));
        expect(blocked).to.have.length(1);
        expect(blocked[0]).to.match(/^blocked tcp db-1 10\.77\.1\.101 \d+ /);
        expect(after).to.include.members(before);
    });

    it("check: a malformed line, a node listed twice or a runaway plan is refused, naming the property", async () => {
        const lines = nodeTargetLines(model, policy.flows, policy.nodes, { denyPerNode: 2, maxProbes: 10000 }).lines;
        const good = {
            nodes: [{ node: "app-1", connection: conn, targets: lines["app-1"] }],
            hostTargets: hostTargetLines(model, policy.nodes, {}),
            privateKey: "k",
        };
        const ok = parseProofInputs(good);
        expect(ok.failures).to.deep.equal([]);
        expect(ok.nodes[0].targets).to.have.length(lines["app-1"].length);
        expect(ok.host.every((t) => t.from === PROVISIONING_HOST)).to.equal(true);

        const bad = await handlers["pinhole:node:Proof"].check({
            ...good,
            rulesetDigest: "d",
            nodes: [
                {
                    node: "app-1",
                    connection: conn,
                    targets: [...lines["app-1"], "open tcp db-1 10.77.1.101; reboot 22"],
                },
                { node: "app-1", connection: conn, targets: [] },
            ],
            hostTargets: ["blocked tcp db-1 10.77.1.101 99999 x"],
        });
        expect(bad.failures.map((f) => f.property)).to.deep.equal([
            `nodes[0].targets[${lines["app-1"].length}]`,
            "nodes[1].node",
            "hostTargets[0]",
        ]);
        expect(bad.failures[2].reason).to.match(/out of range/);

        const huge = Array.from({ length: MAX_PROOF_TARGETS + 1 }, () => lines["app-1"][0]);
        expect(parseProofInputs({ ...good, hostTargets: huge }).failures.map((f) => f.reason)).to.match(
            /at most 20000/,
        );
    });

    it("digest: changes with any part, and with the parts' boundaries", () => {
        expect(digestOf(["a", "b"])).to.equal(digestOf(["a", "b"]));
        expect(digestOf(["a", "b"])).to.not.equal(digestOf(["a", "c"]));
        expect(digestOf(["ab", ""])).to.not.equal(digestOf(["a", "b"]));
    });
});

describe("provider/proof.ts: the proof's verdict (host probes on loopback)", function () {
    this.timeout(30_000);
    let server: net.Server;
    let open: number;
    let closed: number;
    before(async () => {
        server = net.createServer((s) => s.destroy());
        await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
        open = (server.address() as net.AddressInfo).port;
        const probe = net.createServer();
        await new Promise<void>((r) => probe.listen(0, "127.0.0.1", r));
        closed = (probe.address() as net.AddressInfo).port;
        await new Promise((r) => probe.close(r));
    });
    after(() => server.close());

    const inputs = (hostTargets: string[]) => ({
        nodes: [],
        hostTargets,
        privateKey: "k",
        rulesetDigest: "d",
        timeoutSeconds: 1,
        rollback: false,
    });

    it("passes when every probe sees what the policy says; a refused required port is a warning", async () => {
        const outs = await runProof(
            inputs([`open tcp lo 127.0.0.1 ${open} listening`, `open tcp lo 127.0.0.1 ${closed} nothing listens here`]),
            () => new Date("2026-12-02T12:00:00Z"),
        );
        expect(outs).to.deep.include({ probes: 2, provedAt: "2026-12-02T12:00:00.000Z", rulesetDigest: "d" });
        expect(outs.warnings).to.have.length(1);
        expect(outs.warnings[0]).to.contain(
            `127.0.0.1) ${closed}/tcp: the firewall lets it through but nothing listens`,
        );
    });

    it("fails the up naming source, destination, port and what was seen", async () => {
        let msg = "";
        try {
            await proofHandler.create(inputs([`blocked tcp lo 127.0.0.1 ${open} must be dropped`]) as never);
        } catch (e) {
            msg = (e as Error).message;
        }
        expect(msg).to.match(/^proof after apply failed \(1 probes in [\d.]+ s\):/);
        expect(msg).to.contain(
            `provisioning host → lo (127.0.0.1) ${open}/tcp: forbidden but reachable (open) — must be dropped`,
        );
    });
});

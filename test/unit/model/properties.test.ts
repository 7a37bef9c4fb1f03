// Property tests over random valid clusters (seeded, hand-rolled generator: test/unit/helpers/model-builders.ts).
// Each property runs on the same RUNS clusters; a failure names the seed to replay it.

import { expect } from "chai";
import { ClusterModel, NodePolicy, Opening } from "../../../model/types";
import { buildPolicy } from "../../../model/policy";
import { expectedReachability } from "../../../model/reachability";
import { parseClusterConfig } from "../../../model/config";
import { SECTIONS } from "../../../model/catalog";
import { NARROWING_IDS, activeNarrowings } from "../../../model/narrowings";
import { cidrContains, formatIp, parseCidr, parseIp } from "../../../model/net";
import { Gen, prng, randomRawCluster, seenBy } from "../helpers/model-builders";

const RUNS = 150;
const BASE_SEED = 20261126;
const DATABASE_PORTS = [27017, 27019, 27020, 27030];
// Rows the reference marks "bi-directional", and same-role rows (symmetric by construction).
const SYMMETRIC_ROWS = [
    "proxy-proxy.cluster",
    "proxy-app.cluster",
    "unified-unified.database",
    "unified-unified.cluster",
    "app-app.cluster",
    "app-db.database",
    "db-db.database",
    "db-db.cluster",
];

interface Case {
    seed: number;
    model: ClusterModel;
    policies: NodePolicy[];
}

function cases(): Case[] {
    const out: Case[] = [];
    for (let i = 0; i < RUNS; i++) {
        const seed = BASE_SEED + i;
        const raw = randomRawCluster(new Gen(prng(seed)));
        const r = parseClusterConfig(raw);
        if (!r.model)
            throw new Error(
                `seed ${seed}: generator made an invalid config:\n${r.errors.map((e) => `${e.path}: ${e.message}`).join("\n")}`,
            );
        out.push({ seed, model: r.model, policies: buildPolicy(r.model) });
    }
    return out;
}

const all = (p: NodePolicy): Opening[] => [...p.inbound, ...p.outbound];

describe("policy properties over random valid clusters", () => {
    const CASES = cases();

    it(`the generator covers every model, NAT, IPv6 and all database-port modes (${RUNS} clusters)`, () => {
        const models = new Set(CASES.map((c) => c.model.model));
        expect([...models].sort()).to.deep.equal(["modular", "standalone", "unified"]);
        expect(CASES.some((c) => c.model.nodes.some((n) => n.advertisedAddress))).to.equal(true);
        expect(CASES.some((c) => c.model.nodes.some((n) => n.address.includes(":")))).to.equal(true);
        expect(new Set(CASES.map((c) => c.model.firewall.profile)).size).to.equal(2);
        expect(CASES.some((c) => c.model.nodes.some((n) => n.role === "application" && n.arbiter))).to.equal(true);
        for (const id of NARROWING_IDS) {
            expect(new Set(CASES.map((c) => activeNarrowings(c.model.firewall).has(id))).size, id).to.equal(2);
        }
    });

    it("bi-directional entries are symmetric: if B accepts row R from A, A accepts row R from B", () => {
        for (const { seed, model, policies } of CASES) {
            const accepts = new Set<string>();
            const acceptsPort = new Set<string>();
            for (const p of policies) {
                for (const o of p.inbound) {
                    if (o.peer.kind !== "node" || !o.rowId) continue;
                    accepts.add(`${p.node.name}<${o.peer.name}|${o.rowId}`);
                    acceptsPort.add(`${p.node.name}<${o.peer.name}|${o.rowId}|${o.port}`);
                }
            }
            for (const p of policies) {
                for (const o of p.inbound) {
                    if (o.peer.kind !== "node" || !o.rowId || !SYMMETRIC_ROWS.includes(o.rowId)) continue;
                    expect(
                        accepts.has(`${o.peer.name}<${p.node.name}|${o.rowId}`),
                        `seed ${seed}: ${p.node.name} accepts ${o.rowId} from ${o.peer.name} but not the reverse`,
                    ).to.equal(true);
                    // Port by port too, except 27030 when it only opens into nodes that run an arbiter.
                    if (o.port !== 27030 || !activeNarrowings(model.firewall).has("arbiterOnArbiterNodes")) {
                        expect(
                            acceptsPort.has(`${o.peer.name}<${p.node.name}|${o.rowId}|${o.port}`),
                            `seed ${seed}: ${o.reason} at ${p.node.name} has no reverse`,
                        ).to.equal(true);
                    }
                }
            }
        }
    });

    it("with the reference profile symmetry holds port by port", () => {
        for (const { seed, model } of CASES) {
            const literal = { ...model, firewall: { ...model.firewall, profile: "reference" as const, narrow: {} } };
            const policies = buildPolicy(literal);
            const set = new Set(
                policies.flatMap((p) =>
                    p.inbound
                        .filter((o) => o.peer.kind === "node")
                        .map((o) => `${p.node.name}<${o.peer.name}|${o.rowId}|${o.port}`),
                ),
            );
            for (const key of set) {
                const [pair, rowId, port] = key.split("|");
                const [to, from] = pair.split("<");
                if (!SYMMETRIC_ROWS.includes(rowId)) continue;
                expect(set.has(`${from}<${to}|${rowId}|${port}`), `seed ${seed}: ${key} has no reverse`).to.equal(true);
            }
        }
    });

    it("standalone has no inter-node openings", () => {
        for (const { seed, model, policies } of CASES.filter((c) => c.model.model === "standalone")) {
            expect(model.nodes.length).to.equal(1);
            for (const p of policies)
                expect(
                    all(p).filter((o) => o.peer.kind === "node"),
                    `seed ${seed}`,
                ).to.deep.equal([]);
        }
    });

    it("client networks never reach database ports", () => {
        for (const { seed, model, policies } of CASES) {
            for (const p of policies) {
                for (const o of p.inbound) {
                    if (DATABASE_PORTS.includes(o.port)) {
                        expect(o.peer.kind, `seed ${seed}: ${o.reason}`).to.equal("node");
                        expect(o.exposed, `seed ${seed}: ${o.reason}`).to.equal(false);
                    }
                }
            }
            // And as a probe would see it: addresses inside client networks that are not cluster nodes.
            const oracle = expectedReachability(model, policies);
            const nodeAddresses = new Set(
                model.nodes.flatMap((n) =>
                    [n.address, n.advertisedAddress].filter((a): a is string => !!a).map((a) => formatIp(parseIp(a)!)),
                ),
            );
            for (const client of model.networks.client) {
                const c = parseCidr(client);
                if (!c.ok) continue;
                for (const offset of [1n, 2n, 77n]) {
                    const addr = formatIp({ family: c.cidr.family, value: c.cidr.base + offset });
                    if (nodeAddresses.has(addr) || !cidrContains(client, addr)) continue;
                    for (const n of model.nodes) {
                        for (const port of DATABASE_PORTS) {
                            const v = oracle.inbound({ source: addr, to: n.name, protocol: "tcp", port });
                            expect(v.allowed, `seed ${seed}: ${addr} reaches ${n.name}:${port}: ${v.reason}`).to.equal(
                                false,
                            );
                        }
                    }
                }
            }
        }
    });

    it("every opening has a reason (port/proto first) and a known section", () => {
        const known = new Set<string>([...Object.values(SECTIONS), "Stack override: pinhole:firewall.extraInbound"]);
        for (const { seed, policies } of CASES) {
            for (const p of policies) {
                for (const o of all(p)) {
                    expect(o.reason, `seed ${seed}`).to.match(new RegExp(`^${o.port}/${o.protocol} (from|to) .+: .+`));
                    expect(known.has(o.section), `seed ${seed}: unknown section "${o.section}"`).to.equal(true);
                    expect(o.service, `seed ${seed}: ${o.reason}`).to.not.equal("");
                }
            }
        }
    });

    it("removing a node removes every opening that mentions it (by name and by address), and nothing else", () => {
        for (const { seed, model, policies } of CASES) {
            if (model.nodes.length < 2) continue;
            const g = new Gen(prng(seed * 7));
            const gone = g.pick(model.nodes);
            const smaller: ClusterModel = { ...model, nodes: model.nodes.filter((n) => n !== gone) };
            const after = buildPolicy(smaller);
            const goneAddresses = [gone.address, gone.advertisedAddress].filter((a): a is string => !!a);
            for (const p of after) {
                for (const o of all(p)) {
                    expect(o.peer.name, `seed ${seed}: ${p.node.name} still has ${o.reason}`).to.not.equal(gone.name);
                    if (o.peer.kind === "node")
                        for (const a of goneAddresses)
                            expect(o.peer.addresses, `seed ${seed}: ${o.reason}`).to.not.include(a);
                }
            }
            // Unless the removed node was the last of its role (then e.g. client 443 moves to the application nodes),
            // every other opening is unchanged.
            if (smaller.nodes.some((n) => n.role === gone.role)) {
                const before = new Map(policies.map((p) => [p.node.name, p]));
                for (const p of after) {
                    const old = before.get(p.node.name)!;
                    expect(p.inbound, `seed ${seed} ${p.node.name}`).to.deep.equal(
                        old.inbound.filter((o) => o.peer.name !== gone.name),
                    );
                    expect(p.outbound, `seed ${seed} ${p.node.name}`).to.deep.equal(
                        old.outbound.filter((o) => o.peer.name !== gone.name),
                    );
                }
            }
        }
    });

    it("outbound at the initiator ⇔ inbound at the acceptor, each with the other's address as it sees it", () => {
        for (const { seed, model, policies } of CASES) {
            const byName = new Map(policies.map((p) => [p.node.name, p]));
            const node = (name: string) => model.nodes.find((n) => n.name === name)!;
            for (const p of policies) {
                for (const o of p.inbound.filter((x) => x.peer.kind === "node")) {
                    const initiator = byName.get(o.peer.name)!;
                    const match = initiator.outbound.find(
                        (x) =>
                            x.peer.kind === "node" &&
                            x.peer.name === p.node.name &&
                            x.port === o.port &&
                            x.protocol === o.protocol &&
                            x.section === o.section,
                    );
                    expect(
                        match,
                        `seed ${seed}: ${p.node.name} accepts "${o.reason}" but ${o.peer.name} may not send it`,
                    ).to.not.equal(undefined);
                    expect(o.peer.addresses).to.deep.equal([seenBy(p.node, node(o.peer.name))]);
                    expect(match!.peer.addresses).to.deep.equal([seenBy(node(o.peer.name), p.node)]);
                }
                for (const o of p.outbound.filter((x) => x.peer.kind === "node")) {
                    const acceptor = byName.get(o.peer.name)!;
                    const match = acceptor.inbound.find(
                        (x) =>
                            x.peer.kind === "node" &&
                            x.peer.name === p.node.name &&
                            x.port === o.port &&
                            x.protocol === o.protocol,
                    );
                    expect(
                        match,
                        `seed ${seed}: ${p.node.name} may send "${o.reason}" but ${o.peer.name} does not accept it`,
                    ).to.not.equal(undefined);
                }
            }
        }
    });

    it("is deterministic: the same model gives the same policy, openings sorted by port, protocol, peer", () => {
        for (const { seed, model, policies } of CASES.slice(0, 30)) {
            expect(buildPolicy(model), `seed ${seed}`).to.deep.equal(policies);
            for (const p of policies) {
                for (const list of [p.inbound, p.outbound]) {
                    for (let i = 1; i < list.length; i++) {
                        const a = list[i - 1],
                            b = list[i];
                        const ordered =
                            a.port < b.port ||
                            (a.port === b.port &&
                                (a.protocol < b.protocol || (a.protocol === b.protocol && a.peer.name <= b.peer.name)));
                        expect(ordered, `seed ${seed}: ${a.reason} before ${b.reason}`).to.equal(true);
                    }
                }
            }
        }
    });

    it("the reachability oracle agrees with the policy for node-to-node traffic", () => {
        for (const { seed, model, policies } of CASES.slice(0, 40)) {
            const oracle = expectedReachability(model, policies);
            for (const p of policies) {
                for (const o of p.inbound.filter((x) => x.peer.kind === "node")) {
                    const v = oracle.between({
                        from: o.peer.name,
                        to: p.node.name,
                        protocol: o.protocol,
                        port: o.port,
                    });
                    expect(v.allowed, `seed ${seed}: ${v.reason}`).to.equal(true);
                }
                for (const other of model.nodes.filter((n) => n.name !== p.node.name)) {
                    const v = oracle.between({ from: other.name, to: p.node.name, protocol: "tcp", port: 9 });
                    expect(v.allowed, `seed ${seed}: discard port open`).to.equal(false);
                }
            }
        }
    });
});

// The proof's size bound (model/probe-budget.ts): above pinhole:proof.maxProbes the required inter-node flows are
// sampled, keeping every role-pair/port/family class and every node pair, and every must-deny probe.
import { expect } from "chai";
import { buildClusterPolicy } from "../../../model/policy";
import { familyOfAddress, probePlan, ProbeTarget } from "../../../model/probes";
import { boundPlan } from "../../../model/probe-budget";
import { nodeTargetLines, parseTargetLine } from "../../../model/proof";
import { ClusterModel } from "../../../model/types";
import { mustParse, rawCluster } from "../helpers/model-builders";

/** A modular cluster of 3 × perRole nodes, dual-stack, like the benchmark's lab. */
function modular(perRole: number): ClusterModel {
    const roles = [
        ["app", "application", 1],
        ["db", "database", 2],
        ["proxy", "webproxy", 3],
    ] as const;
    const nodes = roles.flatMap(([prefix, role, net]) =>
        Array.from({ length: perRole }, (_, i) => ({
            name: `${prefix}-${i + 1}`,
            role,
            address: `10.77.${net}.${i + 10}`,
            address6: `fd77::${net}:${i + 10}`,
        })),
    );
    return mustParse(rawCluster("modular", nodes));
}

const role = (m: ClusterModel, name: string) => m.nodes.find((n) => n.name === name)!.role;
const klass = (m: ClusterModel, t: ProbeTarget) =>
    `${role(m, t.from)}>${role(m, t.to)} ${t.port}/${t.protocol ?? "tcp"} v${familyOfAddress(t.address)}`;
const id = (t: ProbeTarget) => `${t.from} ${t.to} ${t.address} ${t.port}/${t.protocol ?? "tcp"} ${t.expect}`;

describe("the proof's size bound (pinhole:proof.maxProbes)", () => {
    const big = modular(16);
    const bigPolicy = buildClusterPolicy(big);
    const full = probePlan(big, bigPolicy.flows, { denySample: { perNode: 2 } }, bigPolicy.nodes);
    const names = new Set(big.nodes.map((n) => n.name));
    const requiredOf = (plan: ProbeTarget[]) => plan.filter((t) => t.expect === "open" && names.has(t.to));

    it("48 nodes: the full plan is over the provider's cap, the bounded one within maxProbes", () => {
        expect(full.length).to.be.greaterThan(20000);
        const b = boundPlan(big, full, 10000);
        expect(b.plan.length).to.be.at.most(10000);
        expect(b.required).to.equal(requiredOf(full).length);
        expect(b.requiredKept).to.equal(requiredOf(b.plan).length).and.to.be.lessThan(b.required);
    });

    it("keeps every class, every node pair and every must-deny or external probe, in the plan's order", () => {
        const b = boundPlan(big, full, 10000);
        const kept = new Set(b.plan.map(id));
        const classes = (plan: ProbeTarget[]) => new Set(requiredOf(plan).map((t) => klass(big, t)));
        const pairs = (plan: ProbeTarget[]) => new Set(requiredOf(plan).map((t) => `${t.from}>${t.to}`));
        expect([...classes(b.plan)].sort()).to.deep.equal([...classes(full)].sort());
        expect([...pairs(b.plan)].sort()).to.deep.equal([...pairs(full)].sort());
        const others = full.filter((t) => !(t.expect === "open" && names.has(t.to)));
        expect(others.filter((t) => !kept.has(id(t)))).to.deep.equal([]);
        const order = full.map(id).filter((x) => kept.has(x));
        expect(b.plan.map(id)).to.deep.equal(order);
    });

    it("is deterministic, and a budget below the classes and pairs still keeps them", () => {
        expect(boundPlan(big, full, 10000).plan.map(id)).to.deep.equal(boundPlan(big, full, 10000).plan.map(id));
        const tiny = boundPlan(big, full, 100);
        const pairs = new Set(requiredOf(full).map((t) => `${t.from}>${t.to}`));
        expect(tiny.requiredKept).to.be.at.least(pairs.size);
        expect(tiny.plan.length).to.be.lessThan(boundPlan(big, full, 10000).plan.length);
    });

    it("with no room left, every class still keeps one probe though the node pairs are fewer than the classes", () => {
        // One node per role: 6 node pairs carry many ports each, so keeping one probe per pair alone would drop classes.
        const one = modular(1);
        const op = buildClusterPolicy(one);
        const plan = probePlan(one, op.flows, { denySample: { perNode: 2 } }, op.nodes);
        const classesOf = (p: ProbeTarget[]) =>
            new Set(
                p
                    .filter((t) => t.expect === "open" && one.nodes.some((n) => n.name === t.to))
                    .map((t) => klass(one, t)),
            );
        const pairs = new Set(
            [...plan]
                .filter((t) => t.expect === "open" && one.nodes.some((n) => n.name === t.to))
                .map((t) => `${t.from}>${t.to}`),
        );
        expect(classesOf(plan).size).to.be.greaterThan(pairs.size);
        const b = boundPlan(one, plan, 1);
        expect([...classesOf(b.plan)].sort()).to.deep.equal([...classesOf(plan)].sort());
        expect(b.requiredKept).to.be.at.least(classesOf(plan).size);
    });

    it("a plan that fits is untouched and warns nothing; one that does not says so, with its numbers", () => {
        const small = modular(2);
        const sp = buildClusterPolicy(small);
        const fits = nodeTargetLines(small, sp.flows, sp.nodes, { denyPerNode: 2, maxProbes: 10000 });
        const plan = probePlan(small, sp.flows, { denySample: { perNode: 2 } }, sp.nodes);
        expect(Object.values(fits.lines).flat()).to.have.length(plan.length);
        expect(fits.warning).to.equal(undefined);

        const cut = nodeTargetLines(big, bigPolicy.flows, bigPolicy.nodes, { denyPerNode: 2, maxProbes: 10000 });
        const lines = Object.entries(cut.lines).flatMap(([from, ls]) => ls.map((l) => parseTargetLine(from, l)));
        expect(lines.every((t) => typeof t === "object")).to.equal(true);
        // The host's share (2 per node) stays free, so the whole proof fits maxProbes.
        expect(lines.length + 2 * big.nodes.length).to.be.at.most(10000);
        const b = boundPlan(big, full, 10000 - 2 * big.nodes.length);
        expect(cut.warning).to.equal(
            `the proof probes ${b.requiredKept} of ${b.required} required inter-node flows (pinhole:proof.maxProbes 10000): ` +
                "every role pair, port and family and every node pair at least once, the rest a fixed sample; " +
                "raise maxProbes to probe more, or run `npm run verify` for every flow",
        );
    });
});

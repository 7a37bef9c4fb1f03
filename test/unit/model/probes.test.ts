// The probe plan of the proof after apply and of verify (model/probes.ts): derived from the flows, required
// flows complete, the must-deny sample bounded, deterministic and covering every port class; the wire form.
import { expect } from "chai";
import { buildClusterPolicy } from "../../../model/policy";
import { expectedReachability } from "../../../model/reachability";
import { FORBIDDEN_CANDIDATES, judgeProbe, portClasses, probePlan } from "../../../model/probes";
import { parseTargetLine, proofFailureText, targetLine } from "../../../model/proof";
import { mustParse, rawCluster } from "../helpers/model-builders";

const modular = mustParse(
    rawCluster("modular", [
        { name: "app-1", role: "application", address: "10.77.1.11", address6: "fd77::1:11" },
        { name: "app-2", role: "application", address: "10.77.1.12", address6: "fd77::1:12" },
        { name: "db-1", role: "database", address: "10.77.1.101", address6: "fd77::1:101" },
        { name: "db-2", role: "database", address: "10.77.1.102", address6: "fd77::1:102", arbiter: true },
        { name: "proxy-1", role: "webproxy", address: "10.77.1.201" },
    ]),
);

describe("model/probes: the proof's probe plan", () => {
    const policy = buildClusterPolicy(modular);
    const reach = expectedReachability(modular, policy.nodes);
    const plan = probePlan(modular, policy.flows, { denySample: { perNode: 2 } }, policy.nodes);

    it("probes every required flow between nodes, at each address family both ends have, TCP and UDP", () => {
        const between = policy.flows.filter((f) => f.from.kind === "node" && f.to.kind === "node");
        const want = between
            .flatMap((f) => {
                const src = modular.nodes.find((n) => n.name === f.from.name)!;
                const fams = src.address6 ? [4, 6] : [4];
                return f.to.addresses
                    .filter((a) => fams.includes(a.includes(":") ? 6 : 4))
                    .map((a) => `${f.from.name} ${f.to.name} ${a} ${f.port}/${f.protocol}`);
            })
            .sort();
        const got = plan
            .filter((t) => t.expect === "open" && modular.nodes.some((n) => n.name === t.to))
            .map((t) => `${t.from} ${t.to} ${t.address} ${t.port}/${t.protocol ?? "tcp"}`)
            .sort();
        expect(got).to.deep.equal(want);
        expect(got.some((k) => k.endsWith("/udp"))).to.equal(true);
        expect(got.some((k) => k.includes("fd77::1:101 27017/tcp"))).to.equal(true);
        // proxy-1 has no IPv6: nothing from or to it on IPv6
        expect(
            plan.filter((t) => t.from === "proxy-1" || t.to === "proxy-1").every((t) => !t.address.includes(":")),
        ).to.equal(true);
    });

    it("every must-deny probe is denied by the policy, and every port class is sampled once per family where it is denied", () => {
        const denied = plan.filter((t) => t.expect === "blocked");
        for (const t of denied) {
            const v = reach.between({
                from: t.from,
                to: t.to,
                protocol: t.protocol ?? "tcp",
                port: t.port,
                family: t.address.includes(":") ? 6 : 4,
            });
            expect(v.allowed, `${t.from}→${t.to} ${t.port}`).to.equal(false);
        }
        const classes = portClasses(policy.flows);
        expect(classes.filter((c) => c.protocol === "tcp").map((c) => c.port)).to.include.members([
            ...FORBIDDEN_CANDIDATES,
        ]);
        for (const family of [4, 6] as const) {
            for (const c of classes) {
                const deniedSomewhere = modular.nodes.some((a) =>
                    modular.nodes.some(
                        (b) =>
                            a !== b &&
                            (family === 4 || (a.address6 && b.address6)) &&
                            !reach.between({ from: a.name, to: b.name, protocol: c.protocol, port: c.port, family })
                                .allowed,
                    ),
                );
                const sampled = denied.some(
                    (t) =>
                        t.port === c.port &&
                        (t.protocol ?? "tcp") === c.protocol &&
                        (t.address.includes(":") ? 6 : 4) === family,
                );
                expect(sampled, `${c.port}/${c.protocol} IPv${family}`).to.equal(deniedSomewhere);
            }
        }
    });

    it("is bounded (classes × families + perNode × nodes) and deterministic", () => {
        const denied = plan.filter((t) => t.expect === "blocked");
        expect(denied.length).to.be.at.most(portClasses(policy.flows).length * 2 + 2 * modular.nodes.length);
        expect(probePlan(modular, policy.flows, { denySample: { perNode: 2 } }, policy.nodes)).to.deep.equal(plan);
        const more = probePlan(modular, policy.flows, { denySample: { perNode: 6 } }, policy.nodes).filter(
            (t) => t.expect === "blocked",
        );
        expect(more.length).to.be.greaterThan(denied.length);
        // One source alone gets the same targets as in the whole plan.
        const one = probePlan(modular, policy.flows, { denySample: { perNode: 2 }, from: ["db-1"] }, policy.nodes);
        expect(one).to.deep.equal(plan.filter((t) => t.from === "db-1"));
    });

    it("verify's per-peer sample stays: the first N forbidden candidates per peer and address", () => {
        const v = probePlan(modular, policy.flows, { forbiddenPerPeer: 2 }, policy.nodes);
        const pair = v
            .filter((t) => t.from === "proxy-1" && t.to === "db-1" && t.expect === "blocked")
            .map((t) => t.port);
        expect(pair).to.deep.equal([22, 27017]);
    });

    it("wire form: a target survives targetLine/parseTargetLine; malformed lines are refused with the reason", () => {
        for (const t of plan.slice(0, 40))
            expect(parseTargetLine(t.from, targetLine(t))).to.deep.equal({
                ...t,
                why: t.why.replace(/\s+/g, " ").slice(0, 200),
            });
        expect(parseTargetLine("a", "open tcp b 10.0.0.1; rm -rf / 22 x")).to.match(/is not/);
        expect(parseTargetLine("a", "open tcp b 10.0.0.1 70000 x")).to.match(/out of range/);
        expect(parseTargetLine("a", "open tcp b $(reboot) 22 x")).to.match(/not an IP address/);
    });

    it("a failed proof names source, destination, address, port and what was seen", () => {
        const rows = [
            judgeProbe(
                {
                    from: "app-1",
                    to: "db-1",
                    address: "10.77.1.101",
                    port: 27017,
                    expect: "open",
                    why: "27017/tcp app-1 to db-1: database",
                },
                "timeout",
            ),
            judgeProbe(
                { from: "db-1", to: "app-1", address: "10.77.1.11", port: 3306, expect: "blocked", why: "no one" },
                "refused",
            ),
            judgeProbe(
                { from: "db-1", to: "app-1", address: "10.77.1.11", port: 8443, expect: "open", why: "w" },
                "open",
            ),
        ];
        const text = proofFailureText(rows);
        expect(text).to.match(/^2 of 3 probe/);
        expect(text).to.contain("app-1 → db-1 (10.77.1.101) 27017/tcp: required but filtered (timed out)");
        expect(text).to.contain("db-1 → app-1 (10.77.1.11) 3306/tcp: forbidden but reachable (refused)");
    });
});

import { expect } from "chai";
import {
    classify,
    familyOf,
    formatTable,
    groupBySource,
    joinResults,
    parseProberOutput,
    probeSources,
    probeTargets,
    proberInput,
    ProbeResult,
    toJsonRows,
} from "../../../lab/probe-plan";
import { NODE_PORTS } from "../../../lab/ports";
import { buildPlan } from "../../../lab/shapes";

describe("lab probe plan", () => {
    // dual-stack plans (the default; the IPv4-only lab has no IPv6 rows: checked below)
    const unified = buildPlan({ model: "unified", ipv6: true });
    const multisite = buildPlan({ model: "multisite", ipv6: true });

    it("sources: the provisioning host (root namespace), every node, every vantage", () => {
        const s = probeSources(unified);
        expect(s[0]).to.deep.equal({ name: "provisioner", kind: "provisioner", netns: null });
        expect(s.filter((x) => x.kind === "node")).to.have.length(6);
        expect(s.filter((x) => x.kind === "vantage")).to.have.length(13);
    });

    it("targets: every source to every other node's ports, nodes also to every external's ports", () => {
        const t = probeTargets(unified);
        const nodePorts = NODE_PORTS.length;
        const externalsPorts = unified.vantages.reduce((a, v) => a + v.ports.length, 0);
        // provisioner + 13 vantages → 6 nodes; 6 nodes → 5 other nodes + externals; each in IPv4 and IPv6
        const perFamily = 14 * 6 * nodePorts + 6 * (5 * nodePorts + externalsPorts);
        expect(t.length).to.equal(2 * perFamily);
        expect(t.filter((x) => familyOf(x.address) === 6)).to.have.length(perFamily);
        expect(probeTargets(unified, { families: [4] }).every((x) => familyOf(x.address) === 4)).to.equal(true);
        expect(probeTargets(unified, { families: [6] })).to.have.length(perFamily);
        expect(
            t.find((x) => x.from === "admin" && x.to === "unified-1" && familyOf(x.address) === 6)!.address,
        ).to.equal("fd77::1:11");
        expect(t.find((x) => x.from === "unified-1" && x.to === "ntp" && familyOf(x.address) === 6)!.address).to.equal(
            "fd77::50:17",
        );
        expect(() => probeTargets(unified, { families: [5 as 4] })).to.throw(/families: 5 is not 4 or 6/);
        const v4only = probeTargets(buildPlan({ model: "unified", ipv6: false }));
        expect(v4only).to.have.length(perFamily);
        expect(v4only.every((x) => familyOf(x.address) === 4)).to.equal(true);
        expect(t.some((x) => x.from === x.to)).to.equal(false);
        expect(t.filter((x) => x.from === "client" && x.to === "ucm")).to.have.length(0);
        expect(
            t.filter((x) => x.from === "proxy-1" && x.to === "ldap").map((x) => `${x.port}/${x.protocol}`),
        ).to.include.members(["389/tcp", "389/udp", "636/tcp", "636/udp"]);
        expect(new Set(t.map((x) => x.id)).size).to.equal(t.length);
        expect(probeTargets(unified, { includeSelf: true }).some((x) => x.from === x.to)).to.equal(true);
    });

    it("targets use the advertised address from other sites and from outside, the internal one within the site", () => {
        const ports = [{ protocol: "tcp" as const, port: 22, label: "ssh", reference: true }];
        const t = probeTargets(multisite, { to: ["unified-3"], ports, families: [4] });
        const addr = Object.fromEntries(t.map((x) => [x.from, x.address]));
        expect(addr["unified-1"]).to.equal("10.77.2.11");
        expect(addr["unified-4"]).to.equal("10.78.2.11");
        expect(addr["provisioner"]).to.equal("10.77.2.11");
        expect(addr["client"]).to.equal("10.77.2.11");
        // IPv6 is routed without NAT: the same address from everywhere
        const t6 = probeTargets(multisite, { to: ["unified-3"], ports, families: [6] });
        expect([...new Set(t6.map((x) => x.address))]).to.deep.equal(["fd77:0:0:2::11"]);
    });

    it("selection by --from/--to, with unknown names rejected", () => {
        const t = probeTargets(unified, { from: ["client"], to: ["proxy-1", "proxy-2"] });
        expect(new Set(t.map((x) => x.from))).to.deep.equal(new Set(["client"]));
        expect(new Set(t.map((x) => x.to))).to.deep.equal(new Set(["proxy-1", "proxy-2"]));
        expect(() => probeTargets(unified, { from: ["nobody"], to: ["nowhere"] })).to.throw(
            /unknown source "nobody".*unknown destination "nowhere"/,
        );
    });

    it("prober input/output round trip and classification", () => {
        const t = probeTargets(unified, { from: ["admin"], to: ["unified-1"] }).slice(0, 4);
        expect(proberInput(t).split("\n")[0]).to.equal(`${t[0].id} tcp 10.77.1.11 22`);
        const lines = parseProberOutput(
            `${t[0].id} connected 0.4 -\n${t[1].id} timeout 700.9 -\n${t[2].id} refused 0.2 ECONNREFUSED\ngarbage\n`,
        );
        expect(lines).to.have.length(3);
        const r = joinResults(t, lines, 1000);
        expect(r.map((x) => x.result)).to.deep.equal(["open", "filtered", "refused", "filtered"]);
        expect(r[3].detail).to.equal("missing");
        expect(r[2].detail).to.equal("refused ECONNREFUSED");
        expect(Object.keys(toJsonRows(r)[0]).sort()).to.deep.equal([
            "address",
            "from",
            "ms",
            "port",
            "protocol",
            "result",
            "to",
        ]);
    });

    it("classify: open / refused / filtered", () => {
        expect(classify("connected")).to.equal("open");
        expect(classify("reply")).to.equal("open");
        expect(classify("refused", "ECONNREFUSED")).to.equal("refused");
        expect(classify("timeout")).to.equal("filtered");
        expect(classify("unreach", "EHOSTUNREACH")).to.equal("filtered");
        expect(classify("unreach", "EPERM")).to.equal("filtered");
        expect(classify("error", "ECONNREFUSED")).to.equal("refused");
        expect(classify("error", "EINVAL")).to.equal("filtered");
    });

    it("groups targets by source (one prober per namespace)", () => {
        const g = groupBySource(probeTargets(unified, { from: ["admin", "proxy-1"] }));
        expect([...g.keys()]).to.deep.equal(["proxy-1", "admin"]);
    });

    it("formats one line per pair with ports by result, and a summary", () => {
        const row = (
            port: number,
            protocol: "tcp" | "udp",
            result: ProbeResult["result"],
            to = "unified-1",
        ): ProbeResult => ({ from: "admin", to, address: "10.77.1.11", protocol, port, result, ms: 1 });
        const text = formatTable([
            row(22, "tcp", "open"),
            row(443, "tcp", "open"),
            row(161, "udp", "open"),
            row(3306, "tcp", "filtered"),
            row(9000, "tcp", "refused"),
            row(22, "tcp", "open", "proxy-1"),
            row(443, "tcp", "open", "proxy-1"),
        ]);
        const lines = text.split("\n");
        expect(lines[0]).to.match(/^FROM\s+TO\s+ADDRESS\s+OPEN\s+FILTERED\s+REFUSED$/);
        expect(lines[1]).to.match(/^admin\s+unified-1\s+10\.77\.1\.11\s+tcp 22,443  udp 161\s+tcp 3306\s+tcp 9000$/);
        expect(lines[2]).to.match(/^admin\s+proxy-1\s+10\.77\.1\.11\s+all 2\s+-\s+-$/);
        expect(lines[lines.length - 1]).to.equal("7 probes: 5 open, 1 filtered, 1 refused");
    });

    it("formats one line per address family of a pair, and a summary per family", () => {
        const row = (address: string, port: number, result: ProbeResult["result"]): ProbeResult => ({
            from: "admin",
            to: "unified-1",
            address,
            protocol: "tcp",
            port,
            result,
            ms: 1,
        });
        const lines = formatTable([
            row("10.77.1.11", 22, "open"),
            row("10.77.1.11", 80, "filtered"),
            row("fd77::1:11", 22, "open"),
            row("fd77::1:11", 80, "open"),
        ]).split("\n");
        expect(lines[1]).to.match(/^admin\s+unified-1\s+10\.77\.1\.11\s+tcp 22\s+tcp 80\s+-$/);
        expect(lines[2]).to.match(/^admin\s+unified-1\s+fd77::1:11\s+all 2\s+-\s+-$/);
        expect(lines.slice(-3)).to.deep.equal([
            "4 probes: 3 open, 1 filtered, 0 refused",
            "  IPv4: 2 probes: 1 open, 1 filtered, 0 refused",
            "  IPv6: 2 probes: 2 open, 0 filtered, 0 refused",
        ]);
    });
});

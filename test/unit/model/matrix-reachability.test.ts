import { expect } from "chai";
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { buildClusterPolicy, buildFlows, buildPolicy } from "../../../model/policy";
import { expectedReachability } from "../../../model/reachability";
import { formatMatrixJson, formatMatrixTable, matrixRows } from "../../../model/matrix";
import { cidrContains, cidrsOverlap, formatIp, parseCidr, parseIp, parseIPv6 } from "../../../model/net";
import { checkDeploymentModel } from "../../../model/roles";
import { ClusterModel } from "../../../model/types";
import { mustParse, rawCluster } from "../helpers/model-builders";

const ROOT = path.resolve(__dirname, "../../..");

/** The oracle's semantics are tested on the strict profile (its decisions are the interesting denials). */
function natUnified(firewall: Record<string, unknown> = { profile: "strict" }): ClusterModel {
    return mustParse(
        rawCluster(
            "unified",
            [
                { name: "proxy-a", role: "webproxy", site: "dc1", address: "10.1.0.21" },
                { name: "uni-a", role: "unified", site: "dc1", address: "10.1.0.11", arbiter: true },
                {
                    name: "uni-b",
                    role: "unified",
                    site: "dc2",
                    address: "10.2.0.11",
                    advertisedAddress: "198.51.100.11",
                },
            ],
            { firewall },
        ),
    );
}

describe("model/reachability: the expected-reachability oracle", () => {
    const model = natUnified();
    const oracle = expectedReachability(model);

    it("answers for a source address as the destination sees it, with the opening's reason", () => {
        const v = oracle.inbound({ source: "198.51.100.11", to: "uni-a", protocol: "tcp", port: 27017 });
        expect(v.allowed).to.equal(true);
        expect(v.reason).to.equal("27017/tcp from uni-b: unified to unified, database access");
        expect(v.openings[0].section).to.equal("Unified Node to Unified node");
    });

    it("NAT: a peer at another site is only recognised at its advertised address", () => {
        expect(oracle.inbound({ source: "10.2.0.11", to: "uni-a", protocol: "tcp", port: 27017 }).allowed).to.equal(
            false,
        );
        expect(oracle.sourceAddress("uni-b", "uni-a")).to.equal("198.51.100.11");
        expect(oracle.sourceAddress("uni-a", "uni-b")).to.equal("10.1.0.11");
        expect(oracle.between({ from: "uni-b", to: "uni-a", protocol: "tcp", port: 27017 }).allowed).to.equal(true);
    });

    it("explains a denial by naming who is allowed on that port", () => {
        const v = oracle.inbound({ source: "192.168.100.7", to: "uni-a", protocol: "tcp", port: 27017 });
        expect(v.allowed).to.equal(false);
        expect(v.reason).to.equal(
            "uni-a accepts 27017/tcp only from proxy-a, uni-b, and 192.168.100.7 is none of them".replace(
                "proxy-a, ",
                "",
            ),
        );
        expect(oracle.inbound({ source: "192.168.100.7", to: "uni-a", protocol: "udp", port: 9 }).reason).to.equal(
            "uni-a accepts 9/udp from no one",
        );
    });

    it("arbiter port only where the arbiter runs (strict); both ways under the reference profile", () => {
        expect(oracle.between({ from: "uni-b", to: "uni-a", protocol: "tcp", port: 27030 }).allowed).to.equal(true);
        expect(oracle.between({ from: "uni-a", to: "uni-b", protocol: "tcp", port: 27030 }).allowed).to.equal(false);
        const reference = expectedReachability(natUnified({}));
        expect(reference.between({ from: "uni-a", to: "uni-b", protocol: "tcp", port: 27030 }).allowed).to.equal(true);
        expect(reference.inbound({ source: "192.168.100.9", to: "uni-b", protocol: "udp", port: 22 }).allowed).to.equal(
            true,
        );
        expect(reference.listening("proxy-a").map((p) => `${p.port}/${p.protocol}`)).to.deep.equal([
            "22/tcp",
            "22/udp",
            "80/tcp",
            "161/tcp",
            "161/udp",
            "162/tcp",
            "162/udp",
            "443/tcp",
            "8443/tcp",
        ]);
    });

    it("networks: admin reaches 22/tcp, monitoring 161/udp, clients 443/tcp on proxies only", () => {
        expect(oracle.inbound({ source: "192.168.100.9", to: "uni-b", protocol: "tcp", port: 22 }).allowed).to.equal(
            true,
        );
        expect(oracle.inbound({ source: "192.168.100.9", to: "uni-b", protocol: "udp", port: 22 }).allowed).to.equal(
            false,
        );
        expect(oracle.inbound({ source: "192.168.101.9", to: "uni-b", protocol: "udp", port: 161 }).allowed).to.equal(
            true,
        );
        expect(oracle.inbound({ source: "203.0.113.200", to: "proxy-a", protocol: "tcp", port: 443 }).allowed).to.equal(
            true,
        );
        expect(oracle.inbound({ source: "203.0.113.200", to: "uni-a", protocol: "tcp", port: 443 }).allowed).to.equal(
            false,
        );
        expect(oracle.openPorts("192.168.100.9", "proxy-a")).to.deep.equal([{ protocol: "tcp", port: 22 }]);
        expect(oracle.listening("proxy-a").map((p) => `${p.port}/${p.protocol}`)).to.deep.equal([
            "22/tcp",
            "161/udp",
            "443/tcp",
            "8443/tcp",
        ]);
    });

    it("with egress deny, the initiator's outbound list must allow it too", () => {
        const deny = { ...model, firewall: { ...model.firewall, egress: "deny" as const } };
        const policies = buildPolicy(deny);
        const a = policies.find((p) => p.node.name === "uni-a")!;
        a.outbound = a.outbound.filter((o) => !(o.peer.name === "uni-b" && o.port === 8443));
        const v = expectedReachability(deny, policies).between({
            from: "uni-a",
            to: "uni-b",
            protocol: "tcp",
            port: 8443,
        });
        expect(v.allowed).to.equal(false);
        expect(v.reason).to.contain("uni-a (egress: deny) has no outbound opening to uni-b");
    });

    it("refuses unknown nodes, bad addresses and self-queries loudly", () => {
        expect(() => oracle.inbound({ source: "10.0.0.1", to: "nope", protocol: "tcp", port: 1 })).to.throw(
            "unknown node",
        );
        expect(() => oracle.inbound({ source: "not-ip", to: "uni-a", protocol: "tcp", port: 1 })).to.throw("not an IP");
        expect(() => oracle.between({ from: "uni-a", to: "uni-a", protocol: "tcp", port: 1 })).to.throw(
            "two different nodes",
        );
    });
});

describe("model/matrix: the port matrix", () => {
    const model = natUnified();

    it("has one row per flow, sorted by reference section, with from/to/protocol/port/reason/section", () => {
        const rows = matrixRows(model);
        expect(rows.length).to.equal(buildFlows(model).length);
        const first = rows[0];
        expect(first.section).to.equal("Proxy to Unified/Application Node");
        for (const r of rows) {
            expect(r).to.have.keys(
                [
                    "from",
                    "to",
                    "fromKind",
                    "toKind",
                    "fromLabel",
                    "toLabel",
                    "fromAddresses",
                    "toAddresses",
                    "protocol",
                    "port",
                    "service",
                    "reason",
                    "section",
                    "exposed",
                    "rowId",
                ].filter((k) => k !== "rowId" || r.rowId !== undefined),
            );
        }
        const ssh = rows.find((r) => r.port === 22 && r.to === "uni-b")!;
        expect(ssh).to.deep.include({
            from: "192.168.100.0/24",
            fromLabel: "admin networks",
            protocol: "tcp",
            section: "Inbound communications to all nodes",
        });
        const nat = rows.find((r) => r.from === "uni-b" && r.to === "uni-a" && r.port === 27017)!;
        expect(nat.fromAddresses).to.deep.equal(["198.51.100.11"]);
        expect(nat.reason).to.equal("unified to unified, database access");
    });

    it("the policy's flows are first-class: the matrix reads them, each opening is one end of one flow", () => {
        const p = buildClusterPolicy(model);
        expect(matrixRows(model, p.flows)).to.deep.equal(matrixRows(model));
        expect(p.nodes).to.deep.equal(buildPolicy(model));
        const ends =
            p.flows.filter((f) => f.to.kind === "node").length + p.flows.filter((f) => f.from.kind === "node").length;
        expect(p.nodes.reduce((a, n) => a + n.inbound.length + n.outbound.length, 0)).to.equal(ends);
        // The matrix's WHY is the flow's own, whatever it looks like (nothing is parsed back out of reason text).
        const f = { ...p.flows[0], why: "22/tcp from admin networks: text shaped like an opening's reason" };
        expect(matrixRows(model, [f])[0].reason).to.equal(f.why);
    });

    it("formats a readable table grouped by section, and JSON", () => {
        const rows = matrixRows(model);
        const text = formatMatrixTable(model, rows, "t");
        expect(text).to.contain("t: unified model, 3 nodes, 2 sites");
        expect(text).to.contain("== Unified Node to Unified node ==");
        expect(text).to.match(
            /uni-b \(198\.51\.100\.11\)\s+uni-a \(10\.1\.0\.11\)\s+27017\/tcp\s+unified to unified, database access/,
        );
        expect(text).to.match(/client networks \(.*\)\s+proxy-a \(10\.1\.0\.21\)\s+443\/tcp \*/);
        expect(formatMatrixTable(rows, { model })).to.equal(formatMatrixTable(model, rows));
        const json = JSON.parse(formatMatrixJson(rows));
        expect(json).to.have.length(rows.length);
        expect(json[0]).to.include.keys(["from", "to", "protocol", "port", "reason", "section"]);
    });

    describe("tools/matrix/main.ts", function () {
        this.timeout(60000);
        const run = (args: string[]) =>
            spawnSync(
                process.execPath,
                [
                    path.join(ROOT, "node_modules/ts-node/dist/bin.js"),
                    "--transpile-only",
                    path.join(ROOT, "tools/matrix/main.ts"),
                    ...args,
                ],
                { cwd: ROOT, encoding: "utf8" },
            );

        it("prints the example stack as a table and as JSON", () => {
            const table = run(["--stack", "example-modular"]);
            expect(table.status, table.stderr).to.equal(0);
            expect(table.stdout).to.contain("== Application Node to Database node ==");
            const json = run(["--stack", "example-modular", "--json"]);
            expect(json.status, json.stderr).to.equal(0);
            const rows = JSON.parse(json.stdout) as { from: string; to: string; port: number }[];
            expect(rows.some((r) => r.from === "app-1" && r.to === "db-1" && r.port === 27017)).to.equal(true);
        });

        it("exits 2 and lists every problem with its path on a bad config", () => {
            const dir = fs.mkdtempSync(path.join(os.tmpdir(), "pinhole-matrix-"));
            fs.writeFileSync(
                path.join(dir, "Pulumi.bad.yaml"),
                "config:\n  pinhole:model: modulr\n  pinhole:nodes: []\n",
            );
            const r = run(["--stack", "bad", "--dir", dir]);
            expect(r.status).to.equal(2);
            expect(r.stderr).to.contain('pinhole:model: "modulr" is not one of');
            expect(r.stderr).to.contain("pinhole:networks: missing");
            expect(r.stderr).to.contain("pinhole:nodes: is empty");
            fs.rmSync(dir, { recursive: true });
        });
    });
});

describe("model/net: addresses and CIDRs", () => {
    const V6: [string, string | undefined][] = [
        ["::", "::"],
        ["::1", "::1"],
        ["2001:db8::1", "2001:db8::1"],
        ["2001:DB8:0:0:0:0:0:1", "2001:db8::1"],
        ["fe80::1:2", "fe80::1:2"],
        ["::ffff:10.0.0.1", "::ffff:a00:1"],
        ["1:2:3:4:5:6:7:8", "1:2:3:4:5:6:7:8"],
        ["1:0:0:2:0:0:0:3", "1:0:0:2::3"],
        ["1::2::3", undefined],
        ["1:2:3:4:5:6:7:8:9", undefined],
        ["12345::", undefined],
        ["1:2:3:4:5:6:7::8", undefined],
        ["::10.0.0.1:5", undefined],
        ["fe80::1%eth0", undefined],
        ["", undefined],
    ];
    for (const [text, canonical] of V6) {
        it(`IPv6 ${JSON.stringify(text)} → ${canonical ?? "invalid"}`, () => {
            const v = parseIPv6(text);
            if (canonical === undefined) expect(v).to.equal(undefined);
            else expect(formatIp({ family: 6, value: v! })).to.equal(canonical);
        });
    }
    it("IPv4 is strict: four decimal octets, no leading zeros", () => {
        expect(parseIp("10.0.0.1")?.family).to.equal(4);
        for (const bad of ["10.0.0", "10.0.0.256", "010.0.0.1", "1.2.3.4.5", "a.b.c.d", " 10.0.0.1"])
            expect(parseIp(bad), bad).to.equal(undefined);
    });
    it("CIDRs: containment, overlap, host bits, bare addresses", () => {
        expect(cidrContains("10.0.0.0/8", "10.200.1.1")).to.equal(true);
        expect(cidrContains("10.0.0.0/8", "11.0.0.1")).to.equal(false);
        expect(cidrContains("0.0.0.0/0", "2001:db8::1")).to.equal(false);
        expect(cidrContains("::/0", "2001:db8::1")).to.equal(true);
        expect(cidrContains("10.0.0.5", "10.0.0.5")).to.equal(true);
        expect(cidrsOverlap("10.0.0.0/8", "10.1.0.0/16")).to.equal(true);
        expect(cidrsOverlap("10.0.0.0/16", "10.1.0.0/16")).to.equal(false);
        const hostBits = parseCidr("2001:db8::1/32");
        expect(hostBits.ok).to.equal(false);
        if (!hostBits.ok) expect(hostBits.suggestion).to.equal("2001:db8::/32");
    });
});

describe("model/roles: deployment model rules", () => {
    const n = (role: string, arbiter = false, site = "a") => ({ role: role as never, arbiter, site });
    it("unified: warns when database voters are split evenly between two sites", () => {
        const r = checkDeploymentModel("unified", [n("unified", false, "a"), n("unified", false, "b")]);
        expect(r.errors).to.deep.equal([]);
        expect(r.warnings.map((w) => w.message).join("\n")).to.contain("split evenly between sites a and b");
    });
    it("an arbiter makes the voter count odd and silences the warning", () => {
        const r = checkDeploymentModel("unified", [n("unified", true, "a"), n("unified", false, "a")]);
        expect(r.warnings).to.deep.equal([]);
    });
    it("more than one arbiter is a warning", () => {
        const r = checkDeploymentModel("modular", [
            n("application"),
            n("webproxy"),
            n("database", true),
            n("database", true),
            n("database"),
        ]);
        expect(r.warnings.map((w) => w.message).join("\n")).to.contain("2 arbiters");
    });
});

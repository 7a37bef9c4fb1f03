// Dual-stack nodes (address + address6): config validation, policy (both families opened), the reachability
// oracle per family, the rendered ruleset's IPv4 and IPv6 sets, and the port matrix.
import { expect } from "chai";
import { parseClusterConfig } from "../../../model/config";
import { formatMatrixTable, matrixRows } from "../../../model/matrix";
import { addressesSeenBy, buildPolicy } from "../../../model/policy";
import { expectedReachability } from "../../../model/reachability";
import { renderRuleset } from "../../../render/nftables";
import { mustParse, rawCluster, RawNode } from "../helpers/model-builders";

const NODES: RawNode[] = [
    { name: "unified-1", role: "unified", site: "dc1", address: "10.77.1.11", address6: "fd77::1:11" },
    { name: "unified-2", role: "unified", site: "dc1", address: "10.77.1.12", address6: "fd77::1:12" },
    {
        name: "unified-3",
        role: "unified",
        site: "dc2",
        address: "10.78.2.11",
        advertisedAddress: "10.77.2.11",
        address6: "fd78::2:11",
    },
    { name: "proxy-1", role: "webproxy", site: "dc1", address: "10.77.1.201", address6: "fd77::1:201" },
];

function cluster(nodes: RawNode[] = NODES) {
    return rawCluster("unified", nodes, {
        networks: {
            admin: ["192.168.100.0/24", "fd77::100:0/112"],
            client: ["0.0.0.0/0", "::/0"],
            monitoring: ["192.168.100.0/24", "fd77::100:0/112"],
        },
        hosts: { "backup.example.net": ["10.20.5.4"], "ntp.example.net": ["10.30.0.17", "fd30::17"] },
        external: { ntp: ["ntp.example.net"], backupDestinations: ["sftp://backup@backup.example.net/srv/backups"] },
        firewall: { egress: "deny" },
    });
}

describe("dual-stack model (address6)", () => {
    it("accepts address6 on a node whose address is IPv4 and keeps it", () => {
        const m = mustParse(cluster());
        expect(m.nodes.find((n) => n.name === "unified-3")).to.include({
            address: "10.78.2.11",
            address6: "fd78::2:11",
            advertisedAddress: "10.77.2.11",
        });
    });

    it("refuses an address6 that is not IPv6, or next to an IPv6 address, naming the path", () => {
        const notV6 = parseClusterConfig(cluster([{ ...NODES[0], address6: "10.77.9.9" }, ...NODES.slice(1)]));
        expect(notV6.errors.map((e) => `${e.path}: ${e.message}`).join("\n")).to.match(
            /pinhole:nodes\[0\]\.address6: "10\.77\.9\.9" is not an IPv6 address/,
        );
        const both6 = parseClusterConfig(
            cluster([{ ...NODES[0], address: "fd77::9:1", address6: "fd77::9:9" }, ...NODES.slice(1)]),
        );
        expect(both6.errors.map((e) => `${e.path}: ${e.message}`).join("\n")).to.match(
            /pinhole:nodes\[0\]\.address6: address fd77::9:1 is already IPv6/,
        );
    });

    it("policy opens each inter-node flow for both families; IPv6 is the same address from every site (no NAT)", () => {
        const m = mustParse(cluster());
        const u1 = m.nodes.find((n) => n.name === "unified-1")!,
            u3 = m.nodes.find((n) => n.name === "unified-3")!;
        expect(addressesSeenBy(u1, u3)).to.deep.equal(["10.77.2.11", "fd78::2:11"]);
        const p1 = buildPolicy(m).find((p) => p.node.name === "unified-1")!;
        const from3 = p1.inbound.filter((o) => o.peer.name === "unified-3");
        expect(from3.length).to.be.greaterThan(0);
        for (const o of from3) expect(o.peer.addresses, o.reason).to.include.members(["10.77.2.11", "fd78::2:11"]);
        const reach = expectedReachability(m);
        expect(
            reach.between({ from: "unified-3", to: "unified-1", protocol: "tcp", port: 27017, family: 6 }).allowed,
        ).to.equal(true);
        expect(reach.sourceAddress("unified-3", "unified-1", 6)).to.equal("fd78::2:11");
        expect(reach.sourceAddress("unified-3", "unified-1", 4)).to.equal("10.77.2.11");
        expect(reach.inbound({ source: "fd77::200:10", to: "proxy-1", protocol: "tcp", port: 443 }).allowed).to.equal(
            true,
        );
        expect(reach.inbound({ source: "fd77::200:10", to: "unified-1", protocol: "tcp", port: 22 }).allowed).to.equal(
            false,
        );
        expect(reach.inbound({ source: "fd77::100:10", to: "unified-1", protocol: "tcp", port: 22 }).allowed).to.equal(
            true,
        );
    });

    it("the ruleset has IPv4 and IPv6 sets for peers, admin networks and externals", () => {
        const m = mustParse(cluster());
        const text = renderRuleset(
            buildPolicy(m).find((x) => x.node.name === "unified-1")!,
            m.firewall,
        );
        expect(text).to.match(/type ipv6_addr[\s\S]*elements = \{[^}]*fd77::1:12/);
        expect(text).to.match(/elements = \{[^}]*fd77::100:0\/112/);
        expect(text).to.match(/elements = \{[^}]*fd30::17/); // NTP over IPv6 (egress deny)
        expect(text).to.match(/ip6 saddr @\S+_v6 accept/);
    });

    it("the port matrix shows both families of every dual-stack node", () => {
        const m = mustParse(cluster());
        const row = matrixRows(m).find((r) => r.from === "unified-2" && r.to === "unified-1" && r.port === 27017)!;
        expect(row.fromAddresses).to.deep.equal(["10.77.1.12", "fd77::1:12"]);
        expect(row.toAddresses).to.deep.equal(["10.77.1.11", "fd77::1:11"]);
        expect(formatMatrixTable(m, matrixRows(m))).to.contain("fd77::1:12");
    });
});

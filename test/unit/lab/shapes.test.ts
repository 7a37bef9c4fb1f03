import { expect } from "chai";
import { addressSeenFrom, buildPlan, planNamespaces, roleCounts } from "../../../lab/shapes";
import { listenerPorts, NODE_PORTS } from "../../../lab/ports";

describe("lab shapes", () => {
    it("standalone: one node, root login unless --sudo-user", () => {
        const p = buildPlan({ model: "standalone" });
        expect(p.nodes.map((n) => [n.name, n.role, n.site, n.address, n.sshUser])).to.deep.equal([
            ["standalone-1", "standalone", "dc1", "10.77.1.11", "root"],
        ]);
        expect(p.deployment).to.equal("standalone");
        const s = buildPlan({ model: "standalone", sudoUser: true });
        expect(s.nodes[0]).to.include({ sshUser: "pinhole", sudo: true });
        expect(() => buildPlan({ model: "standalone", nodes: 3 })).to.throw(/exactly one node/);
    });

    it("unified: unified-1..4 + proxy-1..2 over dc1/dc2, last unified node is the sudo node", () => {
        const p = buildPlan({ model: "unified" });
        const rows = p.nodes.map((n) => `${n.name} ${n.role} ${n.site} ${n.address} ${n.sshUser}`);
        expect(rows).to.deep.equal([
            "unified-1 unified dc1 10.77.1.11 root",
            "unified-2 unified dc1 10.77.1.12 root",
            "unified-3 unified dc2 10.77.2.11 root",
            "unified-4 unified dc2 10.77.2.12 pinhole",
            "proxy-1 webproxy dc1 10.77.1.201 root",
            "proxy-2 webproxy dc2 10.77.2.201 root",
        ]);
        expect(p.nodes.every((n) => !n.advertisedAddress && n.segment === "lab" && n.sshHost === n.address)).to.equal(
            true,
        );
        expect(p.router).to.equal(undefined);
    });

    it("modular: app-1..3 + db-1..3 + proxy-1..2, db-3 runs the arbiter, app-3 is the sudo node", () => {
        const p = buildPlan({ model: "modular" });
        expect(p.nodes.map((n) => n.name)).to.deep.equal([
            "app-1",
            "app-2",
            "app-3",
            "db-1",
            "db-2",
            "db-3",
            "proxy-1",
            "proxy-2",
        ]);
        expect(p.nodes.filter((n) => n.arbiter).map((n) => n.name)).to.deep.equal(["db-3"]);
        expect(p.nodes.filter((n) => n.sudo).map((n) => n.name)).to.deep.equal(["app-3"]);
        expect(p.nodes.find((n) => n.name === "db-1")!.address).to.equal("10.77.1.101");
        expect(p.deployment).to.equal("modular");
    });

    it("multisite: dc2 behind NAT, internal 10.78.2.x advertised as 10.77.2.x; ssh goes to the advertised address", () => {
        const p = buildPlan({ model: "multisite" });
        expect(p.deployment).to.equal("unified");
        const u3 = p.nodes.find((n) => n.name === "unified-3")!;
        expect(u3).to.include({
            address: "10.78.2.11",
            advertisedAddress: "10.77.2.11",
            sshHost: "10.77.2.11",
            segment: "dc2",
            gateway: "10.78.2.1",
            prefixLen: 24,
        });
        const u1 = p.nodes.find((n) => n.name === "unified-1")!;
        expect(u1.advertisedAddress).to.equal(undefined);
        expect(p.router!.nat).to.deep.include({ advertised: "10.77.2.11", internal: "10.78.2.11", node: "unified-3" });
        expect(p.router!.nat).to.have.length(3);
        // dc1 sees dc2 by advertised address, dc2 sees dc2 by internal, vantages by advertised
        expect(addressSeenFrom(u3, u1)).to.equal("10.77.2.11");
        expect(
            addressSeenFrom(
                u3,
                p.nodes.find((n) => n.name === "unified-4"),
            ),
        ).to.equal("10.78.2.11");
        expect(addressSeenFrom(u3, undefined)).to.equal("10.77.2.11");
    });

    it("scales proportionally to 48 nodes with consistent names and unique addresses", () => {
        for (const model of ["unified", "modular", "multisite"] as const) {
            const p = buildPlan({ model, nodes: 48 });
            expect(p.nodes).to.have.length(48);
            expect(new Set(p.nodes.map((n) => n.address)).size).to.equal(48);
            expect(new Set(p.nodes.map((n) => n.name)).size).to.equal(48);
            for (const n of p.nodes) expect(n.name).to.match(/^(unified|proxy|app|db)-\d+$/);
            expect(new Set(planNamespaces(p)).size).to.equal(planNamespaces(p).length);
            expect(new Set([...p.nodes, ...p.vantages].map((x) => x.veth)).size).to.equal(
                p.nodes.length + p.vantages.length,
            );
        }
        expect(roleCounts("unified", 48).map((r) => r.count)).to.deep.equal([32, 16]);
        expect(roleCounts("modular", 48).map((r) => r.count)).to.deep.equal([18, 18, 12]);
        expect(roleCounts("modular", 24).map((r) => r.count)).to.deep.equal([9, 9, 6]);
        const big = buildPlan({ model: "modular", nodes: 48 });
        expect(big.nodes.filter((n) => n.arbiter).map((n) => n.name)).to.deep.equal(["db-18"]);
        expect(() => buildPlan({ model: "unified", nodes: 1 })).to.throw(/2\.\.200/);
    });

    it("vantages: client outside the admin network, admin inside it, one address per external service", () => {
        const p = buildPlan({ model: "unified" });
        const v = Object.fromEntries(p.vantages.map((x) => [x.name, x]));
        expect(v.client.address).to.equal("10.77.200.10");
        expect(v.admin.address).to.equal("10.77.100.10");
        for (const name of ["ucm", "unity", "hcmf", "webex", "sso", "ldap", "ntp", "backup", "snmp", "notify", "api"])
            expect(v[name], name).to.exist;
        expect(new Set(p.vantages.map((x) => x.address)).size).to.equal(p.vantages.length);
        expect(v.ldap.ports).to.deep.include({ protocol: "udp", port: 636 });
        expect(v.notify.ports).to.deep.include({ protocol: "tcp", port: 9443 });
    });

    it("sudo-user: explicit list, none, unknown names rejected", () => {
        expect(
            buildPlan({ model: "unified", sudoUser: ["proxy-1"] })
                .nodes.filter((n) => n.sudo)
                .map((n) => n.name),
        ).to.deep.equal(["proxy-1"]);
        expect(buildPlan({ model: "unified", sudoUser: false }).nodes.some((n) => n.sudo)).to.equal(false);
        expect(() => buildPlan({ model: "unified", sudoUser: ["nope"] })).to.throw(/no node named nope/);
    });

    it("node ports cover the reference and a few outside it; sshd/nginx ports are not bound by the listener", () => {
        const keys = NODE_PORTS.map((p) => `${p.port}/${p.protocol}`);
        for (const k of [
            "22/tcp",
            "22/udp",
            "80/tcp",
            "123/udp",
            "161/udp",
            "162/tcp",
            "162/udp",
            "389/tcp",
            "389/udp",
            "443/tcp",
            "636/tcp",
            "636/udp",
            "8443/tcp",
            "27017/tcp",
            "27019/tcp",
            "27020/tcp",
            "27030/tcp",
            "3306/tcp",
            "5432/tcp",
            "9000/tcp",
            "27018/tcp",
            "10050/tcp",
        ]) {
            expect(keys, k).to.include(k);
        }
        const l = listenerPorts();
        expect(l.tcp).to.not.include.members([22, 80, 443]);
        expect(l.udp).to.include(22);
    });
});

describe("lab IPv6 plan", () => {
    it("mirrors the IPv4 plan in fd77::/48; multisite dc2 is its own routed /64 (no NAT)", () => {
        const { ipv6Of } = require("../../../lab/shapes") as typeof import("../../../lab/shapes");
        expect(ipv6Of("10.77.1.11")).to.equal("fd77::1:11");
        expect(ipv6Of("10.77.0.1")).to.equal("fd77::1");
        expect(ipv6Of("10.78.2.201")).to.equal("fd77:0:0:2::201");
        expect(() => ipv6Of("192.168.1.1")).to.throw(/not a lab IPv4 address/);
        for (const model of ["standalone", "unified", "modular", "multisite"] as const) {
            const p = buildPlan({ model, ipv6: true });
            const all = [
                ...p.nodes.map((n) => n.address6),
                ...p.vantages.map((v) => v.address6),
                p.provisioner.address6,
            ];
            expect(new Set(all).size, model).to.equal(all.length);
            for (const v of p.vantages) expect(v.address6).to.equal(ipv6Of(v.address));
        }
        const m = buildPlan({ model: "multisite", ipv6: true });
        const u3 = m.nodes.find((n) => n.name === "unified-3")!;
        expect(u3).to.include({ address6: "fd77:0:0:2::11", gateway6: "fd77:0:0:2::1" });
        expect(m.nodes.find((n) => n.name === "unified-1")!).to.include({ address6: "fd77::1:11" });
        expect(m.router!.ipv6).to.deep.equal({
            outerAddress6: "fd77::254",
            innerAddress6: "fd77:0:0:2::1",
            innerPrefix6: "fd77:0:0:2::/64",
        });
    });

    const anyIpv6 = (p: ReturnType<typeof buildPlan>) =>
        p.nodes.some((n) => n.address6 || n.gateway6) ||
        p.vantages.some((v) => v.address6) ||
        !!p.provisioner.address6 ||
        !!p.router?.ipv6;
    for (const model of ["standalone", "unified", "modular", "multisite"] as const) {
        it(`${model}: dual-stack by default (the same plan as ipv6: true); ipv6: false is IPv4 only`, () => {
            const byDefault = buildPlan({ model });
            expect(byDefault).to.deep.equal(buildPlan({ model, ipv6: true }));
            expect(byDefault.nodes.every((n) => !!n.address6)).to.equal(true);
            expect(byDefault.vantages.every((v) => !!v.address6)).to.equal(true);
            expect(byDefault.provisioner.address6).to.be.a("string");
            const v4 = buildPlan({ model, ipv6: false });
            expect(anyIpv6(v4)).to.equal(false);
            // the IPv4 side is the same either way
            expect(v4.nodes.map((n) => [n.name, n.address])).to.deep.equal(
                byDefault.nodes.map((n) => [n.name, n.address]),
            );
        });
    }
});

describe("lab MAC addresses", () => {
    it("are stable per address and locally administered", () => {
        const { macFor } = require("../../../lab/neighbors") as typeof import("../../../lab/neighbors");
        expect(macFor("10.77.2.201")).to.equal("02:4c:0a:4d:02:c9");
        expect(macFor("10.77.0.1")).to.equal("02:4c:0a:4d:00:01");
        expect(() => macFor("10.77.2")).to.throw(/not an IPv4/);
    });
});

describe("lab neighbor table (static ARP)", () => {
    it("every namespace knows every reachable lab address on its segment, never itself", () => {
        const { neighborTable, macFor } = require("../../../lab/neighbors") as typeof import("../../../lab/neighbors");
        const plan = buildPlan({ model: "multisite" });
        const t = neighborTable(plan);
        const root = t.get("")!;
        expect(root.every((e) => e.dev === "phlab0")).to.equal(true);
        expect(root.find((e) => e.address === "10.77.1.11")!.mac).to.equal(macFor("10.77.1.11"));
        // dc2's advertised addresses resolve to the router's outer MAC
        expect(root.find((e) => e.address === "10.77.2.11")!.mac).to.equal(macFor("10.77.0.254"));
        expect(root.some((e) => e.address === "10.77.0.1")).to.equal(false);
        const u1 = t.get("phlab-unified-1")!;
        expect(u1.some((e) => e.address === "10.77.1.11")).to.equal(false);
        expect(u1.some((e) => e.address.startsWith("10.78."))).to.equal(false);
        const u3 = t
            .get("phlab-unified-3")!
            .map((e) => e.address)
            .sort();
        expect(u3).to.deep.equal(["10.78.2.1", "10.78.2.12", "10.78.2.201"]);
        const router = t.get("phlab-router")!;
        expect(
            router
                .filter((e) => e.dev === "brdc2")
                .map((e) => e.address)
                .sort(),
        ).to.deep.equal(["10.78.2.11", "10.78.2.12", "10.78.2.201"]);
        expect(router.some((e) => e.address === "10.77.2.11")).to.equal(false);
        const flat = neighborTable(buildPlan({ model: "unified" }));
        expect(flat.get("phlab-client")!.length).to.equal(1 + 6 + 12);
    });
});

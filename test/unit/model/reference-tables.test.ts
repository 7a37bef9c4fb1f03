// Walks EVERY row of EVERY table of the reference (network-security.txt), written out by hand from the
// reference text (here and in helpers/literal-reading.ts, not from model/catalog.ts), for every deployment
// model. The reference profile (the default) must equal the literal reading exactly; the strict profile and
// each single narrowing must remove exactly the openings that narrowing names (docs/decisions.md).

import { expect } from "chai";
import * as fs from "fs";
import * as path from "path";
import { ClusterModel, NodePolicy, NodeSpec, Opening, Protocol } from "../../../model/types";
import { buildPolicy } from "../../../model/policy";
import { CATALOG, SECTIONS } from "../../../model/catalog";
import { NARROWING_IDS, NarrowingId } from "../../../model/narrowings";
import { EXTERNAL_ADDRESSES, RawNode, mustParse, rawCluster, seenBy } from "../helpers/model-builders";
import { INTER_NODE, SERVICE_LIST, literalPolicies, openingKey } from "../helpers/literal-reading";

// --- "Network Communications External to the Cluster": outbound ---
type Senders = "application" | "proxy" | "all";
interface OutboundRow {
    section: string;
    communication: string;
    senders: Senders;
    protocol: Protocol;
    port: number;
    to: string;
}
const A = EXTERNAL_ADDRESSES;
const APP_OUT = "Outbound Communications to Devices from the Application/Unified nodes";
const PROXY_OUT = "Outbound to external systems from the proxy node";
const ALL_OUT = "Outbound to external systems from all nodes";
const OUTBOUND: OutboundRow[] = [
    {
        section: APP_OUT,
        communication: "Cisco Unified Communications Manager (UCM)",
        senders: "application",
        protocol: "tcp",
        port: 8443,
        to: A.ucm,
    },
    {
        section: APP_OUT,
        communication: "Cisco Unity Connection (CUXN)",
        senders: "application",
        protocol: "tcp",
        port: 8443,
        to: A.unityConnection,
    },
    { section: APP_OUT, communication: "Webex", senders: "application", protocol: "tcp", port: 443, to: A.webex },
    {
        section: APP_OUT,
        communication: "LDAP directory",
        senders: "application",
        protocol: "tcp",
        port: 389,
        to: A.ldap,
    },
    {
        section: APP_OUT,
        communication: "LDAP directory",
        senders: "application",
        protocol: "udp",
        port: 389,
        to: A.ldap,
    },
    {
        section: APP_OUT,
        communication: "LDAP directory",
        senders: "application",
        protocol: "tcp",
        port: 636,
        to: A.ldap,
    },
    {
        section: APP_OUT,
        communication: "LDAP directory",
        senders: "application",
        protocol: "udp",
        port: 636,
        to: A.ldap,
    },
    {
        section: APP_OUT,
        communication: "Single Sign-on (SSO)",
        senders: "application",
        protocol: "tcp",
        port: 443,
        to: A.sso,
    },
    { section: APP_OUT, communication: "Cisco HCM-F", senders: "application", protocol: "tcp", port: 8443, to: A.hcmf },
    {
        section: PROXY_OUT,
        communication: "API Sync and Async responses",
        senders: "proxy",
        protocol: "tcp",
        port: 443,
        to: A.apiResponses,
    },
    // "dependant": no default; the stack's URI says https://10.40.0.20:9443/notify
    {
        section: PROXY_OUT,
        communication: "Northbound Notification messages",
        senders: "proxy",
        protocol: "tcp",
        port: 9443,
        to: A.notification,
    },
    { section: ALL_OUT, communication: "SNMP", senders: "all", protocol: "udp", port: 162, to: A.snmpTrap },
    { section: ALL_OUT, communication: "SNMP", senders: "all", protocol: "tcp", port: 162, to: A.snmpTrap },
    {
        section: ALL_OUT,
        communication: "SFTP as required for backup destinations",
        senders: "all",
        protocol: "tcp",
        port: 22,
        to: A.backup,
    },
    { section: ALL_OUT, communication: "NTP", senders: "all", protocol: "udp", port: 123, to: A.ntp },
];

// --- inbound from outside ---
interface InboundRow {
    section: string;
    communication: string;
    receivers: "proxy" | "all";
    protocol: Protocol;
    port: number;
    from: "client" | "admin";
}
const INBOUND: InboundRow[] = [
    {
        section: "Inbound communications from external systems to the proxy node",
        communication: "Web Access",
        receivers: "proxy",
        protocol: "tcp",
        port: 443,
        from: "client",
    },
    {
        section: "Inbound communications from external systems to the proxy node",
        communication: "API Request",
        receivers: "proxy",
        protocol: "tcp",
        port: 443,
        from: "client",
    },
    {
        section: "Inbound communications to all nodes",
        communication: "SSH and SFTP for management and files transfers",
        receivers: "all",
        protocol: "tcp",
        port: 22,
        from: "admin",
    },
];

// --- Deployments to walk them against ---
interface Scenario {
    name: string;
    nodes: RawNode[];
    model: string;
}
const SCENARIOS: Scenario[] = [
    {
        name: "standalone",
        model: "standalone",
        nodes: [{ name: "solo", role: "standalone", address: "10.1.0.10", arbiter: false }],
    },
    {
        name: "unified without proxies",
        model: "unified",
        nodes: [
            { name: "uni-1", role: "unified", address: "10.1.0.11", arbiter: true },
            { name: "uni-2", role: "unified", address: "10.1.0.12" },
            { name: "uni-3", role: "unified", address: "10.1.0.13" },
        ],
    },
    {
        name: "unified with proxies",
        model: "unified",
        nodes: [
            { name: "proxy-1", role: "webproxy", address: "10.1.0.21" },
            { name: "proxy-2", role: "webproxy", address: "10.1.0.22" },
            { name: "uni-1", role: "unified", address: "10.1.0.11" },
            { name: "uni-2", role: "unified", address: "10.1.0.12", arbiter: true },
        ],
    },
    {
        name: "modular",
        model: "modular",
        nodes: [
            { name: "proxy-1", role: "webproxy", address: "10.1.0.21" },
            { name: "proxy-2", role: "webproxy", address: "10.1.0.22" },
            { name: "app-1", role: "application", address: "10.1.0.31" },
            { name: "app-2", role: "application", address: "10.1.0.32" },
            { name: "db-1", role: "database", address: "10.1.0.41" },
            { name: "db-2", role: "database", address: "10.1.0.42" },
            { name: "db-3", role: "database", address: "10.1.0.43", arbiter: true },
        ],
    },
    {
        name: "unified across two sites with NAT",
        model: "unified",
        nodes: [
            { name: "proxy-a", role: "webproxy", site: "dc1", address: "10.1.0.21" },
            {
                name: "proxy-b",
                role: "webproxy",
                site: "dc2",
                address: "10.2.0.21",
                advertisedAddress: "198.51.100.21",
            },
            { name: "uni-a", role: "unified", site: "dc1", address: "10.1.0.11", arbiter: true },
            { name: "uni-b", role: "unified", site: "dc2", address: "10.2.0.11", advertisedAddress: "198.51.100.11" },
        ],
    },
    {
        name: "modular across two sites with NAT",
        model: "modular",
        nodes: [
            { name: "proxy-a", role: "webproxy", site: "dc1", address: "10.1.0.21" },
            {
                name: "proxy-b",
                role: "webproxy",
                site: "dc2",
                address: "10.2.0.21",
                advertisedAddress: "198.51.100.21",
            },
            { name: "app-a", role: "application", site: "dc1", address: "10.1.0.31" },
            {
                name: "app-b",
                role: "application",
                site: "dc2",
                address: "10.2.0.31",
                advertisedAddress: "198.51.100.31",
            },
            { name: "db-a1", role: "database", site: "dc1", address: "10.1.0.41" },
            { name: "db-a2", role: "database", site: "dc1", address: "10.1.0.42" },
            {
                name: "db-b",
                role: "database",
                site: "dc2",
                address: "10.2.0.41",
                advertisedAddress: "198.51.100.41",
                arbiter: true,
            },
        ],
    },
];

/** Entries that name no protocols: the parser picks one, the table says TCP/UDP (LDAP, SNMP traps). */
const PLAIN_EXTERNAL = {
    ldap: [EXTERNAL_ADDRESSES.ldap],
    snmpTrapReceivers: [`snmp://traps@${EXTERNAL_ADDRESSES.snmpTrap}`],
};

function build(
    s: Scenario,
    firewall: Record<string, unknown> = {},
    plainExternal = false,
): { model: ClusterModel; policy: Map<string, NodePolicy> } {
    const raw = rawCluster(s.model, s.nodes, { firewall });
    if (plainExternal) raw.external = { ...(raw.external as object), ...PLAIN_EXTERNAL };
    const model = mustParse(raw);
    return { model, policy: new Map(buildPolicy(model).map((p) => [p.node.name, p])) };
}

const hasRole = (n: NodeSpec, roles: readonly string[]) => roles.includes(n.role);
const isProxyLike = (n: NodeSpec) => n.role === "webproxy" || n.role === "standalone";
const runsApp = (n: NodeSpec) => ["application", "unified", "standalone"].includes(n.role);

function sendersOf(model: ClusterModel, who: Senders | "proxy"): NodeSpec[] {
    if (who === "all") return model.nodes;
    if (who === "application") return model.nodes.filter(runsApp);
    const proxies = model.nodes.filter(isProxyLike);
    return proxies.length > 0 ? proxies : model.nodes.filter(runsApp); // no proxy: app nodes do proxy duties
}

function find(list: Opening[], pred: (o: Opening) => boolean): Opening | undefined {
    return list.find(pred);
}

function describeList(list: Opening[]): string {
    return list.map((o) => `  ${o.reason} [${o.section}]`).join("\n");
}

describe("reference tables: every row is in the policy of the right nodes", () => {
    describe("Network Communications between Nodes within the Cluster", () => {
        for (const s of SCENARIOS) {
            for (const literal of [true, false]) {
                const variant = literal
                    ? "reference profile (27030 at every database-access endpoint)"
                    : "strict profile (27030 only into arbiter nodes)";
                it(`${s.name}, ${variant}`, () => {
                    const { model, policy } = build(s, literal ? {} : { profile: "strict" });
                    let checked = 0;
                    for (const row of INTER_NODE) {
                        for (const a of model.nodes.filter((n) => hasRole(n, row.from))) {
                            for (const b of model.nodes.filter((n) => hasRole(n, row.to))) {
                                if (a === b) continue;
                                const pairs: [NodeSpec, NodeSpec][] = [[a, b]];
                                if (row.bidirectional) pairs.push([b, a]);
                                for (const [src, dst] of pairs) {
                                    // Decision "Arbiter port 27030": by default only nodes running an arbiter accept 27030.
                                    const expected = row.port !== 27030 || literal || dst.arbiter;
                                    const inbound = find(
                                        policy.get(dst.name)!.inbound,
                                        (o) =>
                                            o.peer.kind === "node" &&
                                            o.peer.name === src.name &&
                                            o.protocol === "tcp" &&
                                            o.port === row.port &&
                                            o.section === row.section,
                                    );
                                    const outbound = find(
                                        policy.get(src.name)!.outbound,
                                        (o) =>
                                            o.peer.kind === "node" &&
                                            o.peer.name === dst.name &&
                                            o.protocol === "tcp" &&
                                            o.port === row.port &&
                                            o.section === row.section,
                                    );
                                    const what = `${row.section} ${row.port}/tcp ${src.name} → ${dst.name}`;
                                    if (!expected) {
                                        expect(
                                            inbound,
                                            `${what} should be closed (no arbiter at ${dst.name})`,
                                        ).to.equal(undefined);
                                        continue;
                                    }
                                    expect(
                                        inbound,
                                        `${what}: missing inbound at ${dst.name}; it has:\n${describeList(policy.get(dst.name)!.inbound)}`,
                                    ).to.not.equal(undefined);
                                    expect(outbound, `${what}: missing outbound at ${src.name}`).to.not.equal(
                                        undefined,
                                    );
                                    // NAT: each end sees the other at its advertised address across sites.
                                    expect(inbound!.peer.addresses, what).to.deep.equal([seenBy(dst, src)]);
                                    expect(outbound!.peer.addresses, what).to.deep.equal([seenBy(src, dst)]);
                                    expect(inbound!.reason, what).to.contain(`${row.port}/tcp from ${src.name}: `);
                                    expect(inbound!.reason.toLowerCase(), what).to.contain(
                                        row.communication.toLowerCase(),
                                    );
                                    checked++;
                                }
                            }
                        }
                    }
                    if (s.model === "standalone") expect(checked).to.equal(0);
                    else expect(checked).to.be.greaterThan(0);
                });
            }
        }

        it("strict: one-directional rows stay one-directional: 443 and 8443 do not flow back from upstreams/databases", () => {
            const { model, policy } = build(SCENARIOS[3], { profile: "strict" }); // modular
            for (const n of model.nodes.filter((x) => x.role === "webproxy")) {
                expect(
                    policy.get(n.name)!.inbound.filter((o) => o.port === 443 && o.peer.kind === "node"),
                    `${n.name} accepts 443 from a node`,
                ).to.deep.equal([]);
            }
            for (const app of model.nodes.filter((x) => x.role === "application")) {
                const fromDb = policy
                    .get(app.name)!
                    .inbound.filter((o) => o.port === 8443 && o.peer.kind === "node" && o.peer.name.startsWith("db-"));
                expect(fromDb, `${app.name} accepts 8443 from a database node`).to.deep.equal([]);
            }
        });

        it("standalone has no inter-node openings at all", () => {
            const { policy } = build(SCENARIOS[0]);
            const p = policy.get("solo")!;
            expect([...p.inbound, ...p.outbound].filter((o) => o.peer.kind === "node")).to.deep.equal([]);
        });
    });

    describe("Network Communications External to the Cluster: outbound", () => {
        for (const s of SCENARIOS) {
            it(s.name, () => {
                const { model, policy } = build(s);
                for (const row of OUTBOUND) {
                    const senders = sendersOf(model, row.senders);
                    expect(senders.length, row.communication).to.be.greaterThan(0);
                    for (const n of model.nodes) {
                        const o = find(
                            policy.get(n.name)!.outbound,
                            (x) =>
                                x.peer.kind === "external" &&
                                x.peer.addresses.includes(row.to) &&
                                x.protocol === row.protocol &&
                                x.port === row.port,
                        );
                        const what = `${row.communication} ${row.port}/${row.protocol} from ${n.name} (${n.role})`;
                        if (senders.includes(n)) {
                            expect(
                                o,
                                `${what}: missing; outbound:\n${describeList(policy.get(n.name)!.outbound)}`,
                            ).to.not.equal(undefined);
                            expect(o!.section, what).to.equal(row.section);
                            expect(o!.reason, what).to.contain(
                                row.communication === "SNMP" ? "SNMP" : row.communication,
                            );
                        } else {
                            expect(o, `${what}: should not be there`).to.equal(undefined);
                        }
                    }
                }
            });
        }
    });

    describe("Network Communications External to the Cluster: inbound", () => {
        for (const s of SCENARIOS) {
            it(s.name, () => {
                const { model, policy } = build(s);
                for (const row of INBOUND) {
                    const receivers = row.receivers === "all" ? model.nodes : sendersOf(model, "proxy");
                    for (const n of model.nodes) {
                        const o = find(
                            policy.get(n.name)!.inbound,
                            (x) =>
                                x.peer.kind === "network" &&
                                x.peer.name === row.from &&
                                x.protocol === row.protocol &&
                                x.port === row.port,
                        );
                        const what = `${row.communication} ${row.port}/${row.protocol} into ${n.name}`;
                        if (receivers.includes(n)) {
                            expect(o, what).to.not.equal(undefined);
                            expect(o!.section, what).to.equal(row.section);
                            expect(o!.exposed, `${what}: exposed`).to.equal(row.from === "client");
                        } else {
                            expect(o, `${what}: should not be there`).to.equal(undefined);
                        }
                    }
                }
                // "TCP/UDP 22": the reference profile opens 22/udp from the admin networks too; strict (sshTcpOnly) does not.
                const strict = build(s, { profile: "strict" }).policy;
                for (const n of model.nodes) {
                    expect(
                        policy
                            .get(n.name)!
                            .inbound.filter((o) => o.port === 22 && o.protocol === "udp" && o.peer.name === "admin"),
                        n.name,
                    ).to.have.length(1);
                    expect(
                        strict.get(n.name)!.inbound.filter((o) => o.port === 22 && o.protocol === "udp"),
                        n.name,
                    ).to.deep.equal([]);
                }
            });
        }
    });

    describe("Service and Ports list", () => {
        for (const s of SCENARIOS.filter((x) => x.model !== "standalone").concat([SCENARIOS[0]])) {
            {
                it(`${s.name}, strict profile`, () => {
                    const { model, policy } = build(s, { profile: "strict" });
                    for (const listRow of SERVICE_LIST) {
                        const nodes = model.nodes.filter((n) => hasRole(n, listRow.roles) || n.role === "standalone");
                        for (const n of nodes) {
                            const p = policy.get(n.name)!;
                            const inboundOn = (port: number, proto?: Protocol) =>
                                p.inbound.filter((o) => o.port === port && (!proto || o.protocol === proto));
                            const peers = model.nodes.filter((x) => x !== n);
                            for (const port of listRow.ports) {
                                const what = `${listRow.nodeType} ${port} at ${n.name} (${n.role})`;
                                switch (port) {
                                    case 22:
                                        expect(
                                            inboundOn(22, "tcp").map((o) => o.peer.name),
                                            what,
                                        ).to.include("admin");
                                        break;
                                    case 80:
                                        expect(
                                            inboundOn(80),
                                            `${what}: closed unless firewall.httpRedirect`,
                                        ).to.deep.equal([]);
                                        break;
                                    case 161:
                                        expect(
                                            inboundOn(161, "udp").map((o) => o.peer.name),
                                            what,
                                        ).to.include("monitoring");
                                        break;
                                    case 162:
                                        expect(inboundOn(162), `${what}: traps are sent, not received`).to.deep.equal(
                                            [],
                                        );
                                        expect(
                                            p.outbound.some((o) => o.port === 162 && o.protocol === "udp"),
                                            `${what}: outbound trap`,
                                        ).to.equal(true);
                                        break;
                                    case 443: {
                                        const expected =
                                            isProxyLike(n) || !model.nodes.some(isProxyLike)
                                                ? ["client"]
                                                : model.nodes.filter(isProxyLike).map((x) => x.name);
                                        expect(
                                            inboundOn(443, "tcp")
                                                .map((o) => o.peer.name)
                                                .sort(),
                                            what,
                                        ).to.deep.equal([...expected].sort());
                                        break;
                                    }
                                    case 8443:
                                        if (peers.length > 0 && n.role !== "standalone")
                                            expect(inboundOn(8443, "tcp").length, what).to.be.greaterThan(0);
                                        break;
                                    case 27017: {
                                        const dbPeers = peers.filter(
                                            (x) => x.role === "database" || x.role === "unified",
                                        );
                                        const wantOpen = n.role !== "standalone" && dbPeers.length > 0;
                                        expect(inboundOn(27017, "tcp").length > 0, what).to.equal(wantOpen);
                                        break;
                                    }
                                    case 27030:
                                        // Narrowing arbiterOnArbiterNodes: only where an arbiter runs.
                                        if (!n.arbiter) expect(inboundOn(27030), what).to.deep.equal([]);
                                        else if (peers.length > 0)
                                            expect(inboundOn(27030, "tcp").length, what).to.be.greaterThan(0);
                                        break;
                                    case 27019:
                                    case 27020: {
                                        expect(
                                            inboundOn(port),
                                            `${what}: strict closes the Service list's database ports`,
                                        ).to.deep.equal([]);
                                        for (const o of inboundOn(port)) expect(o.peer.kind, what).to.equal("node");
                                        break;
                                    }
                                    default:
                                        throw new Error(`test table has an unexpected port ${port}`);
                                }
                            }
                        }
                    }
                });
            }
        }

        it("port 80 opens from clients for the http → https redirect only when firewall.httpRedirect is set, where clients reach 443", () => {
            for (const s of SCENARIOS) {
                const { model, policy } = build(s, { httpRedirect: true, profile: "strict" });
                const userFacing = sendersOf(model, "proxy");
                for (const n of model.nodes) {
                    const o = policy.get(n.name)!.inbound.filter((x) => x.port === 80);
                    if (userFacing.includes(n)) {
                        expect(
                            o.map((x) => x.peer.name),
                            `${s.name} ${n.name}`,
                        ).to.deep.equal(["client"]);
                        expect(o[0].exposed).to.equal(true);
                    } else expect(o, `${s.name} ${n.name}`).to.deep.equal([]);
                }
            }
        });
    });

    describe("reference profile (the default) = the literal reading of every table, and nothing else", () => {
        for (const s of SCENARIOS) {
            for (const plain of [false, true]) {
                it(`${s.name}${plain ? ", LDAP and SNMP entries without protocols" : ""}`, () => {
                    const { model, policy } = build(s, {}, plain);
                    expect(model.firewall.profile).to.equal("reference");
                    for (const lit of literalPolicies(model)) {
                        const p = policy.get(lit.node.name)!;
                        for (const dir of ["inbound", "outbound"] as const) {
                            const want = [...new Set(lit[dir].map(openingKey))].sort();
                            const got = [...new Set(p[dir].map(openingKey))].sort();
                            expect(got, `${lit.node.name} ${dir}`).to.deep.equal(want);
                        }
                        // Every opening cites its table (a reference section) and, from a table, its row.
                        for (const o of [...p.inbound, ...p.outbound]) {
                            expect(Object.values(SECTIONS), o.reason).to.include(o.section);
                            if (o.peer.kind === "node")
                                expect(
                                    CATALOG.some((c) => c.id === o.rowId && c.section === o.section),
                                    o.reason,
                                ).to.equal(true);
                        }
                    }
                });
            }
        }

        it("27030 both ways between application and database nodes, 27019/27020 into database nodes, 80/161/162 between nodes, 22 over TCP and UDP", () => {
            const { model, policy } = build(SCENARIOS[3]);
            const has = (at: string, from: string, protocol: Protocol, port: number) =>
                policy.get(at)!.inbound.some((o) => o.peer.name === from && o.protocol === protocol && o.port === port);
            for (const [at, from] of [
                ["app-1", "db-1"],
                ["db-1", "app-1"],
            ])
                expect(has(at, from, "tcp", 27030), `${from} → ${at} 27030`).to.equal(true);
            for (const port of [27019, 27020])
                for (const from of ["app-1", "db-2"])
                    expect(has("db-1", from, "tcp", port), `${from} → db-1 ${port}`).to.equal(true);
            expect(has("proxy-1", "app-1", "tcp", 80)).to.equal(true);
            expect(has("proxy-1", "proxy-2", "tcp", 80)).to.equal(true);
            for (const port of [161, 162])
                for (const p of ["tcp", "udp"] as const)
                    expect(has("db-1", "app-1", p, port), `${port}/${p}`).to.equal(true);
            for (const p of ["tcp", "udp"] as const) expect(has("db-1", "admin", p, 22), `22/${p}`).to.equal(true);
            expect(model.nodes.length).to.be.greaterThan(0);
        });

        it("an arbiter may run on an application node (a config error before the reference profile)", () => {
            const s: Scenario = {
                name: "app arbiter",
                model: "modular",
                nodes: [
                    { name: "app-1", role: "application", address: "10.1.0.31", arbiter: true },
                    { name: "db-1", role: "database", address: "10.1.0.41" },
                    { name: "db-2", role: "database", address: "10.1.0.42" },
                ],
            };
            const { policy } = build(s, { profile: "strict" });
            expect(
                policy
                    .get("app-1")!
                    .inbound.filter((o) => o.port === 27030)
                    .map((o) => o.peer.name)
                    .sort(),
            ).to.deep.equal(["db-1", "db-2"]);
            expect(policy.get("db-1")!.inbound.filter((o) => o.port === 27030)).to.deep.equal([]);
        });
    });

    describe("strict profile and each narrowing close exactly what they name", () => {
        const tableFlow = (from: NodeSpec, to: NodeSpec, port: number) =>
            INTER_NODE.some(
                (r) =>
                    r.port === port &&
                    (((r.from as string[]).includes(from.role) && (r.to as string[]).includes(to.role)) ||
                        (r.bidirectional &&
                            (r.from as string[]).includes(to.role) &&
                            (r.to as string[]).includes(from.role))),
            );
        /** Does narrowing `id` close this literal opening at node `at`? Written from docs/decisions.md, not from model code. */
        function closes(id: NarrowingId, model: ClusterModel, at: NodeSpec, o: Opening): boolean {
            const peer = o.peer.kind === "node" ? model.nodes.find((n) => n.name === o.peer.name)! : undefined;
            const [src, dst] = o.direction === "inbound" ? [peer, at] : [at, peer];
            switch (id) {
                case "arbiterOnArbiterNodes":
                    return !!src && !!dst && o.port === 27030 && !dst.arbiter;
                case "databasePortsFromTables":
                    return !!peer && (o.port === 27019 || o.port === 27020);
                case "serviceListAsTables":
                    return !!src && !!dst && [443, 8443, 27017, 27030].includes(o.port) && !tableFlow(src, dst, o.port);
                case "noSshBetweenNodes":
                    return !!peer && o.port === 22;
                case "noHttpBetweenNodes":
                    return !!peer && o.port === 80;
                case "noSnmpBetweenNodes":
                    return !!peer && (o.port === 161 || o.port === 162);
                case "sshTcpOnly":
                    return (o.direction === "inbound" || !!peer) && o.port === 22 && o.protocol === "udp";
                case "snmpTrapsUdpOnly":
                    return o.peer.kind === "external" && o.port === 162 && o.protocol === "tcp";
                case "ldapTcpOnly":
                    return o.peer.kind === "external" && (o.port === 389 || o.port === 636) && o.protocol === "udp";
            }
        }
        const variants: { name: string; firewall: Record<string, unknown>; active: NarrowingId[] }[] = [
            ...NARROWING_IDS.map((id) => ({
                name: `narrow.${id}`,
                firewall: { narrow: { [id]: true } },
                active: [id],
            })),
            { name: "profile: strict", firewall: { profile: "strict" }, active: [...NARROWING_IDS] },
            {
                name: "strict but arbiterOnArbiterNodes: false",
                firewall: { profile: "strict", narrow: { arbiterOnArbiterNodes: false } },
                active: NARROWING_IDS.filter((x) => x !== "arbiterOnArbiterNodes"),
            },
        ];
        for (const v of variants) {
            it(v.name, () => {
                let removed = 0;
                for (const s of SCENARIOS) {
                    const { model, policy } = build(s, v.firewall, true);
                    for (const lit of literalPolicies(model)) {
                        const p = policy.get(lit.node.name)!;
                        for (const dir of ["inbound", "outbound"] as const) {
                            const kept = lit[dir].filter((o) => !v.active.some((id) => closes(id, model, lit.node, o)));
                            removed += lit[dir].length - kept.length;
                            expect(
                                [...new Set(p[dir].map(openingKey))].sort(),
                                `${s.name} ${lit.node.name} ${dir}`,
                            ).to.deep.equal([...new Set(kept.map(openingKey))].sort());
                        }
                    }
                }
                expect(removed, "the narrowing closes something in these clusters").to.be.greaterThan(0);
            });
        }
    });

    describe("the catalog holds every table row (cross-check against the text of the reference)", () => {
        // The team's shared copy when this checkout sits next to it, else the copy kept in docs/reference/.
        const sharedPath = path.resolve(__dirname, "../../../../shared/reference/network-security.txt");
        const keptPath = path.resolve(__dirname, "../../../docs/reference/network-security.txt");
        const referencePath = fs.existsSync(sharedPath) ? sharedPath : keptPath;
        const hasReference = fs.existsSync(referencePath);

        it("the copy in docs/reference is the shared reference, word for word", function () {
            if (!fs.existsSync(sharedPath)) this.skip();
            expect(fs.readFileSync(keptPath, "utf8")).to.equal(fs.readFileSync(sharedPath, "utf8"));
        });

        it("every section title is written exactly as in the reference", function () {
            if (!hasReference) this.skip();
            const text = fs.readFileSync(referencePath, "utf8");
            for (const title of Object.values(SECTIONS)) expect(text, title).to.contain(title);
        });

        it("every communication of the hand-written tables above is a catalog row of the same section", () => {
            const rows = [
                ...INTER_NODE.map((r) => ({ section: r.section, communication: r.communication })),
                ...OUTBOUND.map((r) => ({ section: r.section, communication: r.communication })),
                ...INBOUND.map((r) => ({ section: r.section, communication: r.communication })),
                ...SERVICE_LIST.map((r) => ({ section: "Service and Ports list", communication: r.nodeType })),
            ];
            for (const r of rows) {
                expect(
                    CATALOG.some((c) => c.section === r.section && c.communication === r.communication),
                    `${r.section} / ${r.communication}`,
                ).to.equal(true);
            }
            // ...and nothing in the catalog is missing from the hand-written tables.
            for (const c of CATALOG) {
                expect(
                    rows.some((r) => r.section === c.section && r.communication === c.communication),
                    `${c.section} / ${c.communication}`,
                ).to.equal(true);
            }
        });

        it("each catalog row's ports and bi-directional flag match the reference text of its section", function () {
            if (!hasReference) this.skip();
            const text = fs.readFileSync(referencePath, "utf8");
            for (const c of CATALOG) {
                const start = text.indexOf(c.section);
                const line = text
                    .slice(start)
                    .split("\n")
                    .find((l) => l.startsWith(c.communication + "\t"));
                expect(line, `${c.section}: no line starting with "${c.communication}"`).to.not.equal(undefined);
                expect(line, c.id).to.contain(c.asWritten.replace(" (second table)", ""));
                expect(/bi-directional/.test(line!), `${c.id} bi-directional`).to.equal(c.bidirectional);
            }
        });
    });
});

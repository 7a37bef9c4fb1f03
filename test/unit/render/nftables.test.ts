import { expect } from "chai";
import { FirewallSettings, NodePolicy, Opening } from "../../../model/types";
import {
    compareAddresses,
    normaliseListing,
    renderRuleset,
    replaceTableTransaction,
    sameRulesExceptComments,
} from "../../../render/nftables";

const settings: FirewallSettings = {
    egress: "allow",
    rateLimit: { perMinute: 120, burst: 60 },
    logDrops: true,
    rollbackSeconds: 30,
};
const node = {
    name: "db-1",
    role: "database" as const,
    site: "dc1",
    address: "10.0.0.21",
    fqdn: "db-1.example.test",
    arbiter: false,
    ssh: { host: "10.0.0.21", port: 22, user: "root", hostKey: "ssh-ed25519 AAAA", sudo: false },
};

function opening(
    direction: "inbound" | "outbound",
    protocol: "tcp" | "udp",
    port: number,
    name: string,
    addresses: string[],
    service = "svc",
    exposed = false,
): Opening {
    return {
        direction,
        protocol,
        port,
        service,
        exposed,
        section: "Test section",
        peer: { kind: name === "admin" || name === "client" ? "network" : "node", name, addresses },
        reason: `${port}/${protocol} ${direction === "inbound" ? "from" : "to"} ${name}: ${service}`,
    };
}

const policy = (inbound: Opening[], outbound: Opening[] = []): NodePolicy => ({ node, inbound, outbound });
const rulesOf = (text: string) => text.split("\n").filter((l) => /^\t\t(tcp|udp) dport/.test(l));
const setNames = (text: string) => [...text.matchAll(/^\tset (\S+) \{/gm)].map((m) => m[1]);

describe("render/nftables: ruleset", () => {
    it("has pinhole's own inet table with default drop, established, loopback and ICMP", () => {
        const text = renderRuleset(policy([opening("inbound", "tcp", 22, "admin", ["10.9.0.0/24"], "ssh")]), settings);
        expect(text).to.match(/^table inet pinhole \{$/m);
        expect(text).to.contain("type filter hook input priority filter; policy drop;");
        expect(text).to.contain("ct state established,related accept");
        expect(text).to.contain(`iif "lo" accept`);
        expect(text).to.match(/icmpv6 type \{[^}]*nd-neighbor-solicit/);
        expect(text).to.match(/icmp type \{ destination-unreachable/);
        expect(text).not.to.match(/flush ruleset|table ip |table inet filter/);
    });

    const cases: { name: string; inbound: Opening[]; rules: string[]; sets: string[] }[] = [
        {
            name: "ports with the same peers share one set and one rule",
            inbound: [
                opening("inbound", "tcp", 27017, "app-1", ["10.0.0.11"]),
                opening("inbound", "tcp", 27030, "app-1", ["10.0.0.11"]),
                opening("inbound", "tcp", 8443, "app-1", ["10.0.0.11"]),
            ],
            rules: [
                `\t\ttcp dport { 8443, 27017, 27030 } ip saddr @app_1_v4 accept comment "8443,27017,27030/tcp from app-1: svc"`,
            ],
            sets: ["app_1_v4"],
        },
        {
            name: "different peer sets on different ports get their own sets",
            inbound: [
                opening("inbound", "tcp", 8443, "app-1", ["10.0.0.11"]),
                opening("inbound", "tcp", 8443, "proxy-1", ["10.0.0.31"]),
                opening("inbound", "tcp", 27017, "app-1", ["10.0.0.11"]),
            ],
            rules: [
                `\t\ttcp dport 8443 ip saddr @peers_1_v4 accept comment "8443/tcp from app-1, proxy-1: svc"`,
                `\t\ttcp dport 27017 ip saddr @app_1_v4 accept comment "27017/tcp from app-1: svc"`,
            ],
            sets: ["app_1_v4", "peers_1_v4"],
        },
        {
            name: "IPv6 peers go to ip6 rules and ipv6 sets",
            inbound: [opening("inbound", "udp", 161, "monitoring", ["fd00::/64", "10.9.0.0/24"], "snmp")],
            rules: [
                `\t\tudp dport 161 ip saddr @monitoring_v4 accept comment "161/udp from monitoring: snmp"`,
                `\t\tudp dport 161 ip6 saddr @monitoring_v6 accept comment "161/udp from monitoring: snmp"`,
            ],
            sets: ["monitoring_v4", "monitoring_v6"],
        },
    ];
    for (const c of cases) {
        it(c.name, () => {
            const text = renderRuleset(policy(c.inbound), settings);
            expect(rulesOf(text)).to.deep.equal(c.rules);
            expect(setNames(text)).to.deep.equal(c.sets);
        });
    }

    it("grows with ports, not ports × peers", () => {
        const peers = Array.from({ length: 48 }, (_, i) => `10.0.1.${i + 1}`);
        const inbound = peers.flatMap((a, i) =>
            [27017, 27030, 8443].map((p) => opening("inbound", "tcp", p, `db-${i + 2}`, [a])),
        );
        const text = renderRuleset(policy(inbound), settings);
        expect(rulesOf(text)).to.have.length(1);
        expect(setNames(text)).to.have.length(1);
        expect((text.match(/10\.0\.1\.\d+/g) ?? []).length).to.equal(48);
    });

    it("rate-limits client-exposed services per source before accepting them", () => {
        const text = renderRuleset(
            policy([opening("inbound", "tcp", 443, "client", ["0.0.0.0/0"], "https", true)]),
            settings,
        );
        const rules = rulesOf(text);
        expect(rules[0]).to.contain(
            "ct state new add @ratelimit_v4 { ip saddr . tcp dport limit rate over 120/minute burst 60 packets } counter drop",
        );
        expect(rules[1]).to.match(/tcp dport 443 ip saddr @client_v4 accept/);
        expect(setNames(text)).to.deep.equal(["client_v4", "ratelimit_v4"]);
    });

    it("filters egress only when egress is deny", () => {
        const out = [opening("outbound", "udp", 123, "ntp-1", ["10.5.0.1"], "ntp")];
        const allow = renderRuleset(policy([], out), settings);
        expect(allow).not.to.contain("chain output");
        const deny = renderRuleset(policy([], out), { ...settings, egress: "deny" });
        expect(deny).to.contain("type filter hook output priority filter; policy drop;");
        expect(rulesOf(deny)).to.deep.equal([
            `\t\tudp dport 123 ip daddr @ntp_1_v4 accept comment "123/udp to ntp-1: ntp"`,
        ]);
    });

    it("matches the management SSH path before any conntrack rule, in both directions", () => {
        const ssh = opening("inbound", "tcp", 22, "admin", ["10.9.0.0/24"], "ssh");
        const text = renderRuleset(
            policy([ssh, opening("inbound", "tcp", 8443, "admin", ["10.9.0.0/24"], "https-cluster")]),
            { ...settings, egress: "deny" },
        );
        const input = text.slice(text.indexOf("chain input"), text.indexOf("chain output"));
        const output = text.slice(text.indexOf("chain output"));
        expect(input.indexOf("tcp dport 22 ip saddr @admin_v4 accept")).to.be.lessThan(input.indexOf("ct state"));
        // 8443 from the same addresses is not management: it stays behind the conntrack rules.
        expect(input.indexOf("tcp dport 8443")).to.be.greaterThan(input.indexOf("ct state invalid drop"));
        expect(output).to.contain(
            `tcp sport 22 ip daddr @admin_v4 accept comment "replies on the management path to admin"`,
        );
        expect(output.indexOf("tcp sport 22")).to.be.lessThan(output.indexOf("ct state"));
        expect(renderRuleset(policy([ssh]), settings)).not.to.contain("sport 22");
    });

    it("logs drops rate-limited, or not at all", () => {
        expect(renderRuleset(policy([]), settings)).to.match(
            /limit rate 10\/minute burst 20 packets log prefix "pinhole drop in: "/,
        );
        expect(renderRuleset(policy([]), { ...settings, logDrops: false })).not.to.contain(" log ");
    });

    it("is deterministic whatever the order of openings", () => {
        const inbound = [
            opening("inbound", "tcp", 8443, "app-2", ["10.0.0.12"]),
            opening("inbound", "tcp", 22, "admin", ["10.9.0.0/24"], "ssh"),
            opening("inbound", "tcp", 8443, "app-1", ["10.0.0.11"]),
            opening("inbound", "udp", 161, "monitoring", ["10.9.0.0/24"]),
            opening("inbound", "tcp", 27017, "app-1", ["10.0.0.11"]),
        ];
        const a = renderRuleset(policy(inbound), settings);
        const shuffled = [inbound[3], inbound[0], inbound[4], inbound[2], inbound[1]];
        // Reason comment lines follow policy order (the policy is already deterministic); the table doesn't depend on it.
        const table = (t: string) => t.slice(t.indexOf("table inet pinhole"));
        expect(table(renderRuleset(policy(shuffled), settings))).to.equal(table(a));
    });

    it("keeps comments safe for nft (no quotes or newlines from reasons)", () => {
        const o = opening("inbound", "tcp", 9443, `x"y`, ["10.0.0.5"]);
        const text = renderRuleset(policy([o]), settings);
        expect(rulesOf(text)[0]).to.contain(`comment "9443/tcp from x?y: svc"`);
    });

    it("lists every opening's reason as a comment so preview diffs explain themselves", () => {
        const inbound = [opening("inbound", "tcp", 27017, "app-1", ["10.0.0.11"], "database")];
        expect(renderRuleset(policy(inbound), settings)).to.contain(
            "#   27017/tcp from app-1: database [Test section]",
        );
    });

    it("rulesets that differ only in comment lines load the same table; a rule's own comment is part of it", () => {
        const base = '# a\ntable inet pinhole {\n\t\ttcp dport 22 accept comment "x"\n}\n';
        const cases: [string, boolean][] = [
            ['# b\n# c\ntable inet pinhole {\n\t\ttcp dport 22 accept comment "x"\n}\n', true],
            ['table inet pinhole {\n\t# inside\n\t\ttcp dport 22 accept comment "x"\n}\n', true],
            ['# a\ntable inet pinhole {\n\t\ttcp dport 22 accept comment "y"\n}\n', false],
            ['# a\ntable inet pinhole {\n\t\ttcp dport 23 accept comment "x"\n}\n', false],
        ];
        for (const [other, same] of cases) expect(sameRulesExceptComments(base, other), other).to.equal(same);
    });

    it("wraps the ruleset in an atomic replace of pinhole's table only", () => {
        const t = replaceTableTransaction("table inet pinhole {\n}\n");
        expect(t.split("\n").slice(0, 2)).to.deep.equal(["table inet pinhole", "delete table inet pinhole"]);
    });

    it("sorts addresses numerically", () => {
        expect(["10.0.0.10", "10.0.0.9", "9.1.1.1", "fd00::1"].sort(compareAddresses)).to.deep.equal([
            "9.1.1.1",
            "10.0.0.9",
            "10.0.0.10",
            "fd00::1",
        ]);
    });

    // The ICMP the network needs under default-deny, by number (RFC 4890 for ICMPv6; RFC 1191 for IPv4's
    // fragmentation-needed, type 3 code 4): nft's names for them, accepted in both chains before any drop
    // other than `ct state invalid` (ND is untracked, never invalid; errors of unknown flows are invalid).
    const needed: { family: "icmp" | "icmpv6"; number: string; name: string }[] = [
        { family: "icmpv6", number: "1", name: "destination-unreachable" },
        { family: "icmpv6", number: "2", name: "packet-too-big" },
        { family: "icmpv6", number: "3", name: "time-exceeded" },
        { family: "icmpv6", number: "4", name: "parameter-problem" },
        { family: "icmpv6", number: "133", name: "nd-router-solicit" },
        { family: "icmpv6", number: "134", name: "nd-router-advert" },
        { family: "icmpv6", number: "135", name: "nd-neighbor-solicit" },
        { family: "icmpv6", number: "136", name: "nd-neighbor-advert" },
        { family: "icmp", number: "3 (code 4 fragmentation-needed)", name: "destination-unreachable" },
    ];
    const chainLines = (text: string, chain: string) => {
        const start = text.split("\n").findIndex((l) => l === `\tchain ${chain} {`);
        const rest = text.split("\n").slice(start + 1);
        return rest.slice(
            0,
            rest.findIndex((l) => l === "\t}"),
        );
    };
    for (const chain of ["input", "output"]) {
        for (const t of needed) {
            it(`accepts ${t.family} type ${t.number} (${t.name}) in the ${chain} chain before any drop`, () => {
                const text = renderRuleset(
                    policy(
                        [opening("inbound", "tcp", 443, "client", ["0.0.0.0/0", "::/0"], "https", true)],
                        [opening("outbound", "udp", 123, "ntp", ["10.9.9.9"], "ntp")],
                    ),
                    { ...settings, egress: "deny" },
                );
                const lines = chainLines(text, chain);
                const at = lines.findIndex((l) =>
                    new RegExp(`^\\t\\t${t.family} type (\\{[^}]*\\b${t.name}\\b[^}]*\\}|${t.name}) accept$`).test(l),
                );
                expect(at, `${chain}:\n${lines.join("\n")}`).to.be.greaterThan(-1);
                const drops = lines
                    .slice(1, at) // [0]: the hook line, with the chain's drop policy
                    .filter((l) => /\bdrop\b/.test(l) && !/^\t\tct state invalid drop$/.test(l));
                expect(drops, `drops before the ${t.name} rule`).to.deep.equal([]);
            });
        }
    }
});

describe("render/nftables: normaliseListing", () => {
    it("drops rate-limit state and counters but keeps static set elements", () => {
        const live = [
            "table inet pinhole {",
            "\tset admin_v4 {",
            "\t\ttype ipv4_addr",
            "\t\tflags interval",
            "\t\telements = { 10.9.0.0/24 }",
            "\t}",
            "",
            "\tset ratelimit_v4 {",
            "\t\ttype ipv4_addr . inet_service",
            "\t\tflags dynamic,timeout",
            "\t\ttimeout 1m",
            "\t\telements = { 10.0.0.1 . 443 limit rate over 120/minute burst 60 packets expires 50s,",
            "\t\t\t     10.0.0.2 . 443 limit rate over 120/minute burst 60 packets expires 40s }",
            "\t}",
            "\tchain input {",
            "\t\ttcp dport 443 counter packets 12 bytes 720 drop",
            "\t}",
            "}",
            "",
        ].join("\n");
        const n = normaliseListing(live);
        expect(n).to.contain("elements = { 10.9.0.0/24 }");
        expect(n).not.to.contain("10.0.0.1 . 443");
        expect(n).not.to.contain("expires");
        expect(n).to.contain("\t\ttcp dport 443 counter drop");
        expect(n).not.to.match(/\n\s*\n/);
    });
});

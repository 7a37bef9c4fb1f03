// tools/verify/ and model/probes.ts: listings → differences in words, state/config expectations, probe plan and script,
// certificate checks, report. Pure; the probe script is also run for real against local sockets.
import { expect } from "chai";
import { createHash } from "crypto";
import { spawnSync } from "child_process";
import * as net from "net";
import * as path from "path";
import { parseStackFile } from "../../../../tools/common/stack-file";
import { buildClusterPolicy, buildPolicy } from "../../../../model/policy";
import { ClusterModel } from "../../../../model/types";
import { literalPolicies } from "../../helpers/literal-reading";
import { generatePrivateKeyPem, issueSelfSigned } from "../../../../provider/tls";
import { inspectScript } from "../../../../remote/webserver-scripts";
import { PLATFORM_OWNER } from "../../../../remote/webserver-platform-scripts";
import {
    FORBIDDEN_CANDIDATES,
    changedLines,
    checkCertificate,
    checkFirewall,
    countFindings,
    describeDifference,
    diffTables,
    expectationsFor,
    FIREWALL_TYPE,
    formatProbeMatrix,
    formatReport,
    judgeProbe,
    LiveWeb,
    parseProbeOutput,
    parseTable,
    parseWebInspect,
    probeFindings,
    probePlan,
    probeScript,
    reportJson,
    reportOk,
    resourcesFromDeployment,
    VerifyReport,
    WEBSERVER_TYPE,
} from "../../../../tools/verify";

const ROOT = path.resolve(__dirname, "..", "..", "..", "..");

// What `nft -s list table inet pinhole` prints for a small database node (normalised, as the state keeps it).
const LISTING = `table inet pinhole {
	set admin_v4 {
		type ipv4_addr
		flags interval
		auto-merge
		comment "admin"
		elements = { 10.9.9.5, 10.20.0.0/24 }
	}
	set peers_2_v4 {
		type ipv4_addr
		flags interval
		auto-merge
		comment "app-1, app-2, db-2, db-3"
		elements = { 10.20.2.10, 10.20.3.11,
			     198.51.100.20, 198.51.100.30 }
	}
	chain input {
		type filter hook input priority filter; policy drop;
		ct state established,related accept comment "replies to allowed flows"
		ct state invalid drop
		iif "lo" accept
		tcp dport 22 ip saddr @admin_v4 accept comment "22/tcp from admin: ssh"
		tcp dport { 8443, 27017 } ip saddr @peers_2_v4 accept comment "8443,27017/tcp from app-1, app-2, db-2, db-3: database, https-cluster"
		limit rate 10/minute burst 20 packets log prefix "pinhole drop in: " level info
	}
}
`;

const insertRule = (listing: string, chain: string, rule: string, after = 1) => {
    const lines = listing.split("\n");
    const at = lines.findIndex((l) => l.trim() === `chain ${chain} {`) + after + 1;
    lines.splice(at, 0, `\t\t${rule}`);
    return lines.join("\n");
};

describe("tools/verify/verify: nftables listings", () => {
    it("parses sets (elements wrapped over lines) and chains (header, rules in order)", () => {
        const t = parseTable(LISTING);
        expect(t.present).to.equal(true);
        expect(t.header).to.equal("inet pinhole");
        expect([...t.sets.keys()]).to.deep.equal(["admin_v4", "peers_2_v4"]);
        expect(t.sets.get("peers_2_v4")!.elements).to.deep.equal([
            "10.20.2.10",
            "10.20.3.11",
            "198.51.100.20",
            "198.51.100.30",
        ]);
        expect(t.sets.get("admin_v4")!.props).to.deep.equal([
            "type ipv4_addr",
            "flags interval",
            "auto-merge",
            'comment "admin"',
        ]);
        const input = t.chains.get("input")!;
        expect(input.header).to.deep.equal(["type filter hook input priority filter; policy drop;"]);
        expect(input.rules).to.have.length(6);
        expect(parseTable("").present).to.equal(false);
    });

    it("finds nothing when the tables are the same (whitespace and blank lines aside)", () => {
        expect(diffTables(LISTING, LISTING.replace(/\t/g, "    ").replace(/\n\tset/g, "\n\n\tset"))).to.deep.equal([]);
    });

    const cases: { name: string; live: string; kinds: string[]; message: RegExp }[] = [
        {
            name: "a rule inserted by hand (nft insert rule inet pinhole input tcp dport 3306 accept)",
            live: insertRule(LISTING, "input", "tcp dport 3306 accept", 0),
            kinds: ["rule-extra"],
            message: /^live table has an extra rule: tcp dport 3306 accept \(chain input, position 1\)$/,
        },
        {
            name: "a rule deleted",
            live: LISTING.replace(/\n\t\ttcp dport 22 [^\n]*/, ""),
            kinds: ["rule-missing"],
            message:
                /^live table is missing a rule: tcp dport 22 ip saddr @admin_v4 accept comment "22\/tcp from admin: ssh" \(chain input\)$/,
        },
        {
            name: "two rules swapped (order matters in a chain)",
            live: LISTING.replace(/(\t\tct state established[^\n]*)\n(\t\tct state invalid drop)/, "$2\n$1"),
            kinds: ["rule-moved"],
            message: /^a rule is in another position than applied: /,
        },
        {
            name: "the chain policy changed to accept",
            live: LISTING.replace("policy drop;", "policy accept;"),
            kinds: ["chain-header"],
            message:
                /^chain input differs: expected "type filter hook input priority filter; policy drop;", live "type filter hook input priority filter; policy accept;"$/,
        },
        {
            name: "an element added to a peer set",
            live: LISTING.replace("198.51.100.30 }", "198.51.100.30, 203.0.113.9 }"),
            kinds: ["element-extra"],
            message: /^live set peers_2_v4 has an extra element: 203\.0\.113\.9$/,
        },
        {
            name: "an element removed from the admin set",
            live: LISTING.replace("{ 10.9.9.5, 10.20.0.0/24 }", "{ 10.20.0.0/24 }"),
            kinds: ["element-missing"],
            message: /^live set admin_v4 is missing element 10\.9\.9\.5$/,
        },
        {
            name: "a chain added (an output chain nobody asked for)",
            live: LISTING.replace(
                /\n}\n$/,
                "\n\tchain output {\n\t\ttype filter hook output priority filter; policy drop;\n\t}\n}\n",
            ),
            kinds: ["chain-extra"],
            message:
                /^live table has an extra chain output \(type filter hook output priority filter; policy drop;, 0 rule\(s\)\)$/,
        },
        {
            name: "the whole table deleted (nft delete table inet pinhole)",
            live: "",
            kinds: ["table-missing"],
            message: /no pinhole firewall/,
        },
    ];
    for (const c of cases) {
        it(`names the difference: ${c.name}`, () => {
            const d = diffTables(LISTING, c.live);
            expect(d.map((x) => x.kind)).to.deep.equal(c.kinds);
            expect(describeDifference(d[0])).to.match(c.message);
        });
    }

    it("changedLines: the lines a config change adds and removes", () => {
        expect(changedLines("a\nb\nc\n", "a\nc\nd\n")).to.deep.equal({ removed: ["b"], added: ["d"] });
    });
});

// ------------------------------------------------------------------------------------------ config + state

function exampleModel(name = "example-modular"): ClusterModel {
    const r = parseStackFile(path.join(ROOT, "stacks", `Pulumi.${name}.yaml`));
    if (!r.model) throw new Error(r.errors.map((e) => `${e.path}: ${e.message}`).join("\n"));
    return r.model;
}

/** An exported deployment as `pulumi stack export` would have it after an up of `model`. */
function deploymentFor(model: ClusterModel, tweak: (rendered: Map<string, string>) => void = () => undefined) {
    const policies = buildPolicy(model);
    const { renderRuleset } = require("../../../../render/nftables") as typeof import("../../../../render/nftables");
    const rendered = new Map(policies.map((p) => [p.node.name, renderRuleset(p, model.firewall)]));
    tweak(rendered);
    const resources: unknown[] = [
        { urn: "urn:pulumi:s::pinhole::pulumi:pulumi:Stack::pinhole-s", type: "pulumi:pulumi:Stack" },
    ];
    for (const [node, ruleset] of rendered) {
        resources.push({
            urn: `urn:pulumi:s::pinhole::...$pinhole:node:Firewall::${node}-firewall-nft`,
            id: `${node}-abc`,
            type: FIREWALL_TYPE,
            outputs: {
                node,
                ruleset,
                listing: LISTING,
                privateKey: { "4dabf18193072939515e22adb298388d": "1b47061264138c4ac30d75fd1eb44270", ciphertext: "x" },
            },
        });
    }
    for (const n of model.nodes.filter((x) => x.role !== "database")) {
        resources.push({
            urn: `urn:...::${n.name}-web-server`,
            id: `${n.name}-web-1`,
            type: WEBSERVER_TYPE,
            outputs: {
                node: n.name,
                fqdn: n.fqdn,
                fingerprint: "AA:BB",
                notAfter: "2030-01-01T00:00:00.000Z",
                certificateSha256: "c",
                keySha256: "k",
                siteSha256: "s",
            },
        });
    }
    return { version: 3, deployment: { manifest: {}, resources } };
}

describe("tools/verify/verify: what the stack expects", () => {
    const model = exampleModel();

    it("reads the firewalls and web servers of an exported deployment by node", () => {
        const r = resourcesFromDeployment(deploymentFor(model));
        expect([...r.firewalls.keys()].sort()).to.deep.equal(model.nodes.map((n) => n.name).sort());
        expect(r.firewalls.get("db-1")![0]).to.deep.include({ node: "db-1", id: "db-1-abc", listing: LISTING });
        expect([...r.webServers.keys()].sort()).to.deep.equal(["app-1", "app-2", "proxy-1", "proxy-2"]);
    });

    it("state matching the config: one passing state check per node", () => {
        const e = expectationsFor(model, deploymentFor(model));
        expect(e.findings.filter((f) => !f.ok)).to.deep.equal([]);
        expect(e.findings.filter((f) => f.check === "state")).to.have.length(model.nodes.length);
        expect(e.nodes.find((n) => n.node.name === "proxy-1")!.servesWeb).to.equal(true);
    });

    it("a config change not yet applied, a node never deployed, a node that left the config", () => {
        const exported = deploymentFor(model, (r) => {
            r.set("db-1", r.get("db-1")!.replace("policy drop;", "policy accept;"));
            r.delete("app-2");
            r.set("old-1", "table inet pinhole {\n}\n");
        });
        const bad = expectationsFor(model, exported).findings.filter((f) => !f.ok);
        const by = (n: string) => bad.filter((f) => f.node === n).map((f) => f.message);
        expect(by("db-1")[0]).to.match(
            /^the config implies a different ruleset than the one the last up applied \(1 line\(s\) removed, 1 added; run pulumi preview --diff, then pulumi up\)/,
        );
        expect(by("app-2")).to.deep.equal([
            "no firewall in the stack's state: this node has not been deployed yet (run pulumi up)",
        ]);
        expect(by("old-1")[0]).to.match(
            /^the state has a firewall for old-1, which is not in the config \(pulumi up will remove it\)/,
        );
    });

    it("checkFirewall: live == state passes; drift fails naming the node's rule; a foreign owner or no persistence fails", () => {
        const e = expectationsFor(model, deploymentFor(model)).nodes.find((n) => n.node.name === "db-1")!;
        const good = checkFirewall(e, { listing: LISTING, owner: "db-1-abc", persisted: true });
        expect(good.every((f) => f.ok)).to.equal(true);
        const drift = checkFirewall(e, {
            listing: insertRule(LISTING, "input", "tcp dport 3306 accept", 0),
            owner: "db-1-abc",
            persisted: true,
        });
        expect(drift.filter((f) => !f.ok).map((f) => `${f.node}: ${f.message}`)).to.deep.equal([
            "db-1: live table has an extra rule: tcp dport 3306 accept (chain input, position 1)",
        ]);
        const foreign = checkFirewall(e, { listing: LISTING, owner: "unified-1-xyz", persisted: false })
            .filter((f) => !f.ok)
            .map((f) => f.message);
        expect(foreign).to.have.length(2);
        expect(foreign[0]).to.contain("belongs to another resource (unified-1-xyz)");
        expect(foreign[1]).to.contain("not persisted for boot");
    });
});

// ------------------------------------------------------------------------------------------ certificates

describe("tools/verify/verify: the installed certificate", () => {
    const model = exampleModel();
    const sha = (s: string) => createHash("sha256").update(s, "utf8").digest("hex");
    let pem = "";
    let fp = "";
    const now = new Date("2026-06-01T00:00:00Z");

    before(async () => {
        const key = generatePrivateKeyPem({ algorithm: "ECDSA" });
        const c = await issueSelfSigned(
            {
                privateKeyPem: key,
                subject: { commonName: "proxy-1.voice.example.com" },
                dnsNames: ["proxy-1.voice.example.com", "proxy-1"],
                ipAddresses: ["10.20.1.10"],
                validityDays: 90,
                earlyRenewalDays: 30,
                isCa: false,
            },
            now,
        );
        pem = c.certPem;
        fp = new (require("crypto").X509Certificate)(pem).fingerprint256;
    });

    const setup = () => {
        const e = expectationsFor(model, deploymentFor(model)).nodes.find((n) => n.node.name === "proxy-1")!;
        e.web = {
            ...e.web!,
            fingerprint: fp,
            notAfter: "",
            certificateSha256: sha(pem),
            keySha256: "k",
            siteSha256: "s",
            id: "proxy-1-web-1",
        };
        const live: LiveWeb = {
            owner: "proxy-1-web-1",
            certSha: sha(pem),
            keySha: "k",
            siteSha: "s",
            keyMode: "600",
            served: fp,
            certPem: pem,
        };
        return { e, live };
    };

    it("passes when file, key, site and what nginx serves match the state; reports the expiry", () => {
        const { e, live } = setup();
        const f = checkCertificate(e, live, { renewBeforeDays: 30, now });
        expect(f.filter((x) => !x.ok)).to.deep.equal([]);
        expect(f.at(-1)!.message).to.match(
            /^installed certificate matches the state \([0-9a-f]{16}…, expires 2026-08-30, in 90 days\)$/,
        );
    });

    const bad: { name: string; change: (l: LiveWeb) => void; now?: Date; expect: RegExp }[] = [
        {
            name: "another certificate file",
            change: (l) => {
                l.certSha = "other";
            },
            expect: /^the installed certificate differs from the state/,
        },
        {
            name: "a hand-edited key",
            change: (l) => {
                l.keySha = "other";
            },
            expect: /private key \/etc\/nginx\/pinhole\/server\.key differs/,
        },
        {
            name: "a readable key",
            change: (l) => {
                l.keyMode = "644";
            },
            expect: /mode 644 \(expected 600\)/,
        },
        {
            name: "a changed site config",
            change: (l) => {
                l.siteSha = "other";
            },
            expect: /nginx site config .* differs from the state/,
        },
        {
            name: "nginx serving something else",
            change: (l) => {
                l.served = "11:22:33";
            },
            expect: /^nginx serves another certificate/,
        },
        {
            name: "no certificate at all",
            change: (l) => {
                l.certSha = "absent";
                l.certPem = "";
            },
            expect: /^no certificate installed at \/etc\/nginx\/pinhole\/server\.pem$/,
        },
        {
            name: "an expired certificate",
            change: () => undefined,
            now: new Date("2027-01-01T00:00:00Z"),
            expect: /^WEB CERT EXPIRED AT: 2026-08-30 /,
        },
    ];
    for (const c of bad) {
        it(`fails on ${c.name}`, () => {
            const { e, live } = setup();
            c.change(live);
            const f = checkCertificate(e, live, { renewBeforeDays: 30, now: c.now ?? now }).filter((x) => !x.ok);
            expect(f.map((x) => x.message).join("\n")).to.match(c.expect);
        });
    }

    it("fails inside the notice window (verify's exit status), and when the name is not in the certificate", () => {
        const { e, live } = setup();
        const w = checkCertificate(e, live, { renewBeforeDays: 30, now: new Date("2026-08-10T00:00:00Z") });
        expect(w.filter((x) => !x.ok).map((x) => x.message)).to.have.length(1);
        expect(w.find((x) => !x.ok)!.message).to.match(
            /^WEB CERT EXPIRES AT: 2026-08-30 .* \(in 20 days; notice window 30 days\): run pulumi up/,
        );
        e.node = { ...e.node, fqdn: "portal.voice.example.com" };
        expect(checkCertificate(e, live, { renewBeforeDays: 30, now }).filter((x) => !x.ok)[0].message).to.contain(
            "does not carry the node's network name portal.voice.example.com",
        );
    });

    it("parses the web inspect output (remote/webserver-scripts.ts inspectScript + the certificate file)", () => {
        const l = parseWebInspect(
            `owner=proxy-1-web-1\nsha.cert=aa\nsha.key=absent\nsha.site=cc\nkeymode=600\nserved=AB:CD\noriginals=/etc/nginx/conf.d/default.conf \n--- cert\n${pem}`,
        );
        expect(l).to.deep.equal({
            owner: "proxy-1-web-1",
            certSha: "aa",
            keySha: "absent",
            siteSha: "cc",
            keyMode: "600",
            served: "AB:CD",
            certPem: pem,
        });
    });

    describe("certificate-only (the platform's nginx: paths from the plan, the files pinhole wrote there)", () => {
        const CERT = "/etc/nginx/ssl/server.crt",
            KEYP = "/etc/nginx/ssl/server.key",
            TLS = "/etc/nginx/conf.d/pinhole-tls.conf",
            CONF = "/etc/nginx/nginx.conf";
        const outputs = () => ({
            node: "proxy-1",
            fqdn: "proxy-1.voice.example.com",
            frontEnd: "certificate-only",
            fingerprint: fp,
            notAfter: "",
            certificateSha256: "stale",
            keySha256: "stale",
            siteSha256: "stale",
            plan: { certificatePath: CERT, keyPath: KEYP },
            installed: [
                { path: CERT, sha256: sha(pem) },
                { path: KEYP, sha256: "k" },
                { path: TLS, sha256: "t" },
                { path: CONF, sha256: "n" },
            ],
        });
        const state = (o: Record<string, unknown> = outputs()) =>
            resourcesFromDeployment({
                deployment: { resources: [{ type: WEBSERVER_TYPE, urn: "u", id: "proxy-1-web-1", outputs: o }] },
            }).webServers.get("proxy-1")![0];
        const setupPlatform = () => {
            const { e } = setup();
            e.web = state();
            const live: LiveWeb = {
                owner: "proxy-1-web-1",
                certSha: sha(pem),
                keySha: "k",
                siteSha: "t",
                keyMode: "600",
                served: fp,
                certPem: pem,
                files: { [CONF]: "n" },
            };
            return { e, live };
        };

        it("reads the state: the paths the plan found, each file's SHA-256 from `installed`", () => {
            const w = state();
            expect(w.paths).to.deep.equal({ certificate: CERT, key: KEYP, site: TLS });
            expect(w).to.deep.include({
                frontEnd: "certificate-only",
                certificateSha256: sha(pem),
                keySha256: "k",
                siteSha256: "t",
            });
            expect(w.files!.map((f) => f.path)).to.deep.equal([CERT, KEYP, TLS, CONF]);
            expect(state({ ...outputs(), tlsPath: "/etc/nginx/conf.d/zz-tls.conf" }).paths.site).to.equal(
                "/etc/nginx/conf.d/zz-tls.conf",
            );
        });

        it("passes when the platform's nginx has pinhole's files as installed", () => {
            const { e, live } = setupPlatform();
            const f = checkCertificate(e, live, { renewBeforeDays: 30, now });
            expect(f.filter((x) => !x.ok)).to.deep.equal([]);
        });

        const badPlatform: { name: string; change: (l: LiveWeb) => void; expect: RegExp }[] = [
            {
                name: "a certificate replaced at the platform's path",
                change: (l) => {
                    l.certSha = "other";
                },
                expect: /^the installed certificate differs from the state/,
            },
            {
                name: "a hand-edited key at the platform's path",
                change: (l) => {
                    l.keySha = "other";
                },
                expect: /private key \/etc\/nginx\/ssl\/server\.key differs/,
            },
            {
                name: "an edited TLS drop-in",
                change: (l) => {
                    l.siteSha = "other";
                },
                expect: /nginx site config \/etc\/nginx\/conf\.d\/pinhole-tls\.conf differs/,
            },
            {
                name: "a patched platform file edited since",
                change: (l) => {
                    l.files![CONF] = "edited";
                },
                expect: /^the platform file \/etc\/nginx\/nginx\.conf pinhole patched differs from the state/,
            },
            {
                name: "a patched platform file gone",
                change: (l) => {
                    l.files = {};
                },
                expect: /^the platform file \/etc\/nginx\/nginx\.conf pinhole patched is missing/,
            },
            {
                name: "another resource's front end",
                change: (l) => {
                    l.owner = "proxy-1-web-2";
                },
                expect: /belongs to another resource \(proxy-1-web-2\)/,
            },
        ];
        for (const c of badPlatform) {
            it(`fails on ${c.name}`, () => {
                const { e, live } = setupPlatform();
                c.change(live);
                expect(
                    checkCertificate(e, live, { renewBeforeDays: 30, now })
                        .filter((x) => !x.ok)
                        .map((x) => x.message)
                        .join("\n"),
                ).to.match(c.expect);
            });
        }

        it("the inspect script reads the platform owner marker and hashes the files the state lists; its output parses", () => {
            const s = inspectScript(
                "proxy-1.voice.example.com",
                { certificate: CERT, key: KEYP, site: TLS },
                { ownerFile: PLATFORM_OWNER, files: [CONF, "/etc/nginx/it's.conf"] },
            );
            expect(s).to.contain(`cat '${PLATFORM_OWNER}'`);
            expect(s).to.contain(`printf 'file=%s %s\\n' "$(sha256sum < '${CONF}' | cut -c1-64)" '${CONF}'`);
            expect(s).to.contain(`'/etc/nginx/it'\\''s.conf'`);
            expect(spawnSync("sh", ["-n"], { input: s, encoding: "utf8" }).status).to.equal(0);
            const l = parseWebInspect(
                `owner=o\nfile=${"a".repeat(64)} ${CONF}\nfile=absent /etc/nginx/x.conf\nsha.cert=aa\nsha.key=bb\nsha.site=cc\nkeymode=600\nserved=AB\n--- cert\n${pem}`,
            );
            expect(l.files).to.deep.equal({ [CONF]: "a".repeat(64), "/etc/nginx/x.conf": "absent" });
        });
    });
});

// ------------------------------------------------------------------------------------------ probes

describe("tools/verify/verify: probes from the nodes", () => {
    const model = exampleModel("example-multisite");
    const { flows, nodes: policies } = buildClusterPolicy(model);
    const plan = probePlan(model, flows, { forbiddenPerPeer: 3 }, policies);
    const of = (from: string, to: string) => plan.filter((t) => t.from === from && t.to === to);

    it("required: every TCP port the peer opens to this node; forbidden: the first 3 candidates the policy denies", () => {
        // The reference profile's literal reading (helpers/literal-reading.ts) of what app-1 may open on db-1.
        const db1 = literalPolicies(model).find((p) => p.node.name === "db-1")!;
        const open = [
            ...new Set(db1.inbound.filter((o) => o.peer.name === "app-1" && o.protocol === "tcp").map((o) => o.port)),
        ].sort((a, b) => a - b);
        expect(open).to.include.members([22, 8443, 27017, 27019, 27020, 27030]);
        expect(
            of("app-1", "db-1")
                .filter((t) => t.expect === "open" && (t.protocol ?? "tcp") === "tcp")
                .map((t) => t.port),
        ).to.deep.equal(open);
        expect(
            of("app-1", "db-1")
                .filter((t) => t.expect === "blocked")
                .map((t) => t.port),
        ).to.deep.equal(FORBIDDEN_CANDIDATES.filter((p) => !open.includes(p)).slice(0, 3));
        expect(of("proxy-1", "db-1").filter((t) => t.expect === "open")).to.deep.equal([]);
        expect(
            of("proxy-1", "db-1")
                .filter((t) => t.expect === "blocked")
                .map((t) => t.port),
        ).to.deep.equal([22, 27017, 8443]);
        // Every forbidden port really is denied by the oracle, every required one allowed.
        for (const t of plan) expect(t.why, `${t.from}→${t.to} ${t.port}`).to.be.a("string").and.not.equal("");
    });

    it("uses the address the prober sees: a dc2 peer's advertised address from dc1, its internal one within dc2", () => {
        expect(of("app-1", "db-3")[0].address).to.equal("198.51.100.30");
        expect(of("app-2", "db-3")[0].address).to.equal("10.60.3.10");
        expect(of("app-2", "db-1")[0].address).to.equal("10.20.3.10");
    });

    it("judges outcomes: required passes when it connects (refused = no listener, a warning); forbidden passes when dropped", () => {
        const req = { from: "a", to: "b", address: "10.0.0.2", port: 8443, expect: "open" as const, why: "w" };
        const forb = { ...req, port: 3306, expect: "blocked" as const };
        expect(
            ["open", "refused", "timeout", "eperm", "unreach", "not-run"].map((o) => judgeProbe(req, o as never).ok),
        ).to.deep.equal([true, true, false, false, false, false]);
        expect(
            ["open", "refused", "timeout", "eperm", "unreach", "not-run"].map((o) => judgeProbe(forb, o as never).ok),
        ).to.deep.equal([false, false, true, true, false, false]);
        const f = probeFindings([judgeProbe(forb, "open"), judgeProbe(req, "timeout"), judgeProbe(req, "refused")]);
        expect(f.map((x) => [x.ok, x.message])).to.deep.equal([
            [false, "a → b (10.0.0.2) 3306/tcp: forbidden but reachable (open) — w"],
            [false, "a → b (10.0.0.2) 8443/tcp: required but filtered (timed out) — w"],
            [true, "a → b (10.0.0.2) 8443/tcp: the firewall lets it through but nothing listens (refused) — w"],
        ]);
    });

    it("the probe script runs with sh + bash /dev/tcp: open and refused measured on this host's loopback", async function () {
        this.timeout(15000);
        const server = net.createServer((s) => s.end());
        await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
        const open = (server.address() as net.AddressInfo).port;
        const closed = await new Promise<number>((r) => {
            const s = net.createServer();
            s.listen(0, "127.0.0.1", () => {
                const p = (s.address() as net.AddressInfo).port;
                s.close(() => r(p));
            });
        });
        const script = probeScript(
            [
                { address: "127.0.0.1", port: open },
                { address: "127.0.0.1", port: closed },
            ],
            { timeoutSeconds: 2 },
        );
        const r = await new Promise<{ status: number | null; stdout: string }>((resolve) => {
            const c = require("child_process").spawn("/bin/sh", ["-s"], { stdio: ["pipe", "pipe", "pipe"] });
            let stdout = "";
            c.stdout.on("data", (d: Buffer) => (stdout += d));
            c.on("close", (status: number | null) => resolve({ status, stdout }));
            c.stdin.end(script);
        });
        server.close();
        expect(r.status).to.equal(0);
        expect(r.stdout).to.contain("probes-done");
        expect(parseProbeOutput(r.stdout, 3)).to.deep.equal([
            { outcome: "open" },
            { outcome: "refused" },
            { outcome: "timeout" },
        ]);
        expect(parseProbeOutput("0 open\n", 2)).to.deep.equal([{ outcome: "open" }, { outcome: "not-run" }]);
        expect(
            spawnSync("/bin/sh", ["-n"], { input: probeScript(plan.slice(0, 70)) }).status,
            "valid sh with batches",
        ).to.equal(0);
    });
});

// ------------------------------------------------------------------------------------------ report

describe("tools/verify/verify: the report", () => {
    const report: VerifyReport = {
        stack: "lab-modular",
        checkedAt: "2026-11-26T22:00:00.000Z",
        nodes: ["app-1", "db-1"],
        listening: [],
        ms: 4200,
        findings: [
            { node: "app-1", check: "state", ok: true, message: "ok" },
            { node: "db-1", check: "state", ok: true, message: "ok" },
            { node: "app-1", check: "firewall", ok: true, message: "live table matches" },
            {
                node: "db-1",
                check: "firewall",
                ok: false,
                message: "live table has an extra rule: tcp dport 3306 accept (chain input, position 1)",
            },
            { node: "app-1", check: "certificate", ok: true, warning: true, message: "WEB CERT EXPIRES AT: ..." },
        ],
        probes: [
            judgeProbe(
                { from: "app-1", to: "db-1", address: "10.0.0.2", port: 27017, expect: "open", why: "w" },
                "open",
            ),
            judgeProbe(
                { from: "db-1", to: "app-1", address: "10.0.0.1", port: 3306, expect: "blocked", why: "w" },
                "timeout",
            ),
            judgeProbe(
                { from: "db-1", to: "app-1", address: "10.0.0.1", port: 22, expect: "blocked", why: "w" },
                "open",
            ),
        ],
    };

    it("counts per check, fails on any failure, and names node and rule", () => {
        const c = countFindings(report);
        expect(c.byCheck.firewall).to.deep.equal({ pass: 1, fail: 1 });
        expect(c.byCheck.probe).to.deep.equal({ pass: 2, fail: 1 });
        expect(c.warnings).to.equal(1);
        expect(reportOk(report)).to.equal(false);
        const text = formatReport(report);
        expect(text).to.contain("db-1: live table has an extra rule: tcp dport 3306 accept (chain input, position 1)");
        expect(text).to.match(
            /^FAIL: 5 passed, 2 failed, 1 warning\(s\) \(state 2\/2, firewall 1\/2, probe 2\/3\) in 4\.2 s$/m,
        );
        expect(JSON.parse(reportJson(report))).to.deep.include({ ok: false, stack: "lab-modular" });
    });

    it("prints a from × to matrix of probe results", () => {
        expect(formatProbeMatrix(report.nodes, report.probes)).to.equal(
            ["FROM \\ TO  app-1     db-1", "app-1      -         ok 1", "db-1       FAIL 1/2  -"].join("\n"),
        );
    });
});

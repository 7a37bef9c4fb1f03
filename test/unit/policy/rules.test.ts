// policy/rules.ts: each CrossGuard rule against rulesets rendered from the example stacks (they pass) and against
// the same rulesets with one violation each (they fail, naming what is wrong).
import { expect } from "chai";
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { parseStackFile } from "../../../tools/common/stack-file";
import { buildPolicy } from "../../../model/policy";
import { renderRuleset } from "../../../render/nftables";
import {
    certificateInNoticeWindow,
    databaseReachableFromClients,
    DEFAULT_PRODUCTION_STACKS,
    egressNotDenied,
    legacyTls,
    parseRuleset,
    stackOfUrn,
    worldReachableManagement,
} from "../../../policy/rules";

const ROOT = path.resolve(__dirname, "..", "..", "..");
const model = parseStackFile(path.join(ROOT, "stacks", "Pulumi.example-modular.yaml")).model!;
const rulesets = buildPolicy(model).map((p) => ({ node: p.node, text: renderRuleset(p, model.firewall) }));
const db = rulesets.find((r) => r.node.role === "database")!.text;
const addInput = (text: string, rule: string) => text.replace(/(chain input \{\n[^\n]*\n)/, `$1\t\t${rule}\n`);
const addSet = (text: string, name: string, members: string, elements: string) =>
    text.replace(
        "table inet pinhole {\n",
        `table inet pinhole {\n\tset ${name} {\n\t\ttype ipv4_addr\n\t\tflags interval\n\t\tcomment "${members}"\n\t\telements = { ${elements} }\n\t}\n`,
    );

describe("policy/rules.ts (CrossGuard rules)", () => {
    it("parses pinhole's rendered sets, chain policies and port rules", () => {
        const rs = parseRuleset(db);
        expect(rs.chains.get("input")?.policy).to.equal("drop");
        const ssh = rs.rules.find((r) => r.ports.includes(22) && r.chain === "input" && r.protocol === "tcp")!;
        expect(rs.sets.get(ssh.sourceSet!)?.members).to.include("admin");
        expect(rs.sets.get(ssh.sourceSet!)?.elements).to.not.be.empty;
    });

    it("every example stack's ruleset passes every firewall rule", () => {
        for (const f of fs.readdirSync(path.join(ROOT, "stacks")).filter((x) => /^Pulumi\.example-.*\.yaml$/.test(x))) {
            const m = parseStackFile(path.join(ROOT, "stacks", f)).model!;
            for (const p of buildPolicy(m)) {
                const text = renderRuleset(p, m.firewall);
                expect(
                    [...worldReachableManagement(text), ...databaseReachableFromClients(text)],
                    `${f} ${p.node.name}`,
                ).to.deep.equal([]);
            }
        }
    });

    const world: [string, string, RegExp][] = [
        ["SSH with no source match", "tcp dport 22 accept", /22\/tcp \(SSH/],
        ["SSH from 0.0.0.0/0", "tcp dport { 22, 443 } ip saddr 0.0.0.0/0 accept", /22\/tcp/],
        ["SNMP from ::/0", "udp dport 161 ip6 saddr ::/0 accept", /161\/udp \(SNMP\)/],
        ["SNMP traps from a world set", "udp dport 162 ip saddr @world_v4 accept", /162\/udp/],
    ];
    for (const [name, rule, msg] of world) {
        it(`no-ssh-snmp-from-world refuses ${name}`, () => {
            const text = addSet(addInput(db, rule), "world_v4", "0.0.0.0/0", "0.0.0.0/0");
            const v = worldReachableManagement(text);
            expect(v).to.have.length(1);
            expect(v[0]).to.match(msg);
        });
    }
    it("no-ssh-snmp-from-world refuses an input chain whose policy is accept", () => {
        expect(
            worldReachableManagement(
                db.replace("hook input priority filter; policy drop;", "hook input priority filter; policy accept;"),
            ),
        ).to.have.length(1);
    });

    const clients: [string, string][] = [
        ["the client network's set", "tcp dport 27017 ip saddr @client_v4 accept"],
        ["a client address in another set", "tcp dport { 8443, 27030 } ip saddr @mixed_v4 accept"],
        ["the world", "tcp dport 27017 accept"],
    ];
    for (const [name, rule] of clients) {
        it(`databases-not-from-clients refuses a database port open to ${name}`, () => {
            let text = addSet(db, "client_v4", "client", "192.0.2.0/24");
            text = addSet(text, "mixed_v4", "app-1, somewhere", "10.20.2.10, 192.0.2.0/24");
            expect(databaseReachableFromClients(text)).to.deep.equal([]);
            expect(databaseReachableFromClients(addInput(text, rule))[0]).to.match(
                /database port .* is reachable from/,
            );
        });
    }

    it("egress-deny: a ruleset without a dropping output chain is refused", () => {
        expect(egressNotDenied(db)).to.deep.equal([]);
        const allow = buildPolicy(model).find((p) => p.node.role === "database")!;
        expect(egressNotDenied(renderRuleset(allow, { ...model.firewall, egress: "allow" }))).to.have.length(1);
    });

    it("production stacks: the default pattern and the URN's stack", () => {
        const re = new RegExp(DEFAULT_PRODUCTION_STACKS);
        for (const s of ["prod", "production", "prod-eu", "eu-prod", "acme.production"])
            expect(re.test(s), s).to.equal(true);
        for (const s of ["lab-modular", "staging", "product", "example-modular"]) expect(re.test(s), s).to.equal(false);
        expect(stackOfUrn("urn:pulumi:eu-prod::pinhole::pinhole:node:Firewall::db-1")).to.equal("eu-prod");
    });

    it("tls-1.2-or-newer refuses SSLv3, TLS 1.0 and 1.1", () => {
        expect(legacyTls("  ssl_protocols TLSv1.2 TLSv1.3;\n")).to.deep.equal([]);
        expect(legacyTls("  ssl_protocols TLSv1 TLSv1.1 TLSv1.2;\n")[0]).to.match(/TLSv1, TLSv1\.1/);
        expect(legacyTls("ssl_protocols SSLv3 TLSv1.2;")[0]).to.match(/SSLv3/);
    });

    it("certificate-outside-notice-window refuses a certificate expiring inside the window", () => {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "pinhole-policy-"));
        try {
            const cert = (days: number) => {
                execFileSync(
                    "openssl",
                    [
                        "req",
                        "-x509",
                        "-newkey",
                        "ec",
                        "-pkeyopt",
                        "ec_paramgen_curve:P-256",
                        "-nodes",
                        "-subj",
                        "/CN=web-1.test",
                        "-days",
                        String(days),
                        "-keyout",
                        path.join(dir, "k.pem"),
                        "-out",
                        path.join(dir, "c.pem"),
                    ],
                    { stdio: "ignore" },
                );
                return fs.readFileSync(path.join(dir, "c.pem"), "utf8");
            };
            expect(certificateInNoticeWindow(cert(90), 30)).to.deep.equal([]);
            expect(certificateInNoticeWindow(cert(10), 30)[0]).to.match(/inside the 30-day notice window/);
            expect(certificateInNoticeWindow("nope", 30)[0]).to.match(/not a PEM/);
        } finally {
            fs.rmSync(dir, { recursive: true, force: true });
        }
    });
});

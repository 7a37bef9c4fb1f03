import { expect } from "chai";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as yaml from "js-yaml";
import {
    ConfigValidationError,
    ParseOptions,
    checkHostKey,
    parseClusterConfig,
    parseStackConfig,
    requireValidModel,
} from "../../../../model/config";
import { loadStackFile, parseStackFile } from "../../../../tools/common/stack-file";
import { hostKeyFor, rawCluster } from "../../helpers/model-builders";

const FIXTURES = path.join(__dirname, "../../fixtures");
const STACKS = path.resolve(__dirname, "../../../../stacks");

function readYaml(file: string): Record<string, unknown> {
    return yaml.load(fs.readFileSync(file, "utf8")) as Record<string, unknown>;
}

function baseConfig(name: string): Record<string, unknown> {
    return structuredClone(readYaml(path.join(FIXTURES, "valid", `${name}.yaml`)).config as Record<string, unknown>);
}

/** "pinhole:nodes[2].ssh.hostKey" → ["pinhole:nodes", 2, "ssh", "hostKey"] */
function splitPath(p: string): (string | number)[] {
    const m = /^([A-Za-z]+:[A-Za-z]+)(.*)$/.exec(p);
    if (!m) throw new Error(`bad fixture path ${p}`);
    const out: (string | number)[] = [m[1]];
    for (const seg of m[2].matchAll(/\[(\d+)\]|\.([A-Za-z0-9_-]+)/g))
        out.push(seg[1] !== undefined ? Number(seg[1]) : seg[2]);
    return out;
}

function setPath(obj: Record<string, unknown>, p: string, value: unknown, remove = false): void {
    const keys = splitPath(p);
    let cur: Record<string | number, unknown> = obj;
    for (const k of keys.slice(0, -1)) cur = cur[k] as Record<string | number, unknown>;
    const last = keys[keys.length - 1];
    if (remove) delete cur[last];
    else cur[last] = value;
}

interface Fixture {
    base: string;
    set?: Record<string, unknown>;
    delete?: string[];
    opts?: ParseOptions;
    expect: { path: string; message: string }[];
    mustNotContain?: string[];
}

const runConfigMap = (configMap: Record<string, unknown>, opts: ParseOptions = {}) => parseStackConfig(configMap, opts);

describe("model/config: stack config validation", () => {
    describe("valid stacks", () => {
        for (const name of ["modular", "unified", "standalone"]) {
            it(`fixtures/valid/${name}.yaml parses without errors or warnings`, () => {
                const r = runConfigMap(baseConfig(name));
                expect(r.errors).to.deep.equal([]);
                expect(r.warnings).to.deep.equal([]);
                expect(r.model?.model).to.equal(name);
            });
        }

        it("stacks/Pulumi.example-modular.yaml parses; sshPrivateKey is only reported when secrets are required", () => {
            const file = path.join(STACKS, "Pulumi.example-modular.yaml");
            const plain = parseStackFile(file);
            expect(plain.errors).to.deep.equal([]);
            expect(plain.model?.nodes.map((n) => n.name)).to.deep.equal([
                "proxy-1",
                "proxy-2",
                "app-1",
                "app-2",
                "db-1",
                "db-2",
                "db-3",
            ]);
            const strict = parseStackFile(file, { requireSecrets: true });
            expect(strict.model).to.equal(undefined);
            expect(strict.errors.map((e) => e.path)).to.deep.equal(["pinhole:sshPrivateKey"]);
        });

        it("fills defaults: site, fqdn, ssh host/port/user/sudo, client and monitoring networks, firewall and certificates", () => {
            const r = runConfigMap(baseConfig("modular"));
            const m = r.model!;
            const proxy = m.nodes[0];
            expect(proxy.fqdn).to.equal("proxy-1.voice.example.com");
            expect(proxy.ssh).to.deep.include({ host: "10.20.1.10", port: 22, user: "root", sudo: false });
            expect(proxy.arbiter).to.equal(false);
            expect(m.sites).to.deep.equal(["dc1", "dc2"]);
            expect(m.networks.monitoring).to.deep.equal(m.networks.admin);
            expect(m.firewall).to.deep.equal({
                egress: "allow",
                profile: "reference",
                narrow: {},
                rateLimit: { perMinute: 120, burst: 60 },
                logDrops: true,
                rollbackSeconds: 30,
                httpRedirect: false,
                extraInbound: [],
                otherFirewalls: "refuse",
            });
            expect(m.certificates).to.deep.equal({
                mode: "self-signed",
                validityDays: 397,
                renewBeforeDays: 30,
                legacyProtocols: false,
                frontEnd: "certificate-only",
                nodes: {},
            });
            const unified = runConfigMap(baseConfig("unified")).model!;
            expect(unified.networks.client).to.deep.equal(["0.0.0.0/0", "::/0"]);
            expect(unified.nodes[0].site).to.equal("default");
            expect(unified.nodes[0].fqdn).to.equal("uni-1");
            const solo = runConfigMap(baseConfig("standalone")).model!.nodes[0];
            expect(solo.ssh.sudo, "non-root users get sudo by default").to.equal(true);
        });

        it("resolves external destinations to literal addresses, ports from the URI or the table", () => {
            const m = runConfigMap(baseConfig("modular")).model!;
            const byKind = Object.fromEntries(m.external.map((e) => [e.kind, e]));
            expect(byKind.ucm).to.deep.include({
                addresses: ["10.30.0.10"],
                protocol: "tcp",
                port: 8443,
                configPath: "pinhole:external.ucm[0]",
            });
            expect(byKind.notification).to.deep.include({ addresses: ["10.40.0.20"], protocol: "tcp", port: 9443 });
            expect(byKind.snmpTrap).to.deep.include({
                addresses: ["10.20.0.40"],
                protocol: "udp",
                port: 162,
                name: "snmp://***@10.20.0.40",
            });
            expect(byKind.backup).to.deep.include({ addresses: ["10.20.5.4"], protocol: "tcp", port: 22 });
            expect(byKind.ntp).to.deep.include({ protocol: "udp", port: 123 });
        });

        it("LDAP: plain hosts get 389/tcp and 636/tcp; objects choose ports and transports", () => {
            const r = parseClusterConfig(
                rawCluster("unified", [{ name: "uni-1", role: "unified", address: "10.1.0.1" }], {
                    external: { ldap: ["10.30.0.14", { host: "10.30.0.15", ports: [636], protocols: ["tcp", "udp"] }] },
                }),
            );
            const ldap = r.model!.external.map((e) => `${e.name} ${e.port}/${e.protocol}`);
            expect(ldap).to.deep.equal([
                "10.30.0.14 389/tcp",
                "10.30.0.14 636/tcp",
                "10.30.0.15 636/tcp",
                "10.30.0.15 636/udp",
            ]);
        });

        it('accepts the values `pulumi config set --path` stores as strings ("22", "true")', () => {
            const cfg = baseConfig("modular");
            setPath(cfg, "pinhole:nodes[0].ssh.port", "2222");
            setPath(cfg, "pinhole:nodes[3].arbiter", "true");
            const m = runConfigMap(cfg).model!;
            expect(m.nodes[0].ssh.port).to.equal(2222);
            expect(m.nodes[3].arbiter).to.equal(true);
        });

        it("warns (without failing) about legal but fragile setups", () => {
            const cases: { name: string; raw: Record<string, unknown>; warning: string }[] = [
                {
                    name: "even number of database voters",
                    raw: rawCluster("unified", [
                        { name: "uni-1", role: "unified", address: "10.1.0.1" },
                        { name: "uni-2", role: "unified", address: "10.1.0.2" },
                    ]),
                    warning: "2 database voters (2 members + 0 arbiters): an even number",
                },
                {
                    name: "modular without web proxies",
                    raw: rawCluster("modular", [
                        { name: "app-1", role: "application", address: "10.1.0.1" },
                        { name: "db-1", role: "database", address: "10.1.0.2" },
                    ]),
                    warning: "client networks will reach the application nodes directly",
                },
                {
                    name: "a password pinhole does not use (an sftp password is an error: test/unit/model/config/secrets.test.ts)",
                    raw: rawCluster("unified", [{ name: "uni-1", role: "unified", address: "10.1.0.1" }], {
                        external: { downloadLocations: ["https://u:Secr3tPw@10.20.5.4/x"] },
                    }),
                    warning: "https://u:***@10.20.5.4/x carries a password that pinhole does not use",
                },
                {
                    name: "a local file: download location",
                    raw: rawCluster("unified", [{ name: "uni-1", role: "unified", address: "10.1.0.1" }], {
                        external: { downloadLocations: ["file:///opt/media"] },
                    }),
                    warning: "is local to the node",
                },
            ];
            for (const c of cases) {
                const r = parseClusterConfig(c.raw);
                expect(r.errors, c.name).to.deep.equal([]);
                expect(r.model, c.name).to.not.equal(undefined);
                expect(r.warnings.map((w) => w.message).join("\n"), c.name).to.contain(c.warning);
                expect(JSON.stringify(r.warnings)).to.not.contain("Secr3tPw");
            }
        });

        it("extraInbound adds openings with the stack's reason", () => {
            const r = parseClusterConfig(
                rawCluster("unified", [{ name: "uni-1", role: "unified", address: "10.1.0.1" }], {
                    firewall: {
                        extraInbound: [
                            {
                                port: 9100,
                                from: ["monitoring", "10.77.0.0/16"],
                                roles: ["unified"],
                                reason: "node exporter",
                            },
                        ],
                    },
                }),
            );
            expect(r.errors).to.deep.equal([]);
            expect(r.model!.firewall.extraInbound).to.deep.equal([
                {
                    protocol: "tcp",
                    port: 9100,
                    from: ["monitoring", "10.77.0.0/16"],
                    roles: ["unified"],
                    nodes: [],
                    reason: "node exporter",
                    exposed: false,
                },
            ]);
        });
    });

    describe("host keys", () => {
        it("accepts well-formed OpenSSH keys with or without a comment", () => {
            expect(checkHostKey(hostKeyFor("a"))).to.equal(undefined);
            expect(checkHostKey(`${hostKeyFor("a")} root@node`)).to.equal(undefined);
        });
        it("refuses truncated keys and DSA", () => {
            expect(checkHostKey(hostKeyFor("a").slice(0, -8))).to.be.a("string");
            expect(checkHostKey("ssh-dss AAAAB3NzaC1kc3M=")).to.contain("DSA");
        });
    });

    describe("stack files", () => {
        it("loadStackFile strips the namespace, keeps secure values opaque, ignores provider namespaces", () => {
            const dir = fs.mkdtempSync(path.join(os.tmpdir(), "pinhole-stack-"));
            const file = path.join(dir, "Pulumi.t.yaml");
            fs.writeFileSync(
                file,
                yaml.dump({
                    config: {
                        ...baseConfig("unified"),
                        "pinhole:sshPrivateKey": { secure: "v1:AAAA" },
                        "command:foo": "bar",
                    },
                }),
            );
            const raw = loadStackFile(file);
            expect(Object.keys(raw).sort()).to.deep.equal(["model", "networks", "nodes", "sshPrivateKey"]);
            expect(raw.sshPrivateKey).to.deep.equal({ secure: "<secret>" }); // the key text never reaches the validator
            expect(parseClusterConfig(raw, { requireSecrets: true }).errors).to.deep.equal([]);
            fs.rmSync(dir, { recursive: true });
        });

        it("requireValidModel throws one error listing every problem with its path", () => {
            try {
                requireValidModel({ model: "modulr", nodes: [] });
                expect.fail("should throw");
            } catch (e) {
                expect(e).to.be.instanceOf(ConfigValidationError);
                const err = e as ConfigValidationError;
                expect(err.errors.map((x) => x.path)).to.include.members([
                    "pinhole:model",
                    "pinhole:nodes",
                    "pinhole:networks",
                ]);
                expect(err.message).to.contain('pinhole:model: "modulr"');
            }
        });

        it("rejects a config that is not a map", () => {
            expect(parseClusterConfig("model: modular").errors[0].message).to.contain(
                "expected the stack config as a map",
            );
        });
    });

    describe("invalid configs (test/unit/fixtures/invalid): each rejected with its path and message", () => {
        const dir = path.join(FIXTURES, "invalid");
        const files = fs
            .readdirSync(dir)
            .filter((f) => f.endsWith(".yaml"))
            .sort();
        it(`the corpus is not empty (${files.length} files)`, () => expect(files.length).to.be.greaterThan(30));
        for (const file of files) {
            it(file.replace(/\.yaml$/, ""), () => {
                const fx = readYaml(path.join(dir, file)) as unknown as Fixture;
                const cfg = baseConfig(fx.base);
                for (const [p, v] of Object.entries(fx.set ?? {})) setPath(cfg, p, v);
                for (const p of fx.delete ?? []) setPath(cfg, p, undefined, true);
                const r = runConfigMap(cfg, fx.opts);
                expect(r.model, "no model may come out of an invalid config").to.equal(undefined);
                const listing = r.errors.map((e) => `  ${e.path}: ${e.message}`).join("\n");
                for (const want of fx.expect) {
                    const hit = r.errors.find((e) => e.path === want.path && e.message.includes(want.message));
                    expect(hit, `expected ${want.path}: …${want.message}…\ngot:\n${listing}`).to.not.equal(undefined);
                }
                const everything = JSON.stringify([r.errors, r.warnings]);
                for (const secret of fx.mustNotContain ?? [])
                    expect(everything, `a message leaks "${secret}"`).to.not.contain(secret);
            });
        }
    });
});

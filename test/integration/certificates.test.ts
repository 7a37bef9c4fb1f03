// Web certificates and nginx on the lab (modular: 2 web proxies, 3 application nodes, 3 databases), with the
// real engine, the pinhole provider, SSH and nginx, and TLS handshakes from the lab's client network.
// The program is test/fixtures/certs (WebCertificate components built from a model made of the lab's status).
import { expect } from "chai";
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { X509Certificate } from "crypto";
import { LocalWorkspace, Stack } from "@pulumi/pulumi/automation";
import { PROJECT_ROOT, usePulumiEnv } from "../../tools/common/pulumi-env";
import { labStatus, labUp, LabStatus } from "../../lab/index";
import { runScript, SshConnectionInput } from "../../remote/ssh";
import { generatePrivateKeyPem, issueSelfSigned } from "../../provider/tls";
import { issueLocallySigned } from "../../provider/certs";
import { CertificateSettings, NodeSpec } from "../../model/types";
import { CERT_PATH, KEY_PATH, SITE_PATH } from "../../render/nginx";

const FIXTURE = path.join(PROJECT_ROOT, "test", "fixtures", "certs");
const WEB_ROLES = ["webproxy", "application", "unified", "standalone"];

interface Scenario {
    nodes: NodeSpec[];
    settings: CertificateSettings;
    verifySeconds?: number;
}

// ------------------------------------------------------------------------------------------ helpers

function sh(ns: string | null, script: string, timeoutMs = 30_000): { code: number; out: string } {
    const argv = ns ? (["ip", ["netns", "exec", ns, "sh", "-c", script]] as const) : (["sh", ["-c", script]] as const);
    const r = spawnSync(argv[0], [...argv[1]], { encoding: "utf8", timeout: timeoutMs });
    return { code: r.status ?? 1, out: (r.stdout ?? "") + (r.stderr ?? "") };
}

/** A test PKI: root → intermediate → leaves (all ECDSA), like a real CA's reply. */
async function testPki() {
    const rootKey = generatePrivateKeyPem({ algorithm: "ECDSA" });
    const root = await issueSelfSigned({
        privateKeyPem: rootKey,
        subject: { commonName: "Test Root CA" },
        dnsNames: [],
        ipAddresses: [],
        validityDays: 3650,
        earlyRenewalDays: 30,
        isCa: true,
    });
    const interKey = generatePrivateKeyPem({ algorithm: "ECDSA" });
    const inter = await issueLocallySigned({
        privateKeyPem: interKey,
        subject: { commonName: "Test Issuing CA" },
        dnsNames: [],
        ipAddresses: [],
        caPrivateKeyPem: rootKey,
        caCertPem: root.certPem,
        validityDays: 1825,
        earlyRenewalDays: 30,
        isCa: true,
    });
    const issue = async (o: {
        key?: string;
        certRequestPem?: string;
        cn: string;
        dns: string[];
        ips?: string[];
        days?: number;
        now?: Date;
    }) =>
        (
            await issueLocallySigned(
                {
                    privateKeyPem: o.key,
                    certRequestPem: o.certRequestPem,
                    subject: o.certRequestPem ? undefined : { commonName: o.cn },
                    dnsNames: o.dns,
                    ipAddresses: o.ips ?? [],
                    caPrivateKeyPem: interKey,
                    caCertPem: inter.certPem,
                    validityDays: o.days ?? 90,
                    earlyRenewalDays: 1,
                    isCa: false,
                },
                o.now,
            )
        ).certPem;
    return { rootKey, root: root.certPem, interKey, inter: inter.certPem, issue };
}

/**
 * Two runs of this file at once (two people's `npm run test:integration` on one machine) would install on the
 * same lab nodes: a pid lock makes the second wait for the first.
 */
const LOCK_DIR = path.join(os.tmpdir(), "pinhole-certificates-test.lock");
async function acquireLock(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
        try {
            fs.mkdirSync(LOCK_DIR);
            fs.writeFileSync(path.join(LOCK_DIR, "pid"), String(process.pid));
            return;
        } catch {
            let holder = 0;
            try {
                holder = Number(fs.readFileSync(path.join(LOCK_DIR, "pid"), "utf8"));
            } catch {
                /* being written */
            }
            let alive = false;
            try {
                if (holder) {
                    process.kill(holder, 0);
                    alive = true;
                }
            } catch {
                /* gone */
            }
            if (holder && !alive) {
                fs.rmSync(LOCK_DIR, { recursive: true, force: true });
                continue;
            }
            if (Date.now() > deadline)
                throw new Error(`another run of certificates.test.ts (pid ${holder}) holds ${LOCK_DIR}`);
            await new Promise((r) => setTimeout(r, 2000));
        }
    }
}
function releaseLock(): void {
    try {
        if (Number(fs.readFileSync(path.join(LOCK_DIR, "pid"), "utf8")) === process.pid)
            fs.rmSync(LOCK_DIR, { recursive: true, force: true });
    } catch {
        /* not ours */
    }
}

describe("web certificates and nginx on the lab (real engine, SSH, nginx, TLS)", function () {
    this.timeout(600_000);
    let env: Record<string, string>;
    let lab: LabStatus;
    let stack: Stack;
    let scenario: Scenario;
    let engineLog = "";
    let tmp: string;
    let clientNs: string;
    let pki: Awaited<ReturnType<typeof testPki>>;
    const secretsUsed: string[] = [];
    // Roles of the lab that is up (modular, unified or multisite): two proxies, the application-serving nodes.
    let P1 = "",
        P2 = "";
    let apps: string[] = [];
    const node = (name: string) => scenario.nodes.find((n) => n.name === name)!;
    const labNode = (name: string) => lab.nodes.find((n) => n.name === name)!;
    const webNodes = () => scenario.nodes.filter((n) => WEB_ROLES.includes(n.role));

    const conn = (name: string): SshConnectionInput => {
        const n = labNode(name);
        return {
            host: n.sshHost,
            port: n.sshPort,
            user: n.sshUser,
            hostKey: n.hostKey,
            sudo: n.sudo,
            privateKey: fs.readFileSync(lab.sshKey, "utf8"),
            node: name,
        };
    };
    const onNode = async (name: string, script: string) => {
        const r = await runScript(conn(name), script, { timeoutMs: 30_000 });
        if (r.code !== 0) throw new Error(`${name}: exit ${r.code}: ${r.stderr}`);
        return r.stdout;
    };

    const setScenario = async () => stack.setConfig("scenario", { value: JSON.stringify(scenario) });
    const setSecret = async (key: string, value: string) => {
        secretsUsed.push(value);
        await stack.setConfig(key, { value, secret: true });
    };
    const log = (s: string) => {
        engineLog += s;
    };
    const up = async () => stack.up({ onOutput: log });
    const preview = async (expectNoChanges = false) => stack.preview({ onOutput: log, expectNoChanges });
    const outputs = async () => stack.outputs();

    /** A TLS handshake from the client network to the node (by address, SNI = its fqdn). */
    const handshake = (
        name: string,
        opts: { caFile?: string; proto?: "tls1" | "tls1_1" | "tls1_2" | "tls1_3"; seclevel0?: boolean } = {},
    ) => {
        const n = node(name);
        const args = [`-connect ${reach(n)}:443`, `-servername ${n.fqdn}`, "-showcerts"];
        if (opts.caFile) args.push(`-CAfile ${opts.caFile}`, "-verify_return_error", `-verify_hostname ${n.fqdn}`);
        if (opts.proto) args.push(`-${opts.proto}`);
        if (opts.seclevel0) args.push("-cipher DEFAULT@SECLEVEL=0");
        const r = sh(clientNs, `timeout 10 openssl s_client ${args.join(" ")} </dev/null 2>&1`);
        const protocol = /Protocol\s*:\s*(\S+)/.exec(r.out)?.[1] ?? /New, (TLSv[\d.]+|SSLv3)/.exec(r.out)?.[1];
        const leafPem = /-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/.exec(r.out)?.[0];
        const leaf = leafPem ? new X509Certificate(leafPem) : undefined;
        const verified = /Verify return code: 0 \(ok\)/.test(r.out);
        return {
            ok:
                r.code === 0 &&
                !!leaf &&
                !/alert|handshake failure|no protocols available|wrong version/i.test(r.out.split("---")[0] ?? ""),
            out: r.out,
            protocol,
            leaf,
            verified,
            chainLength: (r.out.match(/-----BEGIN CERTIFICATE-----/g) ?? []).length,
        };
    };
    /** The address the client network uses for a node (its advertised address behind NAT). */
    const reach = (n: NodeSpec) => n.advertisedAddress ?? n.address;
    const writeTmp = (name: string, content: string) => {
        const f = path.join(tmp, name);
        fs.writeFileSync(f, content);
        return f;
    };
    const servedFingerprints = () =>
        Object.fromEntries(webNodes().map((n) => [n.name, handshake(n.name).leaf?.fingerprint256 ?? "none"]));
    const requestsVia = (proxy: string, count: number): Record<string, number> => {
        const r = sh(
            clientNs,
            `i=0; while [ $i -lt ${count} ]; do curl -sk --max-time 5 https://${reach(node(proxy))}/; echo; i=$((i+1)); done`,
            120_000,
        );
        const counts: Record<string, number> = {};
        for (const line of r.out
            .split("\n")
            .map((l) => l.trim())
            .filter(Boolean))
            counts[line] = (counts[line] ?? 0) + 1;
        return counts;
    };

    before(async function () {
        this.timeout(1_200_000);
        await acquireLock(900_000);
        env = usePulumiEnv();
        lab = await labStatus();
        // Any lab shape with two web proxies and three application-serving nodes will do: reuse the one that is up.
        const usable = (l: LabStatus) =>
            l.up &&
            l.nodes.filter((n) => n.role === "webproxy").length >= 2 &&
            l.nodes.filter((n) => n.role === "application" || n.role === "unified").length >= 3;
        // labUp (idempotent for the shape that is up) also takes the lab's session lease: nobody else's run
        // replaces the lab under this test until this process exits.
        lab = await labUp({
            model: usable(lab) && lab.model ? lab.model : "modular",
            writeStack: false,
            setSecret: false,
            log: () => undefined,
        });
        // Precondition: no firewall left on the nodes by an interrupted run of another suite (the handshakes
        // here come from the client vantage, which a modular firewall keeps away from application nodes).
        for (const n of lab.nodes)
            spawnSync("ip", ["netns", "exec", n.netns, "nft", "delete", "table", "inet", "pinhole"], {
                stdio: "ignore",
            });
        [P1, P2] = lab.nodes.filter((n) => n.role === "webproxy").map((n) => n.name);
        apps = lab.nodes
            .filter((n) => n.role === "application" || n.role === "unified")
            .map((n) => n.name)
            .sort();
        clientNs = lab.vantages.find((v) => v.vantage === "client")!.netns;
        tmp = fs.mkdtempSync(path.join(os.tmpdir(), "pinhole-certs-"));
        pki = await testPki();
        scenario = {
            nodes: lab.nodes.map((n) => ({
                name: n.name,
                role: n.role,
                site: n.site,
                address: n.address,
                ...(n.advertisedAddress ? { advertisedAddress: n.advertisedAddress } : {}),
                fqdn: n.fqdn,
                arbiter: n.arbiter,
                ssh: { host: n.sshHost, port: n.sshPort, user: n.sshUser, hostKey: n.hostKey, sudo: n.sudo },
            })),
            settings: {
                mode: "self-signed",
                validityDays: 397,
                renewBeforeDays: 30,
                renewBeforeExplicit: true,
                legacyProtocols: false,
                nodes: {},
            },
            verifySeconds: 10,
        };
        // The lab's nodes serve no application behind nginx yet: a stand-in on 127.0.0.1:8080 answers with the
        // node's name (what pinhole's front end on application nodes proxies to), in its own conf.d file.
        await Promise.all(
            scenario.nodes
                .filter((n) => apps.includes(n.name))
                .map((n) =>
                    onNode(
                        n.name,
                        `set -e
cat > /etc/nginx/conf.d/lab-app.conf <<'EOF'
server {
    listen 127.0.0.1:8080;
    location / { default_type text/plain; return 200 "app ${n.name}\\n"; }
}
EOF
nginx -t 2>/dev/null && nginx -s reload`,
                    ),
                ),
        );
        stack = await LocalWorkspace.createOrSelectStack(
            { stackName: `certs-${process.pid}`, workDir: FIXTURE },
            { envVars: env },
        );
        await setScenario();
        await setSecret("sshPrivateKey", fs.readFileSync(lab.sshKey, "utf8"));
    });

    after(async function () {
        this.timeout(300_000);
        if (!stack) {
            releaseLock();
            return;
        }
        try {
            await stack.destroy({ onOutput: log });
        } catch {
            /* reported by the destroy test when it ran */
        }
        await stack.workspace.removeStack(stack.name, { force: true }).catch(() => undefined);
        for (const n of scenario?.nodes.filter((x) => apps.includes(x.name)) ?? []) {
            await onNode(
                n.name,
                "rm -f /etc/nginx/conf.d/lab-app.conf; nginx -t 2>/dev/null && nginx -s reload || true",
            ).catch(() => undefined);
        }
        if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
        releaseLock();
    });

    it("self-signed by default: every web node serves its own certificate for its name, TLS 1.2+ only, key 0600", async () => {
        const t0 = Date.now();
        const res = await up();
        expect(res.summary.result).to.equal("succeeded");
        const out = (await outputs()).certificates.value;
        expect(Object.keys(out).sort()).to.deep.equal(
            webNodes()
                .map((n) => n.name)
                .sort(),
        );
        for (const n of webNodes()) {
            const c = out[n.name];
            expect(c.mode).to.equal("self-signed");
            expect(c.commonName).to.equal(n.fqdn);
            expect(c.dnsNames).to.include(n.fqdn);
            expect(c.ipAddresses).to.include(n.address);
            // The served certificate is the one in the outputs, and it verifies as its own trust anchor.
            const h0 = handshake(n.name);
            expect(h0.leaf, h0.out).to.not.equal(undefined);
            expect(h0.leaf!.fingerprint256).to.equal(c.fingerprintSha256);
            const anchor = writeTmp(`${n.name}-anchor.pem`, h0.leaf!.toString());
            const h = handshake(n.name, { caFile: anchor });
            expect(h.verified, h.out).to.equal(true);
            expect(h.leaf!.checkHost(n.fqdn)).to.equal(n.fqdn);
            expect(h.leaf!.checkIP(n.address)).to.equal(n.address);
            expect(handshake(n.name, { proto: "tls1_2" }).ok).to.equal(true);
            // Legacy protocols are refused by nginx even to a client that offers them at security level 0.
            for (const proto of ["tls1", "tls1_1"] as const) {
                const legacy = handshake(n.name, { proto, seclevel0: true });
                expect(legacy.ok, `${n.name} ${proto}: ${legacy.out}`).to.equal(false);
            }
        }
        // On the node: the files, the key's mode, the original front end kept aside.
        const st = await onNode(
            P1,
            `stat -c '%a %U' ${KEY_PATH}; grep -c 'BEGIN CERTIFICATE' ${CERT_PATH}; ls /etc/pinhole/web/original; grep ssl_protocols ${SITE_PATH}; test ! -e /etc/nginx/conf.d/default.conf && echo default-moved`,
        );
        expect(st).to.match(/^600 root/m);
        expect(st).to.contain("%etc%nginx%conf.d%default.conf");
        expect(st).to.contain("ssl_protocols TLSv1.2 TLSv1.3;");
        expect(st).to.contain("default-moved");
        await preview(true);
        console.log(`      (self-signed up + checks: ${((Date.now() - t0) / 1000).toFixed(1)}s)`);
    });

    it("web weight: proxies spread requests by weight, 0 = backup only; only the proxies re-install", async () => {
        const before = (await outputs()).servers.value;
        apps.forEach((a, i) => {
            node(a).webWeight = i === 0 ? 3 : i === 1 ? 1 : 0;
        });
        await setScenario();
        const res = await up();
        expect(res.summary.resourceChanges?.update).to.equal(2); // the two proxies' WebServer
        const after = (await outputs()).servers.value;
        for (const n of webNodes()) {
            if (n.role === "webproxy") expect(after[n.name].appliedAt).to.not.equal(before[n.name].appliedAt);
            else expect(after[n.name].appliedAt).to.equal(before[n.name].appliedAt);
        }
        // As seen from the proxy (the advertised address of a node at another site behind NAT).
        const seen = (proxy: string, a: string) =>
            node(proxy).site !== node(a).site && node(a).advertisedAddress
                ? node(a).advertisedAddress
                : node(a).address;
        const conf = await onNode(P1, `cat ${SITE_PATH}`);
        expect(conf).to.contain(`server ${seen(P1, apps[0])}:443 weight=3`);
        expect(conf).to.contain(`server ${seen(P1, apps[1])}:443 weight=1`);
        for (const a of apps.slice(2)) expect(conf).to.contain(`server ${seen(P1, a)}:443 backup`);
        const counts = requestsVia(P1, 40);
        expect(counts).to.deep.equal({ [`app ${apps[0]}`]: 30, [`app ${apps[1]}`]: 10 });
        // Backup: used only when no other server is available.
        await Promise.all(apps.slice(0, 2).map((a) => onNode(a, "nginx -s stop; sleep 0.5")));
        try {
            const viaBackup = requestsVia(P2, 6);
            expect(
                Object.keys(viaBackup).every((k) =>
                    apps
                        .slice(2)
                        .map((a) => `app ${a}`)
                        .includes(k),
                ),
                JSON.stringify(viaBackup),
            ).to.equal(true);
            expect(Object.values(viaBackup).reduce((x, y) => x + y, 0)).to.equal(6);
        } finally {
            await Promise.all(apps.slice(0, 2).map((a) => onNode(a, "nginx")));
        }
        await preview(true);
    });

    it("internal-ca (+ legacyProtocols, the reference's `web sslv3 on`): every node verifies against the stack's CA", async () => {
        scenario.settings.mode = "internal-ca";
        scenario.settings.legacyProtocols = true;
        await setScenario();
        const res = await up();
        expect(res.summary.result).to.equal("succeeded");
        const o = await outputs();
        const caPem: string = o.internalCaCertificate.value;
        expect(new X509Certificate(caPem).ca).to.equal(true);
        const caFile = writeTmp("internal-ca.pem", caPem);
        for (const n of webNodes()) {
            const h = handshake(n.name, { caFile });
            expect(h.verified, `${n.name}: ${h.out}`).to.equal(true);
            expect(o.certificates.value[n.name].mode).to.equal("internal-ca");
            expect(o.certificates.value[n.name].issuer).to.contain("pinhole internal CA");
            // With legacy protocols on, the same TLS 1.0 client gets in: the refusal above was nginx's.
            const legacy = handshake(n.name, { proto: "tls1", seclevel0: true });
            expect(legacy.ok, `${n.name}: ${legacy.out}`).to.equal(true);
            expect(legacy.protocol).to.equal("TLSv1");
        }
        await preview(true);
    });

    it("csr: the CSR is exported and the node keeps a self-signed certificate; the CA's reply is checked and installed", async () => {
        scenario.settings.legacyProtocols = false;
        scenario.settings.nodes[apps[0]] = { mode: "csr", certificateConfigKey: "app1Cert" };
        await setScenario();
        await up();
        let o = await outputs();
        const csr: string = o.certificateRequests.value[apps[0]];
        expect(csr).to.contain("BEGIN CERTIFICATE REQUEST");
        expect(o.certificates.value[apps[0]]).to.include({ mode: "csr", pending: true, selfSigned: true });
        expect(handshake(apps[0], { proto: "tls1", seclevel0: true }).ok).to.equal(false);
        const before = o.servers.value;

        const reply = (await pki.issue({ certRequestPem: csr, cn: "", dns: [] })) + pki.inter;
        await setSecret("app1Cert", reply);
        const res = await up();
        expect(res.summary.resourceChanges?.update).to.equal(1);
        o = await outputs();
        for (const n of webNodes()) {
            if (n.name === apps[0]) expect(o.servers.value[n.name].appliedAt).to.not.equal(before[n.name].appliedAt);
            else expect(o.servers.value[n.name].appliedAt).to.equal(before[n.name].appliedAt);
        }
        const rootFile = writeTmp("test-root.pem", pki.root);
        const h = handshake(apps[0], { caFile: rootFile });
        expect(h.verified, h.out).to.equal(true);
        expect(h.chainLength).to.equal(2);
        expect(o.certificates.value[apps[0]]).to.include({ mode: "csr", issuer: "CN=Test Issuing CA" });
        await preview(true);
    });

    it("external: a CA-signed bundle (leaf + intermediate) and key from secret config; expiry notice within renewBeforeDays", async () => {
        const key = generatePrivateKeyPem({ algorithm: "RSA" });
        const p1 = node(P1);
        const bundle = (await pki.issue({ key, cn: p1.fqdn, dns: [p1.fqdn], ips: [p1.address], days: 10 })) + pki.inter;
        await setSecret("proxy1Cert", bundle);
        await setSecret("proxy1Key", key);
        scenario.settings.nodes[P1] = {
            mode: "external",
            certificateConfigKey: "proxy1Cert",
            keyConfigKey: "proxy1Key",
        };
        await setScenario();
        let text = "";
        const res = await stack.up({
            onOutput: (s) => {
                text += s;
                log(s);
            },
        });
        expect(res.summary.resourceChanges?.update).to.equal(1);
        expect(text).to.match(
            new RegExp(
                `node ${P1}: WEB CERT EXPIRES AT: \\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d:\\d\\d UTC \\(in 9 days\\)`,
            ),
        );
        const h = handshake(P1, { caFile: writeTmp("test-root.pem", pki.root) });
        expect(h.verified, h.out).to.equal(true);
        const o = await outputs();
        expect(o.certificates.value[P1]).to.include({
            mode: "external",
            commonName: p1.fqdn,
            issuer: "CN=Test Issuing CA",
        });
        expect(Date.parse(o.certificates.value[P1].notAfter)).to.be.lessThan(Date.now() + 11 * 86_400_000);
        await preview(true);
    });

    it("rejects wrong name, wrong key, incomplete or broken chain, not yet valid, expired: at preview, naming the node, changing nothing", async () => {
        interface Case {
            name: string;
            make: (n: NodeSpec) => Promise<{ bundle: string; key: string }>;
            expect: (n: NodeSpec) => RegExp;
        }
        const esc = (t: string) => t.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
        const fresh = () => generatePrivateKeyPem({ algorithm: "ECDSA" });
        const good = (n: NodeSpec, key: string) => ({ key, cn: n.fqdn, dns: [n.fqdn], ips: [n.address] });
        const cases: Case[] = [
            {
                name: "wrong name",
                make: async (n) => {
                    const key = fresh();
                    return {
                        key,
                        bundle:
                            (await pki.issue({ ...good(n, key), cn: "www.example.com", dns: ["www.example.com"] })) +
                            pki.inter,
                    };
                },
                expect: (n) =>
                    new RegExp(
                        `does not match the node's network name ${esc(n.fqdn)}: it is for CN=www\\.example\\.com`,
                    ),
            },
            {
                name: "wrong key",
                make: async (n) => ({ key: fresh(), bundle: (await pki.issue(good(n, fresh()))) + pki.inter }),
                expect: () => /does not match the private key \(pinhole:rej\d+Key\): it was issued for another key/,
            },
            {
                name: "incomplete chain",
                make: async (n) => {
                    const key = fresh();
                    return { key, bundle: await pki.issue(good(n, key)) };
                },
                expect: () =>
                    /incomplete chain: the server certificate .* is issued by CN=Test Issuing CA, which is not in the bundle/,
            },
            {
                name: "not yet valid",
                make: async (n) => {
                    const key = fresh();
                    return {
                        key,
                        bundle:
                            (await pki.issue({ ...good(n, key), now: new Date(Date.now() + 10 * 86_400_000) })) +
                            pki.inter,
                    };
                },
                expect: () => /the server certificate .* is not yet valid: valid from/,
            },
            {
                name: "expired",
                make: async (n) => {
                    const key = fresh();
                    return {
                        key,
                        bundle:
                            (await pki.issue({
                                ...good(n, key),
                                days: 30,
                                now: new Date(Date.now() - 60 * 86_400_000),
                            })) + pki.inter,
                    };
                },
                expect: () => /the server certificate .* has expired: WEB CERT EXPIRED AT/,
            },
            {
                name: "broken chain",
                make: async (n) => {
                    const key = fresh();
                    return { key, bundle: (await pki.issue(good(n, key))) + pki.root };
                },
                expect: () =>
                    /broken chain: the server certificate .* is issued by CN=Test Issuing CA, but the next certificate is CN=Test Root CA/,
            },
        ];
        const served = servedFingerprints();
        const applied = (await outputs()).servers.value;
        const savedNodes = JSON.parse(JSON.stringify(scenario.settings.nodes));
        // One case per web node at a time: a single preview must report each node with its own reason.
        const web = webNodes();
        const blockOf = (msg: string, n: string) => {
            const at = msg.indexOf(`node ${n}: web certificate from`);
            if (at < 0) return "";
            const next = msg.indexOf("\nnode ", at + 1);
            return msg.slice(at, next < 0 ? undefined : next);
        };
        let lastPreview = "";
        for (let b = 0; b < cases.length; b += web.length) {
            const batch = cases.slice(b, b + web.length).map((c, j) => ({ c, n: web[j], i: b + j }));
            for (const { c, n, i } of batch) {
                const { bundle, key } = await c.make(n);
                await setSecret(`rej${i}Cert`, bundle);
                await setSecret(`rej${i}Key`, key);
                scenario.settings.nodes[n.name] = {
                    mode: "external",
                    certificateConfigKey: `rej${i}Cert`,
                    keyConfigKey: `rej${i}Key`,
                };
            }
            await setScenario();
            let msg = "";
            try {
                await stack.preview({ onOutput: log });
            } catch (e) {
                msg = String((e as Error).message ?? e);
            }
            expect(msg, "preview should fail").to.contain(
                "web certificates rejected; no node's web front end was changed",
            );
            for (const { c, n, i } of batch) {
                const block = blockOf(msg, n.name);
                expect(block, `${c.name} on ${n.name}`).to.contain(
                    `node ${n.name}: web certificate from pinhole:rej${i}Cert rejected, nothing was installed`,
                );
                expect(block, `${c.name} on ${n.name}`).to.match(c.expect(n));
            }
            lastPreview = msg;
        }
        void lastPreview;
        // `up` refuses as well, and no node's front end changed (not even the nodes whose certificates are fine).
        await expectReject(up(), /web certificates rejected; no node's web front end was changed/);
        expect(servedFingerprints()).to.deep.equal(served);
        expect((await outputs()).servers.value).to.deep.equal(applied);
        // Back to the previous modes for the rest.
        scenario.settings.nodes = savedNodes;
        await setScenario();
        await preview(true);
    });

    it("renewal: certificates pinhole issued are re-issued inside the window; only those nodes re-install", async () => {
        const before = await outputs();
        // Time travel: the window is widened to cover the certificates' age instead of waiting months. A 396.9999-day
        // window of a 397-day certificate covers certificates older than 8.64 s; the last ones were issued by an up
        // that ended before this test, so waiting 10 s makes that hold however fast the machine is (at 396.999, i.e.
        // 86 s, a quiet machine reached this test first: nothing was renewed).
        await new Promise((r) => setTimeout(r, 10_000));
        scenario.settings.renewBeforeDays = 396.9999;
        await setScenario();
        const res = await up();
        const after = await outputs();
        const renewed = webNodes()
            .filter(
                (n) =>
                    after.certificates.value[n.name].fingerprintSha256 !==
                    before.certificates.value[n.name].fingerprintSha256,
            )
            .map((n) => n.name)
            .sort();
        // Every internal-ca node; the CA reply (csr) and the external bundle are the operator's to renew.
        const pinholeIssued = webNodes()
            .map((n) => n.name)
            .filter((n) => n !== apps[0] && n !== P1)
            .sort();
        expect(renewed).to.deep.equal(pinholeIssued);
        for (const n of webNodes()) {
            const reinstalled = after.servers.value[n.name].appliedAt !== before.servers.value[n.name].appliedAt;
            expect(reinstalled, n.name).to.equal(renewed.includes(n.name));
            if (renewed.includes(n.name))
                expect(handshake(n.name).leaf!.fingerprint256).to.equal(
                    after.certificates.value[n.name].fingerprintSha256,
                );
        }
        expect(res.summary.resourceChanges?.replace).to.equal(pinholeIssued.length);
        scenario.settings.renewBeforeDays = 30;
        await setScenario();
        const back = await up();
        expect(back.summary.resourceChanges?.replace ?? 0).to.equal(0);
        expect(servedFingerprints()).to.deep.equal(
            Object.fromEntries(webNodes().map((n) => [n.name, after.certificates.value[n.name].fingerprintSha256])),
        );
        await preview(true);
    });

    it("web cert del: switching back to self-signed reinstalls only those nodes", async () => {
        const before = (await outputs()).servers.value;
        // The stack default goes back to self-signed; the internal-ca nodes keep it as their own override.
        const others = webNodes()
            .map((n) => n.name)
            .filter((n) => n !== apps[0] && n !== P1);
        scenario.settings.mode = "self-signed";
        scenario.settings.nodes = { [P1]: { mode: "self-signed" } };
        for (const n of others) scenario.settings.nodes[n] = { mode: "internal-ca" };
        await setScenario();
        await up();
        const o = await outputs();
        for (const n of [P1, apps[0]]) {
            expect(o.certificates.value[n]).to.include({ mode: "self-signed", selfSigned: true });
            expect(o.servers.value[n].appliedAt).to.not.equal(before[n].appliedAt);
            expect(handshake(n).leaf!.fingerprint256).to.equal(o.certificates.value[n].fingerprintSha256);
        }
        for (const n of others) expect(o.servers.value[n].appliedAt).to.equal(before[n].appliedAt);
        await preview(true);
    });

    it("keeps private keys out of the state file and the engine's output", async () => {
        // The CLI's plain `pulumi stack export` (the Automation API's exportStack adds --show-secrets).
        const ex = spawnSync("pulumi", ["stack", "export", "--stack", stack.name], {
            cwd: FIXTURE,
            env: { ...process.env, ...env },
            encoding: "utf8",
        });
        expect(ex.status, ex.stderr).to.equal(0);
        const exported = ex.stdout;
        const keysInState = exported.match(/-----BEGIN [A-Z ]*PRIVATE KEY-----/g) ?? [];
        expect(keysInState, "plaintext private key in the state").to.deep.equal([]);
        expect(exported).to.contain("ciphertext");
        const keyBodies = [...secretsUsed, pki.rootKey, pki.interKey]
            .filter((s) => /PRIVATE KEY/.test(s))
            .flatMap((k) => k.split("\n").filter((l) => l.length >= 40 && !l.startsWith("-----")));
        expect(keyBodies.length).to.be.greaterThan(5);
        for (const line of keyBodies) {
            expect(exported.includes(line), "a line of a private key in the state").to.equal(false);
            expect(engineLog.includes(line), "a line of a private key in the engine's output").to.equal(false);
        }
        expect(engineLog).to.not.match(/-----BEGIN [A-Z ]*PRIVATE KEY-----/);
        // The engine's own log files, when it wrote any.
        const logDir = path.join(env.PULUMI_HOME, "logs");
        for (const f of fs.existsSync(logDir) ? fs.readdirSync(logDir) : []) {
            const text = fs.readFileSync(path.join(logDir, f), "utf8");
            expect(text).to.not.match(/-----BEGIN [A-Z ]*PRIVATE KEY-----/);
        }
    });

    it("destroy gives every node its original front end back", async () => {
        const labCert = (name: string) =>
            new X509Certificate(
                fs.readFileSync(path.join(PROJECT_ROOT, ".lab", "nodes", name, "etc", "nginx", "ssl", "server.crt")),
            ).fingerprint256;
        await stack.destroy({ onOutput: log });
        for (const n of webNodes()) {
            expect(handshake(n.name).leaf!.fingerprint256, n.name).to.equal(labCert(n.name));
            const st = await onNode(
                n.name,
                `ls /etc/nginx/conf.d; test -e ${CERT_PATH} && echo cert-left || true; test -e /etc/pinhole/web && echo state-left || true`,
            );
            expect(st).to.contain("default.conf");
            expect(st).to.not.contain("pinhole-web.conf");
            expect(st).to.not.match(/cert-left|state-left/);
        }
    });
});

async function expectReject(p: Promise<unknown>, re: RegExp): Promise<void> {
    try {
        await p;
    } catch (e) {
        expect(String((e as Error).message ?? e)).to.match(re);
        return;
    }
    throw new Error(`expected a failure matching ${re}`);
}

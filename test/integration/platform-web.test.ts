// The certificate-only front end against the lab's platform stand-in (lab/platform.ts: an nginx
// configuration pinhole did not write), with the real engine, SSH, nginx and TLS from the client network:
// user traffic through proxy → application after every change, the platform's files byte-identical except
// those pinhole owns, weights on the platform's upstream, the TLS profile checked by sslscan, short-lived
// certificates, a failing install that leaves the old certificate serving, and destroy restoring every file.
import { expect } from "chai";
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { X509Certificate } from "crypto";
import { LocalWorkspace, Stack } from "@pulumi/pulumi/automation";
import { PROJECT_ROOT, usePulumiEnv } from "../../tools/common/pulumi-env";
import { labUp, LabStatus } from "../../lab/index";
import { installPlatform, labConnection, PLATFORM_UPSTREAM, removePlatform } from "../../lab/platform";
import { runScript } from "../../remote/ssh";
import { verifyWeb } from "../../tools/verify/run";
import { Finding, resourcesFromDeployment } from "../../tools/verify";
import { CertificateSettings, NodeSpec } from "../../model/types";

const FIXTURE = path.join(PROJECT_ROOT, "test", "fixtures", "certs");
const WEB_ROLES = ["webproxy", "application", "unified", "standalone"];
const WEAK = /CBC|SHA1$|-SHA$|CAMELLIA|ARIA|CCM|RC4|3DES|DES-|NULL|EXPORT|anon|PSK|SEED|IDEA|^AES|^RSA|MD5/;

interface Scenario {
    nodes: NodeSpec[];
    settings: CertificateSettings;
    verifySeconds?: number;
}

function sh(ns: string, script: string, timeoutMs = 60_000): { code: number; out: string } {
    const r = spawnSync("ip", ["netns", "exec", ns, "sh", "-c", script], { encoding: "utf8", timeout: timeoutMs });
    return { code: r.status ?? 1, out: (r.stdout ?? "") + (r.stderr ?? "") };
}

describe("certificate-only front end on the platform stand-in (real engine, SSH, nginx, sslscan)", function () {
    this.timeout(900_000);
    let lab: LabStatus;
    let stack: Stack;
    let scenario: Scenario;
    let clientNs = "";
    let tmp = "";
    let P1 = "",
        P2 = "";
    let apps: string[] = [];
    const original: Record<string, Record<string, string>> = {};
    const node = (n: string) => scenario.nodes.find((x) => x.name === n)!;
    const webNodes = () => scenario.nodes.filter((n) => WEB_ROLES.includes(n.role));
    const reach = (n: NodeSpec) => n.advertisedAddress ?? n.address;
    const onNode = async (name: string, script: string) => {
        const r = await runScript(
            labConnection(
                lab,
                lab.nodes.find((n) => n.name === name)!,
            ),
            script,
            { timeoutMs: 60_000 },
        );
        if (r.code !== 0) throw new Error(`${name}: exit ${r.code}: ${r.stderr}`);
        return r.stdout;
    };
    /** Every file under /etc/nginx (and pinhole's state dir): path → "mode owner sha256". */
    const snapshot = async (name: string) => {
        const out = await onNode(
            name,
            'find /etc/nginx /etc/pinhole -type f 2>/dev/null | sort | while read -r f; do echo "$f $(stat -c \'%a %U\' "$f") $(sha256sum < "$f" | cut -c1-64)"; done',
        );
        return Object.fromEntries(
            out
                .trim()
                .split("\n")
                .filter(Boolean)
                .map((l) => {
                    const [f, ...rest] = l.split(" ");
                    return [f, rest.join(" ")];
                }),
        );
    };
    /** verify's certificate part (tools/verify/run.ts verifyWeb) on every web node, from the stack's exported state. */
    const verifyCertificates = async (): Promise<Record<string, Finding[]>> => {
        const { webServers } = resourcesFromDeployment(await stack.exportStack());
        const out: Record<string, Finding[]> = {};
        for (const n of webNodes()) {
            const web = webServers.get(n.name)?.[0];
            out[n.name] = await verifyWeb(
                { node: n, web },
                labConnection(
                    lab,
                    lab.nodes.find((x) => x.name === n.name)!,
                ),
                {
                    renewBeforeDays: scenario.settings.renewBeforeDays,
                    renewBeforeExplicit: scenario.settings.renewBeforeExplicit,
                },
            );
            if (!web)
                out[n.name].push({ node: n.name, check: "state", ok: false, message: "no WebServer in the state" });
        }
        return out;
    };
    const failures = (r: Record<string, Finding[]>) =>
        Object.values(r)
            .flat()
            .filter((f) => !f.ok)
            .map((f) => `${f.node}: ${f.message}`);
    const setScenario = async () => stack.setConfig("scenario", { value: JSON.stringify(scenario) });
    const up = async () => stack.up({ onOutput: () => undefined });
    const outputs = async () => stack.outputs();
    const served = (name: string) => {
        const n = node(name);
        const r = sh(
            clientNs,
            `timeout 10 openssl s_client -connect ${reach(n)}:443 -servername ${n.fqdn} -showcerts </dev/null 2>/dev/null`,
        );
        const pems = r.out.match(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g) ?? [];
        return pems.map((p) => new X509Certificate(p));
    };
    /** GETs through a proxy from the client network: body lines counted, and the certificate the client saw. */
    const requestsVia = (proxy: string, count: number) => {
        const r = sh(
            clientNs,
            `i=0; while [ $i -lt ${count} ]; do curl -sk --max-time 5 https://${reach(node(proxy))}/; i=$((i+1)); done`,
            180_000,
        );
        const counts: Record<string, number> = {};
        for (const l of r.out
            .split("\n")
            .map((x) => x.trim())
            .filter(Boolean))
            counts[l] = (counts[l] ?? 0) + 1;
        return counts;
    };

    before(async function () {
        this.timeout(1_200_000);
        const env = usePulumiEnv();
        lab = await labUp({ model: "modular", writeStack: false, setSecret: false, log: () => undefined });
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
        tmp = fs.mkdtempSync(path.join(os.tmpdir(), "pinhole-platform-"));
        await installPlatform(lab);
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
                legacyProtocols: false,
                frontEnd: "certificate-only",
                subject: {
                    organization: "Example Platform Ltd",
                    organizationalUnit: "Operations",
                    locality: "Zurich",
                    province: "ZH",
                    country: "CH",
                    email: "pki@example.com",
                },
                nodes: {},
            },
            verifySeconds: 10,
        };
        for (const n of webNodes()) original[n.name] = await snapshot(n.name);
        // Precondition: the stand-in works on its own (proxy → application), before pinhole touches anything.
        const counts = requestsVia(P1, 6);
        expect(
            Object.keys(counts).every((k) => apps.map((a) => `app ${a}`).includes(k)),
            JSON.stringify(counts),
        ).to.equal(true);
        stack = await LocalWorkspace.createOrSelectStack(
            { stackName: `platform-${process.pid}`, workDir: FIXTURE },
            { envVars: env },
        );
        await setScenario();
        await stack.setConfig("sshPrivateKey", { value: fs.readFileSync(lab.sshKey, "utf8"), secret: true });
    });

    after(async function () {
        this.timeout(300_000);
        if (stack) {
            await stack.destroy({ onOutput: () => undefined }).catch(() => undefined);
            await stack.workspace.removeStack(stack.name, { force: true }).catch(() => undefined);
        }
        if (lab) await removePlatform(lab).catch(() => undefined);
        if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
    });

    it("up: every node serves pinhole's certificate at the platform's paths; users still reach the applications; only pinhole's files changed", async () => {
        const preview = await stack.preview({ diff: true, onOutput: () => undefined });
        // The paths found by `nginx -T` are in the preview.
        expect(preview.stdout).to.contain("/etc/nginx/ssl/server.crt");
        const res = await up();
        expect(res.summary.result).to.equal("succeeded");
        const o = await outputs();
        for (const n of webNodes()) {
            const c = o.certificates.value[n.name];
            const chain = served(n.name);
            expect(chain[0]?.fingerprint256, n.name).to.equal(c.fingerprintSha256);
            expect(c.subject).to.match(/O=Example Platform Ltd/);
            for (const f of ["OU=Operations", "L=Zurich", "ST=ZH", "C=CH", "emailAddress=pki@example.com"])
                expect(chain[0].subject, n.name).to.contain(f);
            const plan = o.servers.value[n.name].plan;
            expect(plan).to.include({
                certificatePath: "/etc/nginx/ssl/server.crt",
                keyPath: "/etc/nginx/ssl/server.key",
            });
            // Platform files: byte-identical, except the ones pinhole owns (and its state directory).
            const now = await snapshot(n.name);
            const changed = Object.keys({ ...now, ...original[n.name] })
                .filter((f) => now[f] !== original[n.name][f] && !f.startsWith("/etc/pinhole/"))
                .sort();
            expect(
                changed.every((f) => plan.files.includes(f)),
                `${n.name}: ${changed.join(", ")} vs ${plan.files.join(", ")}`,
            ).to.equal(true);
            expect(changed).to.include("/etc/nginx/conf.d/pinhole-tls.conf");
            for (const f of Object.keys(original[n.name]).filter((x) =>
                /sites-enabled\/platform|platform-upstreams|platform-app/.test(x),
            )) {
                expect(now[f], `${n.name} ${f}`).to.equal(original[n.name][f]);
            }
            console.log(`      ${n.name}: pinhole owns ${plan.files.join(", ")}`);
        }
        for (const p of [P1, P2]) {
            const counts = requestsVia(p, 9);
            expect(Object.keys(counts).sort(), `${p}: ${JSON.stringify(counts)}`).to.deep.equal(
                apps.map((a) => `app ${a}`),
            );
            expect(served(p)[0].fingerprint256).to.equal(o.certificates.value[p].fingerprintSha256);
        }
        await stack.preview({ expectNoChanges: true, onOutput: () => undefined });
        // verify checks what pinhole installed into the platform's nginx, at the paths the plan found.
        const v = await verifyCertificates();
        expect(failures(v)).to.deep.equal([]);
        for (const n of webNodes())
            expect(v[n.name].map((f) => f.message).join("\n"), n.name).to.match(
                /^installed certificate matches the state/m,
            );
        console.log(`      verify ${P1}: ${v[P1].map((f) => f.message).join("; ")}`);
        // ... and notices when a platform file pinhole patched is edited behind its back.
        const conf = "/etc/nginx/nginx.conf";
        expect(o.servers.value[P1].plan.files).to.include(conf);
        await onNode(P1, `cp -p ${conf} /root/nginx.conf.keep && echo '# edited by hand' >> ${conf}`);
        try {
            expect(failures(await verifyCertificates())).to.deep.equal([
                `${P1}: the platform file ${conf} pinhole patched differs from the state (edited since the last up?)`,
            ]);
        } finally {
            await onNode(P1, `mv -f /root/nginx.conf.keep ${conf}`);
        }
        expect(failures(await verifyCertificates())).to.deep.equal([]);
    });

    it("sslscan from the client network: TLS 1.2/1.3 only, no weak ciphers, the chain complete and in order, the name matching (internal-ca)", async () => {
        scenario.settings.mode = "internal-ca";
        await setScenario();
        expect((await up()).summary.result).to.equal("succeeded");
        const o = await outputs();
        const caFile = path.join(tmp, "ca.pem");
        fs.writeFileSync(caFile, o.internalCaCertificate.value);
        for (const n of webNodes()) {
            const r = sh(clientNs, `sslscan --no-colour --xml=- --sni-name=${n.fqdn} ${reach(n)}:443`, 120_000);
            const protocols = [...r.out.matchAll(/<protocol type="(\w+)" version="([\d.]+)" enabled="1"/g)].map(
                (m) => `${m[1]}${m[2]}`,
            );
            const ciphers = [
                ...r.out.matchAll(/<cipher status="(?:accepted|preferred)" sslversion="([^"]+)"[^>]*cipher="([^"]+)"/g),
            ].map((m) => `${m[1]} ${m[2]}`);
            console.log(`      ${n.name} sslscan: protocols ${protocols.join(", ")}; ciphers ${ciphers.join(", ")}`);
            expect(protocols.sort(), `${n.name}\n${r.out.slice(0, 3000)}`).to.deep.equal(["tls1.2", "tls1.3"]);
            expect(ciphers.length, n.name).to.be.greaterThan(2);
            for (const c of ciphers.filter((x) => x.startsWith("TLSv1.2")))
                expect(c.split(" ")[1], `${n.name}: weak cipher ${c}`).to.not.match(WEAK);
            const v = sh(
                clientNs,
                `timeout 10 openssl s_client -connect ${reach(n)}:443 -servername ${n.fqdn} -CAfile ${caFile} -verify_return_error -verify_hostname ${n.fqdn} -showcerts </dev/null 2>&1`,
            );
            expect(v.out, n.name).to.contain("Verify return code: 0 (ok)");
            const chain = served(n.name);
            expect(chain.length, n.name).to.equal(2);
            expect(chain[0].checkIssued(chain[1]), `${n.name}: chain out of order`).to.equal(true);
            expect(chain[0].checkHost(n.fqdn), n.name).to.equal(n.fqdn);
        }
        expect(Object.keys(requestsVia(P1, 6)).every((k) => k.startsWith("app "))).to.equal(true);
    });

    it("web weight: only the server lines of the platform's upstream change; the measured share follows; 0 = backup; the list matches nginx", async () => {
        const before = (await outputs()).servers.value;
        const upstreamBefore = await onNode(P1, "cat /etc/nginx/conf.d/platform-upstreams.conf");
        apps.forEach((a, i) => {
            node(a).webWeight = i === 0 ? 3 : i === 1 ? 1 : 0;
        });
        await setScenario();
        const res = await up();
        expect(res.summary.resourceChanges?.update).to.equal(2);
        const o = await outputs();
        for (const n of webNodes())
            if (n.role !== "webproxy") expect(o.servers.value[n.name].appliedAt).to.equal(before[n.name].appliedAt);
        const upstreamAfter = await onNode(P1, "cat /etc/nginx/conf.d/platform-upstreams.conf");
        const a = upstreamBefore.split("\n"),
            b = upstreamAfter.split("\n");
        expect(b.length).to.equal(a.length);
        a.forEach((l, i) => {
            if (l !== b[i])
                expect(
                    l.trim().startsWith("server ") && b[i].trim().startsWith("server "),
                    `line ${i + 1} changed: ${b[i]}`,
                ).to.equal(true);
        });
        // The list output against what nginx loads (its own -T dump of the upstream).
        const dump = await onNode(P1, "nginx -T 2>/dev/null");
        const block = new RegExp(`upstream ${PLATFORM_UPSTREAM} \\{([\\s\\S]*?)\\}`).exec(dump)![1];
        const live = [...block.matchAll(/server (\S+) ([^;]*);/g)].map((m) => ({
            server: m[1],
            weight: m[2].includes("backup") ? 0 : Number(/weight=(\d+)/.exec(m[2])?.[1] ?? 1),
            backup: m[2].includes("backup"),
        }));
        const list = o.webWeights.value[P1];
        console.log(
            `      web weight list ${P1}: ${list.map((e: any) => `${e.server}=${e.backup ? "backup" : e.weight} (${e.source})`).join(", ")}`,
        );
        expect(list.map((e: any) => ({ server: e.server, weight: e.weight, backup: e.backup }))).to.deep.equal(live);
        expect(list.map((e: any) => e.source)).to.deep.equal(["user", "user", "user"]);
        const counts = requestsVia(P1, 40);
        expect(counts).to.deep.equal({ [`app ${apps[0]}`]: 30, [`app ${apps[1]}`]: 10 });
        await Promise.all(apps.slice(0, 2).map((x) => onNode(x, "nginx -s stop; sleep 0.5")));
        try {
            const viaBackup = requestsVia(P2, 6);
            expect(viaBackup, JSON.stringify(viaBackup)).to.deep.equal({ [`app ${apps[2]}`]: 6 });
        } finally {
            await Promise.all(apps.slice(0, 2).map((x) => onNode(x, "nginx")));
        }
        await stack.preview({ expectNoChanges: true, onOutput: () => undefined });
    });

    it("short-lived: a 3-day certificate's notice window is 1 day; inside the window the notice shows and pinhole renews on up; a failing install leaves the old certificate serving", async () => {
        scenario.settings.mode = "self-signed";
        scenario.settings.validityDays = 3;
        await setScenario();
        expect((await up()).summary.result).to.equal("succeeded");
        let o = await outputs();
        for (const n of webNodes()) {
            const ex = o.certificates.value[n.name].expiry;
            expect(ex, n.name).to.deep.include({ state: "ok", notice: null });
            expect(ex.windowDays, n.name).to.be.closeTo(1, 0.01); // a third of ~3 days (notBefore is back-dated a little)
        }
        // Time travel: an explicit window wider than the age of the certificates puts them inside it.
        // inside it 8.64 s after issue: wait 10 s after the up that issued them (a quiet machine previewed sooner)
        await new Promise((r) => setTimeout(r, 10_000));
        scenario.settings.renewBeforeDays = 2.9999;
        scenario.settings.renewBeforeExplicit = true;
        await setScenario();
        let text = "";
        await stack.preview({
            onOutput: (s) => {
                text += s;
            },
        });
        expect(text).to.match(/WEB CERT EXPIRES AT: .* UTC \(in 2 days\)/);
        // verify's exit status: inside the notice window every node fails with the notice.
        const inWindow = failures(await verifyCertificates());
        expect(inWindow, inWindow.join("\n")).to.have.length(webNodes().length);
        for (const f of inWindow)
            expect(f).to.match(/WEB CERT EXPIRES AT: .* UTC \(in 2 days; notice window [\d.]+ days\)/);
        const before = o.certificates.value;
        const res = await up();
        o = await outputs();
        for (const n of webNodes()) {
            expect(o.certificates.value[n.name].fingerprintSha256, `${n.name} renewed`).to.not.equal(
                before[n.name].fingerprintSha256,
            );
            expect(served(n.name)[0].fingerprint256).to.equal(o.certificates.value[n.name].fingerprintSha256);
        }
        expect(res.summary.resourceChanges?.replace).to.be.greaterThan(0);
        // A failing install: someone broke a platform file on one proxy; the next re-issue fails loudly there.
        const serving = o.certificates.value[P1].fingerprintSha256;
        await onNode(P1, "echo 'this is not nginx;' > /etc/nginx/conf.d/zz-broken.conf");
        try {
            scenario.settings.validityDays = 2;
            scenario.settings.renewBeforeDays = 0.5;
            await setScenario();
            let msg = "";
            try {
                await up();
            } catch (e) {
                msg = String((e as Error).message ?? e);
            }
            expect(msg, msg).to.contain(`web certificate NOT installed on node ${P1} `);
            expect(msg, msg).to.contain("the previous certificate is still serving");
            expect(msg, msg).to.contain("zz-broken.conf");
            expect(served(P1)[0].fingerprint256).to.equal(serving);
            expect(Object.keys(requestsVia(P1, 3)).every((k) => k.startsWith("app "))).to.equal(true);
        } finally {
            await onNode(P1, "rm -f /etc/nginx/conf.d/zz-broken.conf");
        }
        expect((await up()).summary.result).to.equal("succeeded");
        o = await outputs();
        expect(served(P1)[0].fingerprint256).to.equal(o.certificates.value[P1].fingerprintSha256);
        expect(o.certificates.value[P1].fingerprintSha256).to.not.equal(serving);
    });

    it("destroy gives every node its exact original files back (bytes, owner, mode) and the stand-in keeps working", async () => {
        await stack.destroy({ onOutput: () => undefined });
        for (const n of webNodes()) expect(await snapshot(n.name), n.name).to.deep.equal(original[n.name]);
        const counts = requestsVia(P2, 6);
        expect(
            Object.keys(counts).every((k) => apps.map((a) => `app ${a}`).includes(k)),
            JSON.stringify(counts),
        ).to.equal(true);
    });
});

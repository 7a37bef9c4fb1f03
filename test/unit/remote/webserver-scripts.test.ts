// remote/webserver-scripts.ts and the pinhole:node:WebServer handler's pure parts (check, diff).
import { expect } from "chai";
import { spawnSync } from "child_process";
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "fs";
import { tmpdir } from "os";
import { join } from "path";
import { CERT_PATH, KEY_PATH, SITE_PATH } from "../../../render/nginx";
import {
    COMMIT_NGINX,
    commitNginx,
    HELPERS,
    inspectScript,
    installScript,
    removeScript,
    WEB_EXIT,
    WEB_OWNER_FILE,
} from "../../../remote/webserver-scripts";
import { leafFingerprint, webServerHandler } from "../../../provider/webserver";
import { handlers } from "../../../provider/main";
import { generatePrivateKeyPem, issueSelfSigned } from "../../../provider/tls";

const KEY = generatePrivateKeyPem({ algorithm: "ECDSA" });
const args = {
    token: "tok1",
    owner: "proxy-1-web-abc",
    certificatePem: "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
    keyPem: KEY,
    siteConfig: "server { listen 443 ssl default_server; }\n",
    replaces: ["/etc/nginx/conf.d/default.conf", "/etc/nginx/sites-enabled/it's default"],
    fqdn: "proxy-1.dc.example.com",
    fingerprint: "AB:CD",
    verifySeconds: 10,
};

const shParses = (script: string) => spawnSync("sh", ["-n"], { input: script, encoding: "utf8" });

describe("web server scripts (remote/webserver-scripts.ts)", () => {
    it("carries the key only inside a base64 payload: never in clear, never on a command line", () => {
        const s = installScript(args);
        expect(s).to.not.contain("BEGIN PRIVATE KEY");
        for (const line of KEY.split("\n").filter((l) => l.length > 20 && !l.startsWith("-----")))
            expect(s).to.not.contain(line);
        const b64 = Buffer.from(KEY).toString("base64");
        expect(s.replace(/\n/g, "")).to.contain(b64.replace(/\n/g, ""));
        expect(s).to.match(/base64 -d > "\$W\/key" <<'PINHOLE_PAYLOAD'/);
    });

    it("installs the key 0600, then nginx -t, reload, and the serving check; restores on each failure", () => {
        const s = installScript(args);
        expect(s).to.contain(
            `install -m 0600 -o root -g root "$W/key" '${KEY_PATH}.new' && mv -f '${KEY_PATH}.new' '${KEY_PATH}'`,
        );
        expect(s).to.contain(`install -m 0644 -o root -g root "$W/cert" '${CERT_PATH}.new'`);
        const order = [
            "commit_nginx() {",
            "restore() {",
            "took-over=",
            'install -m 0644 -o root -g root "$W/site"',
            "commit_nginx 'proxy-1.dc.example.com' 'AB:CD' 50 '10'",
            WEB_OWNER_FILE,
        ];
        const at = order.map((x) => s.indexOf(x));
        expect(
            at.every((i) => i >= 0),
            JSON.stringify(at),
        ).to.equal(true);
        expect([...at].sort((a, b) => a - b)).to.deep.equal(at);
        // The tail is the shared function (also in the certificate-only install), defined once.
        expect(s.split(COMMIT_NGINX)).to.have.length(2);
    });

    it("quotes odd paths of the files it takes over", () => {
        expect(installScript(args)).to.contain(
            `for f in '/etc/nginx/conf.d/default.conf' '/etc/nginx/sites-enabled/it'\\''s default'; do`,
        );
    });

    it("skips the serving check when verifySeconds is 0", () => {
        expect(installScript({ ...args, verifySeconds: 0 })).to.contain(
            "commit_nginx 'proxy-1.dc.example.com' 'AB:CD' 0 '0'",
        );
        expect(commitNginx("a.b", "F", 0.1)).to.equal("commit_nginx 'a.b' 'F' 1 '0.1'");
    });

    it("are valid POSIX sh", () => {
        for (const s of [
            installScript(args),
            installScript({ ...args, verifySeconds: 0 }),
            inspectScript("a.b"),
            removeScript("o"),
        ]) {
            const r = shParses(s);
            expect(r.status, r.stderr).to.equal(0);
        }
    });

    it("remove leaves a front end that another resource owns now, restores originals, checks nginx before reloading", () => {
        const s = removeScript("proxy-1-web-old");
        expect(s).to.contain(`if [ -n "$current" ] && [ "$current" != 'proxy-1-web-old' ]; then`);
        expect(s).to.contain(`rm -f '${CERT_PATH}' '${KEY_PATH}' '${SITE_PATH}'`);
        expect(s.indexOf("restored=")).to.be.lessThan(s.indexOf("nginx -t"));
        expect(s).to.contain(`exit ${WEB_EXIT.restoreFailed}`);
    });

    it("inspect reports hashes, key mode, what nginx serves and the originals kept", () => {
        const s = inspectScript("a.b");
        for (const k of ["owner=", "sha.$n=", "keymode=", "served=", "originals="]) expect(s).to.contain(k);
    });
});

describe("commit_nginx, the install tail of both front-end modes (run in sh with nginx and the serving check stubbed)", () => {
    /** Runs the shared function with `nginx -t`, the reload and the served fingerprint as given; `restore` logs its calls. */
    const run = (o: { test: boolean; reload: boolean; serves: string; tries: number }) => {
        const script = `set -eu
${HELPERS}${COMMIT_NGINX}
nginx() { [ "$1" = -t ] && { ${o.test ? "return 0" : "echo 'emerg: bad line' >&2; return 1"}; }; return 0; }
reload_nginx() { echo reload; ${o.reload ? "return 0" : "return 1"}; }
served_fingerprint() { echo ${o.serves}; }
sleep() { :; }
restore() { echo restored; }
W="$(mktemp -d)"
${commitNginx("a.example.com", "AB:CD", o.tries / 5)}
echo "ok got=$got"
rm -rf "$W"
`;
        const r = spawnSync("sh", [], { input: script, encoding: "utf8" });
        return { code: r.status, out: r.stdout, err: r.stderr };
    };
    const cases: {
        name: string;
        test: boolean;
        reload: boolean;
        serves: string;
        tries: number;
        code: number;
        restored: number;
        err?: RegExp;
        out?: RegExp;
    }[] = [
        {
            name: "all good",
            test: true,
            reload: true,
            serves: "AB:CD",
            tries: 5,
            code: 0,
            restored: 0,
            out: /ok got=AB:CD/,
        },
        {
            name: "no openssl on the node",
            test: true,
            reload: true,
            serves: "no-openssl",
            tries: 5,
            code: 0,
            restored: 0,
            out: /ok got=no-openssl/,
        },
        {
            name: "no serving check",
            test: true,
            reload: true,
            serves: "OTHER",
            tries: 0,
            code: 0,
            restored: 0,
            out: /ok got=$/m,
        },
        {
            name: "nginx -t rejects",
            test: false,
            reload: true,
            serves: "AB:CD",
            tries: 5,
            code: WEB_EXIT.configRejected,
            restored: 1,
            err: /nginx -t rejected[\s\S]*emerg: bad line/,
        },
        {
            name: "reload fails",
            test: true,
            reload: false,
            serves: "AB:CD",
            tries: 5,
            code: WEB_EXIT.notServed,
            restored: 1,
            err: /could not be reloaded/,
        },
        {
            name: "serves another certificate",
            test: true,
            reload: true,
            serves: "OTHER",
            tries: 3,
            code: WEB_EXIT.notServed,
            restored: 1,
            err: /did not serve the new certificate on 127.0.0.1:443 within 0.6s \(it serves OTHER\)/,
        },
    ];
    for (const c of cases) {
        it(`${c.name}: exit ${c.code}, restore called ${c.restored}×`, () => {
            const r = run(c);
            expect(r.code, r.err).to.equal(c.code);
            expect((r.out.match(/^restored$/gm) ?? []).length, r.out).to.equal(c.restored);
            if (c.err) expect(r.err).to.match(c.err);
            if (c.out) expect(r.out).to.match(c.out);
            if (c.code !== 0) expect(r.out).to.not.contain("ok got=");
        });
    }
});

// A real nginx (Debian's, on a private config and a loopback port) reloaded by the helper: the reload must
// return only after the workers that accepted before it have stopped accepting (right after `nginx -s
// reload` they still do, so an ACME validation could be answered with the old configuration).
describe("reload_nginx waits for the old workers (a real nginx)", function () {
    this.timeout(60_000);
    const nginxBin = ["/usr/sbin/nginx", "/usr/bin/nginx"].find((p) => existsSync(p));
    let dir = "";
    const sh = (script: string) =>
        spawnSync("sh", ["-c", `set -eu\n${HELPERS}${script}`], {
            encoding: "utf8",
            env: { PATH: `${dir}:${process.env.PATH}` },
            timeout: 50_000,
        });
    before(function () {
        if (!nginxBin || process.getuid?.() !== 0) this.skip();
        dir = mkdtempSync(join(tmpdir(), "pinhole-reload-"));
        const conf = join(dir, "nginx.conf");
        writeFileSync(
            conf,
            `pid ${dir}/nginx.pid;\nerror_log ${dir}/error.log;\nworker_processes 2;\nevents {}\nhttp { access_log off; server { listen 127.0.0.1:18187; return 200 "a"; } }\n`,
        );
        // `nginx` on PATH is this instance, as on a node (the helpers call plain nginx)
        writeFileSync(join(dir, "nginx"), `#!/bin/sh\nexec ${nginxBin} -c ${conf} -p ${dir} "$@"\n`);
        chmodSync(join(dir, "nginx"), 0o755);
        expect(sh("nginx").status).to.equal(0);
    });
    after(() => {
        if (dir) {
            sh("nginx -s quit");
            rmSync(dir, { recursive: true, force: true });
        }
    });
    const accepting = (pid: string) => {
        try {
            return readFileSync(`/proc/${pid}/cmdline`, "utf8").replace(/\0+$/, "") === "nginx: worker process";
        } catch {
            return false;
        }
    };
    for (const round of [1, 2, 3])
        it(`round ${round}: the workers from before the reload no longer accept when it returns`, () => {
            const r = sh(
                `nginx_accepting_workers "$(nginx_master)" | tr '\\n' ' '; echo; reload_nginx; nginx_accepting_workers "$(nginx_master)" | tr '\\n' ' '`,
            );
            expect(r.status, r.stderr).to.equal(0);
            const [before, said, after] = r.stdout.split("\n");
            const old = before.trim().split(" ").filter(Boolean);
            expect(old, "the helper finds this nginx's two workers").to.have.length(2);
            expect(said).to.equal("nginx=reloaded");
            expect(old.filter(accepting), "old workers still accepting").to.deep.equal([]);
            const fresh = after.trim().split(" ").filter(Boolean);
            expect(fresh).to.have.length(2);
            expect(fresh.filter((p) => old.includes(p))).to.deep.equal([]);
        });
});

describe("pinhole:node:WebServer handler (check, diff)", function () {
    this.timeout(20_000);
    const conn = { host: "10.0.0.1", port: 22, user: "root", hostKey: "ssh-ed25519 AAAA", sudo: false };

    it("check refuses a bundle that does not match the key or the name, naming the node", async () => {
        const cert = (
            await issueSelfSigned({
                privateKeyPem: KEY,
                subject: { commonName: "a.example.com" },
                dnsNames: ["a.example.com"],
                ipAddresses: [],
                validityDays: 30,
                earlyRenewalDays: 1,
                isCa: false,
            })
        ).certPem;
        const other = generatePrivateKeyPem({ algorithm: "ECDSA" });
        const base = {
            node: "a",
            fqdn: "a.example.com",
            connection: conn,
            privateKey: "k",
            siteConfig: "x",
            certificatePem: cert,
            keyPem: KEY,
        };
        const check = handlers["pinhole:node:WebServer"].check;
        expect((await check(base)).failures).to.deep.equal([]);
        const bad = await check({ ...base, keyPem: other, fqdn: "b.example.com" });
        expect(bad.failures!.map((f) => f.reason).join("\n")).to.match(
            /node a: the certificate does not match the private key/,
        );
        expect(bad.failures!.map((f) => f.reason).join("\n")).to.match(
            /node a: the certificate does not match the node's network name b\.example\.com/,
        );
        expect(bad.inputs.replaces).to.deep.equal([
            "/etc/nginx/conf.d/default.conf",
            "/etc/nginx/sites-enabled/default",
        ]);
        expect(bad.inputs.verifySeconds).to.equal(10);
        expect(leafFingerprint(cert).fingerprint).to.match(/^([0-9A-F]{2}:){31}[0-9A-F]{2}$/);
    });

    it("diff: updates on input changes and on drift seen by refresh; replaces only when the node changes", async () => {
        const inputs = {
            node: "a",
            frontEnd: "whole-site" as const,
            fqdn: "a.x",
            connection: conn,
            privateKey: "k",
            siteConfig: "s",
            certificatePem: "c",
            keyPem: "k2",
            replaces: [],
            verifySeconds: 10,
        };
        const state = {
            ...inputs,
            fingerprint: "F",
            notAfter: "",
            certificateSha256: "1",
            keySha256: "2",
            siteSha256: "3",
            liveCertificateSha256: "1",
            liveKeySha256: "2",
            liveSiteSha256: "3",
            servedFingerprint: "F",
            liveServedFingerprint: "F",
            originals: [],
            appliedAt: "t",
            installed: [],
            live: [],
        };
        const diff = webServerHandler.diff!;
        expect(await diff(state, inputs)).to.deep.include({ changes: false, replaces: [] });
        expect(await diff(state, { ...inputs, verifySeconds: 5 })).to.deep.include({
            changes: true,
            replaces: [],
            detailedDiff: { verifySeconds: "update" },
        });
        expect(await diff(state, { ...inputs, privateKey: "rotated" })).to.deep.include({
            changes: true,
            replaces: [],
            detailedDiff: { privateKey: "update" },
        });
        expect(await diff(state, { ...inputs, siteConfig: "s2" })).to.deep.include({ changes: true, replaces: [] });
        expect(await diff(state, { ...inputs, node: "b" })).to.deep.include({
            changes: true,
            replaces: ["node"],
            detailedDiff: { node: "update-replace" },
        });
        expect(await diff({ ...state, liveSiteSha256: "edited" }, inputs)).to.deep.include({
            changes: true,
            replaces: [],
            detailedDiff: { liveSiteSha256: "update" },
        });
        expect(await diff({ ...state, liveServedFingerprint: "OTHER" }, inputs)).to.deep.include({ changes: true });
        expect(await diff({ ...state, liveServedFingerprint: "no-openssl" }, inputs)).to.deep.include({
            changes: false,
        });
    });
});

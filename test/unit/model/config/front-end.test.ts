// certificates.frontEnd / nginx / subject in the stack config (model/config/front-end.ts), and the
// certificate-only scripts (remote/webserver-platform-scripts.ts): valid sh, key only in a payload, paths refused.
import { expect } from "chai";
import { spawnSync } from "child_process";
import { parseClusterConfig } from "../../../../model/config";
import {
    checkNodePath,
    discoverScript,
    platformInspectScript,
    platformInstallScript,
    platformRemoveScript,
} from "../../../../remote/webserver-platform-scripts";
import { COMMIT_NGINX } from "../../../../remote/webserver-scripts";
import { X509Certificate } from "crypto";
import { SUBJECT_FIELDS } from "../../../../model/types";
import { SELF_SIGNED_CERTIFICATE } from "../../../../provider/schema";
import { distinguishedName, generatePrivateKeyPem, issueSelfSigned } from "../../../../provider/tls";

const ssh = {
    host: "10.1.0.1",
    hostKey: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGx3cIJvnxzyZp1Vw2mSy+7rBXWz3DSN3dXAYu1lVyjb",
};
const raw = (certificates: unknown) => ({
    model: "unified",
    domain: "dc.example.com",
    networks: { admin: ["10.0.0.0/8"] },
    nodes: [{ name: "uni-1", role: "unified", address: "10.1.0.1", ssh }],
    certificates,
});

describe("web front end config (certificates.frontEnd, nginx, subject)", () => {
    it("defaults to certificate-only; reads paths, upstream, names and the subject per stack and node", () => {
        expect(parseClusterConfig(raw(undefined)).model!.certificates.frontEnd).to.equal("certificate-only");
        const r = parseClusterConfig(
            raw({
                frontEnd: "whole-site",
                nginx: {
                    sitePath: "/etc/nginx/conf.d/site.conf",
                    applicationBackend: "http://127.0.0.1:9000",
                    serverNames: ["www.example.com"],
                },
                subject: { organization: "Example Ltd", country: "CH", email: "pki@example.com" },
                nodes: {
                    "uni-1": {
                        mode: "self-signed",
                        frontEnd: "certificate-only",
                        nginx: { certificatePath: "/etc/ssl/site.crt", keyPath: "/etc/ssl/site.key", upstream: "app" },
                    },
                },
            }),
        );
        expect(r.errors).to.deep.equal([]);
        const c = r.model!.certificates;
        expect(c).to.deep.include({
            frontEnd: "whole-site",
            subject: { organization: "Example Ltd", country: "CH", email: "pki@example.com" },
        });
        expect(c.nginx).to.deep.equal({
            sitePath: "/etc/nginx/conf.d/site.conf",
            applicationBackend: "http://127.0.0.1:9000",
            serverNames: ["www.example.com"],
        });
        expect(c.nodes["uni-1"]).to.deep.include({
            frontEnd: "certificate-only",
            nginx: { certificatePath: "/etc/ssl/site.crt", keyPath: "/etc/ssl/site.key", upstream: "app" },
        });
    });
    it("refuses bad values naming the path", () => {
        const r = parseClusterConfig(
            raw({
                frontEnd: "everything",
                nginx: { certificatePath: "relative/x.crt", upstream: "a b", serverNames: ["bad name;"] },
                subject: { country: "Switzerland", email: "nobody" },
                renewBeforeDays: 30,
                validityDays: 3,
            }),
        );
        const msgs = r.errors.map((e) => `${e.path}: ${e.message}`).join("\n");
        for (const want of [
            "pinhole:certificates.frontEnd",
            'pinhole:certificates.nginx.certificatePath: "relative/x.crt" is not an absolute path',
            "pinhole:certificates.nginx.upstream",
            "pinhole:certificates.nginx.serverNames[0]",
            'pinhole:certificates.subject.country: "Switzerland" is not a two-letter country code',
            "pinhole:certificates.subject.email",
            "pinhole:certificates.renewBeforeDays: 30 must be less than validityDays (3)",
        ]) {
            expect(msgs).to.contain(want);
        }
        // A 3-day lifetime without an explicit window is fine: the window scales (a third of the lifetime).
        expect(parseClusterConfig(raw({ validityDays: 3 })).errors).to.deep.equal([]);
    });
    it("subject fields come from one list (model/types.ts SUBJECT_FIELDS): config keys, provider schema, distinguished name and the issued certificate", async () => {
        const values: Record<string, string> = {
            organization: "Example, Ltd",
            organizationalUnit: "Ops",
            locality: "Zurich",
            province: "ZH",
            country: "CH",
            email: "pki@example.com",
        };
        expect(SUBJECT_FIELDS.map((f) => f.key).sort()).to.deep.equal(Object.keys(values).sort());
        // config: every field is read (and nothing else is)
        const r = parseClusterConfig(raw({ subject: values }));
        expect(r.errors).to.deep.equal([]);
        expect(r.model!.certificates.subject).to.deep.equal(values);
        expect(
            parseClusterConfig(raw({ subject: { street: "Main St 1" } }))
                .errors.map((e) => e.path)
                .join(),
        ).to.contain("pinhole:certificates.subject");
        // provider schema: CN plus every field, with its description
        const props = SELF_SIGNED_CERTIFICATE.inputs.subject.properties as Record<string, { description: string }>;
        expect(Object.keys(props)).to.deep.equal(["commonName", ...SUBJECT_FIELDS.map((f) => f.key)]);
        for (const f of SUBJECT_FIELDS) expect(props[f.key].description, f.key).to.equal(f.description);
        // distinguished name and the certificate issued with it
        const subject = { commonName: "a.example.com", ...values };
        expect(distinguishedName(subject)).to.equal(
            "CN=a.example.com, O=Example\\, Ltd, OU=Ops, L=Zurich, ST=ZH, C=CH, E=pki@example.com",
        );
        const { certPem } = await issueSelfSigned({
            privateKeyPem: generatePrivateKeyPem({ algorithm: "ECDSA" }),
            subject,
            dnsNames: ["a.example.com"],
            ipAddresses: [],
            validityDays: 3,
            earlyRenewalDays: 1,
            isCa: false,
        });
        const dn = new X509Certificate(certPem).subject;
        for (const [attr, v] of [
            ["CN", "a.example.com"],
            ["O", "Example\\, Ltd"],
            ["OU", "Ops"],
            ["L", "Zurich"],
            ["ST", "ZH"],
            ["C", "CH"],
            ["emailAddress", "pki@example.com"],
        ]) {
            expect(dn.split("\n"), attr).to.include(`${attr}=${v}`);
        }
    });
});

describe("certificate-only scripts (remote/webserver-platform-scripts.ts)", () => {
    const pem = (kind: string) => `-----${kind} ${["PRIVATE", "KEY"].join(" ")}-----`; // built at runtime: no key-shaped text committed
    const key = `${pem("BEGIN")}\nTESTKEYBODY\n${pem("END")}\n`;
    const args = {
        token: "t1",
        owner: "proxy-1-web-abc",
        fqdn: "proxy-1.dc.example.com",
        fingerprint: "AB:CD",
        verifySeconds: 5,
        files: [
            { path: "/etc/nginx/ssl/server.crt", content: "CERT", kind: "certificate" as const },
            { path: "/etc/nginx/ssl/server.key", content: key, kind: "key" as const },
            { path: "/etc/nginx/conf.d/pinhole-tls.conf", content: "ssl_protocols TLSv1.2;", kind: "own" as const },
            { path: "/etc/nginx/nginx.conf", content: "events {}", kind: "platform" as const },
        ],
    };
    it("are valid POSIX sh; the key travels only inside a base64 payload", () => {
        for (const s of [
            platformInstallScript(args),
            platformInstallScript({ ...args, verifySeconds: 0 }),
            discoverScript(),
            platformInspectScript("a.b"),
            platformRemoveScript("o"),
        ]) {
            const r = spawnSync("sh", ["-n"], { input: s, encoding: "utf8" });
            expect(r.status, r.stderr).to.equal(0);
        }
        const s = platformInstallScript(args);
        expect(s).to.not.contain("TESTKEYBODY");
    });
    it("keeps each platform file aside on its first write, restores on every failure, keeps a platform file's owner and mode", () => {
        const s = platformInstallScript(args);
        const order = [
            "commit_nginx() {",
            "remember '/etc/nginx/ssl/server.crt'",
            "restore() {",
            'install -m 0600 -o root -g root "$W/f1"',
            "commit_nginx 'proxy-1.dc.example.com' 'AB:CD' 25 '5'",
            "/etc/pinhole/web/platform/owner",
        ];
        const at = order.map((x) => s.indexOf(x));
        expect(
            at.every((i) => i >= 0),
            JSON.stringify(at),
        ).to.equal(true);
        expect([...at].sort((a, b) => a - b)).to.deep.equal(at);
        // The same tail as the whole-site install (remote/webserver-scripts.ts COMMIT_NGINX), defined once.
        expect(s.split(COMMIT_NGINX)).to.have.length(2);
        expect(s).to.contain("chown --reference='/etc/nginx/nginx.conf'");
        expect(s).to.contain("chmod --reference='/etc/nginx/nginx.conf'");
    });
    it("refuses paths that are not plain absolute paths, or inside pinhole's state", () => {
        expect(checkNodePath("/etc/nginx/ssl/server.crt")).to.equal(undefined);
        for (const p of [
            "etc/x",
            "/etc/x y",
            "/etc/$(id)",
            "/etc/../root/x",
            "/etc/pinhole/web/x",
            "/etc/x\nkept /etc/shadow",
        ])
            expect(checkNodePath(p), p).to.be.a("string");
    });
});

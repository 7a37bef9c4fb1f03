// Wiring of web certificates with Pulumi mocks: Cluster → node components → WebCertificate → key /
// certificate / CSR / WebServer resources, per mode. The mocks issue REAL keys and certificates (the
// provider's own functions), so the components' checks and summaries run on real PEM.
import * as pulumi from "@pulumi/pulumi";
import { expect } from "chai";
import { generatePrivateKeyPem, issueSelfSigned, publicKeyPemOf } from "../../../provider/tls";
import { createCertificateRequest, issueLocallySigned } from "../../../provider/certs";
import { leafFingerprint } from "../../../provider/webserver";
import { isSecret, unwrapSecrets } from "../../../provider/secrets";

interface Created {
    type: string;
    name: string;
    inputs: Record<string, any>;
    raw: Record<string, any>;
}
const created: Created[] = [];
const configSecrets: Record<string, string> = {};

const MOCKS: pulumi.runtime.Mocks = {
    async newResource(args: pulumi.runtime.MockResourceArgs) {
        const i: Record<string, any> = unwrapSecrets(args.inputs); // any: mock inputs as the program sent them
        created.push({ type: args.type, name: args.name, inputs: i, raw: args.inputs });
        switch (args.type) {
            case "pinhole:tls:PrivateKey": {
                const privateKeyPem = generatePrivateKeyPem({
                    algorithm: i.algorithm ?? "ECDSA",
                    ecdsaCurve: i.ecdsaCurve,
                });
                return { id: args.name, state: { ...i, privateKeyPem, publicKeyPem: publicKeyPemOf(privateKeyPem) } };
            }
            case "pinhole:tls:SelfSignedCertificate": {
                const c = await issueSelfSigned({
                    dnsNames: [],
                    ipAddresses: [],
                    isCa: false,
                    validityDays: 365,
                    earlyRenewalDays: 30,
                    ...i,
                } as any);
                return { id: args.name, state: { ...i, ...c } };
            }
            case "pinhole:tls:LocallySignedCertificate": {
                const c = await issueLocallySigned({
                    dnsNames: [],
                    ipAddresses: [],
                    isCa: false,
                    validityDays: 365,
                    earlyRenewalDays: 30,
                    ...i,
                } as any);
                return { id: args.name, state: { ...i, ...c } };
            }
            case "pinhole:tls:CertificateRequest":
                return { id: args.name, state: { ...i, certRequestPem: await createCertificateRequest(i as any) } };
            case "pinhole:node:WebServer": {
                const fp = leafFingerprint(i.certificatePem);
                return {
                    id: args.name,
                    state: { ...i, ...fp, servedFingerprint: fp.fingerprint, appliedAt: "now", originals: [] },
                };
            }
            default:
                return { id: `${args.name}-id`, state: i };
        }
    },
    call: (args: pulumi.runtime.MockCallArgs) => args.inputs,
};

// After setMocks (the config must be in place before components read it).
function setConfig(raw: Record<string, unknown>) {
    const all: Record<string, string> = {};
    for (const [k, v] of Object.entries(raw)) all[`pinhole:${k}`] = typeof v === "string" ? v : JSON.stringify(v);
    for (const [k, v] of Object.entries(configSecrets)) all[`pinhole:${k}`] = v;
    pulumi.runtime.setAllConfig(
        all,
        Object.keys(configSecrets).map((k) => `pinhole:${k}`),
    );
}

const HOSTKEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGz4upoWiT8IGeh2XoMtAhTguwc8LII9QK3FuvlLSVXe";
function rawModel(certificates: Record<string, unknown>) {
    const node = (name: string, role: string, address: string, extra: Record<string, unknown> = {}) => ({
        name,
        role,
        address,
        ssh: { hostKey: HOSTKEY },
        ...extra,
    });
    return {
        model: "modular",
        domain: "dc.example.com",
        networks: { admin: ["10.20.0.0/24"], client: ["0.0.0.0/0"] },
        nodes: [
            node("proxy-1", "webproxy", "10.20.1.201"),
            node("app-1", "application", "10.20.1.11", { webWeight: 2 }),
            node("app-2", "application", "10.20.1.12", { address6: "fd20::1:12" }),
            node("db-1", "database", "10.20.1.101"),
        ],
        certificates,
    };
}

async function build(certificates: Record<string, unknown>) {
    created.length = 0;
    const raw = rawModel(certificates);
    setConfig(raw);
    const { parseClusterConfig } = await import("../../../model/config");
    const parsed = parseClusterConfig(raw);
    if (!parsed.model) throw new Error(JSON.stringify(parsed.errors));
    const { Cluster } = await import("../../../components/cluster");
    const cluster = new Cluster("cluster", {
        model: parsed.model,
        sshPrivateKey: "ssh-key",
        secret: (k) => (configSecrets[k] !== undefined ? pulumi.secret(configSecrets[k]) : undefined),
    });
    return cluster;
}

const value = <T>(o: pulumi.Output<T>): Promise<T> =>
    new Promise((resolve) =>
        o.apply((v) => {
            resolve(v);
            return v;
        }),
    );
// Registrations that follow an Output (key → certificate → WebServer) land later on a loaded machine: wait until
// none has arrived for 200 ms (at most 10 s), not a fixed number of turns of the event loop.
const settled = async () => {
    const deadline = Date.now() + 10_000;
    let count = -1;
    let quietSince = Date.now();
    while (Date.now() < deadline) {
        if (created.length !== count) [count, quietSince] = [created.length, Date.now()];
        else if (Date.now() - quietSince >= 200) return;
        await new Promise((r) => setTimeout(r, 10));
    }
};
const ofType = (t: string) =>
    created
        .filter((c) => c.type === t)
        .map((c) => c.name)
        .sort();

describe("web certificate components (Pulumi mocks)", function () {
    this.timeout(30_000);
    // In a hook, not at load time: other test files may install their own mocks.
    before(() => pulumi.runtime.setMocks(MOCKS, "pinhole", "unit", false));

    it("self-signed: a key, a certificate and a WebServer per web node; none for databases", async () => {
        const cluster = await build({ frontEnd: "whole-site" });
        const summary: any = await value(cluster.certificates["proxy-1"] as pulumi.Output<any>);
        await settled();
        expect(ofType("pinhole:web:WebCertificate")).to.deep.equal(["app-1-web", "app-2-web", "proxy-1-web"]);
        expect(ofType("pinhole:tls:PrivateKey")).to.deep.equal(["app-1-web-key", "app-2-web-key", "proxy-1-web-key"]);
        expect(ofType("pinhole:tls:SelfSignedCertificate")).to.deep.equal([
            "app-1-web-selfsigned",
            "app-2-web-selfsigned",
            "proxy-1-web-selfsigned",
        ]);
        expect(ofType("pinhole:node:WebServer")).to.deep.equal([
            "app-1-web-server",
            "app-2-web-server",
            "proxy-1-web-server",
        ]);
        expect(ofType("pinhole:web:InternalCa")).to.deep.equal([]);
        expect(summary).to.include({ mode: "self-signed", commonName: "proxy-1.dc.example.com", selfSigned: true });
        expect(summary.dnsNames).to.deep.equal(["proxy-1.dc.example.com", "proxy-1"]);
        expect(summary.ipAddresses).to.deep.equal(["10.20.1.201"]);
        const proxySite: string = created.find((c) => c.name === "proxy-1-web-server")!.inputs.siteConfig;
        expect(proxySite).to.contain("server 10.20.1.11:443 weight=2");
        expect(proxySite).to.contain("server 10.20.1.12:443 weight=1");
        // whole-site nginx listens on [::] exactly when the node is dual-stack (app-2 has address6)
        const siteOf = (n: string): string => created.find((c) => c.name === `${n}-web-server`)!.inputs.siteConfig;
        expect(siteOf("app-2")).to.contain("listen [::]:443 ssl default_server;");
        expect(siteOf("app-2")).to.contain("listen [::]:80 default_server;");
        expect(proxySite).to.not.contain("[::]");
        expect(cluster.nodes["proxy-1"].summary.certificate).to.not.equal(undefined);
        expect(cluster.nodes["db-1"].summary.certificate).to.equal(undefined);
    });

    it("internal-ca: one CA for the stack signs every node; its certificate is exposed", async () => {
        const cluster = await build({ mode: "internal-ca" });
        const ca = await value(cluster.internalCaCertificate!);
        const summary: any = await value(cluster.certificates["app-1"] as pulumi.Output<any>);
        await settled();
        expect(ofType("pinhole:web:InternalCa")).to.deep.equal(["cluster-ca"]);
        expect(ofType("pinhole:tls:LocallySignedCertificate")).to.deep.equal([
            "app-1-web-signed",
            "app-2-web-signed",
            "proxy-1-web-signed",
        ]);
        expect(ca).to.contain("BEGIN CERTIFICATE");
        expect(summary).to.include({ mode: "internal-ca", commonName: "app-1.dc.example.com" });
        expect(summary.issuer).to.match(/CN=pinhole internal CA dc\.example\.com \(unit\)/);
        const bundle: string = created.find((c) => c.name === "app-1-web-server")!.inputs.certificatePem;
        expect(isSecret(created.find((c) => c.name === "app-1-web-signed")!.raw.caPrivateKeyPem)).to.equal(true);
        expect((bundle.match(/BEGIN CERTIFICATE/g) ?? []).length).to.equal(2);
    });

    it("csr: the CSR is exported; the node keeps a self-signed certificate until the reply is configured", async () => {
        const cluster = await build({ nodes: { "app-1": { mode: "csr", certificateConfigKey: "app1Cert" } } });
        const csr = await value(cluster.certificateRequests["app-1"]);
        const summary: any = await value(cluster.certificates["app-1"] as pulumi.Output<any>);
        expect(csr).to.contain("BEGIN CERTIFICATE REQUEST");
        expect(summary).to.include({ mode: "csr", pending: true, selfSigned: true });
        expect(ofType("pinhole:tls:CertificateRequest")).to.deep.equal(["app-1-web-csr"]);
    });

    it("external: the operator's bundle and key are installed; key stays secret", async () => {
        const pki = await testPki();
        const key = generatePrivateKeyPem({ algorithm: "ECDSA" });
        configSecrets.proxy1Cert = (await pki.issue(key, "proxy-1.dc.example.com")) + pki.inter;
        configSecrets.proxy1Key = key;
        try {
            const cluster = await build({
                nodes: {
                    "proxy-1": { mode: "external", certificateConfigKey: "proxy1Cert", keyConfigKey: "proxy1Key" },
                },
            });
            const summary: any = await value(cluster.certificates["proxy-1"] as pulumi.Output<any>);
            await settled();
            expect(summary).to.include({ mode: "external", issuer: "CN=Unit Issuing CA" });
            expect(ofType("pinhole:tls:PrivateKey")).to.not.include("proxy-1-web-key");
            const server = created.find((c) => c.name === "proxy-1-web-server")!;
            expect(server.inputs.keyPem).to.equal(key);
            expect(isSecret(server.raw.keyPem), "keyPem goes to the provider as a secret").to.equal(true);
            expect(isSecret(server.raw.privateKey), "the SSH key too").to.equal(true);
        } finally {
            delete configSecrets.proxy1Cert;
            delete configSecrets.proxy1Key;
        }
    });

    it("a rejected bundle holds back every node's WebServer and names the node", async () => {
        const pki = await testPki();
        const key = generatePrivateKeyPem({ algorithm: "ECDSA" });
        configSecrets.proxy1Cert = await pki.issue(key, "www.example.com"); // wrong name, no chain
        configSecrets.proxy1Key = key;
        try {
            const cluster = await build({
                nodes: {
                    "proxy-1": { mode: "external", certificateConfigKey: "proxy1Cert", keyConfigKey: "proxy1Key" },
                },
            });
            const problem = await value(cluster.nodes["proxy-1"].certificate!.problem);
            expect(problem).to.match(
                /^node proxy-1: web certificate from pinhole:proxy1Cert rejected, nothing was installed:/,
            );
            expect(problem).to.contain("does not match the node's network name proxy-1.dc.example.com");
            expect(problem).to.contain("incomplete chain");
            await settled();
            expect(ofType("pinhole:node:WebServer")).to.deep.equal([]); // not even the nodes that are fine
        } finally {
            delete configSecrets.proxy1Cert;
            delete configSecrets.proxy1Key;
        }
    });
});

async function testPki() {
    const rootKey = generatePrivateKeyPem({ algorithm: "ECDSA" });
    const root = (
        await issueSelfSigned({
            privateKeyPem: rootKey,
            subject: { commonName: "Unit Root CA" },
            dnsNames: [],
            ipAddresses: [],
            validityDays: 3650,
            earlyRenewalDays: 30,
            isCa: true,
        })
    ).certPem;
    const interKey = generatePrivateKeyPem({ algorithm: "ECDSA" });
    const inter = (
        await issueLocallySigned({
            privateKeyPem: interKey,
            subject: { commonName: "Unit Issuing CA" },
            dnsNames: [],
            ipAddresses: [],
            caPrivateKeyPem: rootKey,
            caCertPem: root,
            validityDays: 1825,
            earlyRenewalDays: 30,
            isCa: true,
        })
    ).certPem;
    return {
        inter,
        issue: async (key: string, name: string) =>
            (
                await issueLocallySigned({
                    privateKeyPem: key,
                    subject: { commonName: name },
                    dnsNames: [name],
                    ipAddresses: [],
                    caPrivateKeyPem: interKey,
                    caCertPem: inter,
                    validityDays: 90,
                    earlyRenewalDays: 1,
                    isCa: false,
                })
            ).certPem,
    };
}

// model/certificates.ts: bundle checks (table-driven, with certificates made here), details, expiry notice;
// provider/certs.ts: CSR and CA signing.
import { expect } from "chai";
import { X509Certificate } from "crypto";
import {
    certificateDetails,
    expiryNotice,
    expiryStatus,
    noticeWindowDays,
    splitPemBundle,
} from "../../../model/certificates";
import {
    checkCertificateBundle,
    CertificateProblemKind,
    formatBundleProblems,
} from "../../../model/certificate-bundle";
import {
    createCertificateRequest,
    issueLocallySigned,
    locallySignedCertificateHandler,
    readCertificateRequest,
} from "../../../provider/certs";
import { generatePrivateKeyPem, issueSelfSigned, publicKeyPemOf } from "../../../provider/tls";

const DAY = 86_400_000;
const FQDN = "proxy-1.dc.example.com";

interface Pki {
    rootKey: string;
    root: string;
    interKey: string;
    inter: string;
    issue(o: {
        key: string;
        cn?: string;
        dns?: string[];
        ips?: string[];
        days?: number;
        now?: Date;
        by?: "root" | "inter";
    }): Promise<string>;
}

async function makePki(): Promise<Pki> {
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
        rootKey,
        root,
        interKey,
        inter,
        async issue(o) {
            const byRoot = o.by === "root";
            return (
                await issueLocallySigned(
                    {
                        privateKeyPem: o.key,
                        subject: { commonName: o.cn ?? FQDN },
                        dnsNames: o.dns ?? [FQDN],
                        ipAddresses: o.ips ?? ["10.20.1.10"],
                        caPrivateKeyPem: byRoot ? rootKey : interKey,
                        caCertPem: byRoot ? root : inter,
                        validityDays: o.days ?? 90,
                        earlyRenewalDays: 1,
                        isCa: false,
                    },
                    o.now,
                )
            ).certPem;
        },
    };
}

/** A PEM-shaped block with the given (invalid) body: malformed input, built here so no key-like text is committed. */
function pemBlock(label: string, body: string): string {
    return [`-----BEGIN ${label}-----`, body, `-----END ${label}-----`, ""].join("\n");
}

describe("web certificate checks (model/certificates.ts)", function () {
    this.timeout(20_000);
    let pki: Pki;
    let key: string;
    let other: string;
    before(async () => {
        pki = await makePki();
        key = generatePrivateKeyPem({ algorithm: "ECDSA" });
        other = generatePrivateKeyPem({ algorithm: "RSA" });
    });

    const check = (bundlePem: string, k = key, extra: Partial<Parameters<typeof checkCertificateBundle>[0]> = {}) =>
        checkCertificateBundle({
            node: "proxy-1",
            fqdn: FQDN,
            addresses: ["10.20.1.10"],
            bundlePem,
            privateKeyPem: k,
            source: "pinhole:proxy1Cert",
            keySource: "pinhole:proxy1Key",
            ...extra,
        });

    interface Case {
        name: string;
        bundle: () => Promise<string>;
        key?: () => string;
        kinds: CertificateProblemKind[];
        message?: RegExp;
        extra?: () => Partial<Parameters<typeof checkCertificateBundle>[0]>;
    }
    const cases: Case[] = [
        { name: "leaf + intermediate", bundle: async () => (await pki.issue({ key })) + pki.inter, kinds: [] },
        {
            name: "leaf + intermediate + root",
            bundle: async () => (await pki.issue({ key })) + pki.inter + pki.root,
            kinds: [],
        },
        {
            name: "leaf issued by the root + root",
            bundle: async () => (await pki.issue({ key, by: "root" })) + pki.root,
            kinds: [],
        },
        {
            name: "wildcard name",
            bundle: async () =>
                (await pki.issue({ key, cn: "*.dc.example.com", dns: ["*.dc.example.com"], ips: [] })) + pki.inter,
            kinds: [],
        },
        {
            name: "self-signed bundle of one",
            bundle: async () =>
                (
                    await issueSelfSigned({
                        privateKeyPem: key,
                        subject: { commonName: FQDN },
                        dnsNames: [FQDN],
                        ipAddresses: [],
                        validityDays: 30,
                        earlyRenewalDays: 1,
                        isCa: false,
                    })
                ).certPem,
            kinds: [],
        },
        {
            name: "wrong name",
            bundle: async () => (await pki.issue({ key, cn: "www.example.com", dns: ["www.example.com"] })) + pki.inter,
            kinds: ["name"],
            message:
                /does not match the node's network name proxy-1\.dc\.example\.com: it is for CN=www\.example\.com, DNS:www\.example\.com/,
        },
        {
            name: "name only in the CN",
            bundle: async () => (await pki.issue({ key, dns: [], ips: [] })) + pki.inter,
            kinds: ["name"],
            message: /only in its subject CN/,
        },
        {
            name: "wrong key",
            bundle: async () => (await pki.issue({ key })) + pki.inter,
            key: () => other,
            kinds: ["key"],
            message: /does not match the private key \(pinhole:proxy1Key\)/,
        },
        {
            name: "key is not a key",
            bundle: async () => (await pki.issue({ key })) + pki.inter,
            key: () => pemBlock("PRIVATE KEY", "nope"),
            kinds: ["key"],
            message: /cannot be used: it is not a PEM private key/,
        },
        {
            name: "incomplete chain (leaf only)",
            bundle: async () => pki.issue({ key }),
            kinds: ["chain"],
            message:
                /incomplete chain: the server certificate \(CN=proxy-1\.dc\.example\.com\) is issued by CN=Unit Issuing CA, which is not in the bundle/,
        },
        {
            name: "broken chain (root instead of intermediate)",
            bundle: async () => (await pki.issue({ key })) + pki.root,
            kinds: ["chain"],
            message:
                /broken chain: the server certificate .* is issued by CN=Unit Issuing CA, but the next certificate is CN=Unit Root CA/,
        },
        {
            name: "out of order (intermediate first)",
            bundle: async () => pki.inter + (await pki.issue({ key })),
            kinds: ["chain", "name", "chain", "chain"],
            message: /out of order: the server certificate is #2/,
        },
        {
            name: "a server certificate as 'issuer'",
            bundle: async () => (await pki.issue({ key })) + (await pki.issue({ key: other })),
            kinds: ["chain", "chain"],
            message: /is not a CA certificate, so it cannot have issued/,
        },
        {
            name: "not yet valid",
            bundle: async () => (await pki.issue({ key, now: new Date(Date.now() + 5 * DAY) })) + pki.inter,
            kinds: ["not-yet-valid"],
            message: /is not yet valid: valid from \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC/,
        },
        {
            name: "expired",
            bundle: async () => (await pki.issue({ key, days: 10, now: new Date(Date.now() - 20 * DAY) })) + pki.inter,
            kinds: ["expired"],
            message: /has expired: WEB CERT EXPIRED AT: /,
        },
        {
            name: "no certificate at all",
            bundle: async () => "hello",
            kinds: ["parse"],
            message: /holds no PEM certificate/,
        },
        {
            name: "key pasted as bundle",
            bundle: async () => key,
            kinds: ["parse"],
            message: /swapped certificate and key config keys/,
        },
        {
            name: "key inside the bundle",
            bundle: async () => (await pki.issue({ key })) + pki.inter + key,
            kinds: ["parse"],
            message: /also contains a private key/,
        },
        {
            name: "csr mode: matches pinhole's public key",
            bundle: async () => (await pki.issue({ key })) + pki.inter,
            extra: () => ({ privateKeyPem: undefined, publicKeyPem: publicKeyPemOf(key) }),
            kinds: [],
        },
        {
            name: "csr mode: reply for another key",
            bundle: async () => (await pki.issue({ key: other })) + pki.inter,
            extra: () => ({ privateKeyPem: undefined, publicKeyPem: publicKeyPemOf(key) }),
            kinds: ["key"],
            message: /does not match pinhole's key for this node \(the one the CSR was made with\)/,
        },
    ];

    for (const c of cases) {
        it(`${c.kinds.length ? "rejects" : "accepts"}: ${c.name}`, async () => {
            const bundle = await c.bundle();
            const k = c.key ? c.key() : key;
            const res = check(bundle, k, c.extra?.() ?? {});
            expect(res.problems.map((p) => p.kind).sort(), JSON.stringify(res.problems)).to.deep.equal(
                [...c.kinds].sort(),
            );
            if (c.message) expect(res.problems.map((p) => p.message).join("\n")).to.match(c.message);
            // Never quote a key in a message.
            for (const p of res.problems) expect(p.message).to.not.match(/PRIVATE KEY-----|MII|MHc/);
        });
    }

    it("formats one block per node, naming the node and the config key", async () => {
        const res = check(await pki.issue({ key }));
        const text = formatBundleProblems("proxy-1", res.problems, "pinhole:proxy1Cert");
        expect(text).to.match(
            /^node proxy-1: web certificate from pinhole:proxy1Cert rejected, nothing was installed:\n {2}- incomplete chain/,
        );
    });

    it("warns about addresses missing from the SANs and about expiry within renewBeforeDays", async () => {
        const res = check((await pki.issue({ key, ips: [], days: 10 })) + pki.inter, key, {
            renewBeforeDays: 30,
            renewBeforeExplicit: true,
        });
        expect(res.problems).to.deep.equal([]);
        expect(res.warnings.join("\n")).to.contain("does not list 10.20.1.10");
        expect(res.warnings.join("\n")).to.match(
            /WEB CERT EXPIRES AT: \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC \(in 9 days\)/,
        );
    });

    it("details: subject, SANs, issuer, validity and the fingerprint openssl prints", async () => {
        const leaf = await pki.issue({ key });
        const d = certificateDetails(leaf + pki.inter);
        expect(d).to.include({
            commonName: FQDN,
            subject: `CN=${FQDN}`,
            issuer: "CN=Unit Issuing CA",
            selfSigned: false,
            isCa: false,
        });
        expect(d.dnsNames).to.deep.equal([FQDN]);
        expect(d.ipAddresses).to.deep.equal(["10.20.1.10"]);
        expect(d.fingerprintSha256).to.equal(new X509Certificate(leaf).fingerprint256);
        expect(splitPemBundle(leaf + "garbage\n" + pki.inter)).to.have.length(2);
    });

    it("expiry notice: nothing before the window, EXPIRES AT inside it, EXPIRED AT after", () => {
        const now = new Date("2014-08-28T11:24:22Z");
        expect(expiryNotice("2014-12-01T00:00:00Z", 30, now)).to.equal(undefined);
        expect(expiryNotice("2014-09-26T11:30:02Z", 30, now)).to.deep.equal({
            expired: false,
            daysLeft: 29,
            text: "WEB CERT EXPIRES AT: 2014-09-26 11:30:02 UTC (in 29 days)",
        });
        expect(expiryNotice("2014-08-01T00:00:00Z", 30, now)?.text).to.equal(
            "WEB CERT EXPIRED AT: 2014-08-01 00:00:00 UTC",
        );
    });

    it("notice window: 30 days for long-lived certificates, a third of the lifetime for short ones, explicit windows kept", () => {
        const table: [number, number][] = [
            [397, 30],
            [200, 30],
            [100, 30],
            [90, 30],
            [47, 47 / 3],
            [7, 7 / 3],
            [3, 1],
        ];
        for (const [life, want] of table) expect(noticeWindowDays(life), `${life} days`).to.be.closeTo(want, 1e-9);
        expect(noticeWindowDays(3, 2.5, true)).to.equal(2.5);
        // A 3-day certificate: nothing on day 1, the notice with one day left, EXPIRED after.
        const from = "2026-01-01T00:00:00.000Z",
            to = "2026-01-04T00:00:00.000Z";
        expect(expiryStatus(from, to, 30, false, new Date("2026-01-02T00:00:00Z"))).to.deep.equal({
            state: "ok",
            windowDays: 1,
            daysLeft: 2,
            notice: null,
        });
        expect(expiryStatus(from, to, 30, false, new Date("2026-01-03T06:00:00Z"))).to.deep.include({
            state: "notice",
            windowDays: 1,
            daysLeft: 0,
        });
        expect(expiryStatus(from, to, 30, false, new Date("2026-01-05T00:00:00Z")).notice).to.equal(
            "WEB CERT EXPIRED AT: 2026-01-04 00:00:00 UTC",
        );
        // A 397-day certificate keeps the reference's 30 days.
        expect(
            expiryStatus("2026-01-01T00:00:00Z", "2027-02-02T00:00:00Z", 30, false, new Date("2027-01-10T00:00:00Z"))
                .state,
        ).to.equal("notice");
    });
});

describe("CSR and CA signing (provider/certs.ts)", function () {
    this.timeout(20_000);

    it("a CSR carries the subject and SANs and is signed by the key", async () => {
        const key = generatePrivateKeyPem({ algorithm: "RSA" });
        const pem = await createCertificateRequest({
            privateKeyPem: key,
            subject: { commonName: FQDN },
            dnsNames: [FQDN, "proxy-1"],
            ipAddresses: ["10.20.1.10", "198.51.100.10"],
        });
        expect(pem).to.match(/^-----BEGIN CERTIFICATE REQUEST-----/);
        const r = await readCertificateRequest(pem);
        expect(r).to.deep.include({
            commonName: FQDN,
            dnsNames: [FQDN, "proxy-1"],
            ipAddresses: ["10.20.1.10", "198.51.100.10"],
        });
        expect(r.publicKeyPem).to.equal(publicKeyPemOf(key));
        expect(pem).to.not.contain("PRIVATE");
    });

    it("rejects a tampered CSR", async () => {
        const key = generatePrivateKeyPem({ algorithm: "ECDSA" });
        const pem = await createCertificateRequest({
            privateKeyPem: key,
            subject: { commonName: FQDN },
            dnsNames: [FQDN],
            ipAddresses: [],
        });
        const body = pem
            .split("\n")
            .filter((l) => l && !l.startsWith("-----"))
            .join("");
        const der = Buffer.from(body, "base64");
        der[der.length - 5] ^= 0xff; // inside the signature
        const bad = `-----BEGIN CERTIFICATE REQUEST-----\n${der.toString("base64")}\n-----END CERTIFICATE REQUEST-----\n`;
        let msg = "";
        try {
            await readCertificateRequest(bad);
        } catch (e) {
            msg = (e as Error).message;
        }
        expect(msg).to.match(/signature does not verify|not a PEM certificate request/);
    });

    it("signs a CSR with the CA: chain verifies, SANs from the CSR, never beyond the CA's notAfter", async () => {
        const pki = await makePki();
        const key = generatePrivateKeyPem({ algorithm: "ECDSA" });
        const csr = await createCertificateRequest({
            privateKeyPem: key,
            subject: { commonName: FQDN },
            dnsNames: [FQDN],
            ipAddresses: ["10.20.1.10"],
        });
        const cert = await issueLocallySigned({
            certRequestPem: csr,
            dnsNames: [],
            ipAddresses: [],
            caPrivateKeyPem: pki.interKey,
            caCertPem: pki.inter,
            validityDays: 9000,
            earlyRenewalDays: 30,
            isCa: false,
        });
        const leaf = new X509Certificate(cert.certPem);
        const inter = new X509Certificate(pki.inter);
        expect(leaf.verify(inter.publicKey)).to.equal(true);
        expect(leaf.checkHost(FQDN)).to.equal(FQDN);
        expect(leaf.checkIP("10.20.1.10")).to.equal("10.20.1.10");
        expect(Date.parse(cert.notAfter)).to.be.at.most(Date.parse(inter.validTo));
        expect(check(cert.certPem + pki.inter, key)).to.deep.equal([]);
    });

    it("refuses a CA key that is not the CA certificate's", async () => {
        const pki = await makePki();
        let msg = "";
        try {
            await issueLocallySigned({
                publicKeyPem: publicKeyPemOf(pki.rootKey),
                subject: { commonName: FQDN },
                dnsNames: [FQDN],
                ipAddresses: [],
                caPrivateKeyPem: pki.rootKey,
                caCertPem: pki.inter,
                validityDays: 30,
                earlyRenewalDays: 1,
                isCa: false,
            });
        } catch (e) {
            msg = (e as Error).message;
        }
        expect(msg).to.equal("caPrivateKeyPem is not the key of caCertPem");
    });

    it("diff: re-issues inside the renewal window and on input changes, keeps the certificate otherwise", async () => {
        const base = {
            caCertPem: "ca",
            caPrivateKeyPem: "k",
            publicKeyPem: "p",
            subject: { commonName: FQDN },
            dnsNames: [FQDN],
            ipAddresses: [],
            validityDays: 90,
            isCa: false,
        };
        const issued = { certPem: "c", notBefore: new Date().toISOString(), serial: "1" };
        const far = new Date(Date.now() + 80 * DAY).toISOString();
        const near = new Date(Date.now() + 10 * DAY).toISOString();
        const diff = locallySignedCertificateHandler.diff!;
        expect(
            await diff({ ...base, ...issued, earlyRenewalDays: 30, notAfter: far }, { ...base, earlyRenewalDays: 30 }),
        ).to.deep.include({ changes: false, replaces: [] });
        expect(
            await diff({ ...base, ...issued, earlyRenewalDays: 30, notAfter: near }, { ...base, earlyRenewalDays: 30 }),
        ).to.deep.include({ changes: true, replaces: ["notAfter"], detailedDiff: { notAfter: "update-replace" } });
        expect(
            await diff(
                { ...base, ...issued, earlyRenewalDays: 30, notAfter: far },
                { ...base, dnsNames: ["x"], earlyRenewalDays: 30 },
            ),
        ).to.deep.include({ replaces: ["dnsNames"] });
        expect(
            await diff({ ...base, ...issued, earlyRenewalDays: 30, notAfter: far }, { ...base, earlyRenewalDays: 20 }),
        ).to.deep.include({ changes: true, replaces: [] });
    });
});

function check(bundlePem: string, key: string): string[] {
    return checkCertificateBundle({ node: "n", fqdn: FQDN, addresses: [], bundlePem, privateKeyPem: key }).problems.map(
        (p) => p.message,
    );
}

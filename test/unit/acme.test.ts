// acme mode (issue 13.5): certificates.acme read into settings, the 80/tcp opening the policy derives for HTTP-01, the
// ACME client's JWS (verified with Node's crypto, not with the code under test) and the node-side challenge scripts.
import { expect } from "chai";
import { createPublicKey, generateKeyPairSync, verify } from "crypto";
import { parseClusterConfig } from "../../model/config";
import { buildPolicy } from "../../model/policy";
import { rawCluster } from "./helpers/model-builders";
import { accountJwk, jwkThumbprint, keyAuthorization, signJws } from "../../provider/acme-client";
import { putChallengeScript, removeChallengeScript, renderAcmeServer } from "../../remote/acme-scripts";
import { renewalWindowDays } from "../../provider/acme";

const NODES = [
    { name: "proxy-1", role: "webproxy", address: "10.1.0.10" },
    { name: "app-1", role: "application", address: "10.1.0.11" },
    { name: "db-1", role: "database", address: "10.1.0.21" },
];
function parse(certificates: Record<string, unknown>) {
    return parseClusterConfig(rawCluster("modular", NODES, { domain: "dc.example", certificates }));
}

describe("acme mode: config", () => {
    it("reads directoryUrl, email and the validation source taken from an IP directory host", () => {
        const r = parse({
            mode: "acme",
            acme: { directoryUrl: "https://10.9.0.5:14000/dir", email: "ops@example.com" },
        });
        expect(r.errors, JSON.stringify(r.errors)).to.deep.equal([]);
        expect(r.model!.certificates.acme).to.deep.equal({
            directoryUrl: "https://10.9.0.5:14000/dir",
            email: "ops@example.com",
            challenge: "http-01",
            validationFrom: ["10.9.0.5"],
        });
    });
    it("keeps explicit validationFrom for a named directory", () => {
        const r = parse({
            mode: "acme",
            acme: { directoryUrl: "https://acme.example.com/directory", validationFrom: ["192.0.2.0/24"] },
        });
        expect(r.errors).to.deep.equal([]);
        expect(r.model!.certificates.acme!.validationFrom).to.deep.equal(["192.0.2.0/24"]);
    });
    it("a node in acme mode while the stack is not needs the acme block too", () => {
        const r = parse({ nodes: { "app-1": { mode: "acme" } } });
        expect(r.errors.map((e) => `${e.path}: ${e.message}`)).to.deep.equal([
            "pinhole:certificates.acme: missing: certificates.nodes.app-1.mode is acme, which needs the CA's directoryUrl here",
        ]);
    });
});

describe("acme mode: the policy opens 80/tcp to the CA's validation addresses", () => {
    const inbound80 = (certificates: Record<string, unknown>) => {
        const r = parse(certificates);
        expect(r.errors, JSON.stringify(r.errors)).to.deep.equal([]);
        return buildPolicy(r.model!).map((p) => ({
            node: p.node.name,
            openings: p.inbound
                .filter((o) => o.service === "acme-http-01")
                .map((o) => `${o.peer.addresses.join(",")} ${o.reason}`),
        }));
    };
    const acme = { directoryUrl: "https://10.9.0.5:14000/dir" };
    it("on every web node in acme mode, with the reason, and on no other node", () => {
        const got = inbound80({ mode: "acme", acme });
        expect(got.map((g) => [g.node, g.openings.length])).to.deep.equal([
            ["proxy-1", 1],
            ["app-1", 1],
            ["db-1", 0],
        ]);
        expect(got[0].openings[0]).to.equal(
            "10.9.0.5 80/tcp from acme-validation: ACME HTTP-01 validation of this node's certificate by the CA of 10.9.0.5:14000 (certificates.mode acme)",
        );
    });
    it("only on the nodes whose own mode is acme", () => {
        const got = inbound80({ acme, nodes: { "app-1": { mode: "acme" } } });
        expect(got.map((g) => [g.node, g.openings.length])).to.deep.equal([
            ["proxy-1", 0],
            ["app-1", 1],
            ["db-1", 0],
        ]);
    });
    it("no opening without acme mode", () => {
        expect(inbound80({}).every((g) => g.openings.length === 0)).to.equal(true);
    });
});

describe("acme client: JWS and key authorization", () => {
    for (const [name, key, hash] of [
        ["ES256", generateKeyPairSync("ec", { namedCurve: "P-256" }).privateKey, "sha256"],
        ["ES384", generateKeyPairSync("ec", { namedCurve: "P-384" }).privateKey, "sha384"],
        ["RS256", generateKeyPairSync("rsa", { modulusLength: 2048 }).privateKey, "sha256"],
    ] as const) {
        it(`${name}: the signature verifies over protected.payload with the JWK's public key`, () => {
            const jws = signJws(key, { nonce: "n1", url: "https://ca/x" }, { a: 1 });
            const head = JSON.parse(Buffer.from(jws.protected, "base64url").toString()) as Record<string, unknown>;
            expect(head).to.deep.equal({ alg: name, nonce: "n1", url: "https://ca/x" });
            expect(JSON.parse(Buffer.from(jws.payload, "base64url").toString())).to.deep.equal({ a: 1 });
            const pub = createPublicKey({ key: accountJwk(key).jwk, format: "jwk" });
            const data = Buffer.from(`${jws.protected}.${jws.payload}`);
            const sig = Buffer.from(jws.signature, "base64url");
            const ok =
                name === "RS256"
                    ? verify(hash, data, pub, sig)
                    : verify(hash, data, { key: pub, dsaEncoding: "ieee-p1363" }, sig);
            expect(ok).to.equal(true);
            if (name !== "RS256") expect(sig.length).to.equal(name === "ES256" ? 64 : 96);
        });
    }
    it("POST-as-GET has an empty payload", () => {
        const key = generateKeyPairSync("ec", { namedCurve: "P-256" }).privateKey;
        expect(signJws(key, { nonce: "n", url: "u" }, "").payload).to.equal("");
    });
    it("the RFC 7638 thumbprint of the RFC's example RSA key", () => {
        // RFC 7638 §3.1: the example key and its thumbprint.
        const jwk = {
            kty: "RSA" as const,
            e: "AQAB",
            n: "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw",
        };
        expect(jwkThumbprint(jwk)).to.equal("NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs");
        expect(keyAuthorization("tok_en-1", jwk)).to.equal("tok_en-1.NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs");
    });
    it("refuses an Ed25519 account key", () => {
        expect(() => accountJwk(generateKeyPairSync("ed25519").privateKey)).to.throw(/ECDSA P-256\/P-384 or RSA/);
    });
});

describe("acme: the node's challenge scripts", () => {
    const kA = "tok1.NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs";
    it("serves only /.well-known/acme-challenge/ for the order's names on 80", () => {
        const conf = renderAcmeServer(["web-1.dc.example"], true);
        expect(conf).to.contain("server_name web-1.dc.example;");
        expect(conf).to.contain("listen [::]:80;");
        expect(conf).to.contain("location ^~ /.well-known/acme-challenge/ {");
        expect(renderAcmeServer(["web-1.dc.example"], false)).not.to.contain("[::]");
    });
    it("refuses names, tokens and key authorizations that could escape their place", () => {
        expect(() => renderAcmeServer(["a.example; return 200"], false)).to.throw(/not a DNS name/);
        expect(() => putChallengeScript([{ token: "../x", keyAuthorization: kA }], ["a.example"], false)).to.throw(
            /not base64url/,
        );
        expect(() =>
            putChallengeScript([{ token: "tok1", keyAuthorization: "tok1.x'; rm -rf /" }], ["a.example"], false),
        ).to.throw(/key authorization/);
        expect(() => removeChallengeScript(["a/b"])).to.throw(/not base64url/);
    });
    it("writes the key authorization under the token's name and tests nginx before reloading", () => {
        const s = putChallengeScript([{ token: "tok1", keyAuthorization: kA }], ["a.example"], false);
        expect(s).to.contain(`printf '%s' '${kA}' > '/var/lib/pinhole/acme-challenge/tok1'`);
        expect(s.indexOf("nginx -t")).to.be.lessThan(s.indexOf("reload_nginx; then"));
    });
});

describe("acme: renewal window", () => {
    const cases: [string, number | undefined, string, string, number][] = [
        ["90-day certificate: 30 days", undefined, "2026-01-01T00:00:00Z", "2026-04-01T00:00:00Z", 30],
        ["6-day certificate: a third", undefined, "2026-01-01T00:00:00Z", "2026-01-07T00:00:00Z", 2],
        ["explicit renewBeforeDays wins", 89, "2026-01-01T00:00:00Z", "2026-04-01T00:00:00Z", 89],
    ];
    for (const [name, explicit, from, to, want] of cases)
        it(name, () => expect(renewalWindowDays({ renewBeforeDays: explicit }, from, to)).to.equal(want));
});

// acme mode (issue 13.5): certificates.acme read into settings, the 80/tcp opening the policy derives for HTTP-01, the
// ACME client's JWS (verified with Node's crypto, not with the code under test) and the node-side challenge scripts.
import { expect } from "chai";
import { spawnSync } from "child_process";
import { createPublicKey, generateKeyPairSync, verify } from "crypto";
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "fs";
import { tmpdir } from "os";
import { join } from "path";
import { parseClusterConfig } from "../../../model/config";
import { buildPolicy } from "../../../model/policy";
import { rawCluster } from "../helpers/model-builders";
import { accountJwk, jwkThumbprint, keyAuthorization, signJws } from "../../../provider/acme-client";
import {
    ACME_EXIT,
    putChallengeScript,
    removeChallengeScript,
    renderAcmeServer,
    waitUntilServedScript,
} from "../../../remote/acme-scripts";
import { renewalWindowDays } from "../../../provider/acme";

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

// The wait after the reload runs in sh against a fake curl (answers per address, from a table) and a fake
// hostname -I: the loop must wait for every address nginx serves, skip one nothing listens on, time out on one
// that keeps serving the default server (undo, reload, exit notServed) and never pass on a silent loopback.
describe("acme: waiting until nginx serves the answer", () => {
    const kA = "tok1.NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs";
    // per address: "ok" serves the answer, "okAfter:N" from the Nth request on, "default" the default server,
    // "refused" curl's exit 7
    function run(addresses: string, behaviour: Record<string, string>, seconds = 1) {
        const dir = mkdtempSync(join(tmpdir(), "pinhole-acme-wait-"));
        try {
            const cases = Object.entries(behaviour)
                .map(([addr, b]) => `  ${JSON.stringify(addr)}) b=${JSON.stringify(b)} ;;`)
                .join("\n");
            writeFileSync(
                join(dir, "curl"),
                `#!/bin/sh
for u; do :; done
a=$(printf '%s' "$u" | sed 's|^http://||; s|/.*$||')
echo "$a" >> ${dir}/requests
n=$(grep -cxF "$a" ${dir}/requests)
case "$a" in
${cases}
  *) b=refused ;;
esac
case "$b" in
  ok) printf '%s' '${kA}' ;;
  okAfter:*) if [ "$n" -ge "\${b#okAfter:}" ]; then printf '%s' '${kA}'; else printf 'pinhole lab standalone-1'; fi ;;
  default) printf 'pinhole lab standalone-1' ;;
  refused) exit 7 ;;
esac
`,
            );
            writeFileSync(join(dir, "hostname"), `#!/bin/sh\necho ${JSON.stringify(addresses)}\n`);
            chmodSync(join(dir, "curl"), 0o755);
            chmodSync(join(dir, "hostname"), 0o755);
            const script = `undo() { echo undone > ${dir}/undone; }\nreload_nginx() { echo reloaded; }\n${waitUntilServedScript([{ token: "tok1", keyAuthorization: kA }], "a.example", seconds)}echo waited\n`;
            const r = spawnSync("sh", ["-c", script], {
                encoding: "utf8",
                env: { PATH: `${dir}:${process.env.PATH}` },
                timeout: 20_000,
            });
            const requests = readFileSync(join(dir, "requests"), "utf8").trim().split("\n");
            let undone = false;
            try {
                undone = readFileSync(join(dir, "undone"), "utf8").includes("undone");
            } catch {
                /* not undone */
            }
            return { status: r.status, stdout: r.stdout, stderr: r.stderr, requests, undone };
        } finally {
            rmSync(dir, { recursive: true, force: true });
        }
    }
    const cases: [string, string, Record<string, string>, "served" | "timeout", string[]][] = [
        [
            "every address serves at once",
            "10.1.0.10 fd00::10",
            { "127.0.0.1": "ok", "10.1.0.10": "ok", "[fd00::10]": "ok" },
            "served",
            ["127.0.0.1", "10.1.0.10", "[fd00::10]"],
        ],
        [
            "waits for a slow reload on one address",
            "10.1.0.10",
            { "127.0.0.1": "ok", "10.1.0.10": "okAfter:4" },
            "served",
            ["10.1.0.10"],
        ],
        [
            "skips an address nothing listens on and the link-local one",
            "10.1.0.10 10.2.0.10 fe80::1",
            { "127.0.0.1": "ok", "10.1.0.10": "ok", "10.2.0.10": "refused" },
            "served",
            ["10.2.0.10"],
        ],
        [
            "times out on an address that keeps serving the default server",
            "10.1.0.10",
            { "127.0.0.1": "ok", "10.1.0.10": "default" },
            "timeout",
            ["10.1.0.10"],
        ],
        [
            "a silent loopback is not skipped",
            "10.1.0.10",
            { "127.0.0.1": "refused", "10.1.0.10": "ok" },
            "timeout",
            ["127.0.0.1"],
        ],
    ];
    for (const [name, addresses, behaviour, want, named] of cases)
        it(name, () => {
            const r = run(addresses, behaviour, want === "served" ? 10 : 1);
            expect(r.requests).not.to.include("[fe80::1]");
            for (const a of named) expect(r.requests).to.include(a);
            if (want === "served") {
                expect(r.status, r.stderr).to.equal(0);
                expect(r.stdout).to.contain("waited");
                expect(r.undone).to.equal(false);
            } else {
                expect(r.status).to.equal(ACME_EXIT.notServed);
                expect(r.undone).to.equal(true);
                expect(r.stdout).not.to.contain("waited");
                expect(r.stderr).to.contain(`did not serve pinhole's ACME challenge answer on ${named[0]} within 1 s`);
            }
        });
    it("a slow reload is waited for, not taken as served", () => {
        const r = run("10.1.0.10", { "127.0.0.1": "ok", "10.1.0.10": "okAfter:4" }, 10);
        expect(r.requests.filter((a) => a === "10.1.0.10").length).to.equal(4);
    });
    it("the put script waits after the reload and before saying ready", () => {
        const s = putChallengeScript([{ token: "tok1", keyAuthorization: kA }], ["a.example"], false);
        expect(s.indexOf("reload_nginx; then")).to.be.lessThan(s.indexOf("hostname -I"));
        expect(s.indexOf("hostname -I")).to.be.lessThan(s.indexOf("challenge=ready"));
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

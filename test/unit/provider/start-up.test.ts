// What the provider plugin and the program load at start-up: neither the SDK's index (its automation API loads the
// TypeScript compiler) nor, in the provider, @peculiar/x509 before a certificate is made or read. Each process is a
// fresh `node` that requires the module and prints what its require cache holds.
import { expect } from "chai";
import { execFileSync } from "child_process";
import * as path from "path";
import * as rpc from "@pulumi/pulumi/runtime/rpc";
import { isSecret, secret, specialSecretSig, specialSigKey } from "../../../provider/secrets";

const ROOT = path.resolve(__dirname, "../../..");

/** Modules under node_modules a fresh process's require cache holds after `body` (awaited) ran. */
function loadedAfter(body: string): string[] {
    const script = `(async () => { ${body};
        process.stdout.write(JSON.stringify(Object.keys(require.cache).filter((k) => k.includes("/node_modules/"))));
    })().catch((e) => { console.error(e); process.exit(1); });`;
    const out = execFileSync(process.execPath, ["-r", "ts-node/register/transpile-only", "-e", script], {
        cwd: ROOT,
        encoding: "utf8",
        env: { ...process.env, TS_NODE_PROJECT: path.join(ROOT, "tsconfig.json") },
    });
    return (JSON.parse(out) as string[]).map((k) => k.slice(k.lastIndexOf("/node_modules/") + 14));
}

const SDK_INDEX = "@pulumi/pulumi/index.js";
const AUTOMATION = "@pulumi/pulumi/automation/index.js";
const CLOSURE = "@pulumi/pulumi/runtime/closure/serializeClosure.js";

describe("start-up: what the provider and the program load", function () {
    this.timeout(60_000);

    it("the provider's secret signature is the wire protocol's (the SDK's own constants)", () => {
        expect(specialSigKey).to.equal(rpc.specialSigKey);
        expect(specialSecretSig).to.equal(rpc.specialSecretSig);
        expect(isSecret(secret("x"))).to.equal(true);
        expect(isSecret({ [rpc.specialSigKey]: rpc.specialSecretSig, value: "x" })).to.equal(true);
    });

    it("the provider loads neither the SDK's index nor @peculiar/x509 until a certificate is handled", () => {
        const loaded = loadedAfter(`require(${JSON.stringify(path.join(ROOT, "provider/main.ts"))})`);
        expect(
            loaded.some((m) => m.startsWith("@grpc/grpc-js/")),
            "sanity: the gRPC server is loaded",
        ).to.equal(true);
        for (const m of [SDK_INDEX, AUTOMATION, CLOSURE]) expect(loaded).to.not.include(m);
        expect(loaded.filter((m) => m.startsWith("@peculiar/x509/"))).to.deep.equal([]);
    });

    it("a certificate handled loads @peculiar/x509 then (and it works)", () => {
        const tls = JSON.stringify(path.join(ROOT, "provider/tls.ts"));
        const loaded = loadedAfter(`const t = require(${tls});
            const c = await t.issueSelfSigned({ privateKeyPem: t.generatePrivateKeyPem({ algorithm: "ECDSA" }),
              subject: { commonName: "a" }, dnsNames: ["a.example"], ipAddresses: [], isCa: false, validityDays: 1,
              earlyRenewalDays: 0 });
            if (!new (require("crypto").X509Certificate)(c.certPem).subject.includes("CN=a")) throw new Error("no CN")`);
        expect(loaded.some((m) => m.startsWith("@peculiar/x509/"))).to.equal(true);
    });

    it("the program's components load the SDK's parts, not its index", () => {
        const loaded = loadedAfter(`require(${JSON.stringify(path.join(ROOT, "components/cluster.ts"))})`);
        expect(loaded).to.include("@pulumi/pulumi/resource.js");
        for (const m of [SDK_INDEX, AUTOMATION, CLOSURE]) expect(loaded).to.not.include(m);
    });
});

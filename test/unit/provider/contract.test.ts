// The contract between program and provider, checked from both ends against the one schema
// (provider/schema.ts): the package schema is complete; every resource the components register passes
// the provider's own check unchanged; handlers return only declared properties; and both checks fail
// when a property is added on one side only.
import { expect } from "chai";
import * as fs from "fs";
import * as path from "path";
import { renderProviderReference } from "../../../provider/schema-docs";
import * as pulumi from "@pulumi/pulumi";
import { handlers } from "../../../provider/main";
import { erase, ResourceHandler } from "../../../provider/framework";
import { packageSchema, PRIVATE_KEY, RESOURCES, specOf } from "../../../provider/schema";
import { checkInputs, UNKNOWN, withInputDefaults } from "../../../provider/schema-check";
import { undeclaredInputs, resourceInputs } from "../../../components/provider-resource";
import { isSecret, unwrapSecrets } from "../../../provider/secrets";
import { mustParse, rawCluster } from "../helpers/model-builders";
import { webServerInputs } from "../../../components/web-server-inputs";

interface Registered {
    type: string;
    name: string;
    inputs: Record<string, unknown>;
}
const registered: Registered[] = [];
const problems: string[] = [];

const handlerOf = (type: string) =>
    (handlers as Record<string, (typeof handlers)[keyof typeof handlers] | undefined>)[type];

const MOCKS: pulumi.runtime.Mocks = {
    // Every pinhole custom resource goes through the provider's real check; key and certificate types are
    // really created by their handlers (their outputs are checked against the schema on the way out).
    async newResource(args) {
        const h = handlerOf(args.type);
        if (!h) return { id: `${args.name}-id`, state: args.inputs };
        const inputs = unwrapSecrets(args.inputs);
        registered.push({ type: args.type, name: args.name, inputs });
        // A certificate-only WebServer's check reads the node's nginx over SSH (platformCheck) when it has the
        // key: the example nodes (10.20.x) are not ours to reach, so the check runs with the key unknown, as in a
        // first preview (no SSH; every other rule still applies). The unit suite run in scripts/lab-sandbox.sh
        // (no network) shows any connection attempt at once.
        const checkedInputs =
            args.type === "pinhole:node:WebServer" && inputs.frontEnd === "certificate-only"
                ? { ...inputs, privateKey: UNKNOWN }
                : inputs;
        const checked = await h.check(checkedInputs);
        for (const f of checked.failures) problems.push(`${args.type} ${args.name}: ${f.property} ${f.reason}`);
        if (args.type.startsWith("pinhole:tls:")) {
            const res = await h.create(checked.inputs);
            return { id: res.id, state: unwrapSecrets(res.outs) };
        }
        return { id: `${args.name}-id`, state: checked.inputs };
    },
    call: (args) => args.inputs,
};

function modelOf(certificates: Record<string, unknown>) {
    return mustParse(
        rawCluster(
            "modular",
            [
                { name: "proxy-1", role: "webproxy", address: "10.20.1.201" },
                { name: "app-1", role: "application", address: "10.20.1.11" },
                { name: "db-1", role: "database", address: "10.20.1.101" },
            ],
            { certificates },
        ),
    );
}

function cluster(certificates: Record<string, unknown>, model = modelOf(certificates)) {
    const { Cluster } = require("../../../components/cluster") as typeof import("../../../components/cluster");
    return new Cluster("cluster", {
        model,
        sshPrivateKey: "ssh-key",
        secret: () => undefined,
        web: { verifySeconds: 0 },
    });
}

/** Registrations wait for their inputs: wait until every node's firewall and web server is there (or 20 s). */
async function settled(proofs = 0): Promise<void> {
    const count = (t: string) => registered.filter((r) => r.type === t).length;
    const deadline = Date.now() + 20_000;
    while (
        Date.now() < deadline &&
        (count("pinhole:node:Firewall") < 3 ||
            count("pinhole:node:WebServer") < 2 ||
            count("pinhole:node:Proof") < proofs)
    )
        await new Promise((r) => setTimeout(r, 50));
    for (let i = 0; i < 50; i++) await new Promise((r) => setImmediate(r));
}

describe("provider contract (schema ↔ components ↔ handlers)", function () {
    this.timeout(60_000);
    before(() => pulumi.runtime.setMocks(MOCKS, "pinhole", "unit", false));

    it("the package schema lists every resource with typed, described inputs and outputs", () => {
        const schema = packageSchema() as {
            name: string;
            resources: Record<
                string,
                {
                    inputProperties: Record<string, Record<string, unknown>>;
                    properties: Record<string, Record<string, unknown>>;
                    requiredInputs: string[];
                }
            >;
            types: Record<string, { properties: Record<string, Record<string, unknown>> }>;
        };
        expect(schema.name).to.equal("pinhole");
        expect(Object.keys(schema.resources).sort()).to.deep.equal(RESOURCES.map((r) => r.token).sort());
        expect(Object.keys(handlers).sort()).to.deep.equal(RESOURCES.map((r) => r.token).sort());
        const props = [
            ...Object.values(schema.resources).flatMap((r) => [
                ...Object.entries(r.inputProperties),
                ...Object.entries(r.properties),
            ]),
            ...Object.values(schema.types).flatMap((t) => Object.entries(t.properties)),
        ];
        for (const [name, p] of props) {
            expect(p.description, name).to.be.a("string").and.not.equal("");
            expect(p.type ?? p.$ref, name).to.be.a("string");
            if (typeof p.$ref === "string") expect(schema.types, name).to.have.property(p.$ref.replace("#/types/", ""));
        }
        const fw = schema.resources["pinhole:node:Firewall"];
        expect(fw.inputProperties.privateKey.secret).to.equal(true);
        expect(fw.inputProperties.rollbackSeconds).to.include({ type: "integer", default: 30 });
        expect(fw.inputProperties.rollbackSeconds.description).to.contain("between 10 and 600");
    });

    for (const mode of ["self-signed", "internal-ca", "csr"]) {
        it(`${mode}: every resource the components register passes the provider's check, with only schema properties`, async () => {
            registered.length = 0;
            problems.length = 0;
            cluster(mode === "self-signed" ? {} : { mode });
            await settled();
            const types = new Set(registered.map((r) => r.type));
            expect([...types]).to.include.members([
                "pinhole:node:Firewall",
                "pinhole:node:WebServer",
                "pinhole:tls:PrivateKey",
            ]);
            if (mode === "internal-ca") expect([...types]).to.include("pinhole:tls:LocallySignedCertificate");
            if (mode === "csr") expect([...types]).to.include("pinhole:tls:CertificateRequest");
            for (const r of registered)
                expect(undeclaredInputs(specOf(r.type)!, r.inputs), `${r.type} ${r.name}`).to.deep.equal([]);
            expect(problems).to.deep.equal([]);
        });
    }

    // The import derives a WebServer's inputs with the program's own function: the components must pass exactly those.
    const WEB_CASES: [string, Record<string, unknown>][] = [
        ["certificate-only (the default), proxy with weights", {}],
        ["whole-site, proxy with upstreams", { frontEnd: "whole-site" }],
        [
            "whole-site, custom paths, names and backend; one node certificate-only with its own paths",
            {
                frontEnd: "whole-site",
                nginx: {
                    sitePath: "/etc/nginx/conf.d/site.conf",
                    applicationBackend: "http://127.0.0.1:9000",
                    serverNames: ["www.example.com"],
                    replaces: ["/etc/nginx/sites-enabled/shop"],
                },
                nodes: {
                    "app-1": {
                        mode: "self-signed",
                        frontEnd: "certificate-only",
                        nginx: { certificatePath: "/etc/ssl/a.crt", keyPath: "/etc/ssl/a.key", upstream: "app" },
                    },
                },
            },
        ],
        [
            "internal-ca, whole-site, legacy protocols",
            { mode: "internal-ca", frontEnd: "whole-site", legacyProtocols: true },
        ],
    ];
    for (const [what, certificates] of WEB_CASES) {
        it(`${what}: each WebServer's inputs are webServerInputs() of its node (what an import derives), plus the certificate`, async () => {
            registered.length = 0;
            problems.length = 0;
            const model = modelOf(certificates);
            cluster(certificates, model);
            await settled();
            const servers = registered.filter((r) => r.type === "pinhole:node:WebServer");
            expect(servers.map((r) => r.inputs.node).sort()).to.deep.equal(["app-1", "proxy-1"]);
            for (const r of servers) {
                const node = model.nodes.find((n) => n.name === r.inputs.node)!;
                const derived = webServerInputs(node, model.nodes, model.certificates, { verifySeconds: 0 });
                const rest = Object.fromEntries(
                    Object.entries(r.inputs).filter(
                        ([k, v]) => v !== undefined && !["certificatePem", "keyPem", "privateKey", "plan"].includes(k),
                    ),
                );
                expect(rest, r.name).to.deep.equal(JSON.parse(JSON.stringify(derived.inputs)));
                expect(r.inputs.certificatePem, r.name)
                    .to.be.a("string")
                    .and.match(/BEGIN CERTIFICATE/);
            }
        });
    }

    it("one Proof per stack, after the firewalls and web servers, probing from every node; passes the provider's check", async () => {
        registered.length = 0;
        problems.length = 0;
        // whole-site: the WebServer's check reads nothing from the node (certificate-only's would try SSH here)
        cluster({ frontEnd: "whole-site" });
        await settled(1);
        const proofs = registered.filter((r) => r.type === "pinhole:node:Proof");
        expect(proofs).to.have.length(1);
        const nodes = proofs[0].inputs.nodes as { node: string; targets: string[] }[];
        expect(nodes.map((n) => n.node)).to.deep.equal(["proxy-1", "app-1", "db-1"]);
        for (const n of nodes) expect(n.targets.length, n.node).to.be.greaterThan(0);
        expect(proofs[0].inputs.rulesetDigest).to.match(/^[0-9a-f]{64}$/);
        expect(undeclaredInputs(specOf("pinhole:node:Proof")!, proofs[0].inputs)).to.deep.equal([]);
        expect(problems).to.deep.equal([]);
    });

    it("fails when a component passes a property the schema does not have", async () => {
        const fw = specOf("pinhole:node:Firewall")!;
        expect(undeclaredInputs(fw, { node: "a", ruleset: "x", sshKeyPath: "/k" })).to.deep.equal(["sshKeyPath"]);
        expect(() => resourceInputs(fw, { node: "a", sshKeyPath: "/k" })).to.throw(
            /pinhole:node:Firewall: the provider's schema has no input sshKeyPath/,
        );
        // And the provider's check refuses it too, naming the property.
        const res = await handlers["pinhole:tls:PrivateKey"].check({ algorithm: "ECDSA", curve: "P256" });
        expect(res.failures).to.deep.equal([
            { property: "curve", reason: "is not a property of this resource type (schema)" },
        ]);
    });

    it("upgrade: an old state without an input added since (with a default) diffs as that default, never a replacement", async () => {
        const ws = specOf("pinhole:node:WebServer")!;
        const conn = { host: "h", port: 22, user: "root", hostKey: "ssh-ed25519 AAAA", sudo: false };
        // A whole-site WebServer's state written before frontEnd, replaces and verifySeconds existed.
        const old = {
            node: "a",
            connection: conn,
            privateKey: "k",
            fqdn: "a.example.com",
            certificatePem: "c",
            keyPem: "kp",
            siteConfig: "s",
            paths: { certificate: "/c", key: "/k", site: "/s" },
        };
        const filled = withInputDefaults(ws, old);
        expect(filled).to.deep.include({ frontEnd: "whole-site", verifySeconds: 10 });
        expect(withInputDefaults(ws, { ...old, frontEnd: "certificate-only" }).frontEnd).to.equal("certificate-only");
        const news = checkInputs(ws, { ...old }).inputs;
        const d = await handlers["pinhole:node:WebServer"].diff({ ...old, liveCertificateSha256: undefined }, news);
        expect(d).to.deep.include({ changes: false, replaces: [] });
        const changed = await handlers["pinhole:node:WebServer"].diff(old, { ...news, frontEnd: "certificate-only" });
        expect(changed.replaces).to.include("frontEnd");
    });

    it("import: refused, with the reason, for every type that cannot be imported (never an empty state)", async () => {
        const importable = ["pinhole:node:Firewall", "pinhole:node:WebServer"];
        for (const r of RESOURCES.filter((x) => !importable.includes(x.token))) {
            let msg = "";
            try {
                await handlers[r.token].read("some-node", {}, `urn:pulumi:s::pinhole::${r.token}::x`);
            } catch (e) {
                msg = (e as Error).message;
            }
            expect(msg, r.token).to.match(
                new RegExp(
                    `^${r.token.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")} some-node cannot be imported: .*docs/provider\\.md`,
                ),
            );
            expect(r.import, r.token).to.match(/^Not importable/);
        }
        for (const t of importable) expect(specOf(t)!.import).to.contain(`npm run pulumi -- import ${t}`);
        expect(JSON.stringify(packageSchema())).to.contain("## Import");
    });

    it("fails when a handler returns a property the schema lacks", async () => {
        const real = erase(PRIVATE_KEY_HANDLER_WITH_EXTRA);
        let msg = "";
        try {
            await real.create({ algorithm: "ECDSA" });
        } catch (e) {
            msg = (e as Error).message;
        }
        expect(msg).to.match(/pinhole:tls:PrivateKey create returned properties its schema does not declare: keyFile/);
        const ok = await handlers["pinhole:tls:PrivateKey"].create({ algorithm: "ECDSA" });
        expect(Object.keys(ok.outs).sort()).to.deep.equal([
            "algorithm",
            "privateKeyPem",
            "publicKeyFingerprintSha256",
            "publicKeyPem",
        ]);
        expect(isSecret(ok.outs.privateKeyPem)).to.equal(true);
    });

    it("docs/provider.md is the reference generated from the schema (npm run provider-docs)", () => {
        const file = path.join(__dirname, "..", "..", "..", "docs", "provider.md");
        expect(fs.readFileSync(file, "utf8"), "docs/provider.md is stale: run npm run provider-docs").to.equal(
            renderProviderReference(RESOURCES),
        );
        expect(renderProviderReference(RESOURCES))
            .to.contain("## pinhole:node:WebServer")
            .and.contain("### pinhole:node:Connection");
    });

    it("checks types, bounds and enums from the schema, and fills in its defaults", () => {
        const fw = specOf("pinhole:node:Firewall")!;
        const conn = { host: "h", port: 22, user: "root", hostKey: "ssh-ed25519 AAAA", sudo: false };
        const base = {
            node: "a",
            connection: conn,
            privateKey: "k",
            ruleset: "table inet pinhole {}",
            managementSources: ["10.0.0.0/8"],
        };
        expect(checkInputs(fw, base)).to.deep.include({ failures: [] });
        expect(checkInputs(fw, base).inputs.rollbackSeconds).to.equal(30);
        const bad = checkInputs(fw, {
            ...base,
            rollbackSeconds: 5,
            managementSources: [],
            connection: { ...conn, port: "22" },
        });
        expect(bad.failures).to.deep.equal([
            { property: "connection.port", reason: 'must be a number, not "22"' },
            { property: "managementSources", reason: "must list at least 1 item" },
            { property: "rollbackSeconds", reason: "must be between 10 and 600, not 5" },
        ]);
        const pk = checkInputs(specOf("pinhole:tls:PrivateKey")!, { algorithm: "DSA" });
        expect(pk.failures).to.deep.equal([{ property: "algorithm", reason: 'must be one of ECDSA, RSA, not "DSA"' }]);
    });
});

/** A handler that drifted from the schema (returns a `keyFile` the schema does not declare). */
const PRIVATE_KEY_HANDLER_WITH_EXTRA: ResourceHandler<typeof PRIVATE_KEY> = {
    spec: PRIVATE_KEY,
    async create(inputs) {
        const outs = { ...inputs, privateKeyPem: "k", publicKeyPem: "p", publicKeyFingerprintSha256: "f" };
        return { id: "x", outs: Object.assign(outs, { keyFile: "/tmp/key" }) };
    },
};

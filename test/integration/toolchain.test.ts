// The real engine, offline: the project's CLI + language host + the pinhole provider plugin run a
// program up, see no changes on a second preview, destroy it, and never touch the network (the CLI
// run happens inside a network namespace that has nothing but loopback).
import { expect } from "chai";
import { execFileSync, spawnSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { LocalWorkspace } from "@pulumi/pulumi/automation";
import { X509Certificate } from "crypto";
import { PROJECT_ROOT, pulumiDir, usePulumiEnv } from "../../tools/common/pulumi-env";

const SMOKE_DIR = path.join(PROJECT_ROOT, "test", "fixtures", "smoke");

describe("toolchain: real Pulumi engine offline", function () {
    this.timeout(300_000);
    let env: Record<string, string>;

    before(() => {
        env = usePulumiEnv();
    });

    it("runs the CLI at the version of the @pulumi/pulumi SDK", () => {
        const sdk = require("@pulumi/pulumi/package.json").version as string;
        const out = execFileSync(path.join(pulumiDir(), "pulumi"), ["version"], { env: { ...process.env, ...env } })
            .toString()
            .trim();
        expect(out).to.equal(`v${sdk}`);
        expect(fs.existsSync(path.join(pulumiDir(), "pulumi-language-nodejs"))).to.equal(true);
    });

    it("lists the pinhole provider plugin at the provider's version", () => {
        const { PROVIDER_VERSION } = require("../../provider/main") as { PROVIDER_VERSION: string };
        const out = execFileSync(path.join(pulumiDir(), "pulumi"), ["plugin", "ls", "--json"], {
            env: { ...process.env, ...env },
        }).toString();
        const plugins = JSON.parse(out) as { name: string; kind: string; version: string }[];
        expect(plugins.map((p) => `${p.kind}/${p.name}@${p.version}`)).to.include(
            `resource/pinhole@${PROVIDER_VERSION}`,
        );
    });

    it("`pulumi package get-schema pinhole` prints the provider's schema, bound without errors: every resource with typed, described inputs and outputs", () => {
        const { packageSchema, RESOURCES } = require("../../provider/schema") as typeof import("../../provider/schema");
        // The plugin as Pulumi.yaml registers it (plugins.providers: pinhole, path ./provider/bin).
        const r = spawnSync(path.join(pulumiDir(), "pulumi"), ["package", "get-schema", "pinhole"], {
            cwd: PROJECT_ROOT,
            env: { ...process.env, ...env },
            encoding: "utf8",
        });
        expect(r.status, r.stderr).to.equal(0);
        expect(r.stderr).to.not.match(/bind|error/i);
        type Prop = { type?: string; $ref?: string; description?: string };
        const schema = JSON.parse(r.stdout) as {
            name: string;
            types: unknown;
            resources: Record<string, { inputProperties: Record<string, Prop>; properties: Record<string, Prop> }>;
        };
        // What the CLI bound is the provider's schema (it leaves out empty lists, such as a requiredInputs: []).
        const ours = JSON.parse(JSON.stringify(packageSchema())) as typeof schema;
        expect(schema.types).to.deep.equal(ours.types);
        for (const t of Object.keys(ours.resources))
            for (const k of ["inputProperties", "properties"] as const)
                expect(schema.resources[t]?.[k], `${t} ${k}`).to.deep.equal(ours.resources[t][k]);
        expect(schema.name).to.equal("pinhole");
        expect(Object.keys(schema.resources).sort()).to.deep.equal(RESOURCES.map((x) => x.token).sort());
        for (const [token, res] of Object.entries(schema.resources)) {
            expect(Object.keys(res.inputProperties), token).to.not.deep.equal([]);
            expect(Object.keys(res.properties), token).to.not.deep.equal([]);
            for (const [k, p] of [...Object.entries(res.inputProperties), ...Object.entries(res.properties)]) {
                expect(p.description, `${token}.${k}`).to.be.a("string").and.not.equal("");
                expect(p.type ?? p.$ref, `${token}.${k}`).to.be.a("string");
            }
        }
    });

    it("goes up, previews no changes, keeps keys secret and destroys, inside a netns with only loopback", () => {
        const stack = `smoke-netns-${process.pid}`;
        // Every CLI call of this test runs in a fresh network namespace: a download attempt would fail.
        const script = [
            "set -e",
            "ip link set lo up",
            `cd ${SMOKE_DIR}`,
            `pulumi stack init ${stack} --non-interactive`,
            `pulumi up --yes --skip-preview --non-interactive --stack ${stack}`,
            `pulumi preview --expect-no-changes --non-interactive --stack ${stack}`,
            `pulumi stack export --stack ${stack} > "$EXPORT_FILE"`,
            `pulumi stack output --json --stack ${stack} > "$OUTPUT_FILE"`,
            `pulumi destroy --yes --skip-preview --non-interactive --stack ${stack}`,
            `pulumi stack rm --yes --stack ${stack}`,
        ].join("\n");
        const tmp = fs.mkdtempSync("/tmp/pinhole-smoke-");
        const exportFile = path.join(tmp, "export.json");
        const outputFile = path.join(tmp, "outputs.json");
        const r = spawnSync("unshare", ["--net", "--", "bash", "-c", script], {
            env: { ...process.env, ...env, EXPORT_FILE: exportFile, OUTPUT_FILE: outputFile },
            encoding: "utf8",
        });
        if (r.status !== 0) {
            spawnSync("bash", ["-c", `cd ${SMOKE_DIR} && pulumi stack rm --force --yes --stack ${stack}`], {
                env: { ...process.env, ...env },
            });
        }
        expect(r.status, `${r.stdout}\n${r.stderr}`).to.equal(0);
        expect(r.stdout + r.stderr).to.not.match(/download|acquir/i);

        const outputs = JSON.parse(fs.readFileSync(outputFile, "utf8"));
        expect(outputs.privateKeyPem).to.equal("[secret]");
        const cert = new X509Certificate(outputs.certPem);
        expect(cert.subject).to.contain("CN=smoke.pinhole.test");
        expect(cert.checkHost("smoke.pinhole.test")).to.equal("smoke.pinhole.test");
        // The state holds the key only encrypted.
        const exported = fs.readFileSync(exportFile, "utf8");
        expect(exported).to.not.contain("PRIVATE KEY");
        expect(exported).to.contain("ciphertext");
        fs.rmSync(tmp, { recursive: true, force: true });
    });

    it("works through the Automation API (used by the integration tests)", async () => {
        const stack = await LocalWorkspace.createOrSelectStack(
            { stackName: `smoke-auto-${process.pid}`, workDir: SMOKE_DIR },
            { envVars: env },
        );
        try {
            const up = await stack.up();
            expect(up.summary.result).to.equal("succeeded");
            expect(up.outputs.privateKeyPem.secret).to.equal(true);
            expect(Date.parse(up.outputs.notAfter.value)).to.be.greaterThan(Date.now() + 29 * 86_400_000);
            const pre = await stack.preview({ expectNoChanges: true });
            expect(pre.changeSummary.same).to.equal(3);
            await stack.destroy();
        } finally {
            await stack.workspace.removeStack(stack.name, { force: true });
        }
    });
});

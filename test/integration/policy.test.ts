// pinhole's CrossGuard policy pack (policy/) in real previews: the engine starts the pack through policy/analyzer,
// a good production stack passes, and a stack that breaks a rule is refused with the rule's name, per node.
// The stack is a copy of the modular example (nodes as in the lab's addressing); preview needs no SSH.
import { expect } from "chai";
import * as fs from "fs";
import * as path from "path";
import { generateKeyPairSync } from "crypto";
import * as yaml from "js-yaml";
import { LocalWorkspace, Stack } from "@pulumi/pulumi/automation";
import { PROJECT_ROOT, usePulumiEnv } from "../../lib/pulumi-env";

const ANALYZER = path.join(PROJECT_ROOT, "policy", "analyzer");
const STACK = `test-policy-${process.pid}-prod`; // "-prod": a production stack for egress-deny-on-production
const STACK_FILE = path.join(PROJECT_ROOT, "stacks", `Pulumi.${STACK}.yaml`);
const EXAMPLE = path.join(PROJECT_ROOT, "stacks", "Pulumi.example-modular.yaml");

type Config = Record<string, any>; // any: the stack file's YAML as written

describe("policy pack (CrossGuard) in real previews", function () {
    this.timeout(600_000);
    let stack: Stack;
    const original = fs.readFileSync(EXAMPLE, "utf8");

    /** Writes the stack file with `edit` applied to the example's config (the engine reads it on every preview). */
    const writeConfig = (edit: (c: Config) => void) => {
        const doc = yaml.load(original) as { config: Config };
        // The example's web nodes default to frontEnd certificate-only, whose check reads the node's nginx over SSH;
        // these nodes do not exist, so the test's stack has pinhole write the whole site (no SSH at preview).
        doc.config["pinhole:certificates"].frontEnd = "whole-site";
        edit(doc.config);
        const current = fs.existsSync(STACK_FILE) ? (yaml.load(fs.readFileSync(STACK_FILE, "utf8")) as { config: Config; encryptionsalt?: string }) : undefined;
        for (const [k, v] of Object.entries(current?.config ?? {})) if (k === "pinhole:sshPrivateKey") doc.config[k] = v;
        fs.writeFileSync(STACK_FILE, yaml.dump({ ...(current?.encryptionsalt ? { encryptionsalt: current.encryptionsalt } : {}), config: doc.config }, { lineWidth: 200 }));
    };

    /** Preview with the pack: the policy violations (rule names) it reported, and whether the preview failed. */
    const preview = async () => {
        let out = "";
        let failed = false;
        try {
            const r = await stack.preview({ policyPacks: [ANALYZER], onOutput: (s) => { out += s; } });
            out += r.stdout;
        } catch (e) {
            failed = true;
            out += (e as Error).message;
        }
        const rules = [...new Set([...out.matchAll(/\[(mandatory|advisory)\]\s+(\S+)/g)].map((m) => `${m[1]} ${m[2]}`))].sort();
        return { failed, rules, out };
    };

    before(async () => {
        writeConfig(() => undefined);
        stack = await LocalWorkspace.createOrSelectStack({ stackName: STACK, workDir: PROJECT_ROOT }, {
            // The example's nodes are not reachable from here: say pinhole runs from its admin host (10.9.9.5), as an
            // operator on that host would, so the anti-lockout check of the config passes.
            envVars: { ...usePulumiEnv(), PINHOLE_PROVISIONING_ADDRESSES: "10.9.9.5" },
        });
        const { privateKey } = generateKeyPairSync("ed25519");
        await stack.setConfig("pinhole:sshPrivateKey", { value: privateKey.export({ format: "pem", type: "pkcs8" }).toString(), secret: true });
    });

    after(async () => {
        try { await stack?.workspace.removeStack(STACK, { force: true }); } finally { fs.rmSync(STACK_FILE, { force: true }); }
    });

    it("a good production stack passes every rule", async () => {
        writeConfig(() => undefined);
        const r = await preview();
        expect(r.failed, r.out.slice(-3000)).to.equal(false);
        expect(r.out).to.match(/pinhole@v0\.1\.0/);
        expect(r.rules).to.deep.equal([]);
    });

    const violations: [string, (c: Config) => void, string][] = [
        ["SSH and SNMP opened to the world", (c) => {
            // The stack owner acknowledges it (the validator would refuse it otherwise); the organisation's pack still refuses.
            c["pinhole:acknowledgeWorldOpen"] = true;
            c["pinhole:firewall"].extraInbound = [
                { protocol: "tcp", port: 22, from: ["0.0.0.0/0"], roles: ["database"], reason: "policy test" },
                { protocol: "udp", port: 161, from: ["::/0"], roles: ["database"], reason: "policy test" },
            ];
        }, "mandatory no-ssh-snmp-from-world"],
        ["legacy TLS protocols", (c) => { c["pinhole:certificates"].legacyProtocols = true; }, "mandatory tls-1.2-or-newer"],
        ["egress allowed on a production stack", (c) => { c["pinhole:firewall"].egress = "allow"; }, "mandatory egress-deny-on-production"],
    ];
    for (const [name, edit, rule] of violations) {
        it(`refuses a stack with ${name} (${rule})`, async () => {
            writeConfig(edit);
            const r = await preview();
            expect(r.rules, r.out.slice(-3000)).to.deep.equal([rule]);
            expect(r.failed, "a mandatory violation fails the preview").to.equal(true);
        });
    }
});

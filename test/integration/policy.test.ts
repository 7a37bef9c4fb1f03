// pinhole's CrossGuard policy pack (policy/) in real previews against the modular lab: the engine starts the pack
// through policy/analyzer, the lab's production stack passes, and a stack that breaks a rule is refused with the
// rule's name, per node. Previews read the lab's nodes (certificate-only reads each web node's nginx) and nothing else.
import { expect } from "chai";
import * as fs from "fs";
import * as path from "path";
import * as yaml from "js-yaml";
import { LocalWorkspace, Stack } from "@pulumi/pulumi/automation";
import { PROJECT_ROOT, usePulumiEnv } from "../../tools/common/pulumi-env";
import { labDown, labUp } from "../../lab";
import { waitForForeignLabHolders } from "../../tools/start/lab";

const ANALYZER = path.join(PROJECT_ROOT, "policy", "analyzer");
const STACK = `test-policy-${process.pid}-prod`; // "-prod": a production stack for egress-deny-on-production
const log = (m: string) => process.stderr.write(`      · ${m}\n`);

type Config = Record<string, any>; // any: the stack file's YAML as written

describe("policy pack (CrossGuard) in real previews", function () {
    this.timeout(600_000);
    let stack: Stack;
    let STACK_FILE = "";
    let original = "";

    /** Writes the stack file with `edit` applied to the example's config (the engine reads it on every preview). */
    const writeConfig = (edit: (c: Config) => void) => {
        const doc = yaml.load(original) as { config: Config };
        edit(doc.config);
        const current = fs.existsSync(STACK_FILE)
            ? (yaml.load(fs.readFileSync(STACK_FILE, "utf8")) as { config: Config; encryptionsalt?: string })
            : undefined;
        for (const [k, v] of Object.entries(current?.config ?? {}))
            if (k === "pinhole:sshPrivateKey") doc.config[k] = v;
        fs.writeFileSync(
            STACK_FILE,
            yaml.dump(
                { ...(current?.encryptionsalt ? { encryptionsalt: current.encryptionsalt } : {}), config: doc.config },
                { lineWidth: 200 },
            ),
        );
    };

    /** Preview with the pack: the policy violations (rule names) it reported, and whether the preview failed. */
    const preview = async () => {
        let out = "";
        let failed = false;
        try {
            const r = await stack.preview({
                policyPacks: [ANALYZER],
                onOutput: (s) => {
                    out += s;
                },
            });
            out += r.stdout;
        } catch (e) {
            failed = true;
            out += (e as Error).message;
        }
        const rules = [
            ...new Set([...out.matchAll(/\[(mandatory|advisory)\]\s+(\S+)/g)].map((m) => `${m[1]} ${m[2]}`)),
        ].sort();
        return { failed, rules, out };
    };

    before(async () => {
        const env = usePulumiEnv();
        await waitForForeignLabHolders(log);
        // The lab writes the stack (its nodes, egress deny) and sets the secret sshPrivateKey in it.
        const lab = await labUp({ model: "modular", log, stack: STACK });
        STACK_FILE = lab.stackFile!;
        original = fs.readFileSync(STACK_FILE, "utf8");
        stack = await LocalWorkspace.createOrSelectStack({ stackName: STACK, workDir: PROJECT_ROOT }, { envVars: env });
    });

    after(async () => {
        try {
            await stack?.workspace.removeStack(STACK, { force: true });
        } finally {
            if (STACK_FILE) fs.rmSync(STACK_FILE, { force: true });
            await labDown({ log: () => undefined });
        }
    });

    it("a good production stack passes every rule", async () => {
        writeConfig(() => undefined);
        const r = await preview();
        expect(r.failed, r.out.slice(-3000)).to.equal(false);
        expect(r.out).to.match(/pinhole@v0\.1\.0/);
        expect(r.rules).to.deep.equal([]);
    });

    const violations: [string, (c: Config) => void, string][] = [
        [
            "SSH and SNMP opened to the world",
            (c) => {
                // The stack owner acknowledges it (the validator would refuse it otherwise); the organisation's pack still refuses.
                c["pinhole:acknowledgeWorldOpen"] = true;
                c["pinhole:firewall"].extraInbound = [
                    { protocol: "tcp", port: 22, from: ["0.0.0.0/0"], roles: ["database"], reason: "policy test" },
                    { protocol: "udp", port: 161, from: ["::/0"], roles: ["database"], reason: "policy test" },
                ];
            },
            "mandatory no-ssh-snmp-from-world",
        ],
        [
            "legacy TLS protocols",
            (c) => {
                c["pinhole:certificates"].legacyProtocols = true;
            },
            "mandatory tls-1.2-or-newer",
        ],
        [
            "egress allowed on a production stack",
            (c) => {
                c["pinhole:firewall"].egress = "allow";
            },
            "mandatory egress-deny-on-production",
        ],
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

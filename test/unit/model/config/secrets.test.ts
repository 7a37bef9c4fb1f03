import * as pulumi from "@pulumi/pulumi";
import { expect } from "chai";
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { parseStackFile, readStack } from "../../../../tools/common/stack-file";
import { PROJECT_ROOT, pulumiEnv } from "../../../../tools/common/pulumi-env";
import { parseConfigEntries } from "../../../../model/config";
import { formatMatrixTable, matrixRows } from "../../../../model/matrix";
import { hostKeyFor } from "../../helpers/model-builders";

// SNMPv3 passphrases stored as a Pulumi secret (as docs/stack-config.md shows) reach the reader decrypted,
// are accepted without a warning, and appear nowhere in the model, its messages or the matrix.
describe("secrets in URIs", () => {
    const base = (external: unknown, secret: boolean) => ({
        "pinhole:model": { value: "standalone", secret: false },
        "pinhole:networks": { value: { admin: ["10.9.0.0/24"] }, secret: false },
        "pinhole:nodes": {
            value: [{ name: "solo", role: "standalone", address: "10.1.0.5", ssh: { hostKey: hostKeyFor("solo") } }],
            secret: false,
        },
        "pinhole:external": { value: external, secret },
    });
    const v3 = { snmpTrapReceivers: [{ uri: "snmp://monitor:authphrase9:privphrase9@10.30.0.19" }] };

    it("a secret SNMPv3 URI is accepted, silently, and never printed", () => {
        const r = parseConfigEntries(base(v3, true));
        expect(r.errors).to.deep.equal([]);
        expect(r.warnings).to.deep.equal([]);
        const everything =
            JSON.stringify([r.model, r.warnings]) +
            formatMatrixTable(matrixRows(r.model!), { model: r.model! } as never);
        expect(everything).to.not.match(/authphrase9|privphrase9/);
    });

    it('the same URI in clear is an error naming the path (the reference\'s "minimum auth/password": a credential), without quoting the passphrases', () => {
        const r = parseConfigEntries(base(v3, false));
        expect(r.model).to.equal(undefined);
        const e = r.errors.find((x) => x.path === "pinhole:external.snmpTrapReceivers[0].uri");
        expect(e?.message).to.contain("passphrases are credentials").and.to.contain("--secret --path");
        expect(JSON.stringify(r)).to.not.match(/authphrase9|privphrase9/);
    });

    const sftp = { backupDestinations: ["sftp://backup:Hunter2pw@10.30.0.20/srv"] };
    it("an sftp password (an ssh/sftp credential in the reference) in clear is an error; stored as a secret it is accepted, silently", () => {
        const clear = parseConfigEntries(base(sftp, false));
        expect(clear.model).to.equal(undefined);
        expect(clear.errors.map((e) => e.path)).to.deep.equal(["pinhole:external.backupDestinations[0]"]);
        expect(clear.errors[0].message)
            .to.contain("sftp://backup:***@10.30.0.20/srv")
            .and.to.contain("ssh/sftp credential");
        const secret = parseConfigEntries(base(sftp, true));
        expect(secret.errors).to.deep.equal([]);
        expect(secret.warnings).to.deep.equal([]);
        expect(JSON.stringify([clear, secret.model, secret.warnings])).to.not.contain("Hunter2pw");
    });

    it("an ftp/http(s) password in clear warns (pinhole does not use it); a v2c community in clear is accepted and redacted", () => {
        const r = parseConfigEntries(
            base(
                {
                    downloadLocations: ["https://u:Hunter2pw@10.30.0.21/packs"],
                    snmpTrapReceivers: ["snmp://Commun1ty@10.30.0.22"],
                },
                false,
            ),
        );
        expect(r.errors).to.deep.equal([]);
        expect(r.warnings.map((w) => w.path)).to.deep.equal(["pinhole:external.downloadLocations[0]"]);
        const everything =
            JSON.stringify([r.model, r.warnings]) +
            formatMatrixTable(matrixRows(r.model!), { model: r.model! } as never);
        expect(everything).to.not.match(/Hunter2pw|Commun1ty/);
    });
});

// The Pulumi program (index.ts) under mocks, with the secrets given as the engine gives them: no passphrase,
// password or community reaches a resource's inputs (state), an exported output (outputs, the port matrix) or a log line.
describe("secrets in URIs through the Pulumi program (mocks): never in state, outputs or logs", function () {
    this.timeout(60_000);
    const SECRETS = ["authphrase9", "privphrase9", "Hunter2pw", "Commun1ty"];
    const inputs: string[] = [];
    before(() =>
        pulumi.runtime.setMocks(
            {
                newResource: (a) => {
                    inputs.push(JSON.stringify({ type: a.type, name: a.name, inputs: a.inputs }));
                    return { id: `${a.name}-id`, state: a.inputs };
                },
                call: (a) => a.inputs,
            },
            "pinhole",
            "secrets",
            true,
        ),
    );

    it("index.ts with a secret pinhole:external", async () => {
        const external = {
            snmpTrapReceivers: [
                { uri: "snmp://monitor:authphrase9:privphrase9@10.30.0.19", protocols: ["udp", "tcp"] },
                "snmp://Commun1ty@10.30.0.22",
            ],
            backupDestinations: ["sftp://backup:Hunter2pw@10.30.0.20/srv"],
        };
        const config: Record<string, string> = {
            "pinhole:model": "unified",
            "pinhole:networks": JSON.stringify({ admin: ["10.9.0.0/24"] }),
            "pinhole:nodes": JSON.stringify(
                [1, 2, 3].map((i) => ({
                    name: `uni-${i}`,
                    role: "unified",
                    address: `10.1.0.${i}`,
                    ssh: { hostKey: hostKeyFor(`uni-${i}`) },
                })),
            ),
            "pinhole:external": JSON.stringify(external),
            "pinhole:firewall": JSON.stringify({ egress: "deny" }), // outbound openings (with their names) in every ruleset
            "pinhole:sshPrivateKey": "(decrypted by the engine)",
        };
        pulumi.runtime.setAllConfig(config, ["pinhole:external", "pinhole:sshPrivateKey"]);
        process.env.PINHOLE_PROVISIONING_ADDRESSES = "10.9.0.5"; // inside networks.admin (the lockout pre-check)
        const logs: string[] = [];
        const saved = { warn: pulumi.log.warn, info: pulumi.log.info, error: pulumi.log.error };
        for (const k of ["warn", "info", "error"] as const)
            (pulumi.log as Record<string, unknown>)[k] = async (m: string) => {
                logs.push(m);
            };
        const index = require.resolve("../../../../index");
        delete require.cache[index];
        try {
            const program = require(index) as Record<string, unknown>;
            // Every exported output, resolved (secret outputs too: their plain value must not hold a secret either).
            const resolved: Record<string, unknown> = {};
            for (const [k, v] of Object.entries(program)) {
                resolved[k] = pulumi.Output.isInstance(v)
                    ? await Promise.race([
                          new Promise((r) =>
                              (v as pulumi.Output<unknown>).apply((x) => {
                                  r(x);
                                  return x;
                              }),
                          ),
                          new Promise((r) => setTimeout(() => r("(unresolved)"), 2000)),
                      ])
                    : v;
            }
            for (let i = 0; i < 20; i++) await new Promise((r) => setImmediate(r));
            const outputs = JSON.stringify(resolved);
            expect(outputs)
                .to.contain("snmp://monitor:***:***@10.30.0.19")
                .and.to.contain("snmp://***@10.30.0.22")
                .and.to.contain("sftp://backup:***@10.30.0.20");
            expect(inputs.join("\n")).to.contain("10.30.0.19");
            for (const s of SECRETS) {
                expect(inputs.join("\n"), `${s} in a resource's inputs`).to.not.contain(s);
                expect(outputs, `${s} in the outputs`).to.not.contain(s);
                expect(logs.join("\n"), `${s} in a log line`).to.not.contain(s);
            }
        } finally {
            Object.assign(pulumi.log, saved);
            delete process.env.PINHOLE_PROVISIONING_ADDRESSES;
        }
    });
});

// The secret way end to end, as docs/stack-config.md shows it: a stack in the backend, the SNMPv3 URI set with
// `pulumi config set --secret --path`; the stack file then holds ciphertext only, and the one reader (readStack,
// which matrix, verify, start and bench use) resolves it as pulumi up does: accepted, opened, never printed.
describe("secrets in URIs: pulumi config set --secret --path, then the one reader", function () {
    this.timeout(120_000);
    const stack = `test-secret-uri-${process.pid}`;
    const file = path.join(PROJECT_ROOT, "stacks", `Pulumi.${stack}.yaml`);
    let env: Record<string, string>;
    const pulumiCli = (args: string[]) =>
        spawnSync("pulumi", [...args, "--stack", stack, "--cwd", PROJECT_ROOT], {
            env,
            encoding: "utf8",
            timeout: 60_000,
        });

    before(function () {
        try {
            env = { ...process.env, ...pulumiEnv(PROJECT_ROOT) } as Record<string, string>;
        } catch {
            this.skip();
        }
        if (spawnSync("pulumi", ["version"], { env }).status !== 0) this.skip();
        fs.copyFileSync(path.join(PROJECT_ROOT, "stacks", "Pulumi.example-unified.yaml"), file);
        const init = spawnSync("pulumi", ["stack", "init", stack, "--cwd", PROJECT_ROOT], {
            env,
            encoding: "utf8",
            timeout: 60_000,
        });
        expect(init.status, init.stderr).to.equal(0);
    });
    after(() => {
        if (env) pulumiCli(["stack", "rm", "--yes", "--force"]);
        fs.rmSync(file, { force: true });
    });

    it("example-unified with its SNMPv3 receiver stored as the example says", () => {
        const set = pulumiCli([
            "config",
            "set",
            "--secret",
            "--path",
            "pinhole:external.snmpTrapReceivers[1].uri",
            "snmp://monitor:Authphrase7:Privphrase7@10.10.0.41",
        ]);
        expect(set.status, set.stderr).to.equal(0);
        const text = fs.readFileSync(file, "utf8");
        expect(text)
            .to.contain("secure: v1:")
            .and.to.not.match(/Authphrase7|Privphrase7/);
        const r = readStack(stack);
        expect(r.source).to.equal("pulumi config");
        expect(r.errors, JSON.stringify(r.errors)).to.deep.equal([]);
        const matrix = formatMatrixTable(matrixRows(r.model!), { model: r.model! });
        expect(matrix).to.contain("snmp://monitor:***:***@10.10.0.41");
        expect(JSON.stringify([r.model, r.warnings]) + matrix).to.not.match(/Authphrase7|Privphrase7/);
        // ...and the stack file alone (no backend) cannot decrypt it: an error naming the path, not a guess.
        const alone = parseStackFile(file);
        expect(alone.errors.map((e) => e.path)).to.deep.equal(["pinhole:external.snmpTrapReceivers[1].uri"]);
    });
});

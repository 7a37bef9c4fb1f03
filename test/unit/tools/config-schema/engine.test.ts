// Through the real Pulumi CLI (no lab, no node is contacted): the engine accepts Pulumi.yaml's generated config
// schema and enforces it (types, secret, required keys, injected defaults), and for a stack whose values were all
// set with `pulumi config set --path` and `--secret` (no hand-edited file), the program (program/config.ts,
// run by the engine as an inline program), `npm run matrix` and verify's reader see exactly the same config.
import { expect } from "chai";
import { spawnSync } from "child_process";
import { generateKeyPairSync } from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { LocalWorkspace } from "@pulumi/pulumi/automation";
import { ParseResult } from "../../../../model/config";
import { formatMatrixJson, matrixRows } from "../../../../model/matrix";
import { programConfigEntries, readProgramConfig } from "../../../../program/config";
import { PROJECT_ROOT, pulumiDir, pulumiEnv } from "../../../../tools/common/pulumi-env";
import { readStack } from "../../../../tools/common/stack-file";
import { loadModel } from "../../../../tools/verify/run";
import { hostKeyFor } from "../../helpers/model-builders";

let haveCli = true;
try {
    pulumiDir();
} catch {
    haveCli = false;
}

describe("config through the real CLI: Pulumi.yaml schema, and program = matrix = verify", function () {
    this.timeout(300_000);
    const saved = { ...process.env };
    const backend = fs.mkdtempSync(path.join(os.tmpdir(), "pinhole-config-view-"));
    const stack = `test-config-view-${process.pid}`;
    const bad = `test-config-schema-${process.pid}`;
    const stackFiles = [stack, bad].map((s) => path.join(PROJECT_ROOT, "stacks", `Pulumi.${s}.yaml`));
    const privateKey = generateKeyPairSync("ed25519").privateKey.export({ format: "pem", type: "pkcs8" }).toString();
    const snmp = "snmp://monitor:authphrase1:privphrase1@10.99.2.5:1162";
    let env: Record<string, string>;
    const pulumi = (args: string[], input?: string) =>
        spawnSync("pulumi", [...args, "--cwd", PROJECT_ROOT], { env, input, encoding: "utf8", timeout: 120_000 });
    const ok = (args: string[], input?: string) => {
        const r = pulumi(args, input);
        expect(r.status, `pulumi ${args.join(" ")}: ${r.stderr}`).to.equal(0);
        return r.stdout;
    };

    before(function () {
        if (!haveCli) this.skip();
        // A throwaway backend and passphrase: nothing of the project's own state is touched.
        process.env.PULUMI_BACKEND_URL = `file://${backend}`;
        process.env.PULUMI_CONFIG_PASSPHRASE = "config-view-test";
        delete process.env.PULUMI_CONFIG_PASSPHRASE_FILE;
        process.env.PINHOLE_PROVISIONING_ADDRESSES = "10.99.0.5";
        env = { ...process.env, ...pulumiEnv() } as Record<string, string>;
        for (const s of [stack, bad]) ok(["stack", "init", s, "--non-interactive"]);
        const set = (p: string, v: string, secret = false) =>
            ok(["config", "set", "--stack", stack, "--path", ...(secret ? ["--secret"] : []), p, v]);
        set("model", "unified");
        set("networks.admin[0]", "10.99.0.0/24");
        set("networks.monitoring[0]", "10.99.0.0/24");
        set("networks.client[0]", "198.51.100.0/24");
        for (const [i, name] of ["node-1", "node-2"].entries()) {
            set(`nodes[${i}].name`, name);
            set(`nodes[${i}].role`, "unified");
            set(`nodes[${i}].address`, `10.99.1.${10 + i}`);
            set(`nodes[${i}].ssh.hostKey`, hostKeyFor(name));
        }
        set("nodes[1].ssh.port", "2222");
        set("firewall.rollbackSeconds", "45");
        set("firewall.logDrops", "false");
        set("external.ntp[0]", "10.99.2.6");
        set("external.snmpTrapReceivers[0]", snmp, true);
        ok(["config", "set", "--stack", stack, "--secret", "sshPrivateKey"], privateKey);
    });
    after(() => {
        for (const k of Object.keys(process.env)) if (!(k in saved)) delete process.env[k];
        Object.assign(process.env, saved);
        for (const f of stackFiles) fs.rmSync(f, { force: true });
        fs.rmSync(backend, { recursive: true, force: true });
    });

    it("the stack file the CLI wrote holds the secrets as ciphertext only", () => {
        const text = fs.readFileSync(stackFiles[0], "utf8");
        expect(text).to.not.include("privphrase1").and.not.include("BEGIN PRIVATE KEY");
        expect(text).to.match(/pinhole:sshPrivateKey:\s*\n\s+secure: v1:/);
        expect(text).to.match(/snmpTrapReceivers:\s*\n\s+- secure: v1:/);
    });

    it("`pulumi config` applies the schema's defaults to keys the stack never set", () => {
        const cfg = JSON.parse(ok(["config", "--stack", stack, "--json"])) as Record<
            string,
            { value?: string; objectValue?: unknown }
        >;
        expect(cfg["pinhole:hosts"].objectValue).to.deep.equal({});
        expect(cfg["pinhole:certificates"].objectValue).to.deep.equal({});
        expect(cfg["pinhole:acknowledgeWorldOpen"].value).to.equal("false");
        expect(cfg["pinhole:domain"].value).to.equal("");
        expect(cfg["pinhole:firewall"].objectValue).to.deep.equal({ rollbackSeconds: 45, logDrops: false });
    });

    it("preview enforces the schema before the program runs: required keys, types, secret", () => {
        const preview = () => pulumi(["preview", "--stack", bad, "--non-interactive"]);
        ok(["config", "set", "--stack", bad, "model", "unified"]);
        let r = preview();
        expect(r.status).to.not.equal(0);
        expect(r.stdout + r.stderr).to.match(
            /Stack '[^']+' is missing configuration values 'networks', 'nodes' and 'sshPrivateKey'/,
        );
        ok(["config", "set", "--stack", bad, "networks", "10.99.0.0/24"]);
        ok(["config", "set", "--stack", bad, "--path", "nodes[0].name", "node-1"]);
        ok(["config", "set", "--stack", bad, "--secret", "sshPrivateKey"], privateKey);
        r = preview();
        expect(r.stdout + r.stderr).to.match(/configuration key 'networks' must be of type 'object'/);
        ok(["config", "set", "--stack", bad, "--path", "networks.admin[0]", "10.99.0.0/24"]);
        ok(["config", "set", "--stack", bad, "sshPrivateKey", "not-a-secret"]);
        r = preview();
        expect(r.stdout + r.stderr).to.match(/configuration key 'sshPrivateKey' must be encrypted as it's secret/);
    });

    it("a stack that imports an ESC environment: the local/S3 backends cannot resolve it, and the tools say so", () => {
        // ESC environments live in Pulumi Cloud; this file backend (like the S3 one) has none. The engine refuses
        // the stack, and so do matrix and verify, instead of reporting the keys the environment would supply as missing.
        fs.appendFileSync(stackFiles[1], "environment:\n  - pinhole/prod-secrets\n");
        const r = pulumi(["config", "--stack", bad, "--json"]);
        expect(r.status).to.not.equal(0);
        expect(r.stderr).to.match(
            /does not support environments; Pulumi ESC environments require the Pulumi Cloud backend/,
        );
        expect(() => readStack(bad)).to.throw(/does not support environments/);
        expect(() => loadModel(bad)).to.throw(/does not support environments/);
    });

    it("the program, npm run matrix and verify's reader build the same model from it", async () => {
        // The program's own reader, run by the engine (an inline program in a real preview: no resource is registered).
        let program: ParseResult | undefined;
        let entries: ReturnType<typeof programConfigEntries> | undefined;
        const ws = await LocalWorkspace.createOrSelectStack(
            {
                stackName: stack,
                projectName: "pinhole",
                program: async () => {
                    entries = programConfigEntries();
                    program = readProgramConfig();
                },
            },
            { workDir: PROJECT_ROOT, envVars: env },
        );
        await ws.preview({ color: "never" });
        expect(program?.errors, "the program's validator").to.deep.equal([]);
        const model = program!.model!;

        // The engine handed the program every key, defaults included, with the secret ones marked secret.
        const cli = JSON.parse(ok(["config", "--stack", stack, "--json", "--show-secrets"])) as Record<
            string,
            { value?: string; objectValue?: unknown; secret?: boolean }
        >;
        expect(Object.keys(entries!).sort()).to.deep.equal(Object.keys(cli).sort());
        for (const [k, v] of Object.entries(cli)) {
            expect(entries![k], k).to.deep.equal({
                value: v.objectValue !== undefined ? v.objectValue : v.value,
                secret: v.secret === true,
            });
        }
        // `config set` from stdin drops the final newline.
        expect(entries!["pinhole:sshPrivateKey"]).to.deep.equal({ value: privateKey.trimEnd(), secret: true });
        expect(entries!["pinhole:external"].secret).to.equal(true);

        // What the program built from it: the values set with --path and --secret, resolved.
        expect(model.nodes.map((n) => [n.name, n.address, n.ssh.port])).to.deep.equal([
            ["node-1", "10.99.1.10", 22],
            ["node-2", "10.99.1.11", 2222],
        ]);
        expect(model.firewall.rollbackSeconds).to.equal(45);
        expect(model.firewall.logDrops).to.equal(false);
        const trap = model.external.find((e) => e.kind === "snmpTrap");
        expect(trap?.port).to.equal(1162);
        expect(JSON.stringify(model)).to.not.include("privphrase1");

        // npm run matrix's reader, and the matrix command's own output.
        const matrix = readStack(stack);
        expect(matrix.source).to.equal("pulumi config");
        expect(matrix.model).to.deep.equal(model);
        expect(matrix.warnings).to.deep.equal(program!.warnings);
        const cmd = spawnSync("npm", ["run", "-s", "matrix", "--", "--stack", stack, "--json"], {
            cwd: PROJECT_ROOT,
            env: { ...env, PATH: `${path.dirname(process.execPath)}:${env.PATH}` },
            encoding: "utf8",
            timeout: 120_000,
        });
        expect(cmd.status, cmd.stderr).to.equal(0);
        expect(cmd.stdout).to.equal(formatMatrixJson(matrixRows(model)));

        // verify's reader (tools/verify/run.ts loadModel) and the key it logs in with (the stack's secret, as verify reads it).
        expect(loadModel(stack)).to.deep.equal(model);
        const key = await (
            await LocalWorkspace.selectStack({ stackName: stack, workDir: PROJECT_ROOT }, { envVars: env })
        ).getConfig("pinhole:sshPrivateKey");
        expect(key).to.deep.equal({ value: privateKey.trimEnd(), secret: true });
    });
});

// Stack files as YAML text: what the corpus (test/unit/model/config/corpus.test.ts, built from objects) cannot
// spell. Integers with a leading zero (js-yaml: decimal, Pulumi's Go reader: octal), duplicate keys, anchors and
// merge keys, alias bombs.
import * as pulumi from "@pulumi/pulumi";
import { expect } from "chai";
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { parseStackFile, readStack, STACK_VALUE_LIMIT } from "../../../../tools/common/stack-file";
import { PROJECT_ROOT, pulumiEnv } from "../../../../tools/common/pulumi-env";

const KEY1 = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIIW4fhyJhtAKPJCZBM4o9nY9Ms7KEjEpy48nBlD+OMIt";
const KEY2 = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIC7Ev/4R3YYPoFOgud2u4unXAet6TFHgSxy07e8wB2qG";
const KEY3 = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBN1I078VcaWN9v1fegeFYDQ6uDPZVuU/BEp3Dd/4VVV";

/** A valid unified stack; `port` is the first node's SSH port as written in YAML, `extra` more config lines. */
const stackText = (port = "22", extra = "") => `config:
  pinhole:model: unified
  pinhole:networks:
    admin: [192.168.100.0/24]
  pinhole:nodes:
    - { name: uni-1, role: unified, address: 10.1.0.11, ssh: { port: ${port}, hostKey: "${KEY1}" } }
    - { name: uni-2, role: unified, address: 10.1.0.12, ssh: { hostKey: "${KEY2}" } }
    - { name: uni-3, role: unified, address: 10.1.0.13, ssh: { hostKey: "${KEY3}" } }
${extra}`;

function parseText(text: string) {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "pinhole-yaml-"));
    try {
        const file = path.join(dir, "Pulumi.yaml-case.yaml");
        fs.writeFileSync(file, text);
        return parseStackFile(file);
    } finally {
        fs.rmSync(dir, { recursive: true, force: true });
    }
}

describe("stack files as YAML text (the stack-file reader)", () => {
    it("the base text is valid, and 0x16 (hex) reads as 22 in both YAML readers: accepted", () => {
        expect(parseText(stackText()).errors).to.deep.equal([]);
        const hex = parseText(stackText("0x16"));
        expect(hex.errors).to.deep.equal([]);
        expect(hex.model!.nodes[0].ssh.port).to.equal(22);
    });

    for (const written of ["022", "0022", "-022", "02_2"]) {
        it(`an integer written ${written} (octal to Pulumi's reader, decimal to js-yaml) is an error naming the path`, () => {
            const r = parseText(stackText(written));
            expect(r.model).to.equal(undefined);
            expect(r.errors.map((e) => e.path)).to.deep.equal(["pinhole:nodes[0].ssh.port"]);
            expect(r.errors[0].message).to.contain("leading zero");
        });
    }

    for (const written of ["2_222", "0x8_AE", "+2_2"]) {
        it(`a number written ${written} (a number to Pulumi's reader, text to js-yaml) is an error naming the path`, () => {
            const r = parseText(stackText(written));
            expect(r.model).to.equal(undefined);
            expect(r.errors.map((e) => e.path)).to.deep.equal(["pinhole:nodes[0].ssh.port"]);
        });
    }

    it('a quoted "022" is a string with a leading zero: the same error', () => {
        const r = parseText(stackText('"022"'));
        expect(r.errors.map((e) => `${e.path}: ${e.message}`).join("\n")).to.match(
            /^pinhole:nodes\[0\]\.ssh\.port: .*leading zero/,
        );
    });

    it("a duplicate key (two pinhole:model) is refused unread, naming the line", () => {
        expect(() => parseText(stackText("22", "  pinhole:model: modular\n"))).to.throw(
            /duplicated mapping key[\s\S]*\(9:3\)/,
        );
    });

    it("a duplicate key inside a node (two ports) is refused unread", () => {
        expect(() => parseText(stackText("22, port: 2222"))).to.throw(/duplicated mapping key/);
    });

    it("the same key written with and without its namespace (pinhole:model and model) is an error: only one would count", () => {
        for (const [first, second] of [
            ["pinhole:model", "model"],
            ["model", "pinhole:model"],
        ]) {
            const text = stackText().replace(
                "  pinhole:model: unified\n",
                `  ${first}: unified\n  ${second}: modular\n`,
            );
            const r = parseText(text);
            expect(r.model).to.equal(undefined);
            expect(r.errors.find((e) => e.path === second)?.message, JSON.stringify(r.errors)).to.contain(
                `is the same key as ${first}`,
            );
        }
    });

    it("anchors and merge keys (shared SSH settings) are unusual but valid: accepted as merged", () => {
        const text = `config:
  pinhole:model: unified
  pinhole:networks:
    admin: &admin [192.168.100.0/24]
    monitoring: *admin
  pinhole:nodes:
    - { name: uni-1, role: unified, address: 10.1.0.11, ssh: { <<: &ssh { port: 2222, user: platform }, hostKey: "${KEY1}" } }
    - { name: uni-2, role: unified, address: 10.1.0.12, ssh: { <<: *ssh, hostKey: "${KEY2}" } }
    - { name: uni-3, role: unified, address: 10.1.0.13, ssh: { <<: *ssh, port: 22, hostKey: "${KEY3}" } }
`;
        const r = parseText(text);
        expect(r.errors).to.deep.equal([]);
        expect(r.model!.nodes.map((n) => [n.ssh.port, n.ssh.user])).to.deep.equal([
            [2222, "platform"],
            [2222, "platform"],
            [22, "platform"],
        ]);
        expect(r.model!.networks.monitoring).to.deep.equal(["192.168.100.0/24"]);
    });

    it(`an alias bomb (small on disk, billions of values expanded) is refused unread, quickly (limit ${STACK_VALUE_LIMIT})`, () => {
        const levels = [
            "  a0: &a0 [10.0.0.1, 10.0.0.1, 10.0.0.1, 10.0.0.1, 10.0.0.1, 10.0.0.1, 10.0.0.1, 10.0.0.1, 10.0.0.1, 10.0.0.1]",
        ];
        for (let i = 1; i <= 9; i++)
            levels.push(
                `  a${i}: &a${i} [${Array(10)
                    .fill(`*a${i - 1}`)
                    .join(", ")}]`,
            );
        const text = stackText("22", `  pinhole:hosts:\n    bomb.example.com: *a9\n`).replace(
            "config:\n",
            `x-anchors:\n${levels.join("\n")}\nconfig:\n`,
        );
        expect(text.length).to.be.lessThan(3000);
        const t0 = Date.now();
        expect(() => parseText(text)).to.throw(/more than 100000 values once its YAML aliases are expanded/);
        expect(Date.now() - t0).to.be.lessThan(2000);
    });
});

// The same file when the stack is in the backend: the values come from `pulumi config --json`, i.e. Pulumi's Go
// reader, which has already read 022 as octal 18. Only the file shows what was written: the reader still refuses.
describe("stack files as YAML text: a leading-zero integer through the backend (pulumi config --json)", function () {
    this.timeout(120_000);
    const stack = `test-yaml-octal-${process.pid}`;
    const file = path.join(PROJECT_ROOT, "stacks", `Pulumi.${stack}.yaml`);
    let env: Record<string, string>;

    before(function () {
        try {
            env = { ...process.env, ...pulumiEnv(PROJECT_ROOT) } as Record<string, string>;
        } catch {
            this.skip();
        }
        if (spawnSync("pulumi", ["version"], { env }).status !== 0) this.skip();
        const init = spawnSync("pulumi", ["stack", "init", stack, "--cwd", PROJECT_ROOT], {
            env,
            encoding: "utf8",
            timeout: 60_000,
        });
        expect(init.status, init.stderr).to.equal(0);
        // Written after init: init re-serialises an existing file (Pulumi's reader turns 022 into 18 on the way).
        const salt = /^encryptionsalt: .*$/m.exec(fs.existsSync(file) ? fs.readFileSync(file, "utf8") : "")?.[0] ?? "";
        fs.writeFileSync(file, `${salt}\n${stackText("022", "  pinhole:firewall: { rollbackSeconds: 4_5 }\n")}`);
    });
    after(() => {
        if (env)
            spawnSync("pulumi", ["stack", "rm", "--yes", "--force", "--stack", stack, "--cwd", PROJECT_ROOT], {
                env,
                timeout: 60_000,
            });
        fs.rmSync(file, { force: true });
    });

    it("Pulumi reads port: 022 as 18 and rollbackSeconds: 4_5 as 45; readStack refuses both, naming the paths", () => {
        const cli = spawnSync("pulumi", ["config", "--json", "--stack", stack, "--cwd", PROJECT_ROOT], {
            env,
            encoding: "utf8",
            timeout: 60_000,
        });
        expect(cli.status, cli.stderr).to.equal(0);
        const nodes = JSON.parse(cli.stdout)["pinhole:nodes"];
        expect(nodes.objectValue[0].ssh.port, "the engine's reading").to.equal(18);
        expect(JSON.parse(cli.stdout)["pinhole:firewall"].objectValue.rollbackSeconds, "the engine's reading").to.equal(
            45,
        );
        const r = readStack(stack);
        expect(r.source).to.equal("pulumi config");
        expect(r.model, JSON.stringify(r.errors)).to.equal(undefined);
        expect(r.errors.find((e) => e.path === "pinhole:nodes[0].ssh.port")?.message).to.contain("leading zero");
        expect(r.errors.find((e) => e.path === "pinhole:firewall.rollbackSeconds")?.message).to.contain(
            'with "_" in it',
        );
    });
});

// The Pulumi program gets the engine's values, not the file: what only the file shows (keys outside config:,
// numbers the engine read differently) it takes from the stack file too, so it refuses what the tools refuse.
describe("stack files as YAML text: the program reads what only the file shows", function () {
    this.timeout(60_000);
    const stack = `test-yaml-program-${process.pid}`;
    const file = path.join(PROJECT_ROOT, "stacks", `Pulumi.${stack}.yaml`);
    before(() =>
        pulumi.runtime.setMocks(
            { newResource: (a) => ({ id: `${a.name}-id`, state: a.inputs }), call: (a) => a.inputs },
            "pinhole",
            stack,
            true,
        ),
    );
    after(() => fs.rmSync(file, { force: true }));

    it("port: 022 (the engine gives 18) and a key outside config: are the program's errors too", () => {
        fs.writeFileSync(file, `pinhole:domain: misplaced.example.com\n${stackText("022")}`);
        const tools = parseStackFile(file);
        expect(tools.errors.map((e) => e.path).sort()).to.deep.equal(["pinhole:domain", "pinhole:nodes[0].ssh.port"]);
        // The engine's view of the same file: 022 already read as 18, the misplaced key absent.
        const nodes = [1, 2, 3].map((i) => ({
            name: `uni-${i}`,
            role: "unified",
            address: `10.1.0.1${i}`,
            ssh: { hostKey: [KEY1, KEY2, KEY3][i - 1], ...(i === 1 ? { port: 18 } : {}) },
        }));
        pulumi.runtime.setAllConfig(
            {
                "pinhole:model": "unified",
                "pinhole:networks": JSON.stringify({ admin: ["192.168.100.0/24"] }),
                "pinhole:nodes": JSON.stringify(nodes),
                "pinhole:sshPrivateKey": "(decrypted by the engine)",
            },
            ["pinhole:sshPrivateKey"],
        );
        process.env.PINHOLE_PROVISIONING_ADDRESSES = "192.168.100.5";
        const index = require.resolve("../../../../index");
        delete require.cache[index];
        let error: Error | undefined;
        try {
            require(index);
        } catch (e) {
            error = e as Error;
        } finally {
            delete process.env.PINHOLE_PROVISIONING_ADDRESSES;
        }
        expect(error, "the program refuses it").to.be.instanceOf(pulumi.RunError);
        expect(error!.message).to.match(/^pinhole:nodes\[0\]\.ssh\.port: 022 is written with a leading zero/m);
        expect(error!.message).to.match(/^pinhole:domain: is at the top of the stack file, outside config:/m);
    });
});

// The project runs on the current LTS Node.js (toolchain/node.sh) and the README's version table says what runs.
import { expect } from "chai";
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as path from "path";

const ROOT = path.resolve(__dirname, "..", "..", "..");
const nodeSh = fs.readFileSync(path.join(ROOT, "toolchain", "node.sh"), "utf8");
const minMajor = Number(/^NODE_MIN_MAJOR=(\d+)/m.exec(nodeSh)![1]);
const ltsVersion = /^NODE_LTS_VERSION="([\d.]+)"/m.exec(nodeSh)![1];

describe("runtime: Node.js and Pulumi versions", () => {
    it("the tests run on Node.js >= the LTS line toolchain/node.sh pins", () => {
        expect(Number(process.versions.node.split(".")[0])).to.be.at.least(minMajor);
        expect(Number(ltsVersion.split(".")[0])).to.equal(minMajor);
    });

    it("npm scripts and the provider plugin launcher resolve the same node (node_modules/.bin/node)", () => {
        const link = path.join(ROOT, "node_modules", ".bin", "node");
        expect(fs.existsSync(link), "set-up links node_modules/.bin/node").to.equal(true);
        const r = spawnSync(link, ["-p", "process.versions.node"], { encoding: "utf8" });
        expect(Number(r.stdout.trim().split(".")[0])).to.be.at.least(minMajor);
        expect(fs.readFileSync(path.join(ROOT, "provider", "bin", "pulumi-resource-pinhole"), "utf8")).to.contain(
            "node_modules/.bin/node",
        );
        expect(fs.readFileSync(path.join(ROOT, "policy", "analyzer"), "utf8")).to.contain("node_modules/.bin/node");
    });

    it("the README's version table matches package.json and the toolchain pins", () => {
        const readme = fs.readFileSync(path.join(ROOT, "README.md"), "utf8");
        const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, "package.json"), "utf8"));
        const cliMod = fs.readFileSync(path.join(ROOT, "toolchain", "cli", "go.mod"), "utf8");
        const cli = /github.com\/pulumi\/pulumi\/pkg\/v3 v([\d.]+)/.exec(cliMod)![1];
        expect(cli).to.equal(pkg.dependencies["@pulumi/pulumi"]);
        expect(readme).to.contain(`| \`@pulumi/pulumi\` SDK | ${pkg.dependencies["@pulumi/pulumi"]}`);
        expect(readme).to.contain(`| \`pulumi\` CLI | v${cli}`);
        expect(readme).to.contain(`| v${ltsVersion} (LTS line ${minMajor})`);
        expect(readme).to.contain(`| \`@pulumi/policy\` | ${pkg.dependencies["@pulumi/policy"]}`);
    });

    it("npm start -- --help prints the usage without set-up (no npm ci, no toolchain, no lab)", function () {
        this.timeout(60_000);
        const r = spawnSync("bash", [path.join(ROOT, "scripts", "start.sh"), "--help"], {
            encoding: "utf8",
            timeout: 60_000,
        });
        expect(r.status, r.stderr).to.equal(0);
        expect(r.stdout).to.match(/^usage: npm start/);
        expect(r.stderr).to.not.match(/\[setup\]|\[lab\]/);
    });

    it("npm run pulumi runs an existing Pulumi on PATH before set-up, and hands `--policy-pack policy` to it as policy/analyzer", () => {
        // A copy of the scripts in a scratch project (no toolchain.env), a `pulumi` on PATH that echoes its arguments.
        const fakeBin = fs.mkdtempSync(path.join(require("os").tmpdir(), "pinhole-fake-pulumi-"));
        try {
            fs.mkdirSync(path.join(fakeBin, "scripts"));
            fs.mkdirSync(path.join(fakeBin, "policy"));
            for (const f of ["pulumi.sh", "env.sh"])
                fs.copyFileSync(path.join(ROOT, "scripts", f), path.join(fakeBin, "scripts", f));
            fs.copyFileSync(path.join(ROOT, "policy", "analyzer"), path.join(fakeBin, "policy", "analyzer"));
            fs.chmodSync(path.join(fakeBin, "policy", "analyzer"), 0o755);
            fs.writeFileSync(path.join(fakeBin, "pulumi"), '#!/bin/sh\necho "$@"\n', { mode: 0o755 });
            const env: NodeJS.ProcessEnv = { ...process.env, PATH: `${fakeBin}:${process.env.PATH}` };
            delete env.PINHOLE_PULUMI_DIR;
            const r = spawnSync(
                "bash",
                [path.join(fakeBin, "scripts", "pulumi.sh"), "preview", "--policy-pack", "policy", "--stack", "s"],
                { encoding: "utf8", env },
            );
            expect(r.stdout.trim(), r.stderr).to.equal("preview --policy-pack policy/analyzer --stack s");
        } finally {
            fs.rmSync(fakeBin, { recursive: true, force: true });
        }
    });
});

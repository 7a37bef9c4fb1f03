// Every documented example stack (stacks/Pulumi.example-*.yaml) must validate, cover its deployment model,
// hold no secret, explain its options, and work with `npm run matrix`.
import { expect } from "chai";
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import * as yaml from "js-yaml";
import { parseStackFile } from "../../../tools/common/stack-file";
import { buildPolicy } from "../../../model/policy";
import { renderRuleset } from "../../../render/nftables";

const ROOT = path.resolve(__dirname, "..", "..", "..");
const STACKS = path.join(ROOT, "stacks");
const examples = fs
    .readdirSync(STACKS)
    .filter((f) => /^Pulumi\.example-[a-z0-9-]+\.yaml$/.test(f))
    .sort();
const nameOf = (f: string) => f.replace(/^Pulumi\./, "").replace(/\.yaml$/, "");

describe("stacks/Pulumi.example-*.yaml", () => {
    it("has one example per deployment model: standalone, unified (proxies, two sites), modular, multisite (NAT)", () => {
        expect(examples.map(nameOf)).to.include.members([
            "example-standalone",
            "example-unified",
            "example-modular",
            "example-multisite",
        ]);
        const model = (n: string) => parseStackFile(path.join(STACKS, `Pulumi.${n}.yaml`)).model!;
        expect(model("example-standalone").model).to.equal("standalone");
        const unified = model("example-unified");
        expect(unified.model).to.equal("unified");
        expect(unified.sites).to.have.length(2);
        expect(unified.nodes.some((n) => n.role === "webproxy")).to.equal(true);
        expect(model("example-modular").model).to.equal("modular");
        const multi = model("example-multisite");
        expect(multi.sites.length).to.be.greaterThan(1);
        expect(
            multi.nodes.some((n) => n.advertisedAddress),
            "NAT: a node with an advertised address",
        ).to.equal(true);
    });

    for (const file of examples) {
        describe(file, () => {
            const full = path.join(STACKS, file);
            const text = fs.readFileSync(full, "utf8");

            it("validates with no errors (secrets aside) and renders every node's ruleset", () => {
                const r = parseStackFile(full);
                expect(r.errors, r.errors.map((e) => `${e.path}: ${e.message}`).join("\n")).to.deep.equal([]);
                const strict = parseStackFile(full, { requireSecrets: true });
                expect(
                    strict.errors.map((e) => e.path),
                    "only the secret SSH key is missing",
                ).to.deep.equal(["pinhole:sshPrivateKey"]);
                for (const p of buildPolicy(r.model!))
                    expect(renderRuleset(p, r.model!.firewall)).to.match(/^table inet pinhole \{$/m);
            });

            it("holds no secret: no sshPrivateKey, no encrypted value, no private key, no encryption salt", () => {
                const doc = yaml.load(text) as { config: Record<string, unknown>; encryptionsalt?: string };
                expect(Object.keys(doc.config)).to.not.include("pinhole:sshPrivateKey");
                expect(doc.encryptionsalt).to.equal(undefined);
                expect(text).to.not.match(/secure:|PRIVATE KEY|v1:[A-Za-z0-9+/]{8}/);
                expect(text, "documents how the key is set").to.contain("config set --secret sshPrivateKey");
            });

            it("explains itself: a header and a comment on every top-level key", () => {
                const lines = text.split("\n");
                expect(lines[0]).to.match(/^# Example: /);
                const keys = lines.map((l, i) => [l, i] as const).filter(([l]) => /^ {2}pinhole:[A-Za-z]+:/.test(l));
                expect(keys.length).to.be.greaterThan(4);
                // A key is explained by a comment on its line, just above it, or on its first child line.
                const explained = ([l, i]: readonly [string, number]) =>
                    l.includes("#") || lines[i - 1].trim().startsWith("#") || (lines[i + 1] ?? "").includes("#");
                expect(keys.filter((k) => !explained(k)).map(([l]) => l.trim())).to.deep.equal([]);
            });

            it("works with npm run matrix", function () {
                this.timeout(60_000);
                const r = spawnSync(
                    process.execPath,
                    [
                        path.join(ROOT, "node_modules/ts-node/dist/bin.js"),
                        "--transpile-only",
                        path.join(ROOT, "tools/matrix/main.ts"),
                        "--stack",
                        nameOf(file),
                    ],
                    { cwd: ROOT, encoding: "utf8" },
                );
                expect(r.status, r.stderr).to.equal(0);
                expect(r.stdout).to.match(
                    new RegExp(`^${nameOf(file)}: \\w+ model, \\d+ nodes?, \\d+ sites?, \\d+ flows`),
                );
            });
        });
    }
});

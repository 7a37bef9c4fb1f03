// Pulumi.yaml's `config:` schema is generated from the validator's key table (model/config/keys.ts
// CONFIG_SCHEMA) by tools/config-schema/main.ts: it must be exactly what the generator writes, follow the engine's
// project-schema rules, and mean what the validator means (required = the validator requires it; an optional
// key's default reads exactly as if the key were absent, since the engine injects defaults into the config).
import { expect } from "chai";
import * as fs from "fs";
import * as path from "path";
import * as yaml from "js-yaml";
import { CONFIG_KEYS, CONFIG_SCHEMA, parseClusterConfig } from "../../../../model/config";
import { loadStackFile } from "../../../../tools/common/stack-file";
import {
    PROJECT_FILE,
    configSchema,
    currentConfigSchema,
    renderConfigSchema,
    withConfigSchema,
} from "../../../../tools/config-schema/main";

const ROOT = path.resolve(__dirname, "..", "..", "..", "..");
const projectText = fs.readFileSync(PROJECT_FILE, "utf8");
const stacks = fs
    .readdirSync(path.join(ROOT, "stacks"))
    .filter((f) => /^Pulumi\.example-[a-z0-9-]+\.yaml$/.test(f))
    .sort();
const fixtures = fs
    .readdirSync(path.join(ROOT, "test", "unit", "fixtures", "valid"))
    .map((f) => path.join(ROOT, "test", "unit", "fixtures", "valid", f));
const configs = [...stacks.map((f) => path.join(ROOT, "stacks", f)), ...fixtures];
/** The secret as a stack file holds it (opaque; the example stacks commit none). */
const withKey = (raw: Record<string, unknown>) => ({
    ...raw,
    sshPrivateKey: raw.sshPrivateKey ?? { secure: "v1:cGxhY2Vob2xkZXI=:cGxhY2Vob2xkZXI=" },
});

describe("Pulumi.yaml config schema (tools/config-schema/main.ts)", () => {
    it("Pulumi.yaml's generated block is exactly what the generator writes from model/config/keys.ts", () => {
        expect(
            currentConfigSchema(projectText),
            "run: npx ts-node --transpile-only tools/config-schema/main.ts",
        ).to.equal(renderConfigSchema());
        expect(withConfigSchema(projectText)).to.equal(projectText);
    });

    it("a hand edit of the block is caught (the check can fail)", () => {
        const edited = projectText.replace(/(\n  model:\n    type: )string/, "$1integer");
        expect(edited).to.not.equal(projectText);
        expect(currentConfigSchema(edited)).to.not.equal(renderConfigSchema());
        expect(withConfigSchema(edited)).to.equal(projectText);
    });

    it("declares every pinhole key, in the project's own namespace (no prefix), and nothing else", () => {
        const doc = yaml.load(projectText) as { name: string; config: Record<string, unknown> };
        expect(doc.name).to.equal("pinhole");
        expect(Object.keys(doc.config)).to.deep.equal([...CONFIG_KEYS]);
        expect(doc.config).to.deep.equal(configSchema());
    });

    it("follows the engine's rules: known types, arrays with items, defaults of the declared type, secret only on strings", () => {
        const TYPES = ["string", "integer", "boolean", "array", "object"];
        const ofType = (t: string, v: unknown) =>
            t === "string"
                ? typeof v === "string"
                : t === "boolean"
                  ? typeof v === "boolean"
                  : t === "integer"
                    ? Number.isInteger(v)
                    : t === "array"
                      ? Array.isArray(v)
                      : typeof v === "object" && v !== null && !Array.isArray(v);
        for (const [key, d] of Object.entries(configSchema())) {
            expect(key, key).to.not.include(":");
            expect(TYPES, key).to.include(d.type);
            expect(d.description.length, key).to.be.greaterThan(10);
            if (d.type === "array")
                expect(d.items, `${key}: the engine refuses an array without items`).to.not.equal(undefined);
            if (d.default !== undefined)
                expect(ofType(d.type, d.default), `${key}: default of type ${d.type}`).to.equal(true);
            if (d.secret) expect(d.default, `${key}: a secret has no default`).to.equal(undefined);
        }
        expect(configSchema().sshPrivateKey.secret).to.equal(true);
    });

    for (const file of configs) {
        const raw = withKey(loadStackFile(file));
        it(`${path.relative(ROOT, file)}: each optional key's default reads as if absent; each required key is required by the validator`, () => {
            const base = parseClusterConfig(raw, { requireSecrets: true });
            expect(base.errors, "the stack itself is valid").to.deep.equal([]);
            for (const key of CONFIG_KEYS) {
                const without: Record<string, unknown> = { ...raw };
                delete without[key];
                const absent = parseClusterConfig(without, { requireSecrets: true });
                const d = CONFIG_SCHEMA[key].default;
                if (d === undefined) {
                    expect(
                        absent.errors.map((e) => e.path).some((p) => p.startsWith(`pinhole:${key}`)),
                        `${key} is declared required`,
                    ).to.equal(true);
                } else {
                    expect(
                        parseClusterConfig({ ...without, [key]: d }, { requireSecrets: true }),
                        `${key}: default ${JSON.stringify(d)}`,
                    ).to.deep.equal(absent);
                }
            }
        });
    }
});

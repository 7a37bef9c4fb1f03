// The hostile/mistaken config corpus (test/unit/fixtures/invalid, >= 80) and the unusual-but-valid one
// (fixtures/accepted, >= 10), run through BOTH halves of the one reader: the tools' stack-file reader
// (tools/common/stack-file.ts, a real Pulumi.<stack>.yaml on disk) and the Pulumi program itself (index.ts under
// Pulumi mocks, config given to the runtime as the engine gives it). They must agree on every fixture.
import * as pulumi from "@pulumi/pulumi";
import { expect } from "chai";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as yaml from "js-yaml";
import { parseStackFile } from "../../../../tools/common/stack-file";
import { ConfigError } from "../../../../model/types";

const FIXTURES = path.join(__dirname, "../../fixtures");
const readYaml = (file: string) => yaml.load(fs.readFileSync(file, "utf8")) as Record<string, unknown>;

interface Fixture {
    base: string;
    set?: Record<string, unknown>;
    delete?: string[];
    opts?: { provisioningAddresses?: string[]; requireSecrets?: boolean; stack?: string };
    expect?: { path: string; message: string }[];
    expectWarnings?: { path: string; message: string }[];
    mustNotContain?: string[];
}

function splitPath(p: string): (string | number)[] {
    const m = /^([A-Za-z]+:[A-Za-z]+)(.*)$/.exec(p);
    if (!m) throw new Error(`bad fixture path ${p}`);
    const out: (string | number)[] = [m[1]];
    for (const seg of m[2].matchAll(/\[(\d+)\]|\.([A-Za-z0-9_-]+)/g))
        out.push(seg[1] !== undefined ? Number(seg[1]) : seg[2]);
    return out;
}

function configOf(fx: Fixture): Record<string, unknown> {
    const cfg = structuredClone(
        readYaml(path.join(FIXTURES, "valid", `${fx.base}.yaml`)).config as Record<string, unknown>,
    );
    const edit = (p: string, value: unknown, remove: boolean) => {
        const keys = splitPath(p);
        let cur = cfg as Record<string | number, unknown>;
        for (const k of keys.slice(0, -1)) cur = cur[k] as Record<string | number, unknown>;
        if (remove) delete cur[keys[keys.length - 1]];
        else cur[keys[keys.length - 1]] = value;
    };
    for (const [p, v] of Object.entries(fx.set ?? {})) edit(p, v, false);
    for (const p of fx.delete ?? []) edit(p, undefined, true);
    return cfg;
}

/** Through the tools' reader: a real stack file on disk. */
function viaStackFile(cfg: Record<string, unknown>, fx: Fixture) {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "pinhole-corpus-"));
    try {
        const file = path.join(dir, "Pulumi.corpus.yaml");
        fs.writeFileSync(file, yaml.dump({ config: cfg }));
        return parseStackFile(file, fx.opts ?? {});
    } finally {
        fs.rmSync(dir, { recursive: true, force: true });
    }
}

const hasSecure = (v: unknown) => JSON.stringify(v).includes('"secure"');

/** Through the Pulumi program: the engine's view (strings, JSON objects, secret keys), index.ts loaded fresh. */
function viaProgram(cfg: Record<string, unknown>, fx: Fixture): { error?: string; warnings: string[] } {
    // What the engine hands the program: secure values decrypted, objects as JSON, the secret keys listed.
    const decrypt = (v: unknown): unknown =>
        Array.isArray(v)
            ? v.map(decrypt)
            : v && typeof v === "object"
              ? "secure" in v
                  ? "(decrypted by the engine)"
                  : Object.fromEntries(Object.entries(v).map(([k, x]) => [k, decrypt(x)]))
              : v;
    const missingKey = fx.opts?.requireSecrets === true;
    const all: Record<string, string> = missingKey ? {} : { "pinhole:sshPrivateKey": "(decrypted by the engine)" };
    const secrets = missingKey ? [] : ["pinhole:sshPrivateKey"];
    for (const [k, v] of Object.entries(cfg)) {
        if (k === "pinhole:sshPrivateKey" && !hasSecure(v)) secrets.splice(0, 1);
        if (hasSecure(v)) secrets.push(k);
        const d = decrypt(v);
        all[k] = typeof d === "string" ? d : JSON.stringify(d);
    }
    pulumi.runtime.setAllConfig(all, secrets);
    process.env.PINHOLE_PROVISIONING_ADDRESSES = (fx.opts?.provisioningAddresses ?? []).join(",");
    const warnings: string[] = [];
    const warn = pulumi.log.warn;
    (pulumi.log as { warn: (m: string) => Promise<void> }).warn = async (m: string) => {
        warnings.push(m);
    };
    const index = require.resolve("../../../../index");
    delete require.cache[index];
    try {
        require(index);
        return { warnings };
    } catch (e) {
        expect(e, "config errors are a RunError (no stack trace)").to.be.instanceOf(pulumi.RunError);
        return { error: (e as Error).message, warnings };
    } finally {
        (pulumi.log as { warn: typeof warn }).warn = warn;
        delete process.env.PINHOLE_PROVISIONING_ADDRESSES;
    }
}

const files = (dir: string) =>
    fs
        .readdirSync(path.join(FIXTURES, dir))
        .filter((f) => f.endsWith(".yaml"))
        .sort();

describe("config corpus: one reader, tools and program agree", function () {
    this.timeout(60_000);
    before(() =>
        pulumi.runtime.setMocks(
            { newResource: (a) => ({ id: `${a.name}-id`, state: a.inputs }), call: (a) => a.inputs },
            "pinhole",
            "corpus",
            true,
        ),
    );

    const invalid = files("invalid");
    const accepted = files("accepted");
    it(`has >= 80 hostile or mistaken configs (${invalid.length}) and >= 10 unusual-but-valid ones (${accepted.length})`, () => {
        expect(invalid.length).to.be.at.least(80);
        expect(accepted.length).to.be.at.least(10);
    });

    for (const file of invalid) {
        it(`refuses ${file.replace(/\.yaml$/, "")} with the path, in the stack-file reader and in the program`, () => {
            const fx = readYaml(path.join(FIXTURES, "invalid", file)) as unknown as Fixture;
            const cfg = configOf(fx);
            const r = viaStackFile(cfg, fx);
            const listing = (errs: ConfigError[]) => errs.map((e) => `  ${e.path}: ${e.message}`).join("\n");
            expect(r.model, "no model from an invalid config").to.equal(undefined);
            for (const want of fx.expect ?? []) {
                expect(
                    r.errors.some((e) => e.path === want.path && e.message.includes(want.message)),
                    `${want.path}: …${want.message}…\ngot:\n${listing(r.errors)}`,
                ).to.equal(true);
            }
            for (const e of r.errors)
                expect(`${e.path}: ${e.message}`, "one printable line per problem").to.match(/^[^\n\r\x1b]*$/);
            for (const secret of fx.mustNotContain ?? []) expect(JSON.stringify(r)).to.not.contain(secret);
            // The engine decrypts secure: values before the program sees them: bad or unreadable ciphertext is the file reader's find.
            if (hasSecure(cfg) && (fx.expect ?? []).every((w) => /ciphertext|encrypted/.test(w.message))) return;
            const p = viaProgram(cfg, fx);
            expect(p.error, "the program refuses it too").to.be.a("string");
            for (const want of fx.expect ?? [])
                expect(p.error)
                    .to.contain(`${want.path}: `)
                    .and.to.contain(want.message.replace(/--stack \S+/, "--stack corpus"));
            expect(p.error).to.not.match(/\x1b\[|\n\s+at /);
            for (const secret of fx.mustNotContain ?? [])
                expect(p.error + p.warnings.join("\n")).to.not.contain(secret);
        });
    }

    for (const file of accepted) {
        it(`accepts ${file.replace(/\.yaml$/, "")} in the stack-file reader and in the program`, () => {
            const fx = readYaml(path.join(FIXTURES, "accepted", file)) as unknown as Fixture;
            const cfg = configOf(fx);
            const r = viaStackFile(cfg, fx);
            expect(r.errors, JSON.stringify(r.errors)).to.deep.equal([]);
            expect(r.model).to.not.equal(undefined);
            for (const w of fx.expectWarnings ?? [])
                expect(
                    r.warnings.some((x) => x.path === w.path && x.message.includes(w.message)),
                    JSON.stringify(r.warnings),
                ).to.equal(true);
            const p = viaProgram(cfg, fx);
            expect(p.error, p.error).to.equal(undefined);
            for (const w of fx.expectWarnings ?? []) expect(p.warnings.join("\n")).to.contain(`${w.path}: `);
        });
    }
});

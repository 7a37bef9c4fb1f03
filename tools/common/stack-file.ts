// The one stack reader for the tools (matrix, verify, start, bench): a stack → the validated model, through
// the same raw-map → model function the Pulumi program uses (model/config parseConfigEntries).
//
// When the stack exists in the project's backend, its config is taken from `pulumi config --json
// --show-secrets`, i.e. resolved exactly as `pulumi up` resolves it (secure: values decrypted, ESC
// `environment:` imports applied). Otherwise (a fresh clone, a stack never initialised) the stack file is
// read as it is: secure values stay opaque. Decrypted values never leave this process: the validator quotes
// none of them and the model carries only redacted URIs. The only config I/O; model/config/ stays pure.
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import * as yaml from "js-yaml";
import {
    CONFIG_KEYS,
    CONFIG_NAMESPACE,
    ConfigEntry,
    ParseOptions,
    ParseResult,
    parseConfigEntries,
    parseStackConfig,
    stackConfigToRaw,
} from "../../model/config";
import { ConfigError } from "../../model/types";
import { PROJECT_ROOT, pulumiEnv } from "./pulumi-env";

const isMap = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

/** Top-level keys Pulumi itself defines for a stack file. Anything else is misplaced (ignored by Pulumi). */
const STACK_FILE_KEYS = ["config", "encryptionsalt", "secretsprovider", "encryptedkey", "environment"];

interface StackYaml {
    config: unknown;
    environment: boolean;
    errors: ConfigError[];
    /** Numbers the two YAML readers read differently (022, 1_000): reported with their path in every mode. */
    leadingZeros: ConfigError[];
}

/** A plain YAML scalar the two readers take for different values, kept as its text so that no reader guesses. */
class AmbiguousNumber {
    constructor(
        readonly text: string,
        readonly why: string,
    ) {}
}
// js-yaml exports its built-in types at run time (`types`), the typings do not declare them.
const YAML_INT = (
    yaml as unknown as {
        types: {
            int: yaml.TypeConstructorOptions & { resolve: (d: string) => boolean; construct: (d: string) => unknown };
        };
    }
).types.int;
const LEADING_ZERO =
    "is written with a leading zero: Pulumi's YAML reader takes it as an octal number, js-yaml as decimal; write it without the zero";
const UNDERSCORE =
    'is a number with "_" in it: Pulumi\'s YAML reader takes it as a number, js-yaml as text; write the digits alone';
/**
 * The stack file's YAML schema: js-yaml's default, except for plain scalars the two readers disagree on, which
 * are kept as AmbiguousNumber: an integer with a leading zero (YAML 1.2, js-yaml: 022 is 22; Pulumi's Go reader,
 * gopkg.in/yaml.v3, strconv base 0: octal 18) and digits with underscores (yaml.v3 drops them: 1_000 is 1000;
 * js-yaml: the string "1_000"). The same file would mean two values: an error naming the path instead.
 */
const STACK_SCHEMA = yaml.DEFAULT_SCHEMA.extend({
    implicit: [
        new yaml.Type("tag:yaml.org,2002:int", {
            kind: "scalar",
            resolve: YAML_INT.resolve,
            construct: (data: string) =>
                /^[-+]?0[0-9_]+$/.test(data) ? new AmbiguousNumber(data, LEADING_ZERO) : YAML_INT.construct(data),
            instanceOf: YAML_INT.instanceOf,
            predicate: YAML_INT.predicate,
            represent: YAML_INT.represent,
            defaultStyle: YAML_INT.defaultStyle,
        }),
        // Implicit types apply to plain (unquoted) scalars only: a quoted "1_000" stays a string in both readers.
        new yaml.Type("tag:pinhole,2026:underscored-number", {
            kind: "scalar",
            resolve: (data: string) =>
                data.includes("_") && /^[-+]?(0[xX][0-9a-fA-F_]+|0[oO][0-7_]+|0[bB][01_]+|[0-9][0-9_]*)$/.test(data),
            construct: (data: string) => new AmbiguousNumber(data, UNDERSCORE),
        }),
    ],
});

/** Replaces every AmbiguousNumber by its text (the validator refuses it there) and reports it with its config path. */
function leadingZeroInts(v: unknown, path: string, out: ConfigError[]): unknown {
    if (v instanceof AmbiguousNumber) {
        out.push({ path, message: `${v.text} ${v.why}` });
        return v.text;
    }
    if (Array.isArray(v)) return v.map((x, i) => leadingZeroInts(x, `${path}[${i}]`, out));
    if (isMap(v))
        return Object.fromEntries(
            Object.entries(v).map(([k, x]) => [k, leadingZeroInts(x, path ? `${path}.${k}` : k, out)]),
        );
    return v;
}

/**
 * Values in the document once YAML aliases are expanded, counting up to `limit`. An alias "bomb" (a list of aliases
 * of lists of aliases ...) is small on disk and explodes in every walk over it; Pulumi's Go reader refuses such a
 * document ("excessive aliasing"), and so does this one, before any walk.
 */
export const STACK_VALUE_LIMIT = 100_000;
function countValues(v: unknown, limit: number, seen = { n: 0 }): number {
    if (++seen.n > limit) return seen.n;
    if (Array.isArray(v))
        for (const x of v) {
            if (countValues(x, limit, seen) > limit) break;
        }
    else if (isMap(v))
        for (const x of Object.values(v)) {
            if (countValues(x, limit, seen) > limit) break;
        }
    return seen.n;
}

function readStackYaml(file: string): StackYaml {
    const text = fs.readFileSync(file, "utf8");
    const leadingZeros: ConfigError[] = [];
    const loaded = yaml.load(text, { filename: file, schema: STACK_SCHEMA });
    if (countValues(loaded, STACK_VALUE_LIMIT) > STACK_VALUE_LIMIT) {
        throw new Error(
            `${file}: more than ${STACK_VALUE_LIMIT} values once its YAML aliases are expanded (an alias bomb?): refused unread`,
        );
    }
    const doc = leadingZeroInts(loaded, "", leadingZeros);
    if (doc !== undefined && doc !== null && !isMap(doc))
        throw new Error(`${file}: expected a YAML map with a config: key`);
    const errors: ConfigError[] = [];
    for (const key of Object.keys(isMap(doc) ? doc : {})) {
        if (STACK_FILE_KEYS.includes(key)) continue;
        const bare = key.replace(new RegExp(`^${CONFIG_NAMESPACE}:`), "");
        const ours = key.startsWith(`${CONFIG_NAMESPACE}:`) || (CONFIG_KEYS as readonly string[]).includes(bare);
        errors.push({
            path: key.replace(/[^\x20-\x7e]/g, "?"),
            message: ours
                ? `is at the top of the stack file, outside config: (Pulumi ignores it there): indent it under config: as ${CONFIG_NAMESPACE}:${bare}`
                : `unknown top-level key of a stack file (known: ${STACK_FILE_KEYS.join(", ")}): Pulumi ignores it`,
        });
    }
    // `model:` and `pinhole:model:` under config: are one key to Pulumi (a key without a namespace is the
    // project's): the later one silently wins, in Pulumi and here. Written twice, it is an error.
    const seen = new Map<string, string>();
    for (const key of Object.keys(isMap(doc) && isMap(doc.config) ? doc.config : {})) {
        const full = key.includes(":") ? key : `${CONFIG_NAMESPACE}:${key}`;
        const first = seen.get(full);
        if (first !== undefined)
            errors.push({
                path: key.replace(/[^\x20-\x7e]/g, "?"),
                message: `is the same key as ${first.replace(/[^\x20-\x7e]/g, "?")} (a key without a namespace is ${CONFIG_NAMESPACE}:'s): only one of them counts; keep one`,
            });
        else seen.set(full, key);
    }
    const inConfig = leadingZeros
        .filter((e) => e.path.startsWith("config."))
        .map((e) => ({ ...e, path: e.path.slice("config.".length).replace(/[^\x20-\x7e]/g, "?") }));
    return {
        config: isMap(doc) ? doc.config : undefined,
        environment: isMap(doc) && doc.environment !== undefined,
        errors,
        leadingZeros: inConfig,
    };
}

/**
 * What only the stack file shows, for the Pulumi program (which gets the engine's values, not the file): keys
 * outside `config:` (Pulumi ignores them) and numbers the engine's YAML reader read differently from what is
 * written (022 as octal 18, 1_000 as 1000). Tools get the same from readStack/parseStackFile. A file this reader
 * cannot read is one problem (tools refuse it too); no file (an inline or Automation API stack): none.
 */
export function stackFileProblems(file: string): ConfigError[] {
    if (!fs.existsSync(file)) return [];
    try {
        const doc = readStackYaml(file);
        return [...doc.errors, ...doc.leadingZeros];
    } catch (e) {
        return [
            { path: path.basename(file), message: (e as Error).message.split("\n")[0].replace(/[^\x20-\x7e]/g, "?") },
        ];
    }
}

/** The stack file's pinhole config keyed without the namespace (secure values opaque). Throws if unreadable. */
export function loadStackFile(file: string): Record<string, unknown> {
    return stackConfigToRaw(readStackYaml(file).config).raw;
}

/** Validate a stack file as written (secure values opaque): every problem at once. Throws only if unreadable. */
export function parseStackFile(file: string, opts: ParseOptions = {}): ParseResult {
    const doc = readStackYaml(file);
    return withFileErrors(parseStackConfig(doc.config, opts), doc);
}

function withFileErrors(result: ParseResult, doc: StackYaml): ParseResult {
    if (doc.errors.length === 0) return result;
    return { errors: [...doc.errors, ...result.errors], warnings: result.warnings };
}

/** `pulumi config --json --show-secrets` output → entries; undefined when the stack is not in the backend. */
function configFromCli(stack: string, root: string): Record<string, ConfigEntry> | undefined {
    let env: Record<string, string>;
    try {
        env = { ...process.env, ...pulumiEnv(root) } as Record<string, string>;
    } catch {
        return undefined;
    }
    const r = spawnSync("pulumi", ["config", "--json", "--show-secrets", "--stack", stack, "--cwd", root], {
        env,
        encoding: "utf8",
        timeout: 120_000,
    });
    if (r.status !== 0) {
        if (/no stack named/i.test(r.stderr ?? "")) return undefined;
        throw new Error(
            `pulumi config --stack ${stack} failed: ${(r.stderr || r.error?.message || "").trim().split("\n")[0]}`,
        );
    }
    const out = JSON.parse(r.stdout) as Record<string, { value?: string; objectValue?: unknown; secret?: boolean }>;
    const entries: Record<string, ConfigEntry> = {};
    for (const [k, v] of Object.entries(out))
        entries[k] = { value: v.objectValue !== undefined ? v.objectValue : v.value, secret: v.secret === true };
    return entries;
}

export interface StackReadOptions extends ParseOptions {
    /** Stacks directory; the project's own (where `pulumi` finds stack files) unless given. */
    dir?: string;
}

export interface StackReadResult extends ParseResult {
    /** Where the values came from: the engine's resolution, or the stack file as written. */
    source: "pulumi config" | "stack file";
    file: string;
}

/** THE reader for tools: stack name → validated model, resolved as `pulumi up` resolves it when it can. */
export function readStack(stack: string, opts: StackReadOptions = {}): StackReadResult {
    const projectStacks = path.join(PROJECT_ROOT, "stacks");
    const dir = path.resolve(opts.dir ?? projectStacks);
    const file = path.join(dir, `Pulumi.${stack}.yaml`);
    const doc = fs.existsSync(file) ? readStackYaml(file) : undefined;
    const fromCli = dir === projectStacks ? configFromCli(stack, PROJECT_ROOT) : undefined;
    if (fromCli) {
        // The engine's reader already took a leading-zero integer as octal: only the file shows it.
        const result = doc
            ? withFileErrors(parseConfigEntries(fromCli, { ...opts, stack }), {
                  ...doc,
                  errors: [...doc.errors, ...doc.leadingZeros],
              })
            : parseConfigEntries(fromCli, { ...opts, stack });
        return { ...result, source: "pulumi config", file };
    }
    if (!doc) throw new Error(`no stack file ${file} (and no stack "${stack}" in the backend)`);
    const result = parseStackFile(file, { ...opts, stack });
    if (doc.environment)
        result.warnings.push({
            path: "environment",
            message:
                "the stack imports ESC environments, which only the backend resolves: initialise the stack (pulumi stack init) so tools read it as pulumi up does",
        });
    return { ...result, source: "stack file", file };
}

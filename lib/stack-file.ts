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
import { CONFIG_KEYS, CONFIG_NAMESPACE, ConfigEntry, ParseOptions, ParseResult, parseConfigEntries, parseStackConfig, stackConfigToRaw } from "../model/config";
import { ConfigError } from "../model/types";
import { PROJECT_ROOT, pulumiEnv } from "./pulumi-env";

const isMap = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

/** Top-level keys Pulumi itself defines for a stack file. Anything else is misplaced (ignored by Pulumi). */
const STACK_FILE_KEYS = ["config", "encryptionsalt", "secretsprovider", "encryptedkey", "environment"];

interface StackYaml {
    config: unknown;
    environment: boolean;
    errors: ConfigError[];
}

function readStackYaml(file: string): StackYaml {
    const text = fs.readFileSync(file, "utf8");
    const doc = yaml.load(text, { filename: file });
    if (doc !== undefined && doc !== null && !isMap(doc)) throw new Error(`${file}: expected a YAML map with a config: key`);
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
    return { config: isMap(doc) ? doc.config : undefined, environment: isMap(doc) && doc.environment !== undefined, errors };
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
    try { env = { ...process.env, ...pulumiEnv(root) } as Record<string, string>; } catch { return undefined; }
    const r = spawnSync("pulumi", ["config", "--json", "--show-secrets", "--stack", stack, "--cwd", root], { env, encoding: "utf8", timeout: 120_000 });
    if (r.status !== 0) {
        if (/no stack named/i.test(r.stderr ?? "")) return undefined;
        throw new Error(`pulumi config --stack ${stack} failed: ${(r.stderr || r.error?.message || "").trim().split("\n")[0]}`);
    }
    const out = JSON.parse(r.stdout) as Record<string, { value?: string; objectValue?: unknown; secret?: boolean }>;
    const entries: Record<string, ConfigEntry> = {};
    for (const [k, v] of Object.entries(out)) entries[k] = { value: v.objectValue !== undefined ? v.objectValue : v.value, secret: v.secret === true };
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
        const result = doc ? withFileErrors(parseConfigEntries(fromCli, { ...opts, stack }), doc) : parseConfigEntries(fromCli, { ...opts, stack });
        return { ...result, source: "pulumi config", file };
    }
    if (!doc) throw new Error(`no stack file ${file} (and no stack "${stack}" in the backend)`);
    const result = parseStackFile(file, { ...opts, stack });
    if (doc.environment) result.warnings.push({ path: "environment", message: "the stack imports ESC environments, which only the backend resolves: initialise the stack (pulumi stack init) so tools read it as pulumi up does" });
    return { ...result, source: "stack file", file };
}

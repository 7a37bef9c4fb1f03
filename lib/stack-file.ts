// Stack files on disk → raw config and validated model. The only config I/O; model/config/ stays pure.
import * as fs from "fs";
import * as yaml from "js-yaml";
import { ParseOptions, ParseResult, parseStackConfig, stackConfigToRaw } from "../model/config";

const isMap = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

function readStackYaml(path: string): unknown {
    const text = fs.readFileSync(path, "utf8");
    const doc = yaml.load(text, { filename: path });
    if (doc !== undefined && doc !== null && !isMap(doc)) throw new Error(`${path}: expected a YAML map with a config: key`);
    return isMap(doc) ? doc.config : undefined;
}

/**
 * Read stacks/Pulumi.<stack>.yaml and return its pinhole config keyed without the namespace.
 * Secrets stay encrypted ({secure: ...}). Throws when the file can't be read or isn't YAML;
 * config problems are left to parseClusterConfig (or use parseStackFile to get everything at once).
 */
export function loadStackFile(path: string): Record<string, unknown> {
    return stackConfigToRaw(readStackYaml(path)).raw;
}
/** Read stacks/Pulumi.<stack>.yaml and validate it: every problem at once. Throws only if the file is unreadable. */
export function parseStackFile(path: string, opts: ParseOptions = {}): ParseResult {
    return parseStackConfig(readStackYaml(path), opts);
}

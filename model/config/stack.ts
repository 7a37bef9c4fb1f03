// A stack file's `config:` map ("pinhole:"-prefixed keys) → raw config for parseClusterConfig. No I/O here.
import { CONFIG_NAMESPACE } from "./keys";
import { didYouMean } from "../suggest";
import { ConfigError, ConfigWarning } from "../types";
import { Problems, isMap, root, typeName } from "./read";
import { ParseOptions, ParseResult, parseClusterConfig } from "./parse";

// ---------------------------------------------------------------------------------------------------------
// Stack files

export interface RawConfigResult {
    /** Config keyed without the namespace, ready for parseClusterConfig. */
    raw: Record<string, unknown>;
    errors: ConfigError[];
    warnings: ConfigWarning[];
}

/**
 * The `config:` map of a Pulumi.<stack>.yaml → raw config keyed without "pinhole:". Keys of other namespaces
 * (providers) are ignored, except near-misses of "pinhole" (an error). Secure values stay {secure: ...}.
 */
export function stackConfigToRaw(configMap: unknown): RawConfigResult {
    const pr = new Problems();
    const raw: Record<string, unknown> = {};
    if (configMap === undefined || configMap === null) return { raw, errors: pr.errors, warnings: pr.warnings };
    if (!isMap(configMap)) {
        pr.error("config", `expected the stack file's config: to be a map, got ${typeName(configMap)}`);
        return { raw, errors: pr.errors, warnings: pr.warnings };
    }
    for (const [fullKey, value] of Object.entries(configMap)) {
        const colon = fullKey.indexOf(":");
        const namespace = colon < 0 ? CONFIG_NAMESPACE : fullKey.slice(0, colon);
        const key = colon < 0 ? fullKey : fullKey.slice(colon + 1);
        if (namespace !== CONFIG_NAMESPACE) {
            if (didYouMean(namespace, [CONFIG_NAMESPACE]) !== "") {
                pr.error(fullKey, `namespace "${namespace}" is not "${CONFIG_NAMESPACE}": this key is ignored as written (did you mean "${CONFIG_NAMESPACE}:${key}"?)`);
            }
            continue;
        }
        if (key === "sshPrivateKey" && typeof value === "string") {
            pr.error(root(key), "is stored in clear in the stack file: remove it and run `pulumi config set --secret sshPrivateKey < <private key file>`");
            raw[key] = { secure: "(redacted: was in clear)" };
            continue;
        }
        raw[key] = value;
    }
    return { raw, errors: pr.errors, warnings: pr.warnings };
}

/** The path of a stack's file: <dir>/Pulumi.<stack>.yaml. */
export function stackFilePath(stacksDir: string, stack: string): string {
    return `${stacksDir.replace(/\/+$/, "")}/Pulumi.${stack}.yaml`;
}

/** stackConfigToRaw + parseClusterConfig: every problem of a stack file's `config:` map at once. */
export function parseStackConfig(configMap: unknown, opts: ParseOptions = {}): ParseResult {
    const converted = stackConfigToRaw(configMap);
    const parsed = parseClusterConfig(converted.raw, opts);
    const errors = [...converted.errors, ...parsed.errors];
    const warnings = [...converted.warnings, ...parsed.warnings];
    return errors.length > 0 ? { errors, warnings } : { model: parsed.model, errors, warnings };
}

// A stack file's `config:` map ("pinhole:"-prefixed keys) → raw config for parseClusterConfig. No I/O here.
import { CONFIG_KEYS, CONFIG_NAMESPACE } from "./keys";
import { didYouMean } from "../suggest";
import { ConfigError, ConfigWarning } from "../types";
import { Problems, isMap, root, typeName } from "./read";
import { ParseOptions, ParseResult, parseClusterConfig } from "./parse";

// ---------------------------------------------------------------------------------------------------------
// Stack files

export interface RawConfigResult {
    /** Config keyed without the namespace, ready for parseClusterConfig. */
    raw: Record<string, unknown>;
    /** Keys of `raw` that were stored as Pulumi secrets (wholly or in part). */
    secretKeys?: string[];
    errors: ConfigError[];
    warnings: ConfigWarning[];
}

/** One resolved config value: parsed (YAML/JSON), or an opaque {secure} when this reader could not decrypt it. */
export interface ConfigEntry {
    value: unknown;
    /** Stored as a Pulumi secret (`pulumi config set --secret`), wholly or in part. */
    secret: boolean;
}

/** What a passphrase/KMS/cloud secrets provider writes into a stack file: "v1:<b64>:<b64>" or one base64 blob. */
const CIPHERTEXT = /^(v1:[A-Za-z0-9+/]+={0,2}:[A-Za-z0-9+/]+={0,2}|[A-Za-z0-9+/]{16,}={0,2})$/;

/** Every {secure: ...} inside a value, with its path, for the ciphertext check. */
function secureValues(
    v: unknown,
    path: string,
    out: { path: string; text: unknown }[] = [],
): { path: string; text: unknown }[] {
    if (isMap(v) && "secure" in v && Object.keys(v).length === 1) out.push({ path, text: v.secure });
    else if (Array.isArray(v)) v.forEach((x, i) => secureValues(x, `${path}[${i}]`, out));
    else if (isMap(v)) for (const [k, x] of Object.entries(v)) secureValues(x, `${path}.${k}`, out);
    return out;
}

/**
 * Config keys that hold certificate material, as named by certificates.nodes.<node>.{certificateConfigKey,keyConfigKey}
 * and certificates.acme.{accountKeyConfigKey,directoryCaConfigKey} (a CA certificate: public, may be plain).
 */
function certificateMaterialKeys(
    certificates: unknown,
): Map<string, { path: string; privateKey: boolean; plain?: boolean }> {
    const keys = new Map<string, { path: string; privateKey: boolean; plain?: boolean }>();
    const acme = isMap(certificates) && isMap(certificates.acme) ? certificates.acme : {};
    for (const k of ["accountKeyConfigKey", "directoryCaConfigKey"]) {
        if (typeof acme[k] === "string")
            keys.set(String(acme[k]).replace(/^pinhole:/, ""), {
                path: root(`certificates.acme.${k}`),
                privateKey: k === "accountKeyConfigKey",
                plain: k === "directoryCaConfigKey",
            });
    }
    const nodes = isMap(certificates) && isMap(certificates.nodes) ? certificates.nodes : {};
    for (const [node, entry] of Object.entries(nodes)) {
        if (!isMap(entry)) continue;
        for (const k of ["certificateConfigKey", "keyConfigKey"]) {
            if (typeof entry[k] === "string")
                keys.set(String(entry[k]).replace(/^pinhole:/, ""), {
                    path: root(`certificates.nodes.${node}.${k}`),
                    privateKey: k === "keyConfigKey",
                });
        }
    }
    return keys;
}

/**
 * THE reader's config step: resolved stack config ("pinhole:"-prefixed keys) → raw config keyed without the
 * namespace. Used by the Pulumi program (pulumi.runtime config) and by every tool (tools/common/stack-file.ts), so what one
 * accepts, all accept. Other namespaces (providers) are ignored, except near-misses of "pinhole" (an error).
 */
export function configEntriesToRaw(entries: Record<string, ConfigEntry>): RawConfigResult {
    const pr = new Problems();
    const raw: Record<string, unknown> = {};
    const own = ownEntries(entries, pr);
    checkSecureValues(own, pr);
    checkCertificateMaterial(own, pr);
    for (const [key, entry] of own) {
        if (key === "sshPrivateKey") {
            if (!entry.secret)
                pr.error(
                    root(key),
                    "is stored in clear in the stack file: remove it and run `pulumi config set --secret sshPrivateKey < <private key file>`",
                );
            // The key text never enters the validator (nor any message): only that it is there.
            raw[key] = { secure: "<secret>" };
            continue;
        }
        raw[key] = entry.value;
    }
    const secretKeys = [...own].filter(([, e]) => e.secret).map(([k]) => k);
    return { raw, secretKeys, errors: pr.errors, warnings: pr.warnings };
}

/** pinhole's entries keyed without the namespace; near-misses of "pinhole" are errors, other namespaces ignored. */
function ownEntries(entries: Record<string, ConfigEntry>, pr: Problems): Map<string, ConfigEntry> {
    const own = new Map<string, ConfigEntry>();
    for (const [fullKey, entry] of Object.entries(entries)) {
        const colon = fullKey.indexOf(":");
        const namespace = colon < 0 ? CONFIG_NAMESPACE : fullKey.slice(0, colon);
        const key = colon < 0 ? fullKey : fullKey.slice(colon + 1);
        if (namespace === CONFIG_NAMESPACE) {
            own.set(key, entry);
            continue;
        }
        if (didYouMean(namespace, [CONFIG_NAMESPACE]) !== "" || namespace.toLowerCase() === CONFIG_NAMESPACE) {
            pr.error(
                fullKey,
                `namespace "${namespace}" is not "${CONFIG_NAMESPACE}": this key would be ignored as written (did you mean "${CONFIG_NAMESPACE}:${key}"?)`,
            );
        }
    }
    return own;
}

/** A value marked secure must be ciphertext. */
function checkSecureValues(own: Map<string, ConfigEntry>, pr: Problems): void {
    for (const [key, entry] of own) {
        for (const s of secureValues(entry.value, root(key))) {
            if (typeof s.text !== "string" || !CIPHERTEXT.test(s.text)) {
                pr.error(
                    s.path,
                    "is marked secure: but is not ciphertext (the value is in clear in the stack file): remove it and store it with `pulumi config set --secret`",
                );
            }
        }
    }
}

/** Keys that hold certificate material: never pinhole's own settings, stored as secrets; removed from `own`. */
function checkCertificateMaterial(own: Map<string, ConfigEntry>, pr: Problems): void {
    const material = certificateMaterialKeys(own.get("certificates")?.value);
    for (const [key, m] of material) {
        if ((CONFIG_KEYS as readonly string[]).includes(key)) {
            pr.error(
                m.path,
                `"${key}" is pinhole's own setting pinhole:${key}: name a separate secret config key for the certificate material`,
            );
            continue;
        }
        const entry = own.get(key);
        if (entry && !entry.secret && !m.plain) {
            if (m.privateKey)
                pr.error(
                    root(key),
                    "holds a private key in clear: store it with `pulumi config set --secret " + key + " < <key file>`",
                );
            else
                pr.warn(
                    root(key),
                    "is not stored as a secret: docs/certificates.md stores it with `pulumi config set --secret`",
                );
        }
        own.delete(key);
    }
}

/** A stack file's `config:` map (secure values as {secure: ...}, not decrypted) → raw config. */
export function stackConfigToRaw(configMap: unknown): RawConfigResult {
    if (configMap === undefined || configMap === null) return { raw: {}, errors: [], warnings: [] };
    if (!isMap(configMap)) {
        const pr = new Problems();
        pr.error("config", `expected the stack file's config: to be a map, got ${typeName(configMap)}`);
        return { raw: {}, errors: pr.errors, warnings: pr.warnings };
    }
    const entries: Record<string, ConfigEntry> = {};
    for (const [k, v] of Object.entries(configMap)) entries[k] = { value: v, secret: secureValues(v, k).length > 0 };
    return configEntriesToRaw(entries);
}

/** The path of a stack's file: <dir>/Pulumi.<stack>.yaml. */
export function stackFilePath(stacksDir: string, stack: string): string {
    return `${stacksDir.replace(/\/+$/, "")}/Pulumi.${stack}.yaml`;
}

/** stackConfigToRaw + parseClusterConfig: every problem of a stack file's `config:` map at once. */
export function parseStackConfig(configMap: unknown, opts: ParseOptions = {}): ParseResult {
    return mergeResults(stackConfigToRaw(configMap), opts);
}

/** configEntriesToRaw + parseClusterConfig: the one function from resolved stack config to the validated model. */
export function parseConfigEntries(entries: Record<string, ConfigEntry>, opts: ParseOptions = {}): ParseResult {
    return mergeResults(configEntriesToRaw(entries), opts);
}

function mergeResults(converted: RawConfigResult, opts: ParseOptions): ParseResult {
    const parsed = parseClusterConfig(converted.raw, { ...opts, secretKeys: converted.secretKeys });
    const errors = [...converted.errors, ...parsed.errors];
    const warnings = [...converted.warnings, ...parsed.warnings];
    return errors.length > 0 ? { errors, warnings } : { model: parsed.model, errors, warnings };
}

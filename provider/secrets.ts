// Pulumi marks secret values on the wire with a signature object. The provider unwraps them to use
// them and wraps outputs again so the engine stores them encrypted: a secret never lands in plain state.
// The two strings are the wire protocol's; the SDK's runtime/rpc.js has them too, and test/unit/provider/start-up.test.ts
// holds these to them. Importing them from there loaded the whole SDK into the provider: ~120 ms of every start.
export const specialSigKey = "4dabf18193072939515e22adb298388d";
export const specialSecretSig = "1b47061264138c4ac30d75fd1eb44270";

export function isSecret(v: unknown): boolean {
    return typeof v === "object" && v !== null && (v as Record<string, unknown>)[specialSigKey] === specialSecretSig;
}

export function secret<T>(value: T): unknown {
    return { [specialSigKey]: specialSecretSig, value };
}

/** Deep copy with every secret wrapper replaced by its value. */
export function unwrapValue(v: unknown): unknown {
    if (isSecret(v)) return unwrapValue((v as { value: unknown }).value);
    if (Array.isArray(v)) return v.map(unwrapValue);
    if (typeof v === "object" && v !== null) {
        const out: Record<string, unknown> = {};
        for (const [k, x] of Object.entries(v)) out[k] = unwrapValue(x);
        return out;
    }
    return v;
}

/** A property map with every secret wrapper replaced by its value. */
export function unwrapSecrets(props: Record<string, unknown> | undefined): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(props ?? {})) out[k] = unwrapValue(x);
    return out;
}

/** Top-level property names whose value is (or contains) a secret. */
export function secretKeys(props: Record<string, unknown> | undefined): Set<string> {
    const keys = new Set<string>();
    const contains = (v: unknown): boolean =>
        isSecret(v) ||
        (Array.isArray(v)
            ? v.some(contains)
            : typeof v === "object" && v !== null
              ? Object.values(v).some(contains)
              : false);
    for (const [k, v] of Object.entries(props ?? {})) if (contains(v)) keys.add(k);
    return keys;
}

/** Wrap the named top-level properties of `outs` as secrets. */
export function wrapKeys(outs: Record<string, unknown>, keys: Iterable<string>): Record<string, unknown> {
    const res: Record<string, unknown> = { ...outs };
    for (const k of keys) if (k in res && res[k] !== undefined && !isSecret(res[k])) res[k] = secret(res[k]);
    return res;
}

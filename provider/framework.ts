// A small framework for pinhole's resource types: each type is a ResourceHandler working on plain
// (unwrapped) values; the dispatcher handles secret wrapping, default diffs and error shapes.
import * as provider from "@pulumi/pulumi/provider";
import { secretKeys, unwrapSecrets, wrapKeys } from "./secrets";

export interface CheckFailure {
    property: string;
    reason: string;
}

export interface ResourceHandler {
    /** Validates and normalises new inputs (defaults filled in). */
    check?(news: any, olds: any): Promise<{ inputs: any; failures?: CheckFailure[] }>;
    /** Custom diff; the default compares every input key and replaces on `replaceOnChanges`. */
    diff?(olds: any, news: any): Promise<provider.DiffResult>;
    create(inputs: any): Promise<{ id: string; outs: any }>;
    read?(id: string, props: any): Promise<{ id: string; props: any; inputs?: any }>;
    update?(id: string, olds: any, news: any): Promise<{ outs: any }>;
    delete?(id: string, props: any): Promise<void>;
    /** Inputs whose change needs a new resource. */
    replaceOnChanges?: string[];
    /** Output properties that are always secret (private keys...). */
    secretOutputs?: string[];
    /** Output-only properties the default diff ignores. */
    outputOnly?: string[];
}

/** "urn:pulumi:stack::project::parent$type::name" → "type". */
export function typeOfUrn(urn: string): string {
    const parts = urn.split("::");
    const qualified = parts[2] ?? "";
    return qualified.split("$").pop() ?? qualified;
}

export function stableJson(v: unknown): string {
    return JSON.stringify(v, (_k, x) =>
        x && typeof x === "object" && !Array.isArray(x)
            ? Object.fromEntries(Object.keys(x).sort().map((k) => [k, (x as Record<string, unknown>)[k]]))
            : x);
}

/** Keys of `news` whose value differs from `olds` (unwrapped). */
export function changedKeys(olds: Record<string, unknown>, news: Record<string, unknown>, ignore: string[] = []): string[] {
    const keys = new Set([...Object.keys(news)]);
    return [...keys].filter((k) => !ignore.includes(k) && stableJson(olds[k]) !== stableJson(news[k])).sort();
}

export function makeProvider(version: string, handlers: Record<string, ResourceHandler>): provider.Provider {
    const handlerFor = (urn: string): ResourceHandler => {
        const t = typeOfUrn(urn);
        const h = handlers[t];
        if (!h) throw new Error(`pinhole provider: unknown resource type ${t}`);
        return h;
    };
    const wrapOuts = (h: ResourceHandler, outs: any, secretInputs: Set<string>) =>
        wrapKeys(outs ?? {}, [...secretInputs, ...(h.secretOutputs ?? [])]);

    return {
        version,
        async check(urn, olds, news) {
            const h = handlerFor(urn);
            if (!h.check) return { inputs: news };
            const res = await h.check(unwrapSecrets(news), unwrapSecrets(olds));
            return { inputs: wrapKeys(res.inputs, secretKeys(news)), failures: res.failures ?? [] };
        },
        async diff(_id, urn, olds, news) {
            const h = handlerFor(urn);
            const o = unwrapSecrets(olds);
            const n = unwrapSecrets(news);
            if (h.diff) return h.diff(o, n);
            const changed = changedKeys(o, n, h.outputOnly);
            const replaces = changed.filter((k) => (h.replaceOnChanges ?? []).includes(k));
            return { changes: changed.length > 0, replaces, deleteBeforeReplace: false };
        },
        async create(urn, inputs) {
            const h = handlerFor(urn);
            const res = await h.create(unwrapSecrets(inputs));
            return { id: res.id, outs: wrapOuts(h, res.outs, secretKeys(inputs)) };
        },
        async read(id, urn, props) {
            const h = handlerFor(urn);
            if (!h.read) return { id, props };
            const res = await h.read(id, unwrapSecrets(props));
            const secrets = secretKeys(props);
            return {
                id: res.id,
                props: wrapOuts(h, res.props, secrets),
                inputs: res.inputs === undefined ? undefined : wrapKeys(res.inputs, secrets),
            };
        },
        async update(id, urn, olds, news) {
            const h = handlerFor(urn);
            if (!h.update) throw new Error(`pinhole provider: ${typeOfUrn(urn)} cannot be updated in place`);
            const res = await h.update(id, unwrapSecrets(olds), unwrapSecrets(news));
            return { outs: wrapOuts(h, res.outs, secretKeys(news)) };
        },
        async delete(id, urn, props) {
            const h = handlerFor(urn);
            if (h.delete) await h.delete(id, unwrapSecrets(props));
        },
    };
}

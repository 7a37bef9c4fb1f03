// A small framework for pinhole's resource types. Each type is a ResourceHandler over its schema's
// typed inputs and state (provider/schema.ts); `erase` wraps it for the server (provider/server.ts),
// which checks inputs against the schema first, handles secret wrapping, default detailed diffs and
// refuses outputs the schema does not declare.
import type { CheckedInputsOf, PriorOf, PropSpec, ResourceSpec, StateOf } from "./schema-types";
import { checkInputs, undeclaredOutputs, withInputDefaults } from "./schema-check";
import { secretKeys, unwrapSecrets, wrapKeys } from "./secrets";

export interface CheckFailure {
    property: string;
    reason: string;
}

export type PropertyDiffKind = "add" | "add-replace" | "delete" | "delete-replace" | "update" | "update-replace";

export interface DiffResult {
    changes: boolean;
    /** Properties whose change needs a new resource. */
    replaces: string[];
    /** Property path → how it changes (old state value against the new input). */
    detailedDiff: Record<string, PropertyDiffKind>;
    deleteBeforeReplace?: boolean;
    /** Shown by the engine on the resource (preview and up), e.g. why it is replaced now (provider/engine-log.ts). */
    warnings?: string[];
}

import { ProviderError } from "./errors";
export { ProviderError };

export type Values = Record<string, unknown>;

export interface ResourceHandler<S extends ResourceSpec> {
    readonly spec: S;
    /**
     * Checks beyond the schema's types and bounds; may normalise the (already schema-checked) inputs.
     * `olds` are the inputs the engine stored after the last check (undefined on create).
     */
    check?(
        news: CheckedInputsOf<S>,
        olds?: CheckedInputsOf<S>,
    ): Promise<{ inputs?: CheckedInputsOf<S>; failures?: CheckFailure[] }>;
    /**
     * Custom diff; the default compares every input and replaces on the schema's replaceOnChanges. `olds` is the
     * old state's outputs over its inputs (the schema's input-only properties come from the inputs).
     */
    diff?(olds: PriorOf<S>, news: CheckedInputsOf<S>): Promise<DiffResult>;
    create(inputs: CheckedInputsOf<S>): Promise<{ id: string; outs: StateOf<S> }>;
    /** `olds` is undefined on import (only the ID and the URN, hence the stack, are known). */
    read?(
        id: string,
        olds: StateOf<S> | undefined,
        urn: string,
    ): Promise<{ id: string; props: StateOf<S>; inputs?: CheckedInputsOf<S>; warnings?: string[] }>;
    update?(id: string, olds: PriorOf<S>, news: CheckedInputsOf<S>): Promise<{ outs: StateOf<S> }>;
    delete?(id: string, props: StateOf<S>): Promise<void>;
}

/** A handler with its types erased, as the server dispatches to it (values checked against the schema). */
export interface Handler {
    readonly spec: ResourceSpec;
    check(news: Values, olds?: Values): Promise<{ inputs: Values; failures: CheckFailure[] }>;
    diff(olds: Values, news: Values): Promise<DiffResult>;
    create(inputs: Values): Promise<{ id: string; outs: Values }>;
    /** `warnings` (an import's) are shown on the resource. */
    read(
        id: string,
        olds: Values,
        urn: string,
    ): Promise<{ id: string; props: Values; inputs?: Values; warnings?: string[] }>;
    update(id: string, olds: Values, news: Values): Promise<{ outs: Values }>;
    delete(id: string, props: Values): Promise<void>;
}

export function stableJson(v: unknown): string {
    return JSON.stringify(v, (_k, x) =>
        x && typeof x === "object" && !Array.isArray(x)
            ? Object.fromEntries(
                  Object.keys(x)
                      .sort()
                      .map((k) => [k, (x as Values)[k]]),
              )
            : x,
    );
}

/** Input keys whose value differs between the old state and the new inputs. */
export function changedKeys(olds: object, news: object, keys: readonly string[]): string[] {
    const o = olds as Values;
    const n = news as Values;
    return keys.filter((k) => stableJson(o[k] ?? null) !== stableJson(n[k] ?? null)).sort();
}

/** Detailed diff of the given input keys: added, deleted or updated, `-replace` for `replaceOn`. */
export function inputDiff(
    olds: object,
    news: object,
    keys: readonly string[],
    replaceOn: readonly string[] = [],
): DiffResult {
    const o = olds as Values;
    const n = news as Values;
    const detailedDiff: Record<string, PropertyDiffKind> = {};
    const replaces: string[] = [];
    for (const k of changedKeys(olds, news, keys)) {
        const base = o[k] === undefined ? "add" : n[k] === undefined ? "delete" : "update";
        const replace = replaceOn.includes(k);
        if (replace) replaces.push(k);
        detailedDiff[k] = replace ? `${base}-replace` : base;
    }
    return { changes: Object.keys(detailedDiff).length > 0, replaces, detailedDiff };
}

const isSecretSpec = (p: PropSpec) => "secret" in p && p.secret === true;

/** Output keys the schema marks secret (inputs and outputs). */
export function schemaSecrets(spec: ResourceSpec): string[] {
    return [...Object.entries(spec.inputs), ...Object.entries(spec.outputs)]
        .filter(([, p]) => isSecretSpec(p))
        .map(([k]) => k);
}

function assertDeclared(spec: ResourceSpec, outs: Values, op: string): Values {
    const extra = undeclaredOutputs(spec, outs);
    if (extra.length)
        throw new Error(
            `pinhole provider bug: ${spec.token} ${op} returned properties its schema does not declare: ${extra.join(", ")}`,
        );
    return outs;
}

/** Outputs without the schema's input-only properties (they stay in the state's inputs only; older states had them in both). */
export function withoutInputOnly(spec: ResourceSpec, outs: Values): Values {
    const inputOnly = spec.inputOnly ?? [];
    return inputOnly.some((k) => k in outs)
        ? Object.fromEntries(Object.entries(outs).filter(([k]) => !inputOnly.includes(k)))
        : outs;
}

/**
 * The one place where wire values become typed: after checkInputs validated them against the schema
 * (inputs), or because the engine hands back what an earlier call of this handler returned (state).
 */
function typed<T>(v: Values): T {
    return v as T;
}

/** read() of an erased handler: an import of a type without a read is refused; else the handler's, secrets kept. */
async function readErased<S extends ResourceSpec>(
    h: ResourceHandler<S>,
    wrapOuts: (outs: Values, wire: Values, op: string) => Values,
    secrets: string[],
    id: string,
    olds: Values,
    urn: string,
): ReturnType<Handler["read"]> {
    const spec = h.spec;
    const o = unwrapSecrets(olds);
    // An import (no old state) of a type without a read: refused, not recorded as an empty state.
    if (!h.read && !Object.keys(o).length)
        throw new ProviderError(
            `${spec.token} ${id} cannot be imported: ${spec.import.split("\n")[0]} (docs/provider.md)`,
        );
    if (!h.read) return { id, props: olds };
    const res = await h.read(id, Object.keys(o).length ? typed<StateOf<S>>(o) : undefined, urn);
    return {
        id: res.id,
        props: wrapOuts(res.props, olds, "read"),
        inputs:
            res.inputs === undefined
                ? undefined
                : wrapKeys(assertDeclared(spec, res.inputs, "read"), [...secretKeys(olds), ...secrets]),
        ...(res.warnings?.length ? { warnings: res.warnings } : {}),
    };
}

export function erase<S extends ResourceSpec>(h: ResourceHandler<S>): Handler {
    const spec = h.spec;
    const inputKeys = Object.keys(spec.inputs);
    const secrets = schemaSecrets(spec);
    // Secret inputs stay secret in the outputs; the schema's secret properties always are.
    const wrapOuts = (outs: Values, wire: Values, op: string) =>
        wrapKeys(withoutInputOnly(spec, assertDeclared(spec, outs, op)), [...secretKeys(wire), ...secrets]);
    return {
        spec,
        async check(wire, oldWire) {
            const res = checkInputs(spec, unwrapSecrets(wire));
            if (res.failures.length || !h.check)
                return { inputs: wrapKeys(res.inputs, secretKeys(wire)), failures: res.failures };
            const o = unwrapSecrets(oldWire);
            const own = await h.check(
                typed<CheckedInputsOf<S>>(res.inputs),
                Object.keys(o).length ? typed<CheckedInputsOf<S>>(o) : undefined,
            );
            return { inputs: wrapKeys(own.inputs ?? res.inputs, secretKeys(wire)), failures: own.failures ?? [] };
        },
        async diff(olds, news) {
            const o = withInputDefaults(spec, unwrapSecrets(olds));
            const n = unwrapSecrets(news);
            if (h.diff) return h.diff(typed<PriorOf<S>>(o), typed<CheckedInputsOf<S>>(n));
            return inputDiff(o, n, inputKeys, spec.replaceOnChanges ?? []);
        },
        async create(inputs) {
            const res = await h.create(typed<CheckedInputsOf<S>>(unwrapSecrets(inputs)));
            return { id: res.id, outs: wrapOuts(res.outs, inputs, "create") };
        },
        read: (id, olds, urn) => readErased(h, wrapOuts, secrets, id, olds, urn),
        async update(id, olds, news) {
            if (!h.update)
                throw new Error(
                    `pinhole provider bug: ${spec.token} cannot be updated in place, yet its diff asked for an update`,
                );
            const res = await h.update(
                id,
                typed<PriorOf<S>>(withInputDefaults(spec, unwrapSecrets(olds))),
                typed<CheckedInputsOf<S>>(unwrapSecrets(news)),
            );
            return { outs: wrapOuts(res.outs, news, "update") };
        },
        async delete(id, props) {
            if (h.delete) await h.delete(id, typed<StateOf<S>>(unwrapSecrets(props)));
        },
    };
}

/** "urn:pulumi:stack::project::parent$type::name" → "type". */
export function typeOfUrn(urn: string): string {
    const parts = urn.split("::");
    const qualified = parts[2] ?? "";
    return qualified.split("$").pop() ?? qualified;
}

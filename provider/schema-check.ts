// Inputs and outputs checked against the schema (provider/schema.ts): the framework runs these on every
// call, so a component passing a property the schema lacks, or a handler returning one, fails loudly
// instead of drifting silently. Values still unknown at preview (the engine's sentinel) pass.
import type { CheckFailure } from "./framework";
import type { PropSpec, Props, ResourceSpec } from "./schema-types";

/** The engine's placeholder for a value not known until apply. */
export const UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9";
export const isUnknown = (v: unknown): boolean => v === UNKNOWN;

const kindOf = (v: unknown) => (Array.isArray(v) ? "array" : v === null ? "null" : typeof v);

function checkValue(path: string, p: PropSpec, v: unknown, failures: CheckFailure[]): void {
    if (isUnknown(v)) return;
    const bad = (reason: string): void => {
        failures.push({ property: path, reason });
    };
    switch (p.type) {
        case "string":
            if (typeof v !== "string") return bad(`must be a string, not ${kindOf(v)}`);
            if (p.enum && !p.enum.includes(v))
                return bad(`must be one of ${p.enum.join(", ")}, not ${JSON.stringify(v)}`);
            return;
        case "integer":
        case "number":
            if (typeof v !== "number" || !Number.isFinite(v)) return bad(`must be a number, not ${JSON.stringify(v)}`);
            if (p.type === "integer" && !Number.isInteger(v)) return bad(`must be a whole number, not ${v}`);
            if (p.enum && !p.enum.includes(v)) return bad(`must be one of ${p.enum.join(", ")}, not ${v}`);
            if (p.minimum !== undefined && p.maximum !== undefined && (v < p.minimum || v > p.maximum))
                return bad(`must be between ${p.minimum} and ${p.maximum}, not ${v}`);
            if (p.minimum !== undefined && v < p.minimum) return bad(`must be at least ${p.minimum}, not ${v}`);
            return;
        case "boolean":
            if (typeof v !== "boolean") return bad(`must be true or false, not ${JSON.stringify(v)}`);
            return;
        case "array":
            if (!Array.isArray(v)) return bad(`must be a list, not ${kindOf(v)}`);
            if (p.minItems && v.length < p.minItems)
                return bad(`must list at least ${p.minItems} item${p.minItems > 1 ? "s" : ""}`);
            v.forEach((x, i) => checkValue(`${path}[${i}]`, p.items, x, failures));
            return;
        case "object":
            if (typeof v !== "object" || v === null || Array.isArray(v))
                return bad(`must be an object, not ${kindOf(v)}`);
            checkObject(`${path}.`, p.properties, p.required, v as Record<string, unknown>, failures);
            return;
    }
}

function checkObject(
    prefix: string,
    props: Props,
    required: readonly string[],
    v: Record<string, unknown>,
    failures: CheckFailure[],
): void {
    for (const k of required) {
        if (v[k] === undefined || v[k] === null || v[k] === "")
            failures.push({ property: `${prefix}${k}`, reason: "is required" });
    }
    for (const [k, x] of Object.entries(v)) {
        const p = props[k];
        if (!p) {
            failures.push({ property: `${prefix}${k}`, reason: "is not a property of this resource type (schema)" });
            continue;
        }
        if (x !== undefined && x !== null) checkValue(`${prefix}${k}`, p, x, failures);
    }
}

/** Checks news against the resource's input schema and fills in defaults. */
export function checkInputs(
    spec: ResourceSpec,
    news: Record<string, unknown>,
): { inputs: Record<string, unknown>; failures: CheckFailure[] } {
    const failures: CheckFailure[] = [];
    const inputs: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(news)) if (v !== undefined && v !== null) inputs[k] = v;
    for (const [k, p] of Object.entries(spec.inputs)) {
        if (inputs[k] === undefined && "default" in p && p.default !== undefined)
            inputs[k] = Array.isArray(p.default) ? [...p.default] : p.default;
    }
    checkObject("", spec.inputs, spec.requiredInputs, inputs, failures);
    return { inputs, failures };
}

/**
 * An old state with the schema's defaults for the inputs it lacks: a state written before an input existed
 * behaved as its default does (a new input always defaults to the behaviour before it), so upgrading the
 * provider shows no change for it (e.g. WebServer's frontEnd, a replaceOnChanges input).
 */
export function withInputDefaults(spec: ResourceSpec, olds: Record<string, unknown>): Record<string, unknown> {
    const out = { ...olds };
    for (const [k, p] of Object.entries(spec.inputs)) {
        if (out[k] === undefined && "default" in p && p.default !== undefined)
            out[k] = Array.isArray(p.default) ? [...p.default] : p.default;
    }
    return out;
}

/** Names of output properties the schema does not declare (a handler/schema drift: a bug, not bad input). */
export function undeclaredOutputs(spec: ResourceSpec, outs: Record<string, unknown>): string[] {
    return Object.keys(outs)
        .filter((k) => !(k in spec.inputs) && !(k in spec.outputs))
        .sort();
}

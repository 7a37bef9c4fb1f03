// The vocabulary of pinhole's provider schema (provider/schema.ts): property specs written once as
// `const` data, from which (a) TypeScript derives the input/state types of handlers and program classes
// and (b) `toPulumiSchema` emits the Pulumi package schema that GetSchema serves.

export interface StringSpec {
    readonly type: "string";
    readonly description: string;
    readonly enum?: readonly string[];
    readonly default?: string;
    readonly secret?: boolean;
}
/** A number; "integer" ones must be whole. */
export interface IntegerSpec {
    readonly type: "integer" | "number";
    readonly description: string;
    readonly enum?: readonly number[];
    readonly default?: number;
    readonly minimum?: number;
    readonly maximum?: number;
}
export interface BooleanSpec {
    readonly type: "boolean";
    readonly description: string;
    readonly default?: boolean;
}
export interface ArraySpec {
    readonly type: "array";
    readonly description: string;
    readonly items: PropSpec;
    readonly minItems?: number;
    readonly default?: readonly string[];
}
export interface ObjectSpec {
    readonly type: "object";
    /** Schema type token (e.g. "pinhole:node:Connection"): the object becomes a named type. */
    readonly token: string;
    readonly description: string;
    readonly properties: Readonly<Record<string, PropSpec>>;
    readonly required: readonly string[];
    readonly secret?: boolean;
}
export type PropSpec = StringSpec | IntegerSpec | BooleanSpec | ArraySpec | ObjectSpec;
export type Props = Readonly<Record<string, PropSpec>>;

export interface ResourceSpec {
    readonly token: string;
    readonly description: string;
    readonly inputs: Props;
    readonly requiredInputs: readonly string[];
    /** Output-only properties (every input is an output too, except the `inputOnly` ones). */
    readonly outputs: Props;
    /**
     * Large inputs the state keeps only among the resource's inputs, not repeated in its outputs (a Firewall's
     * ruleset): the framework drops them from what handlers return, the server hands them to diff and update from
     * the old inputs, and their diffs are input diffs, so `preview --diff` shows them as before.
     */
    readonly inputOnly?: readonly string[];
    /** Outputs a handler may leave out (absent means "as another output": a Firewall's liveListing without drift). */
    readonly optionalOutputs?: readonly string[];
    /** Inputs whose change needs a new resource. */
    readonly replaceOnChanges?: readonly string[];
    /** Markdown: how `pulumi import` takes an existing one over, or exactly why it cannot (docs and schema). */
    readonly import: string;
}

// ------------------------------------------------------------------------------------------ derived types

type Simplify<T> = { [K in keyof T]: T[K] } & unknown;

/** The plain value a property holds. */
export type ValueOf<P> = P extends { type: "string"; enum: readonly (infer E)[] }
    ? E
    : P extends { type: "string" }
      ? string
      : P extends { type: "integer" | "number" }
        ? number
        : P extends { type: "boolean" }
          ? boolean
          : P extends { type: "array"; items: infer I }
            ? ValueOf<I>[]
            : P extends { type: "object"; properties: infer PP; required: readonly (infer R)[] }
              ? ObjectOf<PP, R & string>
              : never;

export type ObjectOf<PP, R extends string> = Simplify<
    { [K in keyof PP & R]: ValueOf<PP[K]> } & { [K in Exclude<keyof PP, R>]?: ValueOf<PP[K]> }
>;

type WithDefault<PP> = { [K in keyof PP]: PP[K] extends { default: unknown } ? K : never }[keyof PP] & string;

/** Inputs as the program gives them (defaults optional). */
export type InputsOf<S extends ResourceSpec> = ObjectOf<S["inputs"], S["requiredInputs"][number]>;
/** Inputs after check: defaults filled in. */
export type CheckedInputsOf<S extends ResourceSpec> = ObjectOf<
    S["inputs"],
    S["requiredInputs"][number] | WithDefault<S["inputs"]>
>;
type InputOnlyOf<S extends ResourceSpec> = S extends { inputOnly: readonly (infer K)[] } ? K & string : never;
type OptionalOutputsOf<S extends ResourceSpec> = S extends { optionalOutputs: readonly (infer K)[] }
    ? K & string
    : never;
/** What the state's outputs hold: the checked inputs (but the input-only ones) and every output. */
export type StateOf<S extends ResourceSpec> = Simplify<
    Omit<CheckedInputsOf<S>, InputOnlyOf<S>> &
        ObjectOf<S["outputs"], Exclude<keyof S["outputs"] & string, OptionalOutputsOf<S>>>
>;
/** An old state as diff and update see it: its outputs over its inputs (so the input-only ones too). */
export type PriorOf<S extends ResourceSpec> = Simplify<
    StateOf<S> & Pick<CheckedInputsOf<S>, InputOnlyOf<S> & keyof CheckedInputsOf<S>>
>;
export type OutputNamesOf<S extends ResourceSpec> = keyof S["outputs"] & string;

// ------------------------------------------------------------------------------------------ Pulumi schema

type Json = Record<string, unknown>;

function propertyJson(p: PropSpec, types: Record<string, Json>): Json {
    const base: Json = { description: p.description };
    if ("secret" in p && p.secret) base.secret = true;
    if ("default" in p && p.default !== undefined && !Array.isArray(p.default)) base.default = p.default;
    if (p.type === "object") {
        types[p.token] = {
            type: "object",
            description: p.description,
            properties: propertiesJson(p.properties, types),
            required: [...p.required],
        };
        return { ...base, $ref: `#/types/${p.token}` };
    }
    if (p.type === "array") {
        const items = propertyJson(p.items, types);
        delete items.description;
        return { ...base, type: "array", items };
    }
    return { ...base, type: p.type };
}

function propertiesJson(props: Props, types: Record<string, Json>): Record<string, Json> {
    return Object.fromEntries(Object.entries(props).map(([k, p]) => [k, propertyJson(p, types)]));
}

/** Bounds and enums the schema format has no field for, spelled out in the description. */
export function describeBounds(p: PropSpec): string {
    const notes: string[] = [];
    const numeric = p.type === "integer" || p.type === "number";
    if (numeric && p.minimum !== undefined && p.maximum !== undefined)
        notes.push(`between ${p.minimum} and ${p.maximum}`);
    else if (numeric && p.minimum !== undefined) notes.push(`at least ${p.minimum}`);
    if ((p.type === "string" || numeric) && p.enum) notes.push(`one of ${p.enum.join(", ")}`);
    if (p.type === "array" && p.minItems) notes.push(`at least ${p.minItems} item${p.minItems > 1 ? "s" : ""}`);
    if ("default" in p && p.default !== undefined) notes.push(`default ${JSON.stringify(p.default)}`);
    return notes.length ? `${p.description} (${notes.join("; ")})` : p.description;
}

function withBounds(props: Props): Props {
    return Object.fromEntries(
        Object.entries(props).map(([k, p]) => [k, { ...p, description: describeBounds(p) } as PropSpec]),
    );
}

/** The Pulumi package schema (https://www.pulumi.com/docs/iac/extending-pulumi/schema/) of the given resources. */
export function toPulumiSchema(
    meta: { name: string; version: string; description: string },
    resources: readonly ResourceSpec[],
): Json {
    const types: Record<string, Json> = {};
    const res: Record<string, Json> = {};
    for (const r of resources) {
        const inputProperties = propertiesJson(withBounds(r.inputs), types);
        const outputProperties = propertiesJson(withBounds(r.outputs), types);
        const inputOnly = r.inputOnly ?? [];
        const optional = r.optionalOutputs ?? [];
        res[r.token] = {
            description: `${r.description}\n\n## Import\n\n${r.import}`,
            inputProperties,
            requiredInputs: [...r.requiredInputs],
            properties: Object.fromEntries(
                Object.entries({ ...inputProperties, ...outputProperties }).filter(([k]) => !inputOnly.includes(k)),
            ),
            required: [...new Set([...r.requiredInputs, ...Object.keys(r.outputs)])]
                .filter((k) => !inputOnly.includes(k) && !optional.includes(k))
                .sort(),
        };
    }
    return {
        name: meta.name,
        version: meta.version,
        description: meta.description,
        displayName: "pinhole",
        publisher: "pinhole",
        license: "UNLICENSED",
        meta: { moduleFormat: "(.*)" },
        config: {},
        provider: {
            description:
                "pinhole's provider: takes no configuration (the connection of each node is an input of its resources).",
        },
        types,
        resources: res,
    };
}

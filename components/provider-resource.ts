// Program-side types of the provider's resources, derived from the provider's schema (provider/schema.ts):
// a component cannot pass a property the schema lacks, or miss a required one, without a type error;
// resourceInputs also refuses undeclared properties at run time (the contract test relies on it).
import * as pulumi from "./pulumi";
import type { InputsOf, ResourceSpec } from "../provider/schema-types";
import { schemaSecrets } from "../provider/framework";

/** A plain value as the program may give it: any part of it may be an Input. */
export type DeepInput<T> = T extends (infer E)[]
    ? pulumi.Input<DeepInput<E>[]>
    : T extends object
      ? pulumi.Input<{ [K in keyof T]: DeepInput<T[K]> }>
      : pulumi.Input<T>;

/** The args of a provider resource class, from its schema. */
export type ArgsOf<S extends ResourceSpec> = { [K in keyof InputsOf<S>]: DeepInput<InputsOf<S>[K]> };

/** Names of properties in `args` that the schema does not declare as inputs. */
export function undeclaredInputs(spec: ResourceSpec, args: object): string[] {
    return Object.keys(args)
        .filter((k) => !(k in spec.inputs))
        .sort();
}

/** The property map a CustomResource registers: the args, and every output (undefined until the provider fills it). */
export function resourceInputs(spec: ResourceSpec, args: object): pulumi.Inputs {
    const extra = undeclaredInputs(spec, args);
    if (extra.length)
        throw new Error(`${spec.token}: the provider's schema has no input ${extra.join(", ")} (provider/schema.ts)`);
    const outputs = Object.fromEntries(Object.keys(spec.outputs).map((k) => [k, undefined]));
    return { ...outputs, ...args };
}

/** Resource options every provider resource gets: the schema's secret properties stay secret in the state. */
export function resourceOptions(spec: ResourceSpec, opts?: pulumi.CustomResourceOptions): pulumi.CustomResourceOptions {
    return pulumi.mergeOptions(opts, { additionalSecretOutputs: schemaSecrets(spec) });
}

// Config problems as text: one line per problem, path first.
import { ClusterModel, ConfigError } from "../types";
import { ParseOptions, parseClusterConfig } from "./parse";

/** One line per problem: "pinhole:nodes[2].address: ...". */
export function formatProblems(problems: readonly ConfigError[]): string {
    return problems.map((p) => `${p.path}: ${p.message}`).join("\n");
}

/** A headline and one line per problem, for an exception message or a terminal. */
export function formatConfigErrors(errors: readonly ConfigError[], stack?: string): string {
    const n = errors.length;
    return `invalid pinhole stack config${stack ? ` for stack "${stack}"` : ""} (${n} problem${n === 1 ? "" : "s"}; nothing was changed):\n${formatProblems(errors)}`;
}

/** Thrown by requireValidModel; `errors` has every problem. */
export class ConfigValidationError extends Error {
    constructor(readonly errors: ConfigError[]) {
        super(
            `invalid pinhole stack config (${errors.length} problem${errors.length === 1 ? "" : "s"}):\n${formatProblems(errors)}`,
        );
        this.name = "ConfigValidationError";
    }
}

/** parseClusterConfig for callers that want a model or an exception listing every problem (index.ts). */
export function requireValidModel(raw: unknown, opts: ParseOptions = {}): ClusterModel {
    const result = parseClusterConfig(raw, opts);
    if (!result.model) throw new ConfigValidationError(result.errors);
    return result.model;
}

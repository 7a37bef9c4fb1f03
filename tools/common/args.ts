// Every command's argument parsing: node:util parseArgs (strict: unknown flags and missing values are errors),
// with one shape of result and one wording of errors for all commands. A command turns the values into its
// typed arguments with the checks below; any problem comes back as "<what is wrong>\n<usage>", --help as the usage.
import { parseArgs } from "node:util";

export type FlagSpec = Record<string, { type: "string" | "boolean"; short?: string; multiple?: false }>;
export type FlagValues = Record<string, string | boolean | undefined>;

/** A problem with the command line; the message names the flag and what it needs. */
export class UsageError extends Error {}

function explain(e: Error & { code?: string }): string {
    const flag = /'(-{1,2}[\w-]+)/.exec(e.message)?.[1];
    switch (e.code) {
        case "ERR_PARSE_ARGS_UNKNOWN_OPTION":
            return `unknown argument "${flag ?? e.message}"`;
        case "ERR_PARSE_ARGS_INVALID_OPTION_VALUE":
            // a string flag without its value, or a boolean flag given one (--json=yes)
            return /argument missing|ambiguous/.test(e.message) ? `${flag} needs a value` : `${flag} takes no value`;
        case "ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL":
            return `unknown argument "${/'([^']*)'/.exec(e.message)?.[1] ?? e.message}"`;
        default:
            return e.message;
    }
}

/**
 * Parses `argv` against `flags` (--help/-h always allowed). Returns the values, or a string to print: the usage
 * alone for --help, "<problem>\n<usage>" otherwise. `build` may throw UsageError for a bad value.
 */
export function parseCommand<T>(
    argv: string[],
    flags: FlagSpec,
    usage: string,
    build: (values: FlagValues) => T,
): T | string {
    let values: FlagValues;
    try {
        values = parseArgs({
            args: argv,
            options: { ...flags, help: { type: "boolean", short: "h" } },
            strict: true,
            allowPositionals: false,
        }).values as FlagValues;
    } catch (e) {
        return `${explain(e as Error & { code?: string })}\n${usage}`;
    }
    if (values.help) return usage;
    try {
        return build(values);
    } catch (e) {
        if (e instanceof UsageError) return `${e.message}\n${usage}`;
        throw e;
    }
}

/** A whole number flag in [min, max] (undefined when not given). */
export function intFlag(values: FlagValues, name: string, min: number, max: number, what: string): number | undefined {
    const raw = values[name];
    if (raw === undefined) return undefined;
    const n = Number(raw);
    if (typeof raw !== "string" || !/^\d+$/.test(raw.trim()) || !Number.isInteger(n) || n < min || n > max)
        throw new UsageError(`--${name} needs ${what}`);
    return n;
}

/** A string flag that must be one of `choices`. */
export function choiceFlag<C extends string>(values: FlagValues, name: string, choices: readonly C[]): C | undefined {
    const raw = values[name];
    if (raw === undefined) return undefined;
    if (!(choices as readonly unknown[]).includes(raw))
        throw new UsageError(`--${name} must be one of ${choices.join(", ")} (got "${String(raw)}")`);
    return raw as C;
}

export const stringFlag = (values: FlagValues, name: string): string | undefined =>
    typeof values[name] === "string" ? (values[name] as string) : undefined;
export const boolFlag = (values: FlagValues, name: string): boolean => values[name] === true;

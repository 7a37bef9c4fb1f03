// npm run matrix -- --stack <name> [--json] [--dir <stacks dir>]
// Prints who may talk to whom, on what and why, for a stack file; exits 2 (every problem listed) on bad config.
import "../common/help-gate";
import * as path from "path";
import { formatMatrixJson, formatMatrixTable, matrixRows } from "../../model/matrix";
import { formatProblems } from "../../model/config";
import { readStack } from "../common/stack-file";
import { MATRIX_USAGE as USAGE } from "../common/usage";
import { projectRoot } from "../common/project-root";
import { boolFlag, FlagSpec, parseCommand, stringFlag, UsageError } from "../common/args";

export interface MatrixArgs {
    stack: string;
    json: boolean;
    dir: string;
}

export function parseMatrixArgs(argv: string[]): MatrixArgs | string {
    const flags: FlagSpec = { stack: { type: "string" }, json: { type: "boolean" }, dir: { type: "string" } };
    return parseCommand(argv, flags, USAGE, (v) => {
        const stack = stringFlag(v, "stack");
        if (!stack) throw new UsageError("missing --stack");
        const dir = stringFlag(v, "dir");
        return { stack, json: boolFlag(v, "json"), dir: dir ? path.resolve(dir) : path.join(projectRoot(), "stacks") };
    });
}

function main(argv: string[]): number {
    const args = parseMatrixArgs(argv);
    if (typeof args === "string") {
        (args === USAGE ? process.stdout : process.stderr).write(args + "\n");
        return args === USAGE ? 0 : 64;
    }
    const { stack, json, dir } = args;
    let result;
    try {
        result = readStack(stack, { dir });
    } catch (e) {
        process.stderr.write(`${(e as Error).message}\n`);
        return 2;
    }
    const file = result.file;
    for (const w of result.warnings) process.stderr.write(`warning: ${w.path}: ${w.message}\n`);
    if (!result.model) {
        process.stderr.write(
            `${file}: ${result.errors.length} problem${result.errors.length === 1 ? "" : "s"}:\n${formatProblems(result.errors)}\n`,
        );
        return 2;
    }
    const rows = matrixRows(result.model);
    process.stdout.write(json ? formatMatrixJson(rows) : formatMatrixTable(result.model, rows, stack));
    return 0;
}

if (require.main === module) process.exitCode = main(process.argv.slice(2));

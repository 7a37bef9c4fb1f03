// npm run matrix -- --stack <name> [--json] [--dir <stacks dir>]
// Prints who may talk to whom, on what and why, for a stack file; exits 2 (every problem listed) on bad config.
import "../common/help-gate";
import * as path from "path";
import { formatMatrixJson, formatMatrixTable, matrixRows } from "../../model/matrix";
import { formatProblems } from "../../model/config";
import { readStack } from "../common/stack-file";
import { MATRIX_USAGE as USAGE } from "../common/usage";
import { projectRoot } from "../common/project-root";

function main(argv: string[]): number {
    let stack: string | undefined;
    let json = false;
    let dir = path.join(projectRoot(), "stacks");
    for (let i = 0; i < argv.length; i++) {
        const a = argv[i];
        if (a === "--json") json = true;
        else if (a === "--stack" && i + 1 < argv.length) stack = argv[++i];
        else if (a.startsWith("--stack=")) stack = a.slice("--stack=".length);
        else if (a === "--dir" && i + 1 < argv.length) dir = path.resolve(argv[++i]);
        else if (a.startsWith("--dir=")) dir = path.resolve(a.slice("--dir=".length));
        else if (a === "--help" || a === "-h") {
            process.stdout.write(USAGE + "\n");
            return 0;
        } else {
            process.stderr.write(`unknown argument "${a}"\n${USAGE}\n`);
            return 64;
        }
    }
    if (!stack) {
        process.stderr.write(`missing --stack\n${USAGE}\n`);
        return 64;
    }
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

process.exitCode = main(process.argv.slice(2));

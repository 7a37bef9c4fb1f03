// The project's root: the nearest directory up from a module with a Pulumi.yaml. Modules run both from their
// source path (ts-node, tests) and from dist/ (the compiled program, provider plugin and tools), so a fixed
// number of ".." is wrong in one of the two; every caller asks here instead.
import * as fs from "fs";
import * as path from "path";

export function findProjectRoot(from: string = __dirname): string | undefined {
    for (let dir = from; ; dir = path.dirname(dir)) {
        if (fs.existsSync(path.join(dir, "Pulumi.yaml"))) return dir;
        if (path.dirname(dir) === dir) return undefined;
    }
}

/** The project root above `from`, or the directory two levels up (this file's checkout) when none is found. */
export function projectRoot(from: string = __dirname): string {
    return findProjectRoot(from) ?? path.resolve(__dirname, "..", "..");
}

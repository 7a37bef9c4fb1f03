// What an import reads of the stack it imports into: the stack's name (from the URN), its validated config
// file (stacks/Pulumi.<stack>.yaml, the same reader as the program's) and its secret config (through the
// CLI, which decrypts it). The import ID is a node's name; this resolves it against the stack's nodes.
import { execFile } from "child_process";
import * as path from "path";
import { parseStackFile } from "../tools/common/stack-file";
import { projectRoot } from "../tools/common/project-root";
import type { ClusterModel, NodeSpec } from "../model/types";
import { ProviderError } from "./errors";

const PROJECT_ROOT = projectRoot();

/** "urn:pulumi:<stack>::<project>::..." → stack name. */
export function stackOfUrn(urn: string): string {
    return urn.split("::")[0].replace(/^urn:pulumi:/, "");
}

/** A config value of the stack, decrypted (`pulumi config get`). */
export function secretConfig(stack: string, key: string): Promise<string> {
    return new Promise((resolve, reject) => {
        execFile(
            "pulumi",
            ["config", "get", key, "--stack", stack, "--cwd", PROJECT_ROOT],
            { env: process.env, maxBuffer: 1 << 20 },
            (err, stdout, stderr) => {
                if (err)
                    reject(
                        new ProviderError(
                            `import: cannot read ${key} of stack ${stack} (pulumi config get): ${(stderr || err.message).trim().split("\n").pop()}`,
                        ),
                    );
                else resolve(stdout.replace(/\n$/, ""));
            },
        );
    });
}

/** The stack's validated model and the node the import ID names (refused with the stack's node names otherwise). */
export function stackNode(
    stack: string,
    node: string,
    stackDir = path.join(PROJECT_ROOT, "stacks"),
): { model: ClusterModel; node: NodeSpec } {
    const file = path.join(stackDir, `Pulumi.${stack}.yaml`);
    const parsed = parseStackFile(file);
    if (!parsed.model)
        throw new ProviderError(
            `import: the stack config ${file} is invalid: ${parsed.errors.map((e) => `${e.path}: ${e.message}`).join("; ")}`,
        );
    const spec = parsed.model.nodes.find((n) => n.name === node);
    if (!spec)
        throw new ProviderError(
            `import: stack ${stack} has no node ${JSON.stringify(node)} (the import ID is the node's name: one of ${parsed.model.nodes.map((n) => n.name).join(", ")})`,
        );
    return { model: parsed.model, node: spec };
}

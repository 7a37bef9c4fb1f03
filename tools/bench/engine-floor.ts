// The engine's own floor (issue 18): a throwaway project with as many resources as pinhole's stack has at a size,
// each a pinhole:tls:PrivateKey (no SSH; a key is made once, on create), run by the same CLI, language host,
// provider plugin and backend. Its no-op up and preview are what any Pulumi program of that size pays before it
// does any work on a node, so they bound from below what pinhole's no-op up and preview can reach.
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { LocalWorkspace } from "@pulumi/pulumi/automation";
import { PRIVATE_KEY } from "../../provider/schema";
import { PROJECT_ROOT } from "../common/pulumi-env";

export interface EngineFloor {
    /** Custom resources in the throwaway stack (pinhole's resource count at this size, less the stack itself). */
    resources: number;
    coldMs: number;
    noopMs: number;
    previewMs: number;
}

/** The throwaway project's files: Pulumi.yaml with pinhole's language host and provider, and a plain JS program. */
export function floorProjectFiles(root: string): Record<string, string> {
    const pulumiYaml = [
        "name: pinhole-engine-floor",
        "runtime:",
        "  name: nodejs",
        "  options:",
        "    typescript: false",
        "main: index.js",
        "plugins:",
        "  languages:",
        "    - name: nodejs",
        `      path: ${JSON.stringify(path.join(root, "scripts", "langhost"))}`,
        "  providers:",
        "    - name: pinhole",
        `      path: ${JSON.stringify(path.join(root, "provider", "bin"))}`,
        "",
    ].join("\n");
    const program = [
        '"use strict";',
        "Error.prepareStackTrace = undefined; // as scripts/program.js: no source-map walk per resource",
        'const pulumi = require("@pulumi/pulumi");',
        "const n = Number(new pulumi.Config().require('resources'));",
        "for (let i = 0; i < n; i++)",
        `    new pulumi.CustomResource(${JSON.stringify(PRIVATE_KEY.token)}, "key-" + i, { algorithm: "ECDSA", privateKeyPem: undefined });`,
        "",
    ].join("\n");
    return { "Pulumi.yaml": pulumiYaml, "index.js": program, "package.json": '{ "name": "pinhole-engine-floor" }\n' };
}

/** Cold up, no-op up and preview of `resources` trivial resources; the stack and its project are removed after. */
export async function engineFloor(resources: number, env: Record<string, string>): Promise<EngineFloor> {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "pinhole-engine-floor-"));
    for (const [name, text] of Object.entries(floorProjectFiles(PROJECT_ROOT)))
        fs.writeFileSync(path.join(dir, name), text);
    // the language host loads the program's SDK from beside it: pinhole's own
    fs.symlinkSync(path.join(PROJECT_ROOT, "node_modules"), path.join(dir, "node_modules"));
    const stack = await LocalWorkspace.createOrSelectStack({ stackName: "engine-floor", workDir: dir }, { envVars: env });
    try {
        await stack.setConfig("resources", { value: String(resources) });
        const time = async (run: () => Promise<unknown>) => {
            const t = Date.now();
            await run();
            return Date.now() - t;
        };
        const quiet = { color: "never" as const };
        const coldMs = await time(() => stack.up(quiet));
        const noopMs = await time(() => stack.up(quiet));
        const previewMs = await time(() => stack.preview(quiet));
        await stack.destroy(quiet);
        return { resources, coldMs, noopMs, previewMs };
    } finally {
        await stack.workspace.removeStack("engine-floor", { force: true }).catch(() => undefined);
        fs.rmSync(dir, { recursive: true, force: true });
    }
}

/** One line per size: the floor against pinhole and Ansible (the ratio no Pulumi program of this size gets under). */
export function formatEngineFloor(
    sizes: readonly { nodes: number; noop: { ms: number }; preview: { ms: number }; engineFloor?: EngineFloor; ansible?: { noopMs: number; coldMs: number } }[],
): string[] {
    const sec = (ms: number) => (ms / 1000).toFixed(2);
    return sizes
        .filter((x) => x.engineFloor)
        .map((x) => {
            const f = x.engineFloor!;
            const vsAnsible = x.ansible
                ? `; floor/Ansible: no-op ${(f.noopMs / x.ansible.noopMs).toFixed(2)}x, cold ${(f.coldMs / x.ansible.coldMs).toFixed(2)}x`
                : "";
            return (
                `engine floor at ${x.nodes} nodes (${f.resources} trivial resources, no SSH): cold ${sec(f.coldMs)} s, ` +
                `no-op ${sec(f.noopMs)} s, preview ${sec(f.previewMs)} s; pinhole's no-op ${sec(x.noop.ms)} s, preview ${sec(x.preview.ms)} s${vsAnsible}`
            );
        });
}

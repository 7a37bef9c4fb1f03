// The project's Pulumi environment for TypeScript callers (tests, scripts, Automation API): the same
// values scripts/env.sh exports, so every entry point runs the same CLI, backend and secrets setup.
import * as fs from "fs";
import * as path from "path";
import { projectRoot } from "./project-root";

export const PROJECT_ROOT = projectRoot();

/** Directory of the project's `pulumi` and `pulumi-language-nodejs` (written by scripts/setup.sh). */
export function pulumiDir(root = PROJECT_ROOT): string {
    const envFile = path.join(root, ".pulumi", "toolchain.env");
    const fromEnv = process.env.PINHOLE_PULUMI_DIR;
    if (fromEnv) return fromEnv;
    if (!fs.existsSync(envFile)) {
        throw new Error("the Pulumi toolchain is not set up: run `npm run setup` (npm test and npm start do it too)");
    }
    const m = /PINHOLE_PULUMI_DIR=(.*)/.exec(fs.readFileSync(envFile, "utf8"));
    if (!m) throw new Error(`${envFile} has no PINHOLE_PULUMI_DIR: re-run npm run setup`);
    return m[1].trim().replace(/^'(.*)'$/, "$1");
}

/** Environment variables for the project's Pulumi CLI (caller's own settings win). */
export function pulumiEnv(root = PROJECT_ROOT): Record<string, string> {
    const env: Record<string, string> = {
        PULUMI_HOME: process.env.PULUMI_HOME ?? path.join(root, ".pulumi", "home"),
        PULUMI_BACKEND_URL: process.env.PULUMI_BACKEND_URL ?? `file://${path.join(root, ".pulumi", "state")}`,
        PULUMI_SKIP_UPDATE_CHECK: "true",
        // Every ready step runs (all nodes at once) instead of the engine's 4 x CPUs; --parallel N caps it.
        PULUMI_PARALLEL: process.env.PULUMI_PARALLEL ?? "256",
        // Diffs in parallel: a Firewall's Diff reads its node (the live check); serial, nodes would be read one by one.
        PULUMI_PARALLEL_DIFF: process.env.PULUMI_PARALLEL_DIFF ?? "true",
        // Node >= 22 keeps compiled module code here (program, provider): faster start-up.
        NODE_COMPILE_CACHE: process.env.NODE_COMPILE_CACHE ?? path.join(root, ".pulumi", "node-compile-cache"),
        PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION: "true",
        // This process's Node.js next: the engine's language host and plugins then run on the same one.
        PATH: `${pulumiDir(root)}:${path.dirname(process.execPath)}:${process.env.PATH ?? "/usr/bin:/bin"}`,
    };
    if (process.env.PULUMI_CONFIG_PASSPHRASE !== undefined)
        env.PULUMI_CONFIG_PASSPHRASE = process.env.PULUMI_CONFIG_PASSPHRASE;
    else
        env.PULUMI_CONFIG_PASSPHRASE_FILE =
            process.env.PULUMI_CONFIG_PASSPHRASE_FILE ?? path.join(root, ".pulumi", "passphrase");
    return env;
}

/** Applies pulumiEnv() to this process (the Automation API finds `pulumi` through PATH). */
export function usePulumiEnv(root = PROJECT_ROOT): Record<string, string> {
    const env = pulumiEnv(root);
    Object.assign(process.env, env);
    return env;
}

// The Pulumi program's side of the one reader: the engine's resolved config (the SDK's config store, secrets
// decrypted, ESC environments applied) → the same parseConfigEntries every tool uses. Also finds the
// addresses this host reaches the nodes from, so the lockout pre-check runs in preview/up too.
import { spawnSync } from "child_process";
import * as path from "path";
import * as pulumi from "../components/pulumi";
import { ConfigEntry, ParseResult, parseConfigEntries } from "../model/config";
import { parseIp } from "../model/net";
import { stackFileProblems } from "../tools/common/stack-file";
import { findProjectRoot } from "../tools/common/project-root";

/** Keys the engine marked secret (the SDK keeps them in its config store; not in its typings). */
function isSecretKey(key: string): boolean {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const cfg = require("@pulumi/pulumi/runtime/config") as { isConfigSecret?: (k: string) => boolean };
    return cfg.isConfigSecret ? cfg.isConfigSecret(key) : false;
}

/** Config values arrive as strings; objects and lists as JSON text (as `pulumi config --json` gives objectValue). */
function parseValue(v: string): unknown {
    if (/^\s*[[{]/.test(v)) {
        try {
            return JSON.parse(v);
        } catch {
            return v;
        }
    }
    return v;
}

export function programConfigEntries(): Record<string, ConfigEntry> {
    const entries: Record<string, ConfigEntry> = {};
    for (const [key, value] of Object.entries(pulumi.allConfig()))
        entries[key] = { value: parseValue(value), secret: isSecretKey(key) };
    return entries;
}

/**
 * The local source addresses the kernel would use towards these addresses (`ip route get`), where it can tell. One
 * `ip -batch` for all of them: a process per node cost every command ~10 ms of CPU per node. Only addresses
 * (never host names) reach ip's input, so a line cannot carry another command.
 */
export function sourceAddressesFor(addresses: readonly string[]): string[] {
    const ips = [...new Set(addresses)].filter((a) => parseIp(a) !== undefined);
    if (ips.length === 0) return [];
    const r = spawnSync("ip", ["-o", "-force", "-batch", "-"], {
        input: ips.map((a) => `route get ${a}\n`).join(""),
        encoding: "utf8",
        timeout: 5000,
    });
    // -force goes on past an address without a route (no line for it); each route line names its source.
    return [...(r.stdout ?? "").matchAll(/ src (\S+)/g)].map((m) => m[1]).filter((a) => parseIp(a) !== undefined);
}

/** First hops pinhole connects to (bastion when set, else the node's SSH host), from the raw config. */
function firstHops(entries: Record<string, ConfigEntry>): string[] {
    const nodes = entries["pinhole:nodes"]?.value;
    if (!Array.isArray(nodes)) return [];
    return nodes.flatMap((n) => {
        const node = n as { address?: unknown; ssh?: { host?: unknown; bastion?: { host?: unknown } } };
        const hop = node?.ssh?.bastion?.host ?? node?.ssh?.host ?? node?.address;
        return typeof hop === "string" ? [hop] : [];
    });
}

export function readProgramConfig(): ParseResult {
    const entries = programConfigEntries();
    // PINHOLE_PROVISIONING_ADDRESSES (comma-separated) names them when routes can't tell (NAT, a jump host).
    const given = process.env.PINHOLE_PROVISIONING_ADDRESSES;
    const provisioningAddresses =
        given !== undefined
            ? given
                  .split(",")
                  .map((a) => a.trim())
                  .filter(Boolean)
            : [...new Set(sourceAddressesFor(firstHops(entries)))].filter((a) => !a.startsWith("127.") && a !== "::1");
    const result = parseConfigEntries(entries, {
        requireSecrets: true,
        stack: pulumi.getStack(),
        provisioningAddresses,
    });
    // What only the file shows (misplaced keys, numbers the engine read differently): the tools refuse those too.
    const root = findProjectRoot();
    const fileProblems = root ? stackFileProblems(path.join(root, "stacks", `Pulumi.${pulumi.getStack()}.yaml`)) : [];
    return fileProblems.length ? { errors: [...fileProblems, ...result.errors], warnings: result.warnings } : result;
}

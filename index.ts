// pinhole's Pulumi program: read the stack config, validate all of it, build the cluster, export
// what an operator needs. Thin on purpose: decisions live in model/, rendering in render/.
import * as pulumi from "@pulumi/pulumi";
import { Cluster } from "./components/cluster";
import { formatProblems, parseClusterConfig } from "./model/config";
import { formatMatrixTable, matrixRows } from "./model/matrix";

const NAMESPACE = "pinhole";

/** Config keys that hold certificate material for certificates.nodes.* (secrets, read by the components). */
function certificateSecretKeys(certificates: unknown): Set<string> {
    const keys = new Set<string>();
    const nodes = (certificates as { nodes?: Record<string, Record<string, unknown>> } | undefined)?.nodes ?? {};
    for (const entry of Object.values(nodes)) {
        for (const k of ["certificateConfigKey", "keyConfigKey"]) {
            if (typeof entry?.[k] === "string") keys.add(String(entry[k]).replace(/^pinhole:/, ""));
        }
    }
    return keys;
}

/** The stack's `pinhole:*` config as plain values for the validator. Secret values are never read here. */
function rawConfig(): Record<string, unknown> {
    const all = pulumi.runtime.allConfig();
    const parse = (v: string): unknown => { try { return JSON.parse(v); } catch { return v; } };
    const certKeys = certificateSecretKeys(parse(all[`${NAMESPACE}:certificates`] ?? "{}"));
    const raw: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(all)) {
        if (!key.startsWith(`${NAMESPACE}:`)) continue;
        const name = key.slice(NAMESPACE.length + 1);
        if (certKeys.has(name)) continue;
        raw[name] = name === "sshPrivateKey" ? { secure: "<secret>" } : parse(value);
    }
    return raw;
}

const parsed = parseClusterConfig(rawConfig(), { requireSecrets: true });
for (const w of parsed.warnings ?? []) pulumi.log.warn(`${w.path}: ${w.message}`);
if (!parsed.model || parsed.errors.length > 0) {
    // Nothing is created: every problem is reported at once, with its config path.
    throw new Error(`invalid stack config for ${pulumi.getStack()} (${parsed.errors.length} problem(s)); nothing was changed:\n${formatProblems(parsed.errors)}`);
}
const model = parsed.model;
const config = new pulumi.Config(NAMESPACE);
const cluster = new Cluster("cluster", { model, sshPrivateKey: config.requireSecret("sshPrivateKey") });

export const deploymentModel = model.model;
export const nodes = Object.fromEntries(Object.values(cluster.nodes).map((n) => [n.nodeName, n.summary]));
export const portMatrix = formatMatrixTable(matrixRows(model, cluster.policies), { model });

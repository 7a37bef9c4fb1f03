// The lab's stack config (stacks/Pulumi.lab-<model>.yaml, format: docs/stack-config.md).
// Pure: labStackConfig/mergeStackDocument build objects and text; writeLabStack does the file I/O.
import * as fs from "fs";
import * as path from "path";
import * as yaml from "js-yaml";
import {
    ADMIN_SUBNET,
    ADMIN_SUBNET6,
    LabModel,
    LabPlan,
    LabVantage,
    PROVISIONER_ADDRESS,
    PROVISIONER_ADDRESS6,
} from "./shapes";

export const stackName = (model: LabModel) => `lab-${model}`;
export const stackFileName = (model: LabModel) => `Pulumi.${stackName(model)}.yaml`;

/** Keys the lab owns: rewritten on every `up`. Other keys of the file are kept. */
export const GENERATED_KEYS = [
    "pinhole:model",
    "pinhole:domain",
    "pinhole:networks",
    "pinhole:nodes",
    "pinhole:external",
] as const;
/** Object keys of which the lab sets one field and keeps the others. */
export const MERGED_KEYS: Record<string, Record<string, unknown>> = {
    "pinhole:firewall": { egress: "deny" },
    // The lab nodes are bare: pinhole writes their whole nginx site (real stacks default to certificate-only).
    "pinhole:certificates": { mode: "self-signed", frontEnd: "whole-site" },
};

/**
 * The lab's config values, keyed as in the stack file. Dual-stack lab (`ipv6`): every node has `address6`, the admin and
 * monitoring networks list the IPv6 admin network and the provisioning host's IPv6 address besides the IPv4
 * ones, clients are anyone in either family, and each external system is listed at both its addresses.
 */
export function labStackConfig(plan: LabPlan, hostKeys: Record<string, string>): Record<string, unknown> {
    const missing = plan.nodes.filter((n) => !hostKeys[n.name]).map((n) => n.name);
    if (missing.length) throw new Error(`no host key for ${missing.join(", ")}`);
    const v6 = !!plan.provisioner.address6;
    const admin = [
        ADMIN_SUBNET,
        `${PROVISIONER_ADDRESS}/32`,
        ...(v6 ? [ADMIN_SUBNET6, `${PROVISIONER_ADDRESS6}/128`] : []),
    ];
    return {
        "pinhole:model": plan.deployment,
        "pinhole:domain": plan.domain,
        "pinhole:networks": {
            admin,
            client: ["0.0.0.0/0", ...(v6 ? ["::/0"] : [])],
            monitoring: admin,
        },
        "pinhole:nodes": plan.nodes.map((n) => ({
            name: n.name,
            role: n.role,
            site: n.site,
            address: n.address,
            ...(n.address6 ? { address6: n.address6 } : {}),
            ...(n.advertisedAddress ? { advertisedAddress: n.advertisedAddress } : {}),
            ...(n.arbiter ? { arbiter: true } : {}),
            ssh: {
                host: n.sshHost,
                port: 22,
                user: n.sshUser,
                sudo: n.sudo,
                hostKey: hostKeys[n.name],
            },
        })),
        "pinhole:external": labExternal(plan),
    };
}

/** pinhole:external: every external system of the lab at its vantage's addresses (both in a dual-stack lab). */
function labExternal(plan: LabPlan): Record<string, unknown> {
    const ext = (name: string): LabVantage => {
        const v = plan.vantages.find((x) => x.name === name);
        if (!v) throw new Error(`lab plan has no ${name} vantage`);
        return v;
    };
    const port = (v: LabVantage, protocol: "tcp" | "udp") =>
        v.ports.find((p) => p.protocol === protocol && p.port !== 8080)!.port;
    const ldap = ext("ldap");
    /** The addresses of an external system, IPv4 first (both in a dual-stack lab). */
    const both = (v: LabVantage) => [v.address, ...(v.address6 ? [v.address6] : [])];
    /** A URI's host part for each address ([IPv6] in brackets). */
    const hosts = (v: LabVantage) => [v.address, ...(v.address6 ? [`[${v.address6}]`] : [])];
    return {
        ucm: both(ext("ucm")),
        unityConnection: both(ext("unity")),
        hcmf: both(ext("hcmf")),
        webex: both(ext("webex")),
        sso: both(ext("sso")),
        ldap: both(ldap).map((host) => ({ host, ports: [389, 636], protocols: ["tcp", "udp"] })),
        apiResponses: both(ext("api")),
        notificationDestinations: hosts(ext("notify")).map((h) => `https://${h}:${port(ext("notify"), "tcp")}/notify`),
        snmpTrapReceivers: hosts(ext("snmp")).map((h) => `snmp://public@${h}:162`),
        backupDestinations: hosts(ext("backup")).map(
            (h) => `sftp://backup@${h}:${port(ext("backup"), "tcp")}/srv/backups`,
        ),
        ntp: both(ext("ntp")),
    };
}

interface StackDocument {
    config?: Record<string, unknown>;
    [k: string]: unknown;
}

/**
 * Merges the lab's values into an existing stack document: lab keys replaced, firewall.egress and
 * certificates.mode set (other fields of those objects kept), everything else (encryptionsalt, secrets,
 * other config keys) kept as it was.
 */
export function mergeStackDocument(existing: unknown, generated: Record<string, unknown>): StackDocument {
    const doc: StackDocument =
        existing && typeof existing === "object" && !Array.isArray(existing) ? { ...(existing as StackDocument) } : {};
    const config: Record<string, unknown> = doc.config && typeof doc.config === "object" ? { ...doc.config } : {};
    for (const [k, v] of Object.entries(generated)) config[k] = v;
    for (const [k, fields] of Object.entries(MERGED_KEYS)) {
        const old = config[k];
        config[k] = { ...(old && typeof old === "object" && !Array.isArray(old) ? (old as object) : {}), ...fields };
    }
    doc.config = config;
    return doc;
}

export const STACK_HEADER = `# Generated by \`npm run lab -- up\` (lab/stack.ts) for the local lab; git-ignored.
# Lab keys (model, domain, networks, nodes, external, firewall.egress, certificates.mode) are rewritten on
# every up; other keys (encryptionsalt, secrets such as sshPrivateKey, settings you add) are kept.
`;

export function renderStackDocument(doc: StackDocument): string {
    return STACK_HEADER + yaml.dump(doc, { lineWidth: 200, noRefs: true, quotingType: '"' });
}

/** Writes stacks/Pulumi.<stack>.yaml (default lab-<model>), keeping the file's other keys. Returns its path. */
export function writeLabStack(
    plan: LabPlan,
    hostKeys: Record<string, string>,
    stacksDir: string,
    stack = stackName(plan.model),
): string {
    const file = path.join(stacksDir, `Pulumi.${stack}.yaml`);
    let existing: unknown = {};
    if (fs.existsSync(file)) {
        try {
            existing = yaml.load(fs.readFileSync(file, "utf8")) ?? {};
        } catch (e) {
            throw new Error(
                `${file}: not valid YAML (${(e as Error).message.split("\n")[0]}); fix or remove it and run up again`,
            );
        }
    }
    fs.mkdirSync(stacksDir, { recursive: true });
    const text = renderStackDocument(mergeStackDocument(existing, labStackConfig(plan, hostKeys)));
    const tmp = `${file}.${process.pid}.tmp`;
    fs.writeFileSync(tmp, text);
    fs.renameSync(tmp, file);
    return file;
}

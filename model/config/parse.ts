// Raw stack config (keys without "pinhole:") → validated ClusterModel, or every problem at once with its path.
import {
    ClusterModel,
    DEPLOYMENT_MODELS,
    DeploymentModelName,
    ExternalEndpoint,
    NodeSpec,
    Role,
    SshAccess,
} from "../types";
import { isHostname } from "../net";
import { didYouMean } from "../suggest";
import { CONFIG_KEYS, CONFIG_NAMESPACE } from "./keys";
import { Problems, isMap, readEnum, readList, readString, root, typeName } from "./read";
import { NodeDraft, checkNodes, readNode } from "./nodes";
import { readExternal, readHosts } from "./external";
import { checkManagementPath, readNetworks } from "./networks";
import { readFirewall } from "./firewall";
import { checkExposure } from "./exposure";
import { readCertificates } from "./certificates";
import { readProof } from "./proof";
import { readRollout } from "./rollout";
import { readSshPrivateKey } from "./secrets";
import { ConfigError, ConfigWarning } from "../types";

export interface ParseOptions {
    /** Top-level keys (without "pinhole:") stored as Pulumi secrets; set by the reader. Credentials elsewhere warn. */
    secretKeys?: string[];
    /** Report a missing pinhole:sshPrivateKey (deployments need it; the matrix does not). Default false. */
    requireSecrets?: boolean;
    /** Addresses pinhole runs from: each must fall inside pinhole:networks.admin, or pinhole would lock itself out. */
    provisioningAddresses?: string[];
    /** Stack name, used in the commands that messages suggest (`pulumi config set ... --stack <stack>`). */
    stack?: string;
}

export interface ParseResult {
    /** Present only when there is no error. */
    model?: ClusterModel;
    errors: ConfigError[];
    warnings: ConfigWarning[];
}

// ---------------------------------------------------------------------------------------------------------

/**
 * Validate the raw stack config (keys without the "pinhole:" prefix, values already parsed) and build the model.
 * Returns every error at once; `model` is set only when there are none.
 */
export function parseClusterConfig(raw: unknown, opts: ParseOptions = {}): ParseResult {
    const pr = new Problems();
    if (!isMap(raw)) {
        pr.error(`${CONFIG_NAMESPACE}:`, `expected the stack config as a map of keys, got ${typeName(raw)}`);
        return { errors: pr.errors, warnings: pr.warnings };
    }
    checkKnownKeys(raw, pr);
    let model: DeploymentModelName | undefined;
    if (raw.model === undefined) pr.error(root("model"), `missing: one of ${DEPLOYMENT_MODELS.join(", ")}`);
    else model = readEnum(raw.model, root("model"), pr, DEPLOYMENT_MODELS);
    const domain = readDomain(raw.domain, pr);
    const networks = readNetworks(raw.networks, pr);
    const drafts = readNodes(raw.nodes, model, domain, pr);
    const nodeNames = new Set(drafts.flatMap((d) => (d.name === undefined ? [] : [d.name])));

    readSshPrivateKey(raw.sshPrivateKey, opts, pr);
    const hosts = readHosts(raw.hosts, pr);
    const external = readExternal(raw.external, hosts, pr, !(opts.secretKeys ?? []).includes("external"));
    const firewall = readFirewall(raw.firewall, nodeNames, pr);
    const certificates = readCertificates(raw.certificates, drafts, pr);
    const proof = readProof(raw.proof, pr);
    const rollout = readRollout(raw.rollout, nodeNames, proof?.enabled, pr);

    if (networks) checkManagementPath(networks.admin, drafts, opts, pr);
    if (networks) checkExposure(raw, networks, firewall, pr);
    if (firewall?.egress === "deny") warnEgressDeny(external, pr);

    if (pr.errors.length > 0 || !model || !networks || !firewall || !certificates || !proof || rollout === null) {
        return { errors: pr.errors, warnings: pr.warnings };
    }
    const nodes = drafts.map(nodeSpec);
    const result: ClusterModel = {
        model,
        sites: [...new Set(nodes.map((n) => n.site))],
        nodes,
        networks,
        external,
        firewall,
        certificates,
        proof,
    };
    if (domain !== undefined) result.domain = domain;
    if (rollout) result.rollout = rollout;
    return { model: result, errors: pr.errors, warnings: pr.warnings };
}

function checkKnownKeys(raw: Record<string, unknown>, pr: Problems): void {
    for (const key of Object.keys(raw)) {
        if (!(CONFIG_KEYS as readonly string[]).includes(key)) {
            pr.error(
                root(key),
                `unknown key "${key}"${didYouMean(key, CONFIG_KEYS) || ` (known: ${CONFIG_KEYS.join(", ")})`}`,
            );
        }
    }
}

/** The DNS domain, lower case without its trailing dot. "" is Pulumi.yaml's default for this optional key (CONFIG_SCHEMA): no domain. */
function readDomain(v: unknown, pr: Problems): string | undefined {
    if (v === undefined || v === "") return undefined;
    const domain = readString(v, root("domain"), pr);
    if (domain !== undefined && !isHostname(domain)) {
        pr.error(root("domain"), `"${domain}" is not a valid DNS domain`);
        return undefined;
    }
    return domain?.toLowerCase().replace(/\.$/, "");
}

/** Each node as read (fields that failed are undefined), then the cross-node checks. */
function readNodes(
    v: unknown,
    model: DeploymentModelName | undefined,
    domain: string | undefined,
    pr: Problems,
): NodeDraft[] {
    if (v === undefined) {
        pr.error(root("nodes"), "missing: one entry per node (name, role, address, ssh.hostKey)");
        return [];
    }
    const list = readList(v, root("nodes"), pr);
    if (list && list.length === 0) pr.error(root("nodes"), "is empty: a cluster has at least one node");
    const drafts = (list ?? []).map((item, i) => readNode(item, i, pr, domain));
    checkNodes(drafts, model, pr);
    return drafts;
}

/** What egress deny leaves to the operator: time, DNS, passive ftp. */
function warnEgressDeny(external: ExternalEndpoint[], pr: Problems): void {
    if (!external.some((e) => e.kind === "ntp"))
        pr.warn(root("external.ntp"), "egress is deny and no NTP server is listed: nodes cannot keep time");
    pr.warn(
        root("firewall.egress"),
        "deny: DNS is not in the reference's tables and pinhole opens no resolver traffic; nodes that resolve names need it allowed elsewhere",
    );
    external
        .filter((e) => e.uri?.scheme === "ftp")
        .forEach((e) =>
            pr.warn(
                e.configPath,
                "ftp with egress deny: only the control connection (21/tcp) is opened, passive data connections will be dropped",
            ),
        );
}

/** A node that passed every check. */
function nodeSpec(d: NodeDraft): NodeSpec {
    const n: NodeSpec = {
        name: d.name as string,
        role: d.role as Role,
        site: d.site,
        address: d.address as string,
        fqdn: d.fqdn as string,
        arbiter: d.arbiter,
        ssh: d.ssh as SshAccess,
    };
    if (d.address6 !== undefined) n.address6 = d.address6;
    if (d.advertisedAddress !== undefined) n.advertisedAddress = d.advertisedAddress;
    if (d.webWeight !== undefined) n.webWeight = d.webWeight;
    return n;
}

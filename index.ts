// pinhole's Pulumi program: read the stack config, validate all of it, build the cluster, export
// what an operator needs. Thin on purpose: decisions live in model/, rendering in render/.
import * as pulumi from "./components/pulumi";
import { Cluster } from "./components/cluster";
import { formatProblems } from "./model/config";
import { matrixRows } from "./model/matrix";
import { buildClusterPolicy } from "./model/policy";
import { narrowedWarnings, summarizeNarrowed } from "./model/narrowed-report";
import { describeProfile } from "./model/narrowings";
import { listenerConflicts } from "./tools/narrow/narrow";
import { readEvidence } from "./program/evidence-file";
import { readProgramConfig } from "./program/config";

const NAMESPACE = "pinhole";

// The same reader as every tool (model/config parseConfigEntries), plus the lockout pre-check on the addresses
// this host reaches the nodes from.
const parsed = readProgramConfig();
for (const w of parsed.warnings) void pulumi.log.warn(`${w.path}: ${w.message}`);
if (!parsed.model || parsed.errors.length > 0) {
    // Nothing is created: every problem once, path first, and no stack trace (RunError).
    throw new pulumi.RunError(
        `invalid stack config for ${pulumi.getStack()} (${parsed.errors.length} problem(s)); nothing was changed:\n${formatProblems(parsed.errors)}`,
    );
}
const model = parsed.model;
// Which reference openings the firewall profile closed: a warning per narrowing, so preview shows them.
const policy = buildClusterPolicy(model);
for (const w of narrowedWarnings(model, policy.narrowed)) void pulumi.log.warn(w);
// ...and, with evidence from `npm run narrow`, the narrowed ports that something listened on.
const evidence = readEvidence(pulumi.getStack());
if (evidence) for (const w of listenerConflicts(policy.narrowed, evidence)) void pulumi.log.warn(w);
const config = new pulumi.Config(NAMESPACE);
const cluster = new Cluster("cluster", { model, policy, sshPrivateKey: config.requireSecret("sshPrivateKey") });

// ------------------------------------------------------------------------------------------ outputs
// `pulumi stack output [--json] <name>`; npm start's summary and docs/operations.md read them.

export const deploymentModel = model.model;
/**
 * Per node: role, site, addresses (advertised = what peers at other sites use), fqdn, SSH target, the openings'
 * reasons (one line per port, reason and section, peers counted), their counts, and (web-serving nodes) the
 * certificate's details and expiry.
 */
export const nodes = Object.fromEntries(
    Object.values(cluster.nodes).map((n) => {
        const spec = model.nodes.find((x) => x.name === n.nodeName)!;
        const cert = n.certificate?.summary;
        return [
            n.nodeName,
            {
                ...n.summary,
                ssh: `${spec.ssh.user}@${spec.ssh.host}:${spec.ssh.port}`,
                ...(cert
                    ? { certificateExpiry: cert.apply((c) => c.notAfter), certificateMode: n.certificate!.mode }
                    : {}),
            },
        ];
    }),
);
/** Every web node's certificate details (`web cert details`), by node. */
export const certificates = cluster.certificates;
/** internal-ca mode: the CA certificate to put into clients' trust stores (null in the other modes). */
export const internalCaCertificate = cluster.internalCaCertificate ?? null;
/** csr mode: the CSR to send to the CA, by node. */
export const certificateRequests = cluster.certificateRequests;
/** `web weight list`, by web proxy: each upstream server's weight (backup = 0), user-defined or the default. */
export const webWeights = cluster.webWeights;
/** Number of openings (inbound + outbound) over all nodes, and flows in the port matrix. */
const rows = matrixRows(model, cluster.flows);
export const openings = {
    inbound: cluster.policies.reduce((a, p) => a + p.inbound.length, 0),
    outbound: cluster.policies.reduce((a, p) => a + p.outbound.length, 0),
    flows: rows.length,
};
// The port matrix is not an output: it has a row per flow (quadratic in the nodes: 3.4 MB of state at 48 nodes,
// rewritten at every checkpoint). `npm run matrix -- --stack <stack>` prints the same table from the config.
/** The firewall profile ("reference", "strict", or with per-narrowing switches). */
export const firewallProfile = describeProfile(model.firewall);
/** Per narrowing in force: what it closes, why, the reference rows and the flows it closed in this cluster. */
export const narrowedReferenceOpenings = summarizeNarrowed(model, policy.narrowed);

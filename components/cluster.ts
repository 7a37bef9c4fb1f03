// Cluster: the whole deployment. Derives every node's policy from the validated model and creates
// one node component per node; nothing here decides who may talk to whom (model/policy.ts does).
import * as pulumi from "./pulumi";
import { buildClusterPolicy, ClusterPolicy, Flow } from "../model/policy";
import { ClusterModel, NodePolicy } from "../model/types";
import { NODE_CLASSES, PlatformNode } from "./nodes";
import { acmeAccountKeyFor, certificateGate, internalCaFor, NodeWebArgs, WebCertificate } from "./certificate";
import { ClusterProof, ClusterProofArgs } from "./proof";
import { nodeTargetLines } from "../model/proof";
import { DEFAULT_PROOF } from "../model/config/keys";
import { describeRollout, modelRolloutSteps } from "../model/rollout";

export interface ClusterArgs {
    /** The validated model (model/config/ parseClusterConfig). */
    model: ClusterModel;
    /** SSH private key for every node (secret). */
    sshPrivateKey: pulumi.Input<string>;
    /**
     * Secret config by key name: the certificate bundles and keys that certificates.nodes.<node>.certificateConfigKey
     * and keyConfigKey name (undefined when not set). Default: `new pulumi.Config().getSecret(key)` (pinhole: namespace).
     */
    secret?: (key: string) => pulumi.Output<string> | undefined;
    /** The policy, when the caller has computed it already (index.ts); default buildClusterPolicy(model). */
    policy?: ClusterPolicy;
    /** Web front-end options for every node (application backend, files taken over, serving check; tests: now). */
    web?: Pick<NodeWebArgs, "applicationBackend" | "replaces" | "verifySeconds" | "now">;
}

export class Cluster extends pulumi.ComponentResource {
    public readonly policies: NodePolicy[];
    /** Every allowed flow (model/policy.ts): the matrix and the outputs read these. */
    public readonly flows: Flow[];
    public readonly nodes: Record<string, PlatformNode> = {};
    /** internal-ca mode: the stack's CA certificate (PEM) for clients' trust stores. */
    public readonly internalCaCertificate?: pulumi.Output<string>;
    /** Every web node's certificate details (`web cert details`), by node name. */
    public readonly certificates: Record<string, pulumi.Output<unknown>> = {};
    /** csr mode: the CSR of each node to send to the CA, by node name. */
    public readonly certificateRequests: Record<string, pulumi.Output<string>> = {};
    /** `web weight list` of each web proxy (upstream server, weight, backup, user-defined or default). */
    public readonly webWeights: Record<string, pulumi.Output<unknown>> = {};
    /** The proof after apply (pinhole:proof.enabled, on by default). */
    public readonly proof?: ClusterProof;
    /** pinhole:rollout: the proof of each step but the last (the last step's proof is `proof`, over every node). */
    public readonly stepProofs: ClusterProof[] = [];

    constructor(name: string, args: ClusterArgs, opts?: pulumi.ComponentResourceOptions) {
        super("pinhole:index:Cluster", name, {}, opts);
        const policy = args.policy ?? buildClusterPolicy(args.model);
        this.policies = policy.nodes;
        this.flows = policy.flows;
        const privateKey = pulumi.secret(args.sshPrivateKey);
        const { web, settle, ca } = this.webArgs(name, args);
        this.internalCaCertificate = ca?.certPem;
        const proofSettings = args.model.proof ?? DEFAULT_PROOF;
        // Planned once for every proof of the stack; said once, at preview, before anything is applied, when it samples.
        const targets = proofSettings.enabled
            ? nodeTargetLines(args.model, this.flows, this.policies, proofSettings)
            : { lines: {} };
        if (targets.warning) void pulumi.log.warn(`proof: ${targets.warning}`, this);
        const proofArgs = (nodes: PlatformNode[], scope?: string[]): ClusterProofArgs => ({
            model: args.model,
            policies: this.policies,
            targets,
            settings: proofSettings,
            nodes,
            privateKey,
            ...(scope ? { scope } : {}),
        });
        this.rollOut(name, args.model, { privateKey, web }, proofSettings.enabled ? proofArgs : undefined);
        settle(this.collectCertificates());
        if (proofSettings.enabled)
            this.proof = new ClusterProof(`${name}-proof`, proofArgs(Object.values(this.nodes)), { parent: this });
        this.registerOutputs({ nodes: Object.keys(this.nodes), internalCaCertificate: this.internalCaCertificate });
    }

    /**
     * Web certificates: one CA for the stack when a node uses it; no node's front end changes while any node's
     * certificate is rejected (the gate settles once every node's checks ran).
     */
    private webArgs(name: string, args: ClusterArgs) {
        const certs = args.model.certificates;
        const ca = internalCaFor(
            `${name}-ca`,
            args.model.nodes,
            certs,
            `pinhole internal CA ${args.model.domain ?? pulumi.getProject()} (${pulumi.getStack()})`,
            { parent: this },
        );
        const { gate, settle } = certificateGate(this);
        const secret = args.secret ?? ((key: string) => new pulumi.Config().getSecret(key));
        const acmeAccountKey = acmeAccountKeyFor(`${name}-acme-account`, args.model.nodes, certs, secret, {
            parent: this,
        });
        const web: NodeWebArgs = {
            ...args.web,
            settings: certs,
            nodes: args.model.nodes,
            secret,
            ca,
            gate,
            acmeAccountKey,
        };
        return { web, settle, ca };
    }

    /**
     * One node component per node, step by step (pinhole:rollout; one step when it is not set): a step's nodes
     * change only after the previous step's proof passed (config requires the proof for a rollout).
     */
    private rollOut(
        name: string,
        model: ClusterModel,
        node: { privateKey: pulumi.Output<string>; web: NodeWebArgs },
        proofArgs?: (nodes: PlatformNode[], scope: string[]) => ClusterProofArgs,
    ): void {
        const steps = modelRolloutSteps(model);
        if (model.rollout) void pulumi.log.info(describeRollout(steps), this);
        const policyOf = new Map(this.policies.map((p) => [p.node.name, p]));
        let after: pulumi.Resource[] = [];
        steps.forEach((step, k) => {
            for (const nodeName of step.nodes) {
                const policy = policyOf.get(nodeName)!;
                const NodeClass = NODE_CLASSES[policy.node.role];
                this.nodes[nodeName] = new NodeClass(nodeName, { policy, model, ...node, after }, { parent: this });
            }
            if (k === steps.length - 1 || !proofArgs) return;
            const proven = steps.slice(0, k + 1).flatMap((s) => s.nodes);
            const stepProof = new ClusterProof(
                `${name}-proof-${step.label.replace(/\s+/g, "-")}`,
                proofArgs(
                    proven.map((n) => this.nodes[n]),
                    proven,
                ),
                { parent: this },
            );
            this.stepProofs.push(stepProof);
            after = [stepProof.resource];
        });
    }

    /** Every node's web certificate, with its summary, CSR and weight list recorded for the outputs. */
    private collectCertificates(): WebCertificate[] {
        const webCerts: WebCertificate[] = [];
        for (const n of Object.values(this.nodes)) {
            if (!n.certificate) continue;
            webCerts.push(n.certificate);
            this.certificates[n.nodeName] = n.certificate.summary;
            if (n.certificate.certRequestPem) this.certificateRequests[n.nodeName] = n.certificate.certRequestPem;
            if (n.certificate.weightList) this.webWeights[n.nodeName] = n.certificate.weightList;
        }
        return webCerts;
    }
}

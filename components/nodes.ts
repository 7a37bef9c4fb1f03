// One component class per node type. Each owns the node's firewall (and, per role, its web server
// certificate). The type token says what the node is in `pulumi preview` and in the state.
import * as pulumi from "./pulumi";
import { ClusterModel, NodePolicy, Role } from "../model/types";
import { NodeFirewall } from "./firewall";
import { servesWeb } from "../model/roles";
import type { WebCertificateSummary } from "../model/certificates";
import { NodeWebArgs, WebCertificate } from "./certificate";
import { openingSummaryLines } from "../model/opening-summary";

export interface PlatformNodeArgs {
    /** This node's policy (buildPolicy). */
    policy: NodePolicy;
    /** The validated cluster model (settings shared by every node). */
    model: ClusterModel;
    /** SSH private key (secret). */
    privateKey: pulumi.Input<string>;
    /** Web certificate settings shared by every node (Cluster passes them); web-serving nodes get a WebCertificate. */
    web?: NodeWebArgs;
    /** pinhole:rollout: the previous step's proof; this node's firewall and nginx change only after it passed. */
    after?: pulumi.Resource[];
}

/** What a node exports: enough to hand to a network team or an auditor. */
export interface NodeSummary {
    role: Role;
    site: string;
    address: string;
    advertisedAddress?: string;
    fqdn: string;
    /** The openings' reasons, one line per port, reason and section (model/opening-summary.ts). */
    inbound: string[];
    outbound: string[];
    /** How many openings (one per flow end) each direction has. */
    openings: { inbound: number; outbound: number };
    /** Web-serving nodes: `web cert details` (subject, SANs, issuer, notAfter, mode, fingerprint). */
    certificate?: pulumi.Output<WebCertificateSummary>;
}

/**
 * The summary as the component's state output: the openings as counts. Their reasons are the stack output
 * `nodes` and the comments of the Firewall's ruleset already; a third copy would only grow every checkpoint.
 */
export function stateSummary(s: NodeSummary): Omit<NodeSummary, "inbound" | "outbound"> {
    const { inbound: _inbound, outbound: _outbound, ...rest } = s;
    return rest;
}

export abstract class PlatformNode extends pulumi.ComponentResource {
    public readonly nodeName: string;
    public readonly role: Role;
    public readonly firewall: NodeFirewall;
    public readonly summary: NodeSummary;
    /** Web-serving nodes: the certificate and nginx front end. */
    public readonly certificate?: WebCertificate;

    protected constructor(type: string, name: string, args: PlatformNodeArgs, opts?: pulumi.ComponentResourceOptions) {
        super(type, name, {}, opts);
        const node = args.policy.node;
        this.nodeName = node.name;
        this.role = node.role;
        this.firewall = new NodeFirewall(
            `${name}-firewall`,
            {
                policy: args.policy,
                settings: args.model.firewall,
                privateKey: args.privateKey,
                after: args.after,
            },
            { parent: this },
        );
        this.summary = {
            role: node.role,
            site: node.site,
            address: node.address,
            ...(node.advertisedAddress ? { advertisedAddress: node.advertisedAddress } : {}),
            fqdn: node.fqdn,
            inbound: openingSummaryLines(args.policy.inbound),
            outbound: openingSummaryLines(args.policy.outbound),
            openings: { inbound: args.policy.inbound.length, outbound: args.policy.outbound.length },
        };
        if (args.web && servesWeb(node.role)) {
            this.certificate = new WebCertificate(
                `${name}-web`,
                { ...args.web, node, privateKey: args.privateKey, after: args.after },
                { parent: this },
            );
            this.summary.certificate = this.certificate.summary;
        }
    }
}

/** nginx front end: user and API access on 443, cluster traffic on 8443. */
export class WebProxyNode extends PlatformNode {
    constructor(name: string, args: PlatformNodeArgs, opts?: pulumi.ComponentResourceOptions) {
        super("pinhole:node:WebProxy", name, args, opts);
        this.registerOutputs({ summary: stateSummary(this.summary) });
    }
}

export class ApplicationNode extends PlatformNode {
    constructor(name: string, args: PlatformNodeArgs, opts?: pulumi.ComponentResourceOptions) {
        super("pinhole:node:Application", name, args, opts);
        this.registerOutputs({ summary: stateSummary(this.summary) });
    }
}

export class DatabaseNode extends PlatformNode {
    constructor(name: string, args: PlatformNodeArgs, opts?: pulumi.ComponentResourceOptions) {
        super("pinhole:node:Database", name, args, opts);
        this.registerOutputs({ summary: stateSummary(this.summary) });
    }
}

/** Application and database on one node. */
export class UnifiedNode extends PlatformNode {
    constructor(name: string, args: PlatformNodeArgs, opts?: pulumi.ComponentResourceOptions) {
        super("pinhole:node:Unified", name, args, opts);
        this.registerOutputs({ summary: stateSummary(this.summary) });
    }
}

/** Every role on one node. */
export class StandaloneNode extends PlatformNode {
    constructor(name: string, args: PlatformNodeArgs, opts?: pulumi.ComponentResourceOptions) {
        super("pinhole:node:Standalone", name, args, opts);
        this.registerOutputs({ summary: stateSummary(this.summary) });
    }
}

export const NODE_CLASSES: Record<
    Role,
    new (name: string, args: PlatformNodeArgs, opts?: pulumi.ComponentResourceOptions) => PlatformNode
> = {
    webproxy: WebProxyNode,
    application: ApplicationNode,
    database: DatabaseNode,
    unified: UnifiedNode,
    standalone: StandaloneNode,
};

// NodeFirewall: one node's host firewall, rendered from its policy and applied over SSH by the
// pinhole provider (pinhole:node:Firewall) with the anti-lockout protocol.
import * as pulumi from "./pulumi";
import { FirewallSettings, NodePolicy } from "../model/types";
import { renderRuleset } from "../render/nftables";
import { FIREWALL, FirewallState } from "../provider/schema";
import { ArgsOf, resourceInputs, resourceOptions } from "./provider-resource";
import { connectionOf } from "../remote/connection";
import { managementSources } from "../model/policy";

/** The provider resource: pinhole's nftables table on one node. */
export class FirewallRuleset extends pulumi.CustomResource {
    declare public readonly ruleset: pulumi.Output<string>;
    /** `nft list table inet pinhole` as applied. */
    declare public readonly listing: pulumi.Output<string>;
    /** As last read by `pulumi refresh`, only when it differs from `listing` (the table drifted). */
    declare public readonly liveListing: pulumi.Output<string | undefined>;
    /** What refresh found changed on the node (rules added / missing). */
    declare public readonly drift: pulumi.Output<FirewallState["drift"]>;
    declare public readonly appliedFrom: pulumi.Output<string>;
    declare public readonly appliedAt: pulumi.Output<string>;
    /** Other firewall managers found on the node at the last apply, and what pinhole did about them. */
    declare public readonly otherFirewallNotes: pulumi.Output<string[] | undefined>;

    constructor(name: string, args: ArgsOf<typeof FIREWALL>, opts?: pulumi.CustomResourceOptions) {
        super(FIREWALL.token, name, resourceInputs(FIREWALL, args), resourceOptions(FIREWALL, opts));
    }
}

export interface NodeFirewallArgs {
    /** The node's policy (from model/policy.ts buildPolicy). */
    policy: NodePolicy;
    settings: FirewallSettings;
    /** SSH private key (secret). */
    privateKey: pulumi.Input<string>;
    /** pinhole:rollout: what must be done before this ruleset is applied (the previous step's proof). */
    after?: pulumi.Resource[];
}

export class NodeFirewall extends pulumi.ComponentResource {
    /** The rendered nftables ruleset (what preview --diff shows line by line). */
    public readonly ruleset: string;
    public readonly listing: pulumi.Output<string>;
    public readonly liveListing: pulumi.Output<string | undefined>;
    /** The provider resource (the proof after apply depends on it, components/proof.ts). */
    public readonly resource: FirewallRuleset;

    constructor(name: string, args: NodeFirewallArgs, opts?: pulumi.ComponentResourceOptions) {
        super("pinhole:firewall:NodeFirewall", name, {}, opts);
        const node = args.policy.node;
        const sources = managementSources(args.policy);
        if (sources.length === 0) {
            throw new pulumi.ResourceError(
                `node ${node.name}: the policy allows no management SSH source (pinhole:networks.admin is empty)`,
                this,
            );
        }
        this.ruleset = renderRuleset(args.policy, args.settings);
        const fw = new FirewallRuleset(
            `${name}-nft`,
            {
                node: node.name,
                connection: connectionOf(node),
                privateKey: pulumi.secret(args.privateKey),
                ruleset: this.ruleset,
                managementSources: sources,
                rollbackSeconds: args.settings.rollbackSeconds,
                // only when not the default: existing stacks' inputs (and so their diffs) stay as they are
                ...(args.settings.otherFirewalls === "take-over" ? { otherFirewalls: "take-over" as const } : {}),
            },
            { parent: this, ...(args.after?.length ? { dependsOn: args.after } : {}) },
        );
        this.resource = fw;
        this.listing = fw.listing;
        this.liveListing = fw.liveListing;
        // say at `up` what pinhole found and did about other firewall managers on the node
        fw.otherFirewallNotes.apply((notes) => {
            for (const n of notes ?? []) void pulumi.log.info(n, fw);
        });
        // No outputs in the state: the ruleset is the Firewall's input and the listing its output already, and the
        // engine rewrites the whole state after every step (docs/operations.md, "State size").
        this.registerOutputs({});
    }
}

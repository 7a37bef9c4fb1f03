// Cluster: the whole deployment. Derives every node's policy from the validated model and creates
// one node component per node; nothing here decides who may talk to whom (model/policy.ts does).
import * as pulumi from "@pulumi/pulumi";
import { buildPolicy } from "../model/policy";
import { ClusterModel, NodePolicy } from "../model/types";
import { NODE_CLASSES, PlatformNode } from "./nodes";

export interface ClusterArgs {
    /** The validated model (model/config.ts parseClusterConfig). */
    model: ClusterModel;
    /** SSH private key for every node (secret). */
    sshPrivateKey: pulumi.Input<string>;
}

export class Cluster extends pulumi.ComponentResource {
    public readonly policies: NodePolicy[];
    public readonly nodes: Record<string, PlatformNode> = {};

    constructor(name: string, args: ClusterArgs, opts?: pulumi.ComponentResourceOptions) {
        super("pinhole:index:Cluster", name, {}, opts);
        this.policies = buildPolicy(args.model);
        const privateKey = pulumi.secret(args.sshPrivateKey);
        for (const policy of this.policies) {
            const NodeClass = NODE_CLASSES[policy.node.role];
            this.nodes[policy.node.name] = new NodeClass(policy.node.name, { policy, model: args.model, privateKey }, { parent: this });
        }
        this.registerOutputs({ nodes: Object.keys(this.nodes) });
    }
}

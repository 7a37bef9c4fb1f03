// The proof after apply (pinhole:node:Proof, provider/proof.ts): one per stack, after every node's Firewall and
// WebServer. The targets are the policy's (model/proof.ts); the digest makes the proof run again whenever any
// node's ruleset changes or any Firewall or WebServer is applied again.
import { createHash } from "crypto";
import * as pulumi from "./pulumi";
import { ClusterModel, NodePolicy, ProofSettings } from "../model/types";
import { hostTargetLines, NodeTargets, scopedTargetLines } from "../model/proof";
import { openingLines } from "../model/proof-listen";
import { PROOF } from "../provider/schema";
import { connectionOf } from "../remote/connection";
import { ArgsOf, resourceInputs, resourceOptions } from "./provider-resource";
import type { PlatformNode } from "./nodes";

export class ProofResource extends pulumi.CustomResource {
    declare public readonly provedAt: pulumi.Output<string>;
    declare public readonly probes: pulumi.Output<number>;
    declare public readonly seconds: pulumi.Output<number>;
    declare public readonly warnings: pulumi.Output<string[]>;

    constructor(name: string, args: ArgsOf<typeof PROOF>, opts?: pulumi.CustomResourceOptions) {
        super(PROOF.token, name, resourceInputs(PROOF, args), resourceOptions(PROOF, opts));
    }
}

/** SHA-256 over the parts, each length-prefixed (so no two lists of parts digest alike). */
export function digestOf(parts: readonly string[]): string {
    const h = createHash("sha256");
    for (const p of parts) h.update(`${Buffer.byteLength(p)}:${p}\n`);
    return h.digest("hex");
}

export interface ClusterProofArgs {
    model: ClusterModel;
    policies: NodePolicy[];
    /** Every node's targets (model/proof.ts nodeTargetLines), planned once per stack and shared by every step's proof. */
    targets: NodeTargets;
    settings: ProofSettings;
    nodes: readonly PlatformNode[];
    privateKey: pulumi.Input<string>;
    /** pinhole:rollout: a step's proof covers the nodes changed so far (default: every node). */
    scope?: readonly string[];
}

export class ClusterProof extends pulumi.ComponentResource {
    public readonly resource: ProofResource;

    constructor(name: string, args: ClusterProofArgs, opts?: pulumi.ComponentResourceOptions) {
        super("pinhole:index:ClusterProof", name, {}, opts);
        const { model, policies } = args;
        const nodeNames = new Set(model.nodes.map((n) => n.name));
        const scope = new Set(args.scope ?? nodeNames);
        const policyOf = new Map(policies.map((p) => [p.node.name, p]));
        const lines = (node: string) => scopedTargetLines(args.targets.lines[node], scope, nodeNames);
        const proven = args.nodes.filter((n) => scope.has(n.nodeName));
        const firewalls = proven.map((n) => n.firewall);
        const webServers = proven.flatMap((n) => (n.certificate ? [n.certificate.webServer] : []));
        const appliedFrom = pulumi
            .all(proven.map((n) => pulumi.all([n.nodeName, n.firewall.resource.appliedFrom])))
            .apply((pairs) => Object.fromEntries(pairs));
        const rulesetDigest = pulumi
            .all([
                pulumi.all(firewalls.map((f) => f.resource.appliedAt)),
                pulumi.all(webServers.map((w) => w.appliedAt)),
            ])
            .apply(([fw, web]) =>
                digestOf([
                    ...proven.map((n, k) => `${n.nodeName} ${firewalls[k].ruleset}`),
                    ...fw.map((at) => `firewall applied ${at}`),
                    ...web.map((at) => `web server applied ${at}`),
                ]),
            );
        this.resource = new ProofResource(
            `${name}-run`,
            {
                nodes: model.nodes
                    .filter((n) => scope.has(n.name))
                    .map((n) => ({
                        node: n.name,
                        connection: connectionOf(n),
                        targets: lines(n.name),
                        openings: openingLines(policyOf.get(n.name)!),
                    })),
                hostTargets: appliedFrom.apply((a) =>
                    scopedTargetLines(hostTargetLines(model, policies, a), scope, nodeNames),
                ),
                privateKey: pulumi.secret(args.privateKey),
                rulesetDigest,
                timeoutSeconds: args.settings.timeoutSeconds,
                rollback: args.settings.rollback,
            },
            { parent: this, dependsOn: [...firewalls.map((f) => f.resource), ...webServers] },
        );
        // Passed, but worth reading: a required port the firewall lets through with nothing listening, a silent UDP peer.
        this.resource.warnings.apply((ws) => {
            for (const w of ws ?? []) void pulumi.log.info(`proof: ${w}`, this.resource);
        });
        this.registerOutputs({});
    }
}

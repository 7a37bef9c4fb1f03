// Import of an existing node's firewall: `pulumi import pinhole:node:Firewall <name> <node> --parent <urn>`.
// The ID names the node; everything else comes from the stack config, exactly as the program derives it
// (model → policy → render), and the SSH key from the stack's secret config through the CLI. The node's
// live table is compared with what that ruleset lists as on a scratch network namespace of the node, so
// an import records honestly whether the hand-made table is pinhole's (no changes) or how it differs (drift).
import { normaliseListing, renderRuleset } from "../render/nftables";
import { buildPolicy, managementSources } from "../model/policy";
import { connectionOf } from "../remote/connection";
import { ProviderError } from "./errors";
import { describe, explainSshFailure, runScript } from "../remote/ssh";
import type { FirewallInputs, FirewallState } from "./firewall";
import { liveFields, readFirewall } from "./firewall";
import { base64Heredoc } from "../remote/shell";
import { secretConfig, stackNode, stackOfUrn } from "./stack-config";

export { stackOfUrn } from "./stack-config";

/** The firewall inputs the program derives for `node` from the stack's config file. */
export async function desiredFirewall(stack: string, node: string, stackDir?: string): Promise<FirewallInputs> {
    const { model } = stackNode(stack, node, stackDir);
    const policy = buildPolicy(model).find((p) => p.node.name === node);
    if (!policy) throw new ProviderError(`import: no policy for node ${node} of stack ${stack}`);
    return {
        node,
        connection: connectionOf(policy.node),
        privateKey: await secretConfig(stack, "pinhole:sshPrivateKey"),
        ruleset: renderRuleset(policy, model.firewall),
        managementSources: managementSources(policy),
        rollbackSeconds: model.firewall.rollbackSeconds,
    };
}

/** Lists `ruleset` as nft would after applying it, in a throw-away network namespace of the node (its firewall untouched). */
export function scratchListingScript(ruleset: string): string {
    return `set -e
f="$(mktemp)"; trap 'rm -f "$f"' EXIT
${base64Heredoc('"$f"', ruleset)}command -v unshare >/dev/null 2>&1 || { echo "unshare (util-linux) is missing on the node" >&2; exit 3; }
unshare --net sh -c 'nft -f "$1" && nft -s list table inet pinhole' sh "$f"
`;
}

export async function importFirewall(
    id: string,
    urn: string,
): Promise<{ id: string; props: FirewallState; inputs: FirewallInputs }> {
    const inputs = await desiredFirewall(stackOfUrn(urn), id);
    const c = { ...inputs.connection, privateKey: inputs.privateKey, node: id };
    const live = await readFirewall(inputs);
    if (!live.listing.trim())
        throw new ProviderError(
            `import: ${describe(c)} has no table inet pinhole to import (nothing was changed); \`pulumi up\` creates it`,
        );
    const r = await runScript(c, scratchListingScript(inputs.ruleset), { timeoutMs: 30_000 });
    if (r.code !== 0)
        throw new ProviderError(
            `import: cannot list the stack's ruleset on ${describe(c)}: ${r.code === 255 ? explainSshFailure(c, r) : r.stderr.trim()}`,
        );
    const desired = normaliseListing(r.stdout);
    return {
        id,
        inputs,
        props: {
            ...inputs,
            listing: desired,
            ...liveFields(desired, live.listing),
            appliedFrom: "",
            appliedAt: "",
            otherFirewallNotes: [],
        },
    };
}

// pinhole:node:Firewall — one node's nftables table, applied over SSH with automatic rollback.
import { randomBytes } from "crypto";
import { normaliseListing } from "../render/nftables";
import { changedKeys } from "./framework";
import type { ResourceHandler } from "./framework";
import { applyScript, confirmScript, EXIT, inspectScript, removeScript } from "./firewall-scripts";
import { describe, explainSshFailure, runScript, SshConnectionInput, SshError } from "./ssh";

export interface FirewallInputs {
    node: string;
    connection: Omit<SshConnectionInput, "privateKey" | "node">;
    privateKey: string;
    ruleset: string;
    managementSources: string[];
    rollbackSeconds: number;
    /** Tests of the rollback path only: apply without the management-address pre-check. */
    skipPrecheck?: boolean;
}

export interface FirewallState extends FirewallInputs {
    /** `nft -s list table inet pinhole` right after apply (normalised). */
    listing: string;
    /** The same, as last read from the node (`pulumi refresh`); differs from `listing` on drift. */
    liveListing: string;
    /** The address this host's SSH connection came from, as the node saw it. */
    appliedFrom: string;
    appliedAt: string;
}

/** What it takes to reach the node (the rest of the inputs is the ruleset). */
type FirewallTarget = Pick<FirewallInputs, "node" | "connection" | "privateKey">;

const conn = (i: FirewallTarget): SshConnectionInput => ({ ...i.connection, privateKey: i.privateKey, node: i.node });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const listingOf = (stdout: string) => normaliseListing(stdout.split("--- listing\n")[1] ?? "");

export class FirewallApplyError extends Error {}

/**
 * Applies a ruleset with the anti-lockout protocol (see firewall-scripts.ts). Resolves with the
 * confirmed listing; rejects with a message naming the node when anything fails, after making sure
 * the node is back on its previous ruleset.
 */
export async function applyFirewall(i: FirewallInputs, owner: string, log: (m: string) => void = () => undefined): Promise<{ listing: string; appliedFrom: string }> {
    const c = conn(i);
    const token = `${Date.now().toString(36)}${randomBytes(4).toString("hex")}`;
    const started = Date.now();
    const r = await runScript(c, applyScript({
        token, ruleset: i.ruleset, managementSources: i.managementSources, rollbackSeconds: i.rollbackSeconds, skipPrecheck: i.skipPrecheck,
    }));
    if (r.code === 255) throw new FirewallApplyError(`firewall not applied: ${explainSshFailure(c, r)}`);
    if (r.code === EXIT.noNft) throw new FirewallApplyError(`firewall not applied on ${describe(c)}: ${r.stderr.trim()}`);
    if (r.code === EXIT.checkFailed) throw new FirewallApplyError(`firewall not applied on ${describe(c)}: ${r.stderr.trim()}`);
    if (r.code === EXIT.wouldLockOut) throw new FirewallApplyError(`firewall not applied on ${describe(c)}: ${r.stderr.trim()}. Add this host's address to pinhole:networks.admin.`);
    if (r.code !== 0) throw new FirewallApplyError(`firewall apply failed on ${describe(c)} (exit ${r.code}): ${(r.stderr || r.stdout).trim().split("\n").slice(-5).join(" | ")}`);
    const appliedFrom = /applied-from=(\S*)/.exec(r.stdout)?.[1] ?? "";

    // A fresh connection must get in before the rollback timer fires.
    const deadline = started + i.rollbackSeconds * 1000 - 2000;
    let last = "";
    while (Date.now() < deadline) {
        const remaining = deadline - Date.now();
        const cr = await runScript(c, confirmScript(token, owner), { timeoutMs: Math.max(3000, Math.min(remaining, 15000)) });
        if (cr.code === 0) return { listing: listingOf(cr.stdout), appliedFrom };
        if (cr.code === EXIT.alreadyDecided) { last = cr.stderr.trim(); break; }
        last = cr.code === 255 ? explainSshFailure(c, cr) : (cr.stderr || cr.stdout).trim();
        log(`confirmation attempt failed: ${last}`);
        await sleep(1000);
    }
    // Lockout: wait for the node's own timer, then check that it really is back.
    await sleep(Math.max(0, started + i.rollbackSeconds * 1000 + 3000 - Date.now()));
    const back = await runScript(c, inspectScript(), { timeoutMs: 20_000 });
    const state = back.code === 0 ? "it rolled back to its previous ruleset and SSH works again"
        : `and it is STILL unreachable after the rollback window: ${explainSshFailure(c, back)}`;
    throw new FirewallApplyError(
        `firewall on node ${i.node} NOT applied: the new ruleset cut the management SSH path ` +
        `(a fresh SSH connection from this host${appliedFrom ? ` (${appliedFrom})` : ""} could not get in within ${i.rollbackSeconds}s: ${last}); ` +
        `${state}. Check pinhole:networks.admin covers the address this host uses to reach the node.`);
}

export async function readFirewall(i: FirewallTarget): Promise<{ owner: string; listing: string; persisted: boolean }> {
    const c = conn(i);
    const r = await runScript(c, inspectScript(), { timeoutMs: 30_000 });
    if (r.code !== 0) throw new SshError(`cannot read the firewall of ${describe(c)}: ${r.code === 255 ? explainSshFailure(c, r) : r.stderr.trim()}`, r);
    return {
        owner: /owner=(.*)/.exec(r.stdout)?.[1]?.trim() ?? "",
        listing: listingOf(r.stdout),
        persisted: /persisted=yes/.test(r.stdout),
    };
}

export const firewallHandler: ResourceHandler = {
    outputOnly: ["listing", "liveListing", "appliedFrom", "appliedAt"],
    async check(news) {
        const failures = [];
        if (!news.node) failures.push({ property: "node", reason: "is required" });
        if (!news.ruleset || !/table inet pinhole \{/.test(news.ruleset)) failures.push({ property: "ruleset", reason: "must be a `table inet pinhole { ... }` ruleset" });
        if (!Array.isArray(news.managementSources) || news.managementSources.length === 0) {
            failures.push({ property: "managementSources", reason: "must list the sources allowed on the management SSH port: without them the node would be unmanageable" });
        }
        for (const k of ["host", "user", "hostKey"]) if (!news.connection?.[k]) failures.push({ property: `connection.${k}`, reason: "is required" });
        if (!news.privateKey) failures.push({ property: "privateKey", reason: "is required (secret)" });
        const rollbackSeconds = Number(news.rollbackSeconds ?? 30);
        if (!(rollbackSeconds >= 10 && rollbackSeconds <= 600)) failures.push({ property: "rollbackSeconds", reason: "must be between 10 and 600" });
        return { inputs: { ...news, rollbackSeconds }, failures };
    },
    async diff(olds: FirewallState, news: FirewallInputs) {
        const changed = changedKeys(olds as unknown as Record<string, unknown>, news as unknown as Record<string, unknown>, ["skipPrecheck"]);
        // Drift seen by `pulumi refresh`: the live table no longer matches what was applied.
        const drifted = olds.liveListing !== undefined && olds.liveListing !== olds.listing;
        return { changes: changed.length > 0 || drifted, replaces: [], deleteBeforeReplace: false };
    },
    async create(inputs: FirewallInputs) {
        const id = `${inputs.node}-${randomBytes(6).toString("hex")}`;
        const { listing, appliedFrom } = await applyFirewall(inputs, id);
        return { id, outs: { ...inputs, listing, liveListing: listing, appliedFrom, appliedAt: new Date().toISOString() } };
    },
    async update(id, _olds: FirewallState, news: FirewallInputs) {
        const { listing, appliedFrom } = await applyFirewall(news, id);
        return { outs: { ...news, listing, liveListing: listing, appliedFrom, appliedAt: new Date().toISOString() } };
    },
    async read(id, props: FirewallState) {
        const live = await readFirewall(props);
        const liveListing = live.owner && live.owner !== id ? `# owned by ${live.owner}\n${live.listing}` : live.listing;
        return { id, props: { ...props, liveListing } };
    },
    async delete(id, props: FirewallState) {
        const c = conn(props);
        const r = await runScript(c, removeScript(id), { timeoutMs: 60_000 });
        if (r.code !== 0) {
            throw new SshError(`cannot remove the firewall of ${describe(c)}: ${r.code === 255 ? explainSshFailure(c, r) : r.stderr.trim()}`, r);
        }
    },
};

// pinhole:node:Firewall — one node's nftables table, applied over SSH with automatic rollback.
import { createHash, randomBytes } from "crypto";
import { failsafeRuleset } from "../render/failsafe";
import { detectScript, findings, parseDetection, planCoexistence } from "../remote/coexist";
import type { CoexistPlan } from "../remote/coexist";
import { normaliseListing, replaceTableTransaction, sameRulesExceptComments } from "../render/nftables";
import { changedKeys, inputDiff, ProviderError } from "./framework";
import type { CheckFailure, ResourceHandler } from "./framework";
import { FIREWALL } from "./schema";
import { driftOf, driftWarning, hasDrift, listingDrift, liveFields, NO_DRIFT, withoutLive } from "./firewall-drift";
import { importFirewall } from "./firewall-import";
import { recordApply } from "./proof-rollback";
import { isUnknown } from "./schema-check";
import type { CheckedInputsOf, PriorOf, StateOf } from "./schema-types";
import {
    AfterReboot,
    applyScript,
    confirmScript,
    EXIT,
    inspectScript,
    parseAfterReboot,
    RUN_DIR,
    removeScript,
} from "../remote/firewall-scripts";
import {
    describe,
    explainSshFailure,
    readScript,
    RunResult,
    runScript,
    SshConnectionInput,
    SshError,
    withSession,
} from "../remote/ssh";

export type FirewallInputs = CheckedInputsOf<typeof FIREWALL>;
export type FirewallState = StateOf<typeof FIREWALL>;
/** An old state as diff and update get it (its ruleset from the state's inputs). */
export type FirewallPrior = PriorOf<typeof FIREWALL>;

/** What it takes to reach the node (the rest of the inputs is the ruleset). */
type FirewallTarget = Pick<FirewallInputs, "node" | "connection" | "privateKey">;

const conn = (i: FirewallTarget): SshConnectionInput => ({ ...i.connection, privateKey: i.privateKey, node: i.node });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const listingOf = (stdout: string) => normaliseListing(stdout.split("--- listing\n")[1] ?? "");

export { driftWarning, listingDrift, liveFields } from "./firewall-drift";
export type { FirewallDrift } from "./firewall-drift";

export class FirewallApplyError extends ProviderError {}

/** What an apply resolves with: the confirmed listing, where this host came from, the coexistence notes, its token. */
export interface Applied {
    listing: string;
    appliedFrom: string;
    notes: string[];
    token: string;
}

/** One apply as its steps share it; `started` is when the apply began (the node's rollback timer counts from it). */
interface ApplyRun {
    i: FirewallInputs;
    c: SshConnectionInput;
    token: string;
    started: number;
}

/**
 * Applies a ruleset with the anti-lockout protocol (see firewall-scripts.ts). Resolves with the
 * confirmed listing; rejects with a message naming the node when anything fails, after making sure
 * the node is back on its previous ruleset.
 */
export async function applyFirewall(
    i: FirewallInputs,
    owner: string,
    log: (m: string) => void = () => undefined,
): Promise<Applied> {
    const c = conn(i);
    const token = `${Date.now().toString(36)}${randomBytes(4).toString("hex")}`;
    const { r, coexist, started } = await detectAndApply(i, c, token);
    const refused = applyFailure(c, r);
    if (refused) throw new FirewallApplyError(refused);
    const appliedFrom = /applied-from=(\S*)/.exec(r.stdout)?.[1] ?? "";
    const run: ApplyRun = { i, c, token, started };
    const confirmed = await confirmInTime(run, owner, coexist.takeOver, log);
    if ("listing" in confirmed) return { listing: confirmed.listing, appliedFrom, notes: coexist.notes, token };
    throw new FirewallApplyError(await lockoutMessage(run, appliedFrom, confirmed.last));
}

/** A firewall's sessions carry rulesets and listings, never a key: the faster key exchange (remote/ssh-args.ts). */
const NO_SECRETS = { noSecrets: true } as const;

/**
 * One session: other firewall managers first (remote/coexist.ts; a refusal must come before anything is
 * applied), then the apply. The confirmation is a fresh connection of its own, as the protocol needs.
 */
async function detectAndApply(
    i: FirewallInputs,
    c: SshConnectionInput,
    token: string,
): Promise<{ r: RunResult; coexist: CoexistPlan; started: number }> {
    return withSession(
        c,
        async (session) => {
            const d = await session.run(detectScript(), 30_000);
            if (d.code === 255) throw new FirewallApplyError(`firewall not applied: ${explainSshFailure(c, d)}`);
            const coexist = planCoexistence(
                i.node,
                findings(parseDetection(d.stdout)),
                i.otherFirewalls === "take-over" ? "take-over" : "refuse",
            );
            if (coexist.refuse) throw new FirewallApplyError(coexist.refuse);
            const started = Date.now();
            const r = await session.run(
                applyScript({
                    token,
                    ruleset: i.ruleset,
                    managementSources: i.managementSources,
                    rollbackSeconds: i.rollbackSeconds,
                    skipPrecheck: i.skipPrecheck,
                }),
            );
            return { r, coexist, started };
        },
        NO_SECRETS,
    );
}

/** The message for an apply that did not go through (by the apply script's exit code); undefined when it did. */
function applyFailure(c: SshConnectionInput, r: RunResult): string | undefined {
    if (r.code === 0) return undefined;
    if (r.code === 255) return `firewall not applied: ${explainSshFailure(c, r)}`;
    if (r.code === EXIT.noNft || r.code === EXIT.checkFailed)
        return `firewall not applied on ${describe(c)}: ${r.stderr.trim()}`;
    if (r.code === EXIT.wouldLockOut)
        return `firewall not applied on ${describe(c)}: ${r.stderr.trim()}. Add this host's address to pinhole:networks.admin.`;
    return `firewall apply failed on ${describe(c)} (exit ${r.code}): ${(r.stderr || r.stdout).trim().split("\n").slice(-5).join(" | ")}`;
}

/**
 * A fresh connection must get in before the rollback timer fires: confirm until one does (the confirmed
 * listing) or the window closes, or the node has already decided (`last`: the last failure seen).
 */
async function confirmInTime(
    { i, c, token, started }: ApplyRun,
    owner: string,
    takeOver: CoexistPlan["takeOver"],
    log: (m: string) => void,
): Promise<{ listing: string } | { last: string }> {
    const deadline = started + i.rollbackSeconds * 1000 - 2000;
    let last = "";
    while (Date.now() < deadline) {
        const remaining = deadline - Date.now();
        const cr = await runScript(
            c,
            confirmScript(token, owner, failsafeRuleset(i.managementSources, i.connection.port ?? 22), takeOver),
            { timeoutMs: Math.max(3000, Math.min(remaining, 15000)), ...NO_SECRETS },
        );
        if (cr.code === 0) return { listing: listingOf(cr.stdout) };
        if (cr.code === EXIT.runFilesGone)
            throw new FirewallApplyError(rebootedDuringApply(i.node, parseAfterReboot(cr.stdout), i.ruleset));
        if (cr.code === EXIT.alreadyDecided) return { last: cr.stderr.trim() };
        last = cr.code === 255 ? explainSshFailure(c, cr) : (cr.stderr || cr.stdout).trim();
        log(`confirmation attempt failed: ${last}`);
        await sleep(1000);
    }
    return { last };
}

/** Lockout: waits for the node's own timer, then checks that it really is back; the message says which. */
async function lockoutMessage({ i, c, started }: ApplyRun, appliedFrom: string, last: string): Promise<string> {
    await sleep(Math.max(0, started + i.rollbackSeconds * 1000 + 3000 - Date.now()));
    const back = await runScript(c, inspectScript(), { timeoutMs: 20_000, ...NO_SECRETS });
    const state =
        back.code === 0
            ? "it rolled back to its previous ruleset and SSH works again"
            : `and it is STILL unreachable after the rollback window: ${explainSshFailure(c, back)}`;
    return (
        `firewall on node ${i.node} NOT applied: the new ruleset cut the management SSH path ` +
        `(a fresh SSH connection from this host${appliedFrom ? ` (${appliedFrom})` : ""} could not get in within ${i.rollbackSeconds}s: ${last}); ` +
        `${state}. Check pinhole:networks.admin covers the address this host uses to reach the node.`
    );
}

/**
 * The message when the confirmation finds the node rebooted between the apply and the confirmation (its run files
 * and rollback timer went with /run): the node runs what its boot loaded from the ruleset persisted for boot, which
 * is the previous confirmed one, or already the new one when a confirmation had saved it before the reboot.
 */
export function rebootedDuringApply(node: string, seen: AfterReboot, ruleset: string): string {
    const isNew =
        seen.persisted !== "" &&
        seen.persisted === createHash("sha256").update(replaceTableTransaction(ruleset)).digest("hex");
    const persisted =
        seen.persisted === ""
            ? "none: the node runs without pinhole's table, as before its first apply"
            : isNew
              ? "already the new one (a confirmation had saved it before the reboot)"
              : "the previous confirmed one: the new ruleset is not in force";
    const boot =
        seen.boot === "loaded"
            ? "its boot loaded the persisted ruleset"
            : seen.boot === "failsafe"
              ? "its boot could NOT load the persisted ruleset and loaded the management-only fail-safe ruleset"
              : seen.boot === "failed"
                ? "its boot loaded neither the persisted nor the fail-safe ruleset"
                : "no boot record";
    return (
        `firewall on node ${node} NOT confirmed: the node rebooted (or ${RUN_DIR} was cleared) after pinhole applied the new ruleset and before it confirmed it ` +
        `(${boot}; pinhole's table is ${seen.live ? "loaded" : "NOT loaded"}). The ruleset persisted for boot is ${persisted}. ` +
        "Nothing is half-applied: run pulumi up again to apply and confirm the new ruleset."
    );
}

/** What the node's boot did with the persisted ruleset: "loaded", "failsafe", "failed", or "" (no boot since, or no unit). */
export type BootState = "loaded" | "failsafe" | "failed" | "";

export async function readFirewall(
    i: FirewallTarget,
): Promise<{ owner: string; listing: string; persisted: boolean; boot: BootState }> {
    const c = conn(i);
    const r = await readScript(c, inspectScript(), { timeoutMs: 30_000, ...NO_SECRETS });
    if (r.code !== 0)
        throw new SshError(
            `cannot read the firewall of ${describe(c)}: ${r.code === 255 ? explainSshFailure(c, r) : r.stderr.trim()}`,
            r,
        );
    return {
        owner: /owner=(.*)/.exec(r.stdout)?.[1]?.trim() ?? "",
        listing: listingOf(r.stdout),
        persisted: /persisted=yes/.test(r.stdout),
        boot: (/^boot=(loaded|failsafe|failed)$/m.exec(r.stdout)?.[1] ?? "") as BootState,
    };
}

/**
 * The table of each node as this provider process read it. A provider process serves one command: `refresh`
 * Reads a Firewall and then the engine Diffs it (its live check), `up --refresh` the same — one read serves
 * both, so a node is read once per command. Failed reads are not kept.
 */
const readThisCommand = new Map<string, ReturnType<typeof readFirewall>>();

export function readFirewallOnce(i: FirewallTarget): ReturnType<typeof readFirewall> {
    const c = i.connection;
    const key = JSON.stringify([
        i.node,
        c.host,
        c.port,
        c.user,
        c.hostKey,
        c.bastion?.host ?? "",
        c.bastion?.port ?? 0,
    ]);
    let read = readThisCommand.get(key);
    if (!read) {
        read = readFirewall(i);
        readThisCommand.set(key, read);
        read.catch(() => readThisCommand.delete(key));
    }
    return read;
}

/**
 * The diff's live check, on every preview/up of a node whose inputs did not change. PINHOLE_LIVE_CHECK=0
 * turns it off (then only `pulumi refresh` or `up --refresh` sees a node that lost its table).
 */
function liveCheckWanted(news: FirewallInputs): boolean {
    if (process.env.PINHOLE_LIVE_CHECK === "0") return false;
    return (
        !isUnknown(news.connection) &&
        !isUnknown(news.privateKey) &&
        !isUnknown(news.connection?.host) &&
        !isUnknown(news.connection?.hostKey)
    );
}

/** Inputs that change what is on the node; the others (connection, key, rollback window) only change how it is reached. */
const APPLIED = ["node", "ruleset", "managementSources"] as const;
const INPUTS = [
    "node",
    "connection",
    "privateKey",
    "ruleset",
    "managementSources",
    "rollbackSeconds",
    "otherFirewalls",
] as const;

async function apply(id: string, news: FirewallInputs): Promise<FirewallState> {
    const { listing, appliedFrom, notes, token } = await applyFirewall(news, id);
    recordApply({ node: news.node, token, conn: conn(news) }); // what the proof's cluster rollback undoes
    return {
        ...news,
        listing,
        drift: NO_DRIFT,
        appliedFrom,
        appliedAt: new Date().toISOString(),
        otherFirewallNotes: notes,
    };
}

export const firewallHandler: ResourceHandler<typeof FIREWALL> = {
    spec: FIREWALL,
    async check(news) {
        const failures: CheckFailure[] = [];
        if (!isUnknown(news.ruleset) && !/table inet pinhole \{/.test(news.ruleset)) {
            failures.push({
                property: "ruleset",
                reason: `node ${news.node}: must be a \`table inet pinhole { ... }\` ruleset`,
            });
        }
        return { failures };
    },
    async diff(olds, news) {
        const d = inputDiff(olds, news, INPUTS);
        // Only the reasons in the header changed: nothing to load on the node; the state takes the new text.
        if (d.detailedDiff.ruleset && !isUnknown(news.ruleset) && sameRulesExceptComments(olds.ruleset, news.ruleset)) {
            delete d.detailedDiff.ruleset;
            d.changes = Object.keys(d.detailedDiff).length > 0;
        }
        // Drift seen by `pulumi refresh`: the rules added or removed on the node show as the drift the update removes.
        if (hasDrift(driftOf(olds))) {
            d.detailedDiff.drift = "delete";
            d.changes = true;
        } else if (!d.changes && liveCheckWanted(news)) {
            // Nothing to apply from the config: one read session checks that the node still carries the table
            // pinhole applied (a reimaged, restored or flushed node must not stay open behind "unchanged");
            // after refresh's Read of this node in the same command, that read.
            const live = await readFirewallOnce(news);
            const drift = listingDrift(olds.listing, live.listing);
            if (hasDrift(drift)) {
                d.detailedDiff.drift = "delete";
                d.changes = true;
                d.warnings = [driftWarning(news.node, drift)];
            }
        }
        return d;
    },
    async create(inputs) {
        const id = `${inputs.node}-${randomBytes(6).toString("hex")}`;
        return { id, outs: await apply(id, inputs) };
    },
    async update(id, olds: FirewallPrior, news) {
        // Nothing in the inputs changed: only drift (refresh's, or the diff's live check) brought the engine here.
        const driftOnly = changedKeys(olds, news, INPUTS).length === 0;
        if (driftOnly || hasDrift(driftOf(olds)) || changedKeys(olds, news, APPLIED).length > 0)
            return { outs: await apply(id, news) };
        // Only how the node is reached changed: check the new connection gets in and sees our table; apply nothing.
        const live = await readFirewall(news);
        const liveListing =
            live.owner && live.owner !== id ? `# owned by ${live.owner}\n${live.listing}` : live.listing;
        return { outs: { ...withoutLive(olds), ...news, ...liveFields(olds.listing, liveListing) } };
    },
    async read(id, olds, urn) {
        if (!olds) return importFirewall(id, urn);
        const live = await readFirewallOnce(olds);
        const liveListing =
            live.owner && live.owner !== id ? `# owned by ${live.owner}\n${live.listing}` : live.listing;
        return { id, props: { ...withoutLive(olds), ...liveFields(olds.listing, liveListing) } };
    },
    async delete(id, props) {
        const c = conn(props);
        const r = await runScript(c, removeScript(id), { timeoutMs: 60_000, ...NO_SECRETS });
        if (r.code !== 0) {
            throw new SshError(
                `cannot remove the firewall of ${describe(c)}: ${r.code === 255 ? explainSshFailure(c, r) : r.stderr.trim()}`,
                r,
            );
        }
    },
};

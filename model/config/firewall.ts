// pinhole:firewall: egress, database ports, rate limits, rollback window, extraInbound.
import { ExtraInbound, FirewallSettings, Role, ROLES } from "../types";
import { parseCidr } from "../net";
import { didYouMean } from "../suggest";
import { DATABASE_PORTS } from "../catalog";
import { DEFAULT_FIREWALL, EXTRA_KEYS, FIREWALL_KEYS, NETWORK_LABELS, PROTOCOLS, RATE_KEYS } from "./keys";
import { profileFields, readFirewallProfile } from "./profile";
import {
    Problems,
    at,
    dot,
    mappedIPv4Problem,
    readBool,
    readEnum,
    readInt,
    readList,
    readMap,
    readPort,
    readString,
    root,
} from "./read";
import { LIMITS } from "../limits";

export function readFirewall(v: unknown, nodeNames: Set<string>, pr: Problems): Required<FirewallSettings> | undefined {
    const path = root("firewall");
    const fw: Required<FirewallSettings> = {
        ...DEFAULT_FIREWALL,
        rateLimit: { ...DEFAULT_FIREWALL.rateLimit },
        extraInbound: [],
    };
    if (v === undefined) return fw;
    const m = readMap(v, path, pr, FIREWALL_KEYS);
    if (!m) return undefined;
    const before = pr.errors.length;
    if (m.egress !== undefined)
        fw.egress = readEnum(m.egress, dot(path, "egress"), pr, ["allow", "deny"] as const) ?? fw.egress;
    const profile = readFirewallProfile(m, path);
    for (const e of profile.errors) pr.error(e.path, e.message);
    for (const w of profile.warnings) pr.warn(w.path, w.message);
    Object.assign(fw, profileFields(profile.settings));
    if (m.rateLimit !== undefined) readRateLimit(m.rateLimit, dot(path, "rateLimit"), fw.rateLimit, pr);
    fw.logDrops = readBool(m.logDrops, dot(path, "logDrops"), pr, fw.logDrops);
    if (m.rollbackSeconds !== undefined) {
        // Below 10 s a slow SSH handshake could not confirm the new ruleset in time.
        fw.rollbackSeconds =
            readInt(
                m.rollbackSeconds,
                dot(path, "rollbackSeconds"),
                pr,
                LIMITS.rollbackSeconds.min,
                LIMITS.rollbackSeconds.max,
            ) ?? fw.rollbackSeconds;
    }
    fw.httpRedirect = readBool(m.httpRedirect, dot(path, "httpRedirect"), pr, false);
    if (m.otherFirewalls !== undefined)
        fw.otherFirewalls =
            readEnum(m.otherFirewalls, dot(path, "otherFirewalls"), pr, ["refuse", "take-over"] as const) ??
            fw.otherFirewalls;
    if (m.extraInbound !== undefined) {
        const list = readList(m.extraInbound, dot(path, "extraInbound"), pr);
        list?.forEach((item, i) => {
            const e = readExtraInbound(item, at(dot(path, "extraInbound"), i), nodeNames, pr);
            if (e) fw.extraInbound.push(e);
        });
    }
    return pr.errors.length === before ? fw : undefined;
}

/** pinhole:firewall.rateLimit: perMinute and burst within their limits, into `rate` (kept where unreadable). */
function readRateLimit(v: unknown, path: string, rate: Required<FirewallSettings>["rateLimit"], pr: Problems): void {
    const r = readMap(v, path, pr, RATE_KEYS);
    if (r?.perMinute !== undefined)
        rate.perMinute =
            readInt(
                r.perMinute,
                dot(path, "perMinute"),
                pr,
                LIMITS.rateLimitPerMinute.min,
                LIMITS.rateLimitPerMinute.max,
            ) ?? rate.perMinute;
    if (r?.burst !== undefined)
        rate.burst =
            readInt(r.burst, dot(path, "burst"), pr, LIMITS.rateLimitBurst.min, LIMITS.rateLimitBurst.max) ??
            rate.burst;
}

export function readExtraInbound(
    v: unknown,
    path: string,
    nodeNames: Set<string>,
    pr: Problems,
): ExtraInbound | undefined {
    const m = readMap(v, path, pr, EXTRA_KEYS);
    if (!m) return undefined;
    const before = pr.errors.length;
    const port =
        m.port === undefined
            ? (pr.error(dot(path, "port"), "missing"), undefined)
            : readPort(m.port, dot(path, "port"), pr);
    const protocol = m.protocol === undefined ? "tcp" : readEnum(m.protocol, dot(path, "protocol"), pr, PROTOCOLS);
    const from = readSources(m.from, dot(path, "from"), pr);
    const { roles, nodes } = readTargets(m, path, nodeNames, pr);
    const reason = readReason(m.reason, dot(path, "reason"), pr);
    const exposed = readBool(m.exposed, dot(path, "exposed"), pr, from.includes("client"));
    if (port !== undefined && from.includes("client") && DATABASE_PORTS.includes(port)) {
        pr.error(
            dot(path, "port"),
            `${port} is a database port: pinhole never opens database ports to client networks`,
        );
    }
    if (pr.errors.length !== before || port === undefined || protocol === undefined || reason === undefined)
        return undefined;
    return { protocol, port, from, roles, nodes, reason, exposed };
}

/** The sources: network labels and/or CIDRs (IPv4-mapped IPv6 refused). */
function readSources(v: unknown, path: string, pr: Problems): string[] {
    const from: string[] = [];
    if (v === undefined) {
        pr.error(path, `missing: network labels (${NETWORK_LABELS.join(", ")}) and/or CIDRs`);
        return from;
    }
    const list = readList(v, path, pr);
    if (list && list.length === 0) pr.error(path, "is empty");
    list?.forEach((f, j) => {
        const s = readString(f, at(path, j), pr);
        if (s === undefined) return;
        if (NETWORK_LABELS.includes(s)) {
            from.push(s);
            return;
        }
        const c = parseCidr(s);
        const mapped = c.ok ? mappedIPv4Problem(s) : undefined;
        if (mapped) pr.error(at(path, j), mapped);
        else if (c.ok) from.push(s);
        else
            pr.error(
                at(path, j),
                `${c.error}; or one of ${NETWORK_LABELS.join(", ")}${/^[a-z]+$/.test(s) ? didYouMean(s, NETWORK_LABELS) : ""}`,
            );
    });
    return from;
}

/** The nodes an opening applies to, by role and by name (neither: every node). */
function readTargets(
    m: Record<string, unknown>,
    path: string,
    nodeNames: Set<string>,
    pr: Problems,
): { roles: Role[]; nodes: string[] } {
    // An empty roles/nodes list would read as "neither": every node. Written, it means the operator meant some.
    for (const k of ["roles", "nodes"] as const) {
        if (Array.isArray(m[k]) && (m[k] as unknown[]).length === 0)
            pr.error(
                dot(path, k),
                `is empty: an opening with neither roles nor nodes applies to every node; omit ${k} for that, or name the ${k}`,
            );
    }
    const roles: Role[] = [];
    if (m.roles !== undefined) {
        readList(m.roles, dot(path, "roles"), pr)?.forEach((r, j) => {
            const role = readEnum(r, at(dot(path, "roles"), j), pr, ROLES);
            if (role) roles.push(role);
        });
    }
    const nodes: string[] = [];
    if (m.nodes !== undefined) {
        readList(m.nodes, dot(path, "nodes"), pr)?.forEach((n, j) => {
            const name = readString(n, at(dot(path, "nodes"), j), pr);
            if (name === undefined) return;
            if (!nodeNames.has(name))
                pr.error(at(dot(path, "nodes"), j), `no node is named "${name}"${didYouMean(name, [...nodeNames])}`);
            else nodes.push(name);
        });
    }
    return { roles, nodes };
}

function readReason(v: unknown, path: string, pr: Problems): string | undefined {
    if (v === undefined) {
        pr.error(path, "missing: say why this opening exists (it shows in rules and in the matrix)");
        return undefined;
    }
    const reason = readString(v, path, pr);
    if (reason !== undefined && reason.length > LIMITS.reasonLength.max)
        pr.error(
            path,
            `is ${reason.length} characters: at most ${LIMITS.reasonLength.max} (${LIMITS.reasonLength.why})`,
        );
    return reason;
}

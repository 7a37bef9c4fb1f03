// Other firewall managers on a node (nftables.service, ufw, firewalld, iptables-nft rules, Docker): found
// before pinhole applies its table, and handled per the stack's choice pinhole:firewall.otherFirewalls.
//
// Why it matters: every nftables base chain on a hook sees each packet, and a packet is dropped if ANY of
// them drops it. An accept in pinhole's table does not beat a drop (or reject) in another table's input or
// output base chain, so pinhole's openings would silently not work next to, say, ufw's default deny.
//   refuse (default): pinhole applies nothing on that node and says which manager and chain are in the way.
//   take-over:        pinhole applies its table, and once the new ruleset is confirmed, stops, disables and
//                     masks that manager (so neither a restart nor a boot brings its drop back).
// Managers that drop nothing pinhole opens (stock nftables.service, Docker) are left running and reported.
import { shellQuote } from "../render/escape";

export type OtherFirewallsChoice = "refuse" | "take-over";
export type Manager = "nftables.service" | "ufw" | "firewalld" | "iptables" | "docker" | "nft-table";

export interface BaseChain {
    family: string;
    table: string;
    chain: string;
    hook: string;
    policy: string;
    drops: boolean;
}

export interface Detection {
    /** unit name (without .service) → [is-enabled, is-active]. */
    units: Record<string, [string, string]>;
    ufwEnabled: boolean;
    /** /etc/nftables.conf flushes the whole ruleset. */
    nftablesConfFlushes: boolean;
    baseChains: BaseChain[];
    /** Tables that have a chain named like a manager's (ufw-*, DOCKER*). */
    chainNames: Record<string, string[]>;
}

export interface Finding {
    manager: Manager;
    blocks: boolean;
    what: string;
    chains: BaseChain[];
}

const UNITS = ["nftables", "ufw", "firewalld", "docker", "netfilter-persistent"];

/** Read-only: prints the units, ufw's switch, /etc/nftables.conf's flush and the whole ruleset. */
export function detectScript(): string {
    return `PATH=/usr/sbin:/usr/bin:/sbin:/bin
if [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; then
  for u in ${UNITS.join(" ")}; do
    e=$(systemctl is-enabled "$u.service" 2>/dev/null); [ -n "$e" ] || e=absent
    a=$(systemctl is-active "$u.service" 2>/dev/null); [ -n "$a" ] || a=unknown
    echo "unit $u $e $a"
  done
fi
grep -qs '^ENABLED=yes' /etc/ufw/ufw.conf && echo "ufw-enabled yes"
grep -qs '^[[:space:]]*flush ruleset' /etc/nftables.conf && echo "nftables-conf-flush yes"
echo "--- ruleset"
nft list ruleset 2>/dev/null || true
`;
}

/** Parses the detection output (the ruleset part: `nft list ruleset`'s text form). */
export function parseDetection(out: string): Detection {
    const [head, ruleset = ""] = out.split("--- ruleset\n");
    const d: Detection = {
        units: {},
        ufwEnabled: /^ufw-enabled yes$/m.test(head),
        nftablesConfFlushes: /^nftables-conf-flush yes$/m.test(head),
        baseChains: [],
        chainNames: {},
    };
    for (const m of head.matchAll(/^unit (\S+) (\S+) (\S+)$/gm)) d.units[m[1]] = [m[2], m[3]];
    let table: { family: string; name: string } | undefined;
    let chain: BaseChain | undefined;
    let chainName = "";
    for (const raw of ruleset.split("\n")) {
        const line = raw.trim();
        let m: RegExpExecArray | null;
        if ((m = /^table (\S+) (\S+) \{/.exec(line))) {
            table = { family: m[1], name: m[2] };
            continue;
        }
        if (!table) continue;
        if ((m = /^chain (\S+) \{/.exec(line))) {
            chainName = m[1];
            chain = undefined;
            (d.chainNames[`${table.family} ${table.name}`] ??= []).push(chainName);
            continue;
        }
        if ((m = /^type \S+ hook (\w+)(?: device \S+)? priority [^;]+;(?: policy (\w+);)?/.exec(line)) && chainName) {
            chain = {
                family: table.family,
                table: table.name,
                chain: chainName,
                hook: m[1],
                policy: m[2] ?? "accept",
                drops: false,
            };
            d.baseChains.push(chain);
            continue;
        }
        if (line === "}") {
            if (chainName) {
                chainName = "";
                chain = undefined;
            } else table = undefined;
            continue;
        }
        if (chain && /(^|\s)(drop|reject)(\s|$)/.test(line)) chain.drops = true;
    }
    return d;
}

const isPinhole = (c: { family: string; table: string }) => c.family === "inet" && c.table === "pinhole";
const blocking = (c: BaseChain) =>
    !isPinhole(c) && (c.hook === "input" || c.hook === "output") && (c.policy === "drop" || c.drops);
const describeChain = (c: BaseChain) =>
    `table ${c.family} ${c.table}, chain ${c.chain} (hook ${c.hook}, policy ${c.policy}${c.drops ? ", drop/reject rules" : ""})`;

/** Which manager a table belongs to. */
function ownerOf(d: Detection, family: string, table: string): Manager {
    const chains = d.chainNames[`${family} ${table}`] ?? [];
    if (table === "firewalld") return "firewalld";
    if (chains.some((c) => /^ufw6?-/.test(c))) return "ufw";
    if (["ip", "ip6"].includes(family) && ["filter", "nat", "mangle", "raw", "security"].includes(table)) {
        return chains.some((c) => /^DOCKER/.test(c)) && !chains.some((c) => c === "INPUT" || c === "OUTPUT")
            ? "docker"
            : "iptables";
    }
    if (d.units.nftables?.[0] === "enabled") return "nftables.service";
    return "nft-table";
}

/** What is on the node besides pinhole, one finding per manager. */
export function findings(d: Detection): Finding[] {
    const by = new Map<Manager, Finding>();
    const add = (manager: Manager, what: string, chains: BaseChain[] = []) => {
        const f = by.get(manager) ?? { manager, blocks: false, what, chains: [] };
        f.chains.push(...chains);
        f.blocks = f.chains.some(blocking);
        by.set(manager, f);
    };
    for (const c of d.baseChains.filter((x) => !isPinhole(x))) add(ownerOf(d, c.family, c.table), "", [c]);
    if (d.units.nftables?.[0] === "enabled") add("nftables.service", "");
    if (d.ufwEnabled || d.units.ufw?.[1] === "active") add("ufw", "");
    if (d.units.firewalld?.[1] === "active") add("firewalld", "");
    if (d.units.docker?.[1] === "active" || Object.values(d.chainNames).some((cs) => cs.some((c) => /^DOCKER/.test(c))))
        add("docker", "");
    for (const f of by.values()) f.what = describe(f, d);
    return [...by.values()].sort((a, b) => a.manager.localeCompare(b.manager));
}

function describe(f: Finding, d: Detection): string {
    const chains = f.chains.filter(blocking).map(describeChain).join("; ");
    switch (f.manager) {
        case "nftables.service":
            return `nftables.service is enabled${d.nftablesConfFlushes ? " and /etc/nftables.conf starts with flush ruleset" : ""}${chains ? `; its ${chains}` : ""}`;
        case "ufw":
            return `ufw is ${d.ufwEnabled ? "enabled" : "active"}${chains ? ` (${chains})` : ""}`;
        case "firewalld":
            return `firewalld is running${chains ? ` (${chains})` : ""}`;
        case "iptables":
            return `iptables rules${chains ? ` (${chains})` : ""}`;
        case "docker":
            return "Docker's tables (DOCKER chains)";
        case "nft-table":
            return `another nftables table${chains ? ` (${chains})` : ""}`;
    }
}

export interface CoexistPlan {
    /** Set: apply nothing, fail with this message. */
    refuse?: string;
    /** What pinhole will do about each manager (shown at up, kept in the resource's outputs). */
    notes: string[];
    /** Shell run in the confirm session, after the new ruleset is confirmed (take-over). */
    takeOver: string;
}

/** The shell that stops one manager for good (take-over). */
function takeOverShell(f: Finding): string {
    const mask = (u: string) =>
        `systemctl disable --now ${u} >/dev/null 2>&1 || true; systemctl mask ${u} >/dev/null 2>&1 || true`;
    switch (f.manager) {
        case "ufw":
            return `ufw --force disable >/dev/null 2>&1 || true; ${mask("ufw.service")}`;
        case "firewalld":
            return `${mask("firewalld.service")}; nft delete table inet firewalld 2>/dev/null || true`;
        case "nftables.service":
            return `systemctl disable nftables.service >/dev/null 2>&1 || true; systemctl mask nftables.service >/dev/null 2>&1 || true; ${f.chains
                .filter(blocking)
                .map((c) => `nft delete table ${shellQuote(c.family)} ${shellQuote(c.table)} 2>/dev/null || true`)
                .join("; ")}`;
        case "iptables":
            return [
                `${mask("netfilter-persistent.service")}`,
                ...f.chains.filter(blocking).map((c) => {
                    const bin = c.family === "ip6" ? "ip6tables" : "iptables";
                    return `${bin} -t ${shellQuote(c.table)} -P ${shellQuote(c.chain)} ACCEPT 2>/dev/null; ${bin} -t ${shellQuote(c.table)} -F ${shellQuote(c.chain)} 2>/dev/null || true`;
                }),
            ].join("; ");
        default:
            return "";
    }
}

const HOW_TO_STOP: Partial<Record<Manager, string>> = {
    ufw: "`ufw disable`",
    firewalld: "`systemctl disable --now firewalld`",
    iptables: "`iptables -P INPUT ACCEPT; iptables -F INPUT` (and disable netfilter-persistent)",
    "nftables.service": "remove the drop from /etc/nftables.conf or `systemctl disable nftables`",
};

export function planCoexistence(node: string, found: Finding[], choice: OtherFirewallsChoice): CoexistPlan {
    const notes: string[] = [];
    const refusals: string[] = [];
    const takeOver: string[] = [];
    for (const f of found) {
        if (!f.blocks) {
            if (f.manager === "nftables.service")
                notes.push(
                    `${node}: ${f.what}: left running; pinhole's drop-in reloads its table after each start, reload and stop of it`,
                );
            else if (f.manager === "docker")
                notes.push(
                    `${node}: ${f.what}: left alone (pinhole has no forward chain, so container traffic is Docker's business)`,
                );
            else notes.push(`${node}: ${f.what}: drops nothing pinhole opens; left alone`);
            continue;
        }
        if (choice === "take-over" && f.manager !== "nft-table" && f.manager !== "docker") {
            notes.push(
                `${node}: ${f.what}: its drop would override pinhole's openings; pinhole.firewall.otherFirewalls is take-over, so once pinhole's ruleset is confirmed pinhole stops, disables and masks it`,
            );
            takeOver.push(takeOverShell(f));
            continue;
        }
        const how = HOW_TO_STOP[f.manager];
        refusals.push(
            `${f.what}: an accept in pinhole's table does not beat a drop in another table's base chain, so pinhole's openings would not work. ` +
                (f.manager === "nft-table" || f.manager === "docker"
                    ? "pinhole does not remove tables it cannot attribute to a manager: delete or change that table by hand"
                    : `Stop it (${how}), or set pinhole:firewall.otherFirewalls to take-over to let pinhole stop, disable and mask it`),
        );
    }
    return {
        ...(refusals.length ? { refuse: `firewall not applied on node ${node}: ${refusals.join("; ")}` } : {}),
        notes,
        takeOver: takeOver.join("\n"),
    };
}

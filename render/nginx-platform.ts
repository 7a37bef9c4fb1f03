// The certificate-only front end: what pinhole changes in an nginx configuration it did not write.
// Pure: from the node's `nginx -T` dump (with the originals pinhole keeps aside put back in, so every
// run plans from the platform's own files) to the plan the provider installs:
//   - the certificate and key paths the HTTPS servers use (or the configured ones),
//   - pinhole's TLS drop-in (http level); the same directives set at http level in a platform file are
//     commented out there (that file becomes one pinhole owns: kept aside, restored on delete),
//   - the weights: only the `server` lines of the named upstream change (its file becomes owned),
//   - `web weight list`, warnings and problems (any problem: nothing is installed).
import { ContextDirective, includedAtHttp, NginxDump, parseNginxFile, walkNginxConfig } from "./nginx-conf";
import { TLS_DECISIVE, TLS_DIRECTIVE_NAMES } from "./tls-profile";

export interface SslServer {
    file: string;
    line: number;
    names: string[];
    certificates: string[];
    keys: string[];
    overrides: { name: string; file: string; line: number }[];
}
export interface UpstreamLine {
    target: string;
    params: string[];
    file: string;
    line: number;
    endLine: number;
}
export interface Upstream {
    name: string;
    file: string;
    line: number;
    servers: UpstreamLine[];
}

export interface NginxAnalysis {
    sslServers: SslServer[];
    /** Directives of pinhole's TLS profile set at http level (they would clash with pinhole's drop-in). */
    httpTls: ContextDirective[];
    upstreams: Upstream[];
}

const isHttp = (d: ContextDirective) => d.context.length === 1 && d.context[0] === "http";

export function analyseNginx(dump: NginxDump): NginxAnalysis {
    const all = walkNginxConfig(dump);
    const httpCerts = all.filter((d) => isHttp(d) && d.name === "ssl_certificate").map((d) => d.args[0]);
    const httpKeys = all.filter((d) => isHttp(d) && d.name === "ssl_certificate_key").map((d) => d.args[0]);
    const sslServers: SslServer[] = [];
    for (const s of all.filter((d) => d.name === "server" && isHttp(d) && d.block)) {
        const own = all.filter((d) => d.parent === s);
        const ssl = own.some(
            (d) => (d.name === "listen" && d.args.includes("ssl")) || (d.name === "ssl" && d.args[0] === "on"),
        );
        if (!ssl) continue;
        const certs = own.filter((d) => d.name === "ssl_certificate").map((d) => d.args[0]);
        const keys = own.filter((d) => d.name === "ssl_certificate_key").map((d) => d.args[0]);
        sslServers.push({
            file: s.file,
            line: s.line,
            names: own.filter((d) => d.name === "server_name").flatMap((d) => d.args),
            certificates: certs.length ? certs : httpCerts,
            keys: keys.length ? keys : httpKeys,
            overrides: own
                .filter((d) => TLS_DIRECTIVE_NAMES.includes(d.name))
                .map((d) => ({ name: d.name, file: d.file, line: d.line })),
        });
    }
    const upstreams = all
        .filter((d) => d.name === "upstream" && isHttp(d) && d.block)
        .map((u) => ({
            name: u.args[0],
            file: u.file,
            line: u.line,
            servers: all
                .filter((d) => d.parent === u && d.name === "server")
                .map((d) => ({
                    target: d.args[0],
                    params: d.args.slice(1),
                    file: d.file,
                    line: d.line,
                    endLine: d.endLine,
                })),
        }));
    return { sslServers, httpTls: all.filter((d) => isHttp(d) && TLS_DIRECTIVE_NAMES.includes(d.name)), upstreams };
}

/** One application/unified node as a proxy's upstream may name it: its addresses as seen from the proxy, its names. */
export interface WeightTarget {
    node: string;
    hosts: string[];
    weight?: number;
}

export interface WeightEntry {
    /** The upstream server as nginx has it ("10.0.0.5:443"). */
    server: string;
    node?: string;
    weight: number;
    backup: boolean;
    /** user: webWeight of the node; default: the platform's own setting (nginx's 1 when it sets none). */
    source: "user" | "default";
}

export interface PlatformPlanInput {
    node: string;
    dump: NginxDump;
    /** Paths of pinhole's own files (the TLS drop-in): ignored in the dump, they were not the platform's. */
    ownFiles: string[];
    /** pinhole's TLS drop-in: nginx must read it at http level. */
    tlsPath?: string;
    certificatePath?: string;
    keyPath?: string;
    /** Proxies: the upstream whose server weights pinhole sets (default: the only one there is). */
    upstream?: string;
    weights?: WeightTarget[];
}

export interface PlatformPlan {
    certificatePath: string;
    keyPath: string;
    /** Platform files pinhole changes (path → new content): kept aside at first apply, restored on delete. */
    patched: Record<string, string>;
    upstream?: string;
    weightList: WeightEntry[];
    warnings: string[];
    problems: string[];
}

const hostOf = (target: string) => target.replace(/^\[([^\]]+)\](:\d+)?$/, "$1").replace(/^([^:[\]]+):\d+$/, "$1");

/** Comments out whole-line directives; a directive sharing its line with another one is a problem (nginx would need a rewrite). */
function commentOut(content: string, ds: ContextDirective[], why: string, problems: string[]): string {
    const lines = content.split("\n");
    const others = parseNginxFile(content, ds[0].file);
    const flat: { line: number; endLine: number }[] = [];
    const visit = (l: typeof others) => {
        for (const d of l) {
            flat.push(d);
            if (d.block) visit(d.block);
        }
    };
    visit(others);
    for (const d of ds) {
        const crowded =
            flat.some((o) => o.line !== d.line && o.line >= d.line && o.line <= d.endLine) ||
            flat.filter((o) => o.line === d.line || o.endLine === d.line).length > 1;
        if (crowded) {
            problems.push(
                `${d.file}:${d.line}: "${d.name}" shares its line with another directive: put it on a line of its own so pinhole can take it over`,
            );
            continue;
        }
        for (let n = d.line; n <= d.endLine; n++) lines[n - 1] = `#pinhole# ${lines[n - 1]}`;
        lines[d.line - 1] += `  # ${why}`;
    }
    return lines.join("\n");
}

function rewriteServerLine(text: string, weight: number, backup: boolean): string {
    const m = /^(\s*)server\s+(\S+)((?:\s+[^\s;#]+)*)\s*;(.*)$/.exec(text);
    if (!m) throw new Error(`cannot rewrite: ${text.trim()}`);
    const params = m[3]
        .trim()
        .split(/\s+/)
        .filter((p) => p && !/^weight=/.test(p) && p !== "backup");
    const set = backup ? ["backup"] : [`weight=${weight}`];
    return `${m[1]}server ${m[2]} ${[...set, ...params].join(" ")};${m[4]}`;
}

/** Problems (nothing is installed while there is one) and warnings, in the order they are found. */
interface Findings {
    problems: string[];
    warnings: string[];
}

const at = (x: { file: string; line: number }) => `${x.file}:${x.line}`;

/** The certificate-only plan for one node (see the file comment). */
export function planPlatformFrontEnd(i: PlatformPlanInput): PlatformPlan {
    const files = new Map([...i.dump.files].filter(([f]) => !i.ownFiles.includes(f)));
    const dump: NginxDump = { main: i.dump.main, files };
    const a = analyseNginx(dump);
    const found: Findings = { problems: [], warnings: [] };
    const { problems, warnings } = found;
    if (i.tlsPath && !includedAtHttp(dump, i.tlsPath)) {
        problems.push(
            `node ${i.node}: nginx does not include ${i.tlsPath} in its http block, so pinhole's TLS profile would not apply: set certificates.nginx.tlsPath to a path an http-level include matches (e.g. under conf.d/)`,
        );
    }
    const certificates = a.sslServers.flatMap((s) => s.certificates);
    const certificatePath = pickPath(i.node, i.certificatePath, certificates, "certificate", "certificatePath", found);
    const keyPath = pickPath(
        i.node,
        i.keyPath,
        a.sslServers.flatMap((s) => s.keys),
        "key",
        "keyPath",
        found,
    );
    for (const s of a.sslServers) {
        for (const o of s.overrides) {
            const msg = `node ${i.node}: the server at ${at(s)} sets ${o.name} itself (${at(o)}), so pinhole's TLS profile does not reach it`;
            if (TLS_DECISIVE.includes(o.name)) problems.push(`${msg}: remove it there (the profile is http-wide)`);
            else warnings.push(msg);
        }
    }
    const patched: Record<string, string> = {};
    const byFile = new Map<string, ContextDirective[]>();
    for (const d of a.httpTls) byFile.set(d.file, [...(byFile.get(d.file) ?? []), d]);
    for (const [f, ds] of byFile)
        patched[f] = commentOut(
            files.get(f) ?? "",
            ds,
            "pinhole: its TLS profile sets this (conf.d drop-in)",
            problems,
        );
    const upstream = findUpstream(i, a.upstreams, found);
    const weightList = upstream && i.weights ? applyWeights(i.node, i.weights, upstream, files, patched, found) : [];
    for (const [f, c] of Object.entries(patched)) if (c === files.get(f)) delete patched[f];
    return { certificatePath, keyPath, patched, upstream: upstream?.name, weightList, warnings, problems };
}

/** The certificate (or key) path: the configured one, else the one path every HTTPS server uses. */
function pickPath(
    node: string,
    configured: string | undefined,
    found: string[],
    what: string,
    key: string,
    f: Findings,
): string {
    const distinct = [...new Set(found)].sort();
    if (configured) {
        if (distinct.length && !distinct.includes(configured))
            f.warnings.push(
                `node ${node}: no HTTPS server of nginx uses ${what} ${configured} (they use ${distinct.join(", ")})`,
            );
        return configured;
    }
    if (distinct.length === 1 && !distinct[0].includes("$")) return distinct[0];
    if (distinct.length === 0)
        f.problems.push(
            `node ${node}: nginx has no HTTPS server (listen ... ssl) with ${what === "certificate" ? "ssl_certificate" : "ssl_certificate_key"}: set certificates.nginx.${key}, or use frontEnd: whole-site`,
        );
    else
        f.problems.push(
            `node ${node}: nginx's HTTPS servers use several ${what} files (${distinct.join(", ")}): the platform has one certificate; set certificates.nodes.${node}.nginx.${key}`,
        );
    return "";
}

/** The upstream web weights apply to: the one named, else the only one there is. */
function findUpstream(i: PlatformPlanInput, upstreams: Upstream[], f: Findings): Upstream | undefined {
    if (i.upstream) {
        const upstream = upstreams.find((u) => u.name === i.upstream);
        if (!upstream)
            f.problems.push(
                `node ${i.node}: nginx has no upstream "${i.upstream}" (it has: ${upstreams.map((u) => u.name).join(", ") || "none"})`,
            );
        return upstream;
    }
    if (!i.weights) return undefined;
    if (upstreams.length === 1) return upstreams[0];
    if (upstreams.length > 1 && i.weights.some((w) => w.weight !== undefined)) {
        f.problems.push(
            `node ${i.node}: nginx has several upstreams (${upstreams.map((u) => u.name).join(", ")}): name the one web weights apply to in certificates.nginx.upstream`,
        );
    }
    return undefined;
}

/** Each upstream server's weight (the node's webWeight, else the platform's), rewritten into `patched`. */
function applyWeights(
    node: string,
    weights: NonNullable<PlatformPlanInput["weights"]>,
    upstream: Upstream,
    files: Map<string, string>,
    patched: Record<string, string>,
    f: Findings,
): WeightEntry[] {
    const weightList: WeightEntry[] = [];
    const lineOf = (u: UpstreamLine) => (patched[u.file] ?? files.get(u.file) ?? "").split("\n");
    const matches = upstream.servers.map((s) => ({ s, t: weights.find((w) => w.hosts.includes(hostOf(s.target))) }));
    const allBackup = matches.every(({ t }) => t?.weight === 0);
    if (allBackup)
        f.warnings.push(
            `node ${node}: every server of upstream ${upstream.name} has webWeight 0 (backup): with no primary server they are used as equals (weight 1)`,
        );
    for (const { s, t } of matches) {
        const platformWeight = Number(
            /^weight=(\d+)$/.exec(s.params.find((p) => p.startsWith("weight=")) ?? "")?.[1] ?? 1,
        );
        if (t?.weight === undefined) {
            weightList.push({
                server: s.target,
                node: t?.node,
                weight: platformWeight,
                backup: s.params.includes("backup"),
                source: "default",
            });
            continue;
        }
        const backup = t.weight === 0 && !allBackup;
        const weight = backup ? 0 : Math.max(1, t.weight);
        weightList.push({ server: s.target, node: t.node, weight, backup, source: "user" });
        if (s.line !== s.endLine) {
            f.problems.push(
                `${at(s)}: the upstream server ${s.target} spans several lines: put it on one line so pinhole can set its weight`,
            );
            continue;
        }
        const lines = lineOf(s);
        lines[s.line - 1] = rewriteServerLine(lines[s.line - 1], weight, backup);
        patched[s.file] = lines.join("\n");
    }
    const unknown = weights.filter((w) => w.weight !== undefined && !matches.some((m) => m.t === w));
    for (const w of unknown)
        f.warnings.push(
            `node ${node}: webWeight of ${w.node} has no effect: upstream ${upstream.name} has no server for it (${w.hosts.join(", ")})`,
        );
    return weightList;
}

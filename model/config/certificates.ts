// pinhole:certificates: mode, lifetimes and per-node certificate material keys.
import { CertificateSettings, NodeCertificateSettings } from "../types";
import { didYouMean } from "../suggest";
import { servesWeb } from "../roles";
import { CERT_KEYS, CERT_MODES, CERT_NODE_KEYS, CONFIG_KEY_RE, DEFAULT_CERTIFICATES } from "./keys";
import { NodeDraft } from "./nodes";
import { readFrontEnd } from "./front-end";
import { readAcme } from "./acme";
import { Problems, dot, readBool, readEnum, readInt, readMap, readString, root } from "./read";
import { LIMITS } from "../limits";

export function readCertificates(v: unknown, nodes: NodeDraft[], pr: Problems): CertificateSettings | undefined {
    const path = root("certificates");
    const settings: CertificateSettings = { ...DEFAULT_CERTIFICATES, nodes: {} };
    if (v === undefined) return settings;
    const m = readMap(v, path, pr, CERT_KEYS);
    if (!m) return undefined;
    const before = pr.errors.length;
    if (m.mode !== undefined) settings.mode = readEnum(m.mode, dot(path, "mode"), pr, CERT_MODES) ?? settings.mode;
    if (m.validityDays !== undefined)
        settings.validityDays =
            readInt(m.validityDays, dot(path, "validityDays"), pr, LIMITS.validityDays.min, LIMITS.validityDays.max) ??
            settings.validityDays;
    if (m.renewBeforeDays !== undefined) {
        settings.renewBeforeDays =
            readInt(
                m.renewBeforeDays,
                dot(path, "renewBeforeDays"),
                pr,
                LIMITS.renewBeforeDays.min,
                LIMITS.renewBeforeDays.max,
            ) ?? settings.renewBeforeDays;
        settings.renewBeforeExplicit = true;
    }
    // Unset, the window scales with short lifetimes (model/certificates.ts noticeWindowDays): only an explicit one can be too wide.
    if (settings.renewBeforeExplicit && settings.renewBeforeDays >= settings.validityDays) {
        pr.error(
            dot(path, "renewBeforeDays"),
            `${settings.renewBeforeDays} must be less than validityDays (${settings.validityDays})`,
        );
    }
    settings.legacyProtocols = readBool(m.legacyProtocols, dot(path, "legacyProtocols"), pr, false);
    readFrontEnd(m, path, pr, settings);
    if (settings.legacyProtocols)
        pr.warn(
            dot(path, "legacyProtocols"),
            "re-enables legacy TLS/SSL protocols (the reference's `web sslv3 on`): only for clients that cannot do better",
        );
    if (m.nodes !== undefined) readNodeCertificates(m.nodes, dot(path, "nodes"), nodes, settings, pr);
    if (m.acme !== undefined) {
        const acme = readAcme(m.acme, dot(path, "acme"), pr);
        if (acme) settings.acme = acme;
    }
    checkNeededKeys(m.acme !== undefined, path, nodes, settings, pr);
    return pr.errors.length === before ? settings : undefined;
}

/** certificates.nodes: per node its mode, front-end settings and secret config keys (nodes named must exist). */
function readNodeCertificates(
    v: unknown,
    path: string,
    nodes: NodeDraft[],
    settings: CertificateSettings,
    pr: Problems,
): void {
    const byName = new Map(nodes.filter((n) => n.name !== undefined).map((n) => [n.name as string, n]));
    const nm = readMap(v, path, pr);
    for (const [name, value] of Object.entries(nm ?? {})) {
        const npath = dot(path, name);
        const node = byName.get(name);
        if (!node) {
            pr.error(npath, `no node is named "${name}"${didYouMean(name, [...byName.keys()])}`);
            continue;
        }
        if (node.role === "database")
            pr.warn(npath, `${name} is a database node: it serves no web front end, so it gets no certificate`);
        const entry = readNodeCertificate(value, npath, settings, pr);
        if (entry) settings.nodes[name] = entry;
    }
}

function readNodeCertificate(
    value: unknown,
    npath: string,
    settings: CertificateSettings,
    pr: Problems,
): NodeCertificateSettings | undefined {
    const o = readMap(value, npath, pr, CERT_NODE_KEYS);
    if (!o) return undefined;
    const mode = o.mode === undefined ? settings.mode : readEnum(o.mode, dot(npath, "mode"), pr, CERT_MODES);
    if (!mode) return undefined;
    const entry: NodeCertificateSettings = { mode };
    readFrontEnd(o, npath, pr, entry);
    for (const k of ["certificateConfigKey", "keyConfigKey"] as const) {
        if (o[k] === undefined) continue;
        const key = readString(o[k], dot(npath, k), pr);
        if (key !== undefined && !CONFIG_KEY_RE.test(key.replace(/^pinhole:/, "")))
            pr.error(dot(npath, k), `"${key}" is not a config key name`);
        else if (key !== undefined) entry[k] = key.replace(/^pinhole:/, "");
    }
    checkCertificateKeys(entry, npath, pr);
    return entry;
}

/** What the modes need besides: acme its certificates.acme, external a certificates.nodes entry per web node. */
function checkNeededKeys(
    hasAcme: boolean,
    path: string,
    nodes: NodeDraft[],
    settings: CertificateSettings,
    pr: Problems,
): void {
    const acmeNode = Object.entries(settings.nodes).find(([, e]) => e.mode === "acme")?.[0];
    if ((settings.mode === "acme" || acmeNode) && !hasAcme)
        pr.error(
            dot(path, "acme"),
            `missing: ${settings.mode === "acme" ? "mode" : `certificates.nodes.${acmeNode}.mode`} is acme, which needs the CA's directoryUrl here`,
        );
    if (settings.mode === "external") {
        for (const n of nodes) {
            if (n.name === undefined || n.role === undefined || !servesWeb(n.role) || settings.nodes[n.name]) continue;
            pr.error(
                dot(path, "mode"),
                `external mode needs each web node's certificateConfigKey and keyConfigKey: add certificates.nodes.${n.name}`,
            );
        }
    }
}

export function checkCertificateKeys(entry: NodeCertificateSettings, path: string, pr: Problems): void {
    if (entry.mode === "external") {
        if (!entry.certificateConfigKey)
            pr.error(
                dot(path, "certificateConfigKey"),
                "missing: external mode installs the PEM bundle (certificate + chain) from this secret config key",
            );
        if (!entry.keyConfigKey)
            pr.error(
                dot(path, "keyConfigKey"),
                "missing: external mode installs the private key from this secret config key",
            );
    } else if (entry.mode === "csr") {
        if (entry.keyConfigKey)
            pr.error(
                dot(path, "keyConfigKey"),
                "csr mode keeps the key pinhole generates (a Pulumi secret) with the CSR; keyConfigKey is only for external mode",
            );
    } else {
        for (const k of ["certificateConfigKey", "keyConfigKey"] as const) {
            if (entry[k]) pr.error(dot(path, k), `${entry.mode} mode takes no ${k} (only external and csr modes do)`);
        }
    }
}

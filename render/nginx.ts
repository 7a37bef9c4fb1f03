// nginx configuration of a node's HTTPS front end, rendered from the model. Pure: no I/O, no Pulumi.
//
// pinhole owns, on every web-serving node (webproxy, application, unified, standalone):
//   /etc/nginx/pinhole/server.pem   the certificate file nginx serves: leaf first, then the chain (one PEM file)
//   /etc/nginx/pinhole/server.key   its private key (0600)
//   /etc/nginx/conf.d/pinhole-web.conf   this file: the default server on 443 (TLS policy, certificate) and an
//                                   http → https redirect on 80; on web proxies, the weighted upstream of the
//                                   application/unified nodes (the reference's `web weight`).
// The node's original front-end files (DEFAULT_REPLACES) are moved aside while pinhole owns the front end
// and restored when the resource is deleted (remote/webserver-scripts.ts).
import { addressSeenBy } from "../model/policy";
import { renderTlsLines, tlsProfileFor } from "./tls-profile";
import { NodeSpec, Role } from "../model/types";
import { nginxServerName } from "./escape";

export const NGINX_DIR = "/etc/nginx/pinhole";
export const CERT_PATH = `${NGINX_DIR}/server.pem`;
export const KEY_PATH = `${NGINX_DIR}/server.key`;
export const SITE_PATH = "/etc/nginx/conf.d/pinhole-web.conf";
/** Front-end files that define the node's own default HTTPS server (Debian and the lab): moved aside, restored on delete. */
export const DEFAULT_REPLACES: readonly string[] = [
    "/etc/nginx/conf.d/default.conf",
    "/etc/nginx/sites-enabled/default",
];
/** Where an application-serving node's nginx finds the application (plain HTTP on loopback). */
export const DEFAULT_APPLICATION_BACKEND = "http://127.0.0.1:8080";
export const UPSTREAM_NAME = "pinhole_application";
/** The port proxies reach application/unified nodes on (reference: proxy → application 443). */
export const UPSTREAM_PORT = 443;

export const MODERN_PROTOCOLS = "TLSv1.2 TLSv1.3";
/** The reference's `web sslv3 on`. OpenSSL 3 offers TLS 1.0/1.1 only at security level 0, hence the cipher string. */
export const LEGACY_PROTOCOLS = "SSLv3 TLSv1 TLSv1.1 TLSv1.2 TLSv1.3";
export const LEGACY_CIPHERS = "DEFAULT:@SECLEVEL=0";

export interface UpstreamServer {
    /** Node name of the application/unified node. */
    node: string;
    /** Address as seen from the proxy (NAT-aware: the advertised address across sites). */
    address: string;
    port: number;
    /** nginx weight; 0 = `backup` (used only when no other server is available). */
    weight: number;
    /** The weight came from the node's webWeight (false: system default 1). */
    explicit: boolean;
}

/** Roles whose nginx proxies to the application/unified nodes. Standalone serves its own application. */
export const proxiesToUpstreams = (role: Role): boolean => role === "webproxy";

/** The `web weight list` of one proxy: every application/unified node, NAT-aware, by name. */
export function upstreamServers(proxy: NodeSpec, nodes: readonly NodeSpec[]): UpstreamServer[] {
    return nodes
        .filter((n) => n.role === "application" || n.role === "unified")
        .map((n) => ({
            node: n.name,
            address: addressSeenBy(proxy, n),
            port: UPSTREAM_PORT,
            weight: n.webWeight ?? 1,
            explicit: n.webWeight !== undefined,
        }))
        .sort((a, b) => a.node.localeCompare(b.node));
}

function hostPort(address: string, port: number): string {
    return address.includes(":") ? `[${address}]:${port}` : `${address}:${port}`;
}

/** One `server` line of the upstream block. */
export function upstreamLine(s: UpstreamServer, allBackup: boolean): string {
    const params = s.weight === 0 && !allBackup ? "backup" : `weight=${Math.max(1, s.weight)}`;
    return `server ${hostPort(s.address, s.port)} ${params} max_fails=1 fail_timeout=10s; # ${s.node}${s.explicit ? "" : " (default weight)"}`;
}

export interface NginxSiteInput {
    node: string;
    fqdn: string;
    role: Role;
    /** Addresses the node listens on for IPv6 ([::]:443 is added when one of them is IPv6). */
    addresses: string[];
    /** `web sslv3 on`: re-enable SSLv3/TLS 1.0/1.1. */
    legacyProtocols: boolean;
    /** Web proxies: the weighted upstream servers. */
    upstreams?: UpstreamServer[];
    /** Application-serving nodes: where the application listens (default DEFAULT_APPLICATION_BACKEND). */
    applicationBackend?: string;
    /** server_name of the 443 server (default: the fqdn and the node name). */
    serverNames?: string[];
    /** Where nginx finds the certificate file and key (default CERT_PATH, KEY_PATH). */
    certificatePath?: string;
    keyPath?: string;
}

export interface RenderedSite {
    config: string;
    warnings: string[];
}

const PROXY_HEADERS = [
    "proxy_http_version 1.1;",
    "proxy_set_header Host $host;",
    "proxy_set_header X-Real-IP $remote_addr;",
    "proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;",
    "proxy_set_header X-Forwarded-Proto $scheme;",
];

/** Words for an nginx directive: names and paths are plain (validated by the config); anything else is refused, never quoted into the file. */
function nginxWords(words: string[], what: string): string {
    for (const w of words)
        if (!/^[A-Za-z0-9._*/:@%+=,-]+$/.test(w))
            throw new Error(`${what} "${w}" cannot go into an nginx file (plain characters only)`);
    return words.join(" ");
}

/** The whole conf.d file for one node. Deterministic (same input → same text), so previews show real changes only. */
export function renderNginxSite(i: NginxSiteInput): RenderedSite {
    const warnings: string[] = [];
    const v6 = i.addresses.some((a) => a.includes(":"));
    const L: string[] = [
        `# Managed by pinhole (pinhole:node:WebServer) for node ${i.node} (${i.role}); \`pulumi up\` rewrites it.`,
        `# TLS profile ${tlsProfileFor(i.legacyProtocols).id}: ${i.legacyProtocols ? "legacy protocols ENABLED (certificates.legacyProtocols: the reference's `web sslv3 on`)" : "TLS 1.2 and 1.3 only (SSLv3, TLS 1.0 and 1.1 refused)"}`,
    ];
    const proxy = proxiesToUpstreams(i.role);
    if (proxy) {
        const ups = i.upstreams ?? [];
        if (ups.length === 0)
            throw new Error(`node ${i.node}: a web proxy needs at least one application/unified upstream`);
        const allBackup = ups.every((u) => u.weight === 0);
        if (allBackup)
            warnings.push(
                `node ${i.node}: every upstream has webWeight 0 (backup): with no primary server they are used as equals (weight 1)`,
            );
        L.push(
            "",
            `# web weight list: ${ups.map((u) => `${u.node}=${u.weight === 0 && !allBackup ? "backup" : u.weight}`).join(", ")}`,
        );
        L.push(`upstream ${UPSTREAM_NAME} {`);
        for (const u of ups) L.push(`    ${upstreamLine(u, allBackup)}`);
        L.push("}");
    }
    L.push(
        "",
        "server {",
        "    listen 80 default_server;",
        ...(v6 ? ["    listen [::]:80 default_server;"] : []),
        "    server_name _;",
        "    return 301 https://$host$request_uri;",
        "}",
        "",
        "server {",
        "    listen 443 ssl default_server;",
        ...(v6 ? ["    listen [::]:443 ssl default_server;"] : []),
        `    server_name ${(i.serverNames?.length ? i.serverNames : [i.fqdn, i.node]).map(nginxServerName).join(" ")};`,
        `    ssl_certificate ${nginxWords([i.certificatePath ?? CERT_PATH], "certificate path")};`,
        `    ssl_certificate_key ${nginxWords([i.keyPath ?? KEY_PATH], "key path")};`,
        ...renderTlsLines(tlsProfileFor(i.legacyProtocols), "    "),
        "    location / {",
    );
    if (proxy) {
        L.push(
            `        proxy_pass https://${UPSTREAM_NAME};`,
            ...PROXY_HEADERS.map((h) => `        ${h}`),
            "        proxy_next_upstream error timeout http_502 http_503;",
            "        proxy_connect_timeout 5s;",
        );
    } else {
        const backend = i.applicationBackend ?? DEFAULT_APPLICATION_BACKEND;
        if (!/^https?:\/\/[A-Za-z0-9.:[\]_-]+(\/[A-Za-z0-9._~/-]*)?$/.test(backend))
            throw new Error(`node ${i.node}: applicationBackend "${backend}" is not an http(s)://host:port URL`);
        L.push(`        proxy_pass ${backend};`, ...PROXY_HEADERS.map((h) => `        ${h}`));
    }
    L.push("    }", "}", "");
    return { config: L.join("\n"), warnings };
}

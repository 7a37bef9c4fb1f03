// The inputs of one node's pinhole:node:WebServer, derived in one place from the validated model: the
// program's WebFrontEnd (components/front-end.ts) passes them with the certificate and key of the node's
// mode, and `pulumi import` of a WebServer (provider/webserver-import.ts) derives the same from the stack
// config, so an import records exactly what the program would pass. Pure: no Pulumi, no I/O.
import type {
    CertificateMode,
    CertificateSettings,
    FrontEndMode,
    NginxSettings,
    NodeCertificateSettings,
    NodeSpec,
} from "../model/types";
import { addressSeenBy } from "../model/policy";
import {
    CERT_PATH,
    KEY_PATH,
    proxiesToUpstreams,
    renderNginxSite,
    SITE_PATH,
    UpstreamServer,
    upstreamServers,
} from "../render/nginx";
import type { WeightEntry } from "../render/nginx-platform";
import { renderTlsDropIn } from "../render/tls-profile";
import { connectionOf } from "../remote/connection";
import type { WEB_SERVER } from "../provider/schema";
import type { InputsOf } from "../provider/schema-types";

/** Every WebServer input but the secrets and what the node's certificate mode makes (and the provider's plan). */
export type DerivedWebServerInputs = Omit<
    InputsOf<typeof WEB_SERVER>,
    "certificatePem" | "keyPem" | "privateKey" | "plan"
>;

/** The program's web options (components/cluster.ts ClusterArgs.web); index.ts passes none. */
export interface WebOptions {
    applicationBackend?: string;
    replaces?: string[];
    verifySeconds?: number;
}

/** The mode a node is in: its own override, else the stack's. */
export function modeOf(
    node: string,
    settings: CertificateSettings,
): { mode: CertificateMode; entry?: NodeCertificateSettings } {
    const entry = settings.nodes[node];
    return { mode: entry?.mode ?? settings.mode, entry };
}

/** The front-end mode of a node: its own override, else the stack's (hand-built settings without one: whole-site). */
export function frontEndOf(node: string, settings: CertificateSettings): FrontEndMode {
    return settings.nodes[node]?.frontEnd ?? settings.frontEnd ?? "whole-site";
}

/** The node's nginx settings: the stack's, then the node's own, then the program's options. */
export function nginxOf(node: string, settings: CertificateSettings, options: WebOptions = {}): NginxSettings {
    return {
        ...settings.nginx,
        ...settings.nodes[node]?.nginx,
        ...(options.applicationBackend ? { applicationBackend: options.applicationBackend } : {}),
        ...(options.replaces ? { replaces: options.replaces } : {}),
    };
}

export interface DerivedWebServer {
    frontEnd: FrontEndMode;
    inputs: DerivedWebServerInputs;
    /** whole-site: what the site renderer noticed (the component logs them). */
    warnings: string[];
    /** whole-site proxies: the upstream servers of the rendered site. */
    upstreams?: UpstreamServer[];
    /** whole-site proxies: `web weight list` of those upstreams (certificate-only proxies: the provider's plan has it). */
    weightList?: WeightEntry[];
}

/** `web weight list` of a whole-site proxy: weight 0 is a backup server, unless every server is one. */
export function weightListOf(upstreams: readonly UpstreamServer[]): WeightEntry[] {
    const allBackup = upstreams.every((u) => u.weight === 0);
    return upstreams.map((u) => ({
        server: u.address.includes(":") ? `[${u.address}]:${u.port}` : `${u.address}:${u.port}`,
        node: u.node,
        weight: u.weight === 0 && !allBackup ? 0 : Math.max(1, u.weight),
        backup: u.weight === 0 && !allBackup,
        source: u.explicit ? ("user" as const) : ("default" as const),
    }));
}

/** The WebServer inputs of `node` (a web-serving node of `nodes`) but its certificate, key and SSH key. */
export function webServerInputs(
    node: NodeSpec,
    nodes: readonly NodeSpec[],
    settings: CertificateSettings,
    options: WebOptions = {},
): DerivedWebServer {
    const frontEnd = frontEndOf(node.name, settings);
    const n = nginxOf(node.name, settings, options);
    const common: CommonInputs = {
        node: node.name,
        connection: connectionOf(node),
        fqdn: node.fqdn,
        ...(options.verifySeconds !== undefined ? { verifySeconds: options.verifySeconds } : {}),
    };
    return frontEnd === "certificate-only"
        ? certificateOnly(node, nodes, settings, n, common)
        : wholeSite(node, nodes, settings, n, common);
}

type CommonInputs = Pick<DerivedWebServerInputs, "node" | "connection" | "fqdn" | "verifySeconds">;

/** certificate-only: pinhole installs the certificate and its TLS profile into the platform's own nginx. */
function certificateOnly(
    node: NodeSpec,
    nodes: readonly NodeSpec[],
    settings: CertificateSettings,
    n: NginxSettings,
    common: CommonInputs,
): DerivedWebServer {
    const weights = proxiesToUpstreams(node.role) ? upstreamWeights(node, nodes) : undefined;
    return {
        frontEnd: "certificate-only",
        warnings: [],
        inputs: {
            ...common,
            frontEnd: "certificate-only",
            tlsConfig: renderTlsDropIn(node.name, settings.legacyProtocols),
            ...(n.tlsPath ? { tlsPath: n.tlsPath } : {}),
            ...(n.certificatePath ? { certificatePath: n.certificatePath } : {}),
            ...(n.keyPath ? { keyPath: n.keyPath } : {}),
            ...(n.upstream ? { upstream: n.upstream } : {}),
            ...(weights ? { weights } : {}),
        },
    };
}

/** A proxy's application/unified upstreams: every name and address the platform's nginx may list them by, and their webWeight. */
function upstreamWeights(node: NodeSpec, nodes: readonly NodeSpec[]) {
    return nodes
        .filter((x) => x.role === "application" || x.role === "unified")
        .map((x) => ({
            node: x.name,
            hosts: [
                ...new Set([
                    addressSeenBy(node, x),
                    x.address,
                    ...(x.advertisedAddress ? [x.advertisedAddress] : []),
                    x.name,
                    x.fqdn,
                ]),
            ],
            ...(x.webWeight !== undefined ? { weight: x.webWeight } : {}),
        }));
}

/** whole-site: pinhole renders the node's nginx site itself. */
function wholeSite(
    node: NodeSpec,
    nodes: readonly NodeSpec[],
    settings: CertificateSettings,
    n: NginxSettings,
    common: CommonInputs,
): DerivedWebServer {
    const upstreams = proxiesToUpstreams(node.role) ? upstreamServers(node, nodes) : undefined;
    // every address the node serves on: a dual-stack node's nginx listens on [::] too
    const addresses = [
        ...new Set([
            node.address,
            ...(node.address6 ? [node.address6] : []),
            ...(node.advertisedAddress ? [node.advertisedAddress] : []),
        ]),
    ];
    const site = renderNginxSite({
        node: node.name,
        fqdn: node.fqdn,
        role: node.role,
        addresses,
        legacyProtocols: settings.legacyProtocols,
        upstreams,
        applicationBackend: n.applicationBackend,
        serverNames: n.serverNames,
        certificatePath: n.certificatePath,
        keyPath: n.keyPath,
    });
    const custom = n.certificatePath || n.keyPath || n.sitePath;
    return {
        frontEnd: "whole-site",
        warnings: site.warnings,
        ...(upstreams ? { upstreams, weightList: weightListOf(upstreams) } : {}),
        inputs: {
            ...common,
            siteConfig: site.config,
            ...(custom
                ? {
                      paths: {
                          certificate: n.certificatePath ?? CERT_PATH,
                          key: n.keyPath ?? KEY_PATH,
                          site: n.sitePath ?? SITE_PATH,
                      },
                  }
                : {}),
            ...(n.replaces ? { replaces: n.replaces } : {}),
        },
    };
}

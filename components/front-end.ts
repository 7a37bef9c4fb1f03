// A web node's nginx front end: the WebFrontEnd component (pinhole:web:WebFrontEnd) around the provider
// resource pinhole:node:WebServer, in one of two modes (certificates.frontEnd, per node certificates.nodes.<n>.frontEnd):
//   certificate-only  the bundle and key go where the platform's nginx has them, plus pinhole's TLS drop-in and
//                     the weights on the platform's upstream (provider/webserver-platform.ts plans it from `nginx -T`)
//   whole-site        pinhole writes the server block (render/nginx.ts): backend, names and paths from config
import * as pulumi from "@pulumi/pulumi";
import { FrontEndMode, NginxSettings, NodeSpec } from "../model/types";
import { addressSeenBy } from "../model/policy";
import { CERT_PATH, KEY_PATH, proxiesToUpstreams, renderNginxSite, SITE_PATH, upstreamServers } from "../render/nginx";
import { WeightEntry } from "../render/nginx-platform";
import { renderTlsDropIn } from "../render/tls-profile";
import { connectionOf } from "./firewall";
import { WEB_SERVER } from "../provider/schema";
import type { StateOf } from "../provider/schema-types";
import { ArgsOf, resourceInputs, resourceOptions } from "./provider-resource";

export type WebServerArgs = ArgsOf<typeof WEB_SERVER>;

/** The provider resource: one node's nginx certificate, key and site config (or TLS drop-in). */
export class WebServer extends pulumi.CustomResource {
    /** SHA-256 fingerprint ("AB:CD:...") of the certificate installed. */
    declare public readonly fingerprint: pulumi.Output<string>;
    declare public readonly notAfter: pulumi.Output<string>;
    /** What nginx served on the node right after install (and at the last refresh: liveServedFingerprint). */
    declare public readonly servedFingerprint: pulumi.Output<string>;
    declare public readonly liveServedFingerprint: pulumi.Output<string>;
    declare public readonly certificateSha256: pulumi.Output<string>;
    declare public readonly liveCertificateSha256: pulumi.Output<string>;
    declare public readonly siteSha256: pulumi.Output<string>;
    declare public readonly liveSiteSha256: pulumi.Output<string>;
    /** Original files kept aside on the node (restored on delete). */
    declare public readonly originals: pulumi.Output<string[]>;
    declare public readonly appliedAt: pulumi.Output<string>;
    /** certificate-only: what pinhole found in the node's nginx and does there (paths, owned files, weight list). */
    declare public readonly plan: pulumi.Output<StateOf<typeof WEB_SERVER>["plan"]>;

    constructor(name: string, args: WebServerArgs, opts?: pulumi.CustomResourceOptions) {
        super(WEB_SERVER.token, name, resourceInputs(WEB_SERVER, args), resourceOptions(WEB_SERVER, opts));
    }
}

export interface WebFrontEndArgs {
    node: NodeSpec;
    /** Every node of the cluster (a proxy's upstream servers are the application/unified nodes). */
    nodes: NodeSpec[];
    frontEnd: FrontEndMode;
    nginx: NginxSettings;
    legacyProtocols: boolean;
    privateKey: pulumi.Input<string>;
    /** The bundle (already behind the cluster's certificate gate) and its key. */
    certificatePem: pulumi.Input<string>;
    keyPem: pulumi.Input<string>;
    verifySeconds?: number;
    /** The resource that parented the WebServer before this component existed (alias: no replacement). */
    formerParent: pulumi.Resource;
}

export class WebFrontEnd extends pulumi.ComponentResource {
    public readonly webServer: WebServer;
    /** whole-site: the rendered nginx site config. */
    public readonly siteConfig?: string;
    /** Web proxies: `web weight list` (per upstream server: weight, backup, user-defined or default). */
    public readonly weightList?: pulumi.Output<WeightEntry[]>;

    constructor(name: string, args: WebFrontEndArgs, opts?: pulumi.ComponentResourceOptions) {
        super("pinhole:web:WebFrontEnd", name, {}, opts);
        const node = args.node;
        const proxy = proxiesToUpstreams(node.role);
        const common = {
            node: node.name,
            connection: connectionOf(node),
            privateKey: pulumi.secret(args.privateKey),
            fqdn: node.fqdn,
            certificatePem: args.certificatePem,
            keyPem: args.keyPem,
            ...(args.verifySeconds !== undefined ? { verifySeconds: args.verifySeconds } : {}),
        };
        // The WebServer keeps its name; before WebFrontEnd it was a direct child of the WebCertificate.
        const child = { parent: this, aliases: [{ parent: args.formerParent }] };
        const serverName = name.replace(/-frontend$/, "-server");
        if (args.frontEnd === "certificate-only") {
            const n = args.nginx;
            const weights = proxy
                ? args.nodes
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
                      }))
                : undefined;
            this.webServer = new WebServer(
                serverName,
                {
                    // plan: filled in by the provider's check from the node's `nginx -T` (registered so it is an output here).
                    ...common,
                    frontEnd: "certificate-only",
                    tlsConfig: renderTlsDropIn(node.name, args.legacyProtocols),
                    plan: undefined,
                    ...(n.tlsPath ? { tlsPath: n.tlsPath } : {}),
                    ...(n.certificatePath ? { certificatePath: n.certificatePath } : {}),
                    ...(n.keyPath ? { keyPath: n.keyPath } : {}),
                    ...(n.upstream ? { upstream: n.upstream } : {}),
                    ...(weights ? { weights } : {}),
                },
                child,
            );
            if (proxy) this.weightList = this.webServer.plan.apply((p) => (p?.weightList ?? []) as WeightEntry[]);
        } else {
            const upstreams = proxy ? upstreamServers(node, args.nodes) : undefined;
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
                legacyProtocols: args.legacyProtocols,
                upstreams,
                applicationBackend: args.nginx.applicationBackend,
                serverNames: args.nginx.serverNames,
                certificatePath: args.nginx.certificatePath,
                keyPath: args.nginx.keyPath,
            });
            for (const w of site.warnings) void pulumi.log.warn(w, this);
            this.siteConfig = site.config;
            const custom = args.nginx.certificatePath || args.nginx.keyPath || args.nginx.sitePath;
            this.webServer = new WebServer(
                serverName,
                {
                    ...common,
                    siteConfig: site.config,
                    ...(custom
                        ? {
                              paths: {
                                  certificate: args.nginx.certificatePath ?? CERT_PATH,
                                  key: args.nginx.keyPath ?? KEY_PATH,
                                  site: args.nginx.sitePath ?? SITE_PATH,
                              },
                          }
                        : {}),
                    ...(args.nginx.replaces ? { replaces: args.nginx.replaces } : {}),
                },
                child,
            );
            if (upstreams) {
                const allBackup = upstreams.every((u) => u.weight === 0);
                this.weightList = pulumi.output(
                    upstreams.map((u) => ({
                        server: u.address.includes(":") ? `[${u.address}]:${u.port}` : `${u.address}:${u.port}`,
                        node: u.node,
                        weight: u.weight === 0 && !allBackup ? 0 : Math.max(1, u.weight),
                        backup: u.weight === 0 && !allBackup,
                        source: u.explicit ? ("user" as const) : ("default" as const),
                    })),
                );
            }
        }
        this.registerOutputs({ siteConfig: this.siteConfig, weightList: this.weightList });
    }
}

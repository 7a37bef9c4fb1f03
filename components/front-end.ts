// A web node's nginx front end: the WebFrontEnd component (pinhole:web:WebFrontEnd) around the provider
// resource pinhole:node:WebServer, in one of two modes (certificates.frontEnd, per node certificates.nodes.<n>.frontEnd):
//   certificate-only  the bundle and key go where the platform's nginx has them, plus pinhole's TLS drop-in and
//                     the weights on the platform's upstream (provider/webserver-platform.ts plans it from `nginx -T`)
//   whole-site        pinhole writes the server block (render/nginx.ts): backend, names and paths from config
import * as pulumi from "./pulumi";
import { WeightEntry } from "../render/nginx-platform";
import { DerivedWebServer } from "./web-server-inputs";
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
    /** The node's WebServer inputs but its certificate (components/web-server-inputs.ts, shared with import). */
    derived: DerivedWebServer;
    privateKey: pulumi.Input<string>;
    /** The bundle (already behind the cluster's certificate gate) and its key. */
    certificatePem: pulumi.Input<string>;
    keyPem: pulumi.Input<string>;
    /** The resource that parented the WebServer before this component existed (alias: no replacement). */
    formerParent: pulumi.Resource;
    /** pinhole:rollout: what must be done before this node's nginx changes (the previous step's proof). */
    after?: pulumi.Resource[];
}

export class WebFrontEnd extends pulumi.ComponentResource {
    public readonly webServer: WebServer;
    /** whole-site: the rendered nginx site config. */
    public readonly siteConfig?: string;
    /** Web proxies: `web weight list` (per upstream server: weight, backup, user-defined or default). */
    public readonly weightList?: pulumi.Output<WeightEntry[]>;

    constructor(name: string, args: WebFrontEndArgs, opts?: pulumi.ComponentResourceOptions) {
        super("pinhole:web:WebFrontEnd", name, {}, opts);
        const d = args.derived;
        for (const w of d.warnings) void pulumi.log.warn(w, this);
        // The WebServer keeps its name; before WebFrontEnd it was a direct child of the WebCertificate. The alias names
        // that parent by its URN: given the resource itself, the SDK walks the whole object graph behind it (the
        // cluster's model and policy) looking for unknowns, 2-3.5 CPU-seconds of every command at 24 nodes.
        const child = {
            parent: this,
            aliases: [{ parent: args.formerParent.urn }],
            ...(args.after?.length ? { dependsOn: args.after } : {}),
        };
        const serverName = name.replace(/-frontend$/, "-server");
        this.webServer = new WebServer(
            serverName,
            {
                ...d.inputs,
                privateKey: pulumi.secret(args.privateKey),
                certificatePem: args.certificatePem,
                keyPem: args.keyPem,
                // certificate-only: plan is filled in by the provider's check from the node's `nginx -T` (registered so it is an output here).
                ...(d.frontEnd === "certificate-only" ? { plan: undefined } : {}),
            },
            child,
        );
        if (d.frontEnd === "certificate-only") {
            if (d.inputs.weights)
                this.weightList = this.webServer.plan.apply((p) => (p?.weightList ?? []) as WeightEntry[]);
        } else {
            this.siteConfig = d.inputs.siteConfig;
            if (d.weightList) this.weightList = pulumi.output(d.weightList);
        }
        this.registerOutputs({ siteConfig: this.siteConfig, weightList: this.weightList });
    }
}

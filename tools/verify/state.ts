// verify's view of the stack: its state (the exported deployment's Firewall and WebServer resources) joined with
// what the current config implies, per node, before connecting anywhere.
import { FIREWALL, FirewallState, WEB_SERVER, WebServerState } from "../../provider/schema";
import type { CheckedInputsOf } from "../../provider/schema-types";
import { buildPolicy } from "../../model/policy";
import { ClusterModel, NodePolicy, NodeSpec } from "../../model/types";
import { servesWeb } from "../../model/roles";
import { renderRuleset } from "../../render/nftables";
import { CERT_PATH, KEY_PATH, SITE_PATH } from "../../render/nginx";
import { Finding, fail, ok } from "./findings";
import { changedLines } from "./line-diff";

export const FIREWALL_TYPE = FIREWALL.token;
export const WEBSERVER_TYPE = WEB_SERVER.token;

type FirewallInputs = CheckedInputsOf<typeof FIREWALL>;

/** What verify reads of a resource in the state, besides declared outputs. */
interface StateIdentity {
    urn: string;
    id: string;
}

/** A pinhole:node:Firewall as the stack's state holds it (types from the provider's schema). */
export type StateFirewall = StateIdentity & Pick<FirewallState, "node" | "listing"> & Pick<FirewallInputs, "ruleset">;

/** A pinhole:node:WebServer as the stack's state holds it (types from the provider's schema). */
export interface StateWebServer
    extends
        StateIdentity,
        Pick<
            WebServerState,
            "node" | "fqdn" | "fingerprint" | "notAfter" | "certificateSha256" | "keySha256" | "siteSha256"
        > {
    /** Where the certificate, key and site file (certificate-only: pinhole's TLS drop-in) are on the node. */
    paths: { certificate: string; key: string; site: string };
    frontEnd?: "certificate-only" | "whole-site";
    /** certificate-only: every file pinhole wrote into the platform's nginx (certificate, key, drop-in, patched platform files) and its SHA-256. */
    files?: { path: string; sha256: string }[];
}

/** The paths and hashes of a WebServer's state in either front-end mode (certificate-only: from its plan). */
function webFiles(
    o: Record<string, unknown>,
): Pick<StateWebServer, "paths" | "certificateSha256" | "keySha256" | "siteSha256" | "frontEnd" | "files"> {
    const plan = o.plan as { certificatePath?: string; keyPath?: string } | undefined;
    if (o.frontEnd === "certificate-only" && plan?.certificatePath && plan.keyPath) {
        // `installed`: [{ path, sha256 }] as the install read them back from the node (provider/webserver-platform.ts).
        const files = (Array.isArray(o.installed) ? o.installed : [])
            .filter(
                (f): f is { path: string; sha256: string } =>
                    typeof f?.path === "string" && typeof f?.sha256 === "string",
            )
            .map((f) => ({ path: f.path, sha256: f.sha256 }));
        const shaOf = (p: string, fallback: unknown) => files.find((f) => f.path === p)?.sha256 ?? str(fallback);
        const site = str(o.tlsPath) || "/etc/nginx/conf.d/pinhole-tls.conf";
        return {
            paths: { certificate: plan.certificatePath, key: plan.keyPath, site },
            frontEnd: "certificate-only",
            files,
            certificateSha256: shaOf(plan.certificatePath, o.certificateSha256),
            keySha256: shaOf(plan.keyPath, o.keySha256),
            siteSha256: shaOf(site, o.siteSha256),
        };
    }
    const p = o.paths as StateWebServer["paths"] | undefined;
    return {
        paths: p?.certificate ? p : { certificate: CERT_PATH, key: KEY_PATH, site: SITE_PATH },
        certificateSha256: str(o.certificateSha256),
        keySha256: str(o.keySha256),
        siteSha256: str(o.siteSha256),
    };
}

interface DeploymentResource {
    urn?: string;
    id?: string;
    type?: string;
    outputs?: Record<string, unknown>;
    inputs?: Record<string, unknown>;
}

const str = (v: unknown): string => (typeof v === "string" ? v : "");

/** The firewall and web-server resources of an exported deployment (`pulumi stack export` / `stack.exportStack()`). */
export function resourcesFromDeployment(exported: unknown): {
    firewalls: Map<string, StateFirewall[]>;
    webServers: Map<string, StateWebServer[]>;
} {
    const e = exported as
        { deployment?: { resources?: DeploymentResource[] }; resources?: DeploymentResource[] } | undefined;
    const resources = e?.deployment?.resources ?? e?.resources ?? [];
    const firewalls = new Map<string, StateFirewall[]>();
    const webServers = new Map<string, StateWebServer[]>();
    const push = <T>(m: Map<string, T[]>, k: string, v: T) => m.set(k, [...(m.get(k) ?? []), v]);
    for (const r of resources) {
        const o = r.outputs ?? {};
        if (r.type === FIREWALL_TYPE) {
            // The ruleset is in the state's inputs (before the provider kept it there only, in both).
            push(firewalls, str(o.node), {
                node: str(o.node),
                urn: str(r.urn),
                id: str(r.id),
                ruleset: str(r.inputs?.ruleset ?? o.ruleset),
                listing: str(o.listing),
            });
        } else if (r.type === WEBSERVER_TYPE) {
            push(webServers, str(o.node), {
                node: str(o.node),
                urn: str(r.urn),
                id: str(r.id),
                fqdn: str(o.fqdn),
                fingerprint: str(o.fingerprint),
                notAfter: str(o.notAfter),
                ...webFiles(o),
            });
        }
    }
    return { firewalls, webServers };
}

/** What verify expects on one node. */
export interface NodeExpectation {
    node: NodeSpec;
    policy: NodePolicy;
    /** The ruleset the current config implies (render/nftables.ts). */
    rendered: string;
    firewall?: StateFirewall;
    web?: StateWebServer;
    /** The node serves web (config): it must have a WebServer in the state. */
    servesWeb: boolean;
}

export interface Expectations {
    nodes: NodeExpectation[];
    /** Problems between config and state found before connecting anywhere. */
    findings: Finding[];
}

const clip = (s: string, n = 160) => (s.length > n ? `${s.slice(0, n - 1)}…` : s);

/**
 * Joins config (model) and state (exported deployment): per node the rendered ruleset and the state's
 * resources. Reports, without connecting anywhere: nodes in the config with no firewall in the state, nodes
 * in the state that left the config, and rulesets the config implies that differ from the one applied
 * (a config change not yet `pulumi up`'d).
 */
export function expectationsFor(
    model: ClusterModel,
    exported: unknown,
    policies: NodePolicy[] = buildPolicy(model),
): Expectations {
    const { firewalls, webServers } = resourcesFromDeployment(exported);
    const findings: Finding[] = [];
    const nodes: NodeExpectation[] = [];
    for (const policy of policies) {
        const fws = firewalls.get(policy.node.name) ?? [];
        const e: NodeExpectation = {
            node: policy.node,
            policy,
            rendered: renderRuleset(policy, model.firewall),
            servesWeb: servesWeb(policy.node.role),
            firewall: fws[0],
            web: (webServers.get(policy.node.name) ?? [])[0],
        };
        nodes.push(e);
        findings.push(...firewallStateFindings(e, fws), ...webStateFindings(e));
    }
    findings.push(...leftTheConfig(new Set(model.nodes.map((n) => n.name)), firewalls, webServers));
    return { nodes, findings };
}

/** One node's firewall in the state: one only, and the ruleset the last up applied is the one the config implies. */
function firewallStateFindings(e: NodeExpectation, fws: StateFirewall[]): Finding[] {
    const name = e.node.name;
    const findings: Finding[] = [];
    if (fws.length > 1)
        findings.push(
            fail(
                name,
                "state",
                `the state has ${fws.length} firewalls for this node (${fws.map((f) => f.urn).join(", ")})`,
            ),
        );
    if (!e.firewall) {
        findings.push(
            fail(
                name,
                "state",
                "no firewall in the stack's state: this node has not been deployed yet (run pulumi up)",
            ),
        );
    } else if (e.firewall.ruleset !== e.rendered) {
        const d = changedLines(e.firewall.ruleset, e.rendered);
        // The first few changed lines say what the pending change is about; the preview shows the rest.
        const first = [...d.removed.map((l) => `- ${l.trim()}`), ...d.added.map((l) => `+ ${l.trim()}`)]
            .slice(0, 4)
            .map((l) => clip(l, 120));
        findings.push(
            fail(
                name,
                "state",
                `the config implies a different ruleset than the one the last up applied ` +
                    `(${d.removed.length} line(s) removed, ${d.added.length} added; run pulumi preview --diff, then pulumi up): ${first.join(" | ")}`,
            ),
        );
    } else {
        findings.push(ok(name, "state", "the ruleset the config implies is the one the last up applied"));
    }
    return findings;
}

/** A web server in the state exactly when the node's role serves web. */
function webStateFindings(e: NodeExpectation): Finding[] {
    if (e.servesWeb && !e.web)
        return [
            fail(
                e.node.name,
                "state",
                "serves web but has no web server (certificate) in the stack's state (run pulumi up)",
            ),
        ];
    if (!e.servesWeb && e.web)
        return [
            fail(
                e.node.name,
                "state",
                `the state has a web server for this ${e.node.role} node (pending removal: run pulumi up)`,
            ),
        ];
    return [];
}

/** Resources in the state for nodes that are no longer in the config (the next up removes them). */
function leftTheConfig(
    names: Set<string>,
    firewalls: Map<string, StateFirewall[]>,
    webServers: Map<string, StateWebServer[]>,
): Finding[] {
    const findings: Finding[] = [];
    for (const [name, list] of firewalls) {
        if (!names.has(name))
            findings.push(
                fail(
                    name,
                    "state",
                    `the state has a firewall for ${name}, which is not in the config (pulumi up will remove it): ${list.map((f) => f.urn).join(", ")}`,
                ),
            );
    }
    for (const [name] of webServers) {
        if (!names.has(name))
            findings.push(
                fail(
                    name,
                    "state",
                    `the state has a web server for ${name}, which is not in the config (pulumi up will remove it)`,
                ),
            );
    }
    return findings;
}

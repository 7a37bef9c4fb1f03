// Import of an existing node's web front end: `pulumi import pinhole:node:WebServer <name> <node> --parent <urn>`.
// The ID names the node; its inputs are derived from the stack config by the program's own derivation
// (components/web-server-inputs.ts) and the SSH key comes from the stack's secret config. What the import
// can promise depends on the node's certificate mode (importPlan): external bundles are in the config, so
// the node's installed files are compared with them (no changes, or drift); pinhole's own certificates
// cannot be reproduced, so the node is recorded as it is, with a warning; certificate-only is refused.
// Nothing on the node is changed by an import.
import { createHash } from "crypto";
import { servesWeb } from "../model/roles";
import type { CertificateMode, CertificateSettings, ClusterModel, NodeSpec } from "../model/types";
import { frontEndOf, modeOf, webServerInputs } from "../components/web-server-inputs";
import { describe, explainSshFailure, readScript } from "../remote/ssh";
import { DEFAULT_SITE_PATHS, installedFilesScript } from "../remote/webserver-scripts";
import { ProviderError } from "./errors";
import { WEB_SERVER } from "./schema";
import { withInputDefaults } from "./schema-check";
import { secretConfig, stackNode, stackOfUrn } from "./stack-config";
import type { WebServerInputs, WebServerState } from "./webserver";
import { inspectWebServer, leafFingerprint, liveOf } from "./webserver";

/** How a node's front end is imported, decided from the stack config alone. */
export type ImportPlan =
    | { kind: "exact"; certificateKey: string; keyKey: string }
    | { kind: "as-is"; mode: CertificateMode }
    | { kind: "refused"; reason: string };

const sha256 = (s: string) => createHash("sha256").update(s, "utf8").digest("hex");

/** What an import of `node`'s WebServer can record (pure: the stack config only). */
export function importPlan(node: NodeSpec, settings: CertificateSettings): ImportPlan {
    if (!servesWeb(node.role))
        return {
            kind: "refused",
            reason: `node ${node.name} is a ${node.role} node: it has no web front end, so there is no WebServer to import`,
        };
    const { mode, entry } = modeOf(node.name, settings);
    if (frontEndOf(node.name, settings) === "certificate-only")
        return {
            kind: "refused",
            reason:
                `node ${node.name} is in certificate-only mode, whose front end cannot be imported: pinhole's install keeps the platform's own certificate, key and upstream lines aside ` +
                `to give them back on destroy, and an import (which changes nothing on the node) has nothing kept to give back. Run \`pulumi up\` without the import: it reads the node's ` +
                `\`nginx -T\`, keeps the platform's files aside and installs the stack's certificate into the platform's nginx`,
        };
    if (mode === "external") {
        if (!entry?.certificateConfigKey || !entry.keyConfigKey)
            return {
                kind: "refused",
                reason: `node ${node.name}: external mode needs certificates.nodes.${node.name}.certificateConfigKey and keyConfigKey (the bundle and key the import compares the node's files with)`,
            };
        return { kind: "exact", certificateKey: entry.certificateConfigKey, keyKey: entry.keyConfigKey };
    }
    return { kind: "as-is", mode };
}

/** The warning of an as-is import: what was recorded and what the next `up` does. */
export function asIsWarning(node: string, mode: CertificateMode, fingerprint: string, notAfter: string): string {
    return (
        `node ${node}: web front end imported as it is. In ${mode} mode the certificate and key are made by this stack's own pinhole:tls resources, which an import cannot ` +
        `reproduce from the stack config; the node's certificate (SHA-256 ${fingerprint}, valid until ${notAfter}) and key were recorded as they are. The next \`pulumi up\` ` +
        `installs the stack's ${mode} certificate and key on ${node} (an update of this WebServer; nginx reloads), unless they are the ones the node serves already`
    );
}

/** installedFilesScript's output → the files (undefined when absent). */
export function installedFilesOf(out: string): { certificatePem?: string; keyPem?: string } {
    const decode = (k: string) => {
        const v = new RegExp(`^b64\\.${k}=(.*)$`, "m").exec(out)?.[1]?.trim();
        return v === undefined || v === "absent" ? undefined : Buffer.from(v, "base64").toString("utf8");
    };
    return { certificatePem: decode("cert"), keyPem: decode("key") };
}

/** The node's installed certificate and key, as they are (an as-is import). */
async function installedFiles(i: WebServerInputs): Promise<{ certificatePem: string; keyPem: string }> {
    const c = { ...i.connection, privateKey: i.privateKey, node: i.node };
    const r = await readScript(c, installedFilesScript(i.paths ?? DEFAULT_SITE_PATHS), { timeoutMs: 30_000 });
    if (r.code !== 0)
        throw new ProviderError(
            `import: cannot read the web front end of ${describe(c)}: ${r.code === 255 ? explainSshFailure(c, r) : r.stderr.trim()}`,
        );
    const { certificatePem, keyPem } = installedFilesOf(r.stdout);
    if (!certificatePem || !keyPem) {
        const P = i.paths ?? DEFAULT_SITE_PATHS;
        throw new ProviderError(
            `import: ${describe(c)} has no ${!certificatePem ? `certificate at ${P.certificate}` : `key at ${P.key}`} to import (nothing was changed); \`pulumi up\` installs the stack's front end`,
        );
    }
    return { certificatePem, keyPem };
}

/** The WebServer inputs the program derives for `node` of `model`, with the given certificate, key and SSH key. */
export function desiredWebServer(
    model: ClusterModel,
    node: NodeSpec,
    secrets: { privateKey: string; certificatePem: string; keyPem: string },
): WebServerInputs {
    const d = webServerInputs(node, model.nodes, model.certificates);
    return withInputDefaults(WEB_SERVER, { ...d.inputs, ...secrets }) as WebServerInputs;
}

export async function importWebServer(
    id: string,
    urn: string,
): Promise<{ id: string; props: WebServerState; inputs: WebServerInputs; warnings: string[] }> {
    const stack = stackOfUrn(urn);
    const { model, node } = stackNode(stack, id);
    const plan = importPlan(node, model.certificates);
    if (plan.kind === "refused") throw new ProviderError(`import: ${plan.reason}`);
    const privateKey = await secretConfig(stack, "pinhole:sshPrivateKey");
    let inputs: WebServerInputs;
    const warnings: string[] = [];
    if (plan.kind === "exact") {
        inputs = desiredWebServer(model, node, {
            privateKey,
            certificatePem: await secretConfig(stack, `pinhole:${plan.certificateKey}`),
            keyPem: await secretConfig(stack, `pinhole:${plan.keyKey}`),
        });
    } else {
        const shape = desiredWebServer(model, node, { privateKey, certificatePem: "", keyPem: "" });
        inputs = { ...shape, ...(await installedFiles(shape)) };
    }
    let leaf: { fingerprint: string; notAfter: string };
    try {
        leaf = leafFingerprint(inputs.certificatePem);
    } catch (e) {
        throw new ProviderError(
            `import: node ${id}: ${plan.kind === "exact" ? `pinhole:${plan.certificateKey} of stack ${stack}` : "the node's certificate"} is not a PEM certificate (${e instanceof Error ? e.message : String(e)})`,
        );
    }
    if (plan.kind === "as-is") warnings.push(asIsWarning(id, plan.mode, leaf.fingerprint, leaf.notAfter));
    // The state says what the stack installs; the live values say what the node has (drift when they differ).
    const live = await inspectWebServer(inputs);
    if (live.cert === "absent" && live.site === "absent") {
        const P = inputs.paths ?? DEFAULT_SITE_PATHS;
        throw new ProviderError(
            `import: node ${id} has no web front end at ${P.certificate} and ${P.site} to import (nothing was changed); \`pulumi up\` installs it`,
        );
    }
    return {
        id,
        inputs,
        warnings,
        props: {
            ...inputs,
            ...leaf,
            certificateSha256: sha256(inputs.certificatePem),
            keySha256: sha256(inputs.keyPem),
            siteSha256: sha256(inputs.siteConfig ?? ""),
            ...liveOf(id, live),
            servedFingerprint: live.served,
            originals: live.originals,
            appliedAt: "",
            installed: [],
            live: [],
        },
    };
}

// The summary of a node's web certificate (`web cert details`, the stack outputs): the details of the bundle
// nginx serves, the node's mode, and where the bundle stands against its notice window; and the expiry notice
// the preview prints once per node. summarize is pure; certificateSummary applies it to the mode's bundle.
import * as pulumi from "./pulumi";
import { certificateDetails, expiryStatus, WebCertificateSummary } from "../model/certificates";
import { CertificateMode, CertificateSettings } from "../model/types";
import { ModeCertificate } from "./certificate-modes";

/** What the summary needs besides the bundle. */
export interface SummaryInputs {
    node: string;
    mode: CertificateMode;
    settings: CertificateSettings;
    /** For tests: "now" of the expiry check. */
    now?: Date;
}

/** The summary of a bundle and, inside the notice window, the notice to print (who renews depends on the mode). */
export function summarize(
    bundlePem: string,
    cert: Pick<ModeCertificate, "pending" | "operatorRenews">,
    i: SummaryInputs,
): { summary: WebCertificateSummary; notice?: string } {
    const s = i.settings;
    const d = certificateDetails(bundlePem);
    const expiry = expiryStatus(d.notBefore, d.notAfter, s.renewBeforeDays, s.renewBeforeExplicit, i.now);
    const summary = { ...d, mode: i.mode, expiry, ...(cert.pending ? { pending: true } : {}) };
    if (!expiry.notice) return { summary };
    const who = cert.operatorRenews
        ? " — renew it with the CA and update the secret config"
        : " — pinhole renews it on this `pulumi up`";
    return { summary, notice: `node ${i.node}: ${expiry.notice}${who} (notice window ${expiry.windowDays} days)` };
}

/** The summary Output of a mode's certificate; the notice is logged on the WebCertificate (once, here). */
export function certificateSummary(
    cert: ModeCertificate,
    i: SummaryInputs,
    parent: pulumi.Resource,
): pulumi.Output<WebCertificateSummary> {
    return pulumi.unsecret(cert.bundle).apply((b) => {
        const { summary, notice } = summarize(b, cert, i);
        if (notice) void pulumi.log.warn(notice, parent);
        return summary;
    });
}

// components/certificate-summary.ts: the summary of a node's bundle and the expiry notice (who renews it).
import { expect } from "chai";
import { summarize } from "../../../components/certificate-summary";
import { DEFAULT_CERTIFICATES } from "../../../model/config/keys";
import { CertificateSettings } from "../../../model/types";
import { generatePrivateKeyPem, issueSelfSigned } from "../../../provider/tls";

const DAY = 86_400_000;
const settings: CertificateSettings = { ...DEFAULT_CERTIFICATES, nodes: {} } as CertificateSettings;

async function certFor(days: number): Promise<string> {
    const privateKeyPem = generatePrivateKeyPem({ algorithm: "ECDSA" });
    const subject = { commonName: "proxy-1.dc.example.com" };
    const inputs = { privateKeyPem, subject, dnsNames: [], ipAddresses: [], earlyRenewalDays: 1, isCa: false };
    return (await issueSelfSigned({ ...inputs, validityDays: days })).certPem;
}

describe("certificate summary", () => {
    it("outside the notice window: details, mode and expiry; no notice, no pending flag", async () => {
        const r = summarize(
            await certFor(397),
            { pending: false, operatorRenews: false },
            { node: "proxy-1", mode: "self-signed", settings },
        );
        expect(r.notice).to.equal(undefined);
        expect(r.summary).to.include({ mode: "self-signed" });
        expect(r.summary.expiry.state).to.equal("ok");
        expect(r.summary).not.to.have.property("pending");
    });
    it("inside the window: pinhole renews its own certificates, the operator renews theirs", async () => {
        const pem = await certFor(397);
        const now = new Date(Date.now() + 390 * DAY);
        const own = summarize(
            pem,
            { pending: true, operatorRenews: false },
            { node: "app-1", mode: "csr", settings, now },
        );
        expect(own.notice).to.match(
            /^node app-1: .* — pinhole renews it on this `pulumi up` \(notice window [\d.]+ days\)$/,
        );
        expect(own.summary).to.include({ pending: true });
        const theirs = summarize(
            pem,
            { pending: false, operatorRenews: true },
            { node: "app-1", mode: "external", settings, now },
        );
        expect(theirs.notice).to.match(/ — renew it with the CA and update the secret config \(notice window/);
    });
});

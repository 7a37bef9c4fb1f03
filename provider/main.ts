// Entry point of the "pinhole" Pulumi resource plugin (provider/bin/pulumi-resource-pinhole).
import { erase, Handler } from "./framework";
import { firewallHandler } from "./firewall";
import { privateKeyHandler, selfSignedCertificateHandler } from "./tls";
import { certificateRequestHandler, locallySignedCertificateHandler } from "./certs";
import { webServerHandler } from "./webserver";
import { acmeCertificateHandler } from "./acme";
import { proofHandler } from "./proof";
import { packageSchema, PROVIDER_VERSION, Token } from "./schema";
import { serve } from "./server";
import { engineAddress, engineWarn } from "./engine-log";

export { PROVIDER_VERSION } from "./schema";

/** Resource type token → handler; every token of the schema has one (a missing one is a type error). */
export const handlers: Record<Token, Handler> = {
    "pinhole:node:Firewall": erase(firewallHandler),
    "pinhole:tls:PrivateKey": erase(privateKeyHandler),
    "pinhole:tls:SelfSignedCertificate": erase(selfSignedCertificateHandler),
    "pinhole:tls:CertificateRequest": erase(certificateRequestHandler),
    "pinhole:tls:LocallySignedCertificate": erase(locallySignedCertificateHandler),
    "pinhole:tls:AcmeCertificate": erase(acmeCertificateHandler),
    "pinhole:node:WebServer": erase(webServerHandler),
    "pinhole:node:Proof": erase(proofHandler),
};

/** Serves the provider over gRPC (the launcher, provider/bin/pulumi-resource-pinhole, calls this). */
export function start(): void {
    serve({
        version: PROVIDER_VERSION,
        schema: JSON.stringify(packageSchema()),
        handlers,
        warn: engineWarn(engineAddress(process.argv.slice(1))),
    }).catch((e: unknown) => {
        process.stderr.write(`pinhole provider: cannot start: ${e instanceof Error ? e.stack : String(e)}\n`);
        process.exit(1);
    });
}

if (require.main === module) start();

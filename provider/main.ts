// Entry point of the "pinhole" Pulumi resource plugin (provider/bin/pulumi-resource-pinhole).
import * as provider from "@pulumi/pulumi/provider";
import { makeProvider, ResourceHandler } from "./framework";
import { firewallHandler } from "./firewall";
import { privateKeyHandler, selfSignedCertificateHandler } from "./tls";
import { certificateRequestHandler, locallySignedCertificateHandler } from "./certs";
import { webServerHandler } from "./webserver";

export const PROVIDER_VERSION = "0.1.0";

/** Resource type token → handler. Tokens are part of users' state: never rename without an alias. */
export const handlers: Record<string, ResourceHandler> = {
    "pinhole:node:Firewall": firewallHandler,
    "pinhole:tls:PrivateKey": privateKeyHandler,
    "pinhole:tls:SelfSignedCertificate": selfSignedCertificateHandler,
    "pinhole:tls:CertificateRequest": certificateRequestHandler,
    "pinhole:tls:LocallySignedCertificate": locallySignedCertificateHandler,
    "pinhole:node:WebServer": webServerHandler,
};

if (require.main === module) {
    provider.main(makeProvider(PROVIDER_VERSION, handlers), process.argv.slice(2)).catch((e) => {
        process.stderr.write(`pinhole provider: ${e?.stack ?? e}\n`);
        process.exit(1);
    });
}

// @peculiar/x509, with the reflect-metadata it needs loaded first, takes ~130 ms to load. The provider loads it
// when it first makes or reads a certificate, not on every start: most calls (a Firewall's) never need it.
import type * as X509 from "@peculiar/x509";

let lib: typeof X509 | undefined;

export function x509(): typeof X509 {
    if (!lib) {
        // eslint-disable-next-line @typescript-eslint/no-require-imports
        require("reflect-metadata");
        // eslint-disable-next-line @typescript-eslint/no-require-imports
        lib = require("@peculiar/x509") as typeof X509;
        lib.cryptoProvider.set(globalThis.crypto);
    }
    return lib;
}

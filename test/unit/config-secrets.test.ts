import { expect } from "chai";
import { parseConfigEntries } from "../../model/config";
import { formatMatrixTable, matrixRows } from "../../model/matrix";
import { hostKeyFor } from "./helpers/model-builders";

// SNMPv3 passphrases stored as a Pulumi secret (as docs/stack-config.md shows) reach the reader decrypted,
// are accepted without a warning, and appear nowhere in the model, its messages or the matrix.
describe("secrets in URIs", () => {
    const base = (external: unknown, secret: boolean) => ({
        "pinhole:model": { value: "standalone", secret: false },
        "pinhole:networks": { value: { admin: ["10.9.0.0/24"] }, secret: false },
        "pinhole:nodes": { value: [{ name: "solo", role: "standalone", address: "10.1.0.5", ssh: { hostKey: hostKeyFor("solo") } }], secret: false },
        "pinhole:external": { value: external, secret },
    });
    const v3 = { snmpTrapReceivers: [{ uri: "snmp://monitor:authphrase9:privphrase9@10.30.0.19" }] };

    it("a secret SNMPv3 URI is accepted, silently, and never printed", () => {
        const r = parseConfigEntries(base(v3, true));
        expect(r.errors).to.deep.equal([]);
        expect(r.warnings).to.deep.equal([]);
        const everything = JSON.stringify([r.model, r.warnings]) + formatMatrixTable(matrixRows(r.model!), { model: r.model! } as never);
        expect(everything).to.not.match(/authphrase9|privphrase9/);
    });

    it("the same URI in clear warns, naming the path, without quoting the passphrases", () => {
        const r = parseConfigEntries(base(v3, false));
        expect(r.model).to.not.equal(undefined);
        const w = r.warnings.find((x) => x.path === "pinhole:external.snmpTrapReceivers[0].uri");
        expect(w?.message).to.contain("passphrases are in clear");
        expect(JSON.stringify(r.warnings)).to.not.match(/authphrase9|privphrase9/);
    });
});

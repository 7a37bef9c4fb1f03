// WebServer import's pure parts (provider/webserver-import.ts): what each certificate mode and front end
// lets an import record, the inputs it derives (the program's own derivation, defaults filled in, the
// secrets in place), the warning of an as-is import, and the script that reads the node's files.
import { expect } from "chai";
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { asIsWarning, desiredWebServer, importPlan, installedFilesOf } from "../../../provider/webserver-import";
import { webServerInputs } from "../../../components/web-server-inputs";
import { installedFilesScript } from "../../../remote/webserver-scripts";
import { DEFAULT_REPLACES } from "../../../render/nginx";
import type { CertificateSettings } from "../../../model/types";
import { mustParse, rawCluster } from "../helpers/model-builders";

const NODES = [
    { name: "proxy-1", role: "webproxy", address: "10.20.1.201" },
    { name: "app-1", role: "application", address: "10.20.1.11" },
    { name: "db-1", role: "database", address: "10.20.1.101" },
];
const modelWith = (certificates: Record<string, unknown>) => mustParse(rawCluster("modular", NODES, { certificates }));
const external = { mode: "external", certificateConfigKey: "appCert", keyConfigKey: "appKey" };

describe("WebServer import (provider/webserver-import.ts)", () => {
    const CASES: [string, Record<string, unknown>, string, RegExp | object][] = [
        ["database node", { frontEnd: "whole-site" }, "db-1", /db-1 is a database node: it has no web front end/],
        [
            "certificate-only (the default front end)",
            {},
            "app-1",
            /app-1 is in certificate-only mode, whose front end cannot be imported: .*Run `pulumi up` without the import/,
        ],
        [
            "certificate-only on the node, whole-site for the stack",
            { frontEnd: "whole-site", nodes: { "app-1": { mode: "self-signed", frontEnd: "certificate-only" } } },
            "app-1",
            /app-1 is in certificate-only mode/,
        ],
        ["self-signed, whole-site", { frontEnd: "whole-site" }, "app-1", { kind: "as-is", mode: "self-signed" }],
        [
            "internal-ca, whole-site",
            { frontEnd: "whole-site", mode: "internal-ca" },
            "proxy-1",
            { kind: "as-is", mode: "internal-ca" },
        ],
        ["csr, whole-site", { frontEnd: "whole-site", mode: "csr" }, "app-1", { kind: "as-is", mode: "csr" }],
        [
            "external, whole-site",
            { frontEnd: "whole-site", nodes: { "app-1": external } },
            "app-1",
            { kind: "exact", certificateKey: "appCert", keyKey: "appKey" },
        ],
        [
            "external for another node: this one is self-signed",
            { frontEnd: "whole-site", nodes: { "app-1": external } },
            "proxy-1",
            { kind: "as-is", mode: "self-signed" },
        ],
    ];
    for (const [what, certificates, node, expected] of CASES) {
        it(`importPlan: ${what}`, () => {
            const model = modelWith(certificates);
            const plan = importPlan(
                model.nodes.find((n) => n.name === node)!,
                model.certificates,
            );
            if (expected instanceof RegExp) {
                expect(plan.kind).to.equal("refused");
                expect(plan.kind === "refused" ? plan.reason : "").to.match(expected);
            } else expect(plan).to.deep.equal(expected);
        });
    }

    it("importPlan: external mode without its config keys is refused naming them", () => {
        const model = modelWith({ frontEnd: "whole-site" });
        const settings: CertificateSettings = { ...model.certificates, nodes: { "app-1": { mode: "external" } } };
        const plan = importPlan(
            model.nodes.find((n) => n.name === "app-1")!,
            settings,
        );
        expect(plan).to.deep.equal({
            kind: "refused",
            reason: "node app-1: external mode needs certificates.nodes.app-1.certificateConfigKey and keyConfigKey (the bundle and key the import compares the node's files with)",
        });
    });

    it("importPlan: acme mode (the certificate is the CA's order, made by the stack's pinhole:tls:AcmeCertificate) imports as it is", () => {
        const model = modelWith({ frontEnd: "whole-site" });
        const settings: CertificateSettings = { ...model.certificates, mode: "acme" };
        expect(
            importPlan(
                model.nodes.find((n) => n.name === "app-1")!,
                settings,
            ),
        ).to.deep.equal({
            kind: "as-is",
            mode: "acme",
        });
    });

    it("desiredWebServer: the program's inputs of the node, its schema defaults filled in, the secrets in place", () => {
        for (const certificates of [
            { frontEnd: "whole-site" },
            { frontEnd: "whole-site", nginx: { sitePath: "/etc/nginx/conf.d/x.conf", replaces: ["/etc/nginx/a"] } },
        ]) {
            const model = modelWith(certificates);
            for (const name of ["proxy-1", "app-1"]) {
                const node = model.nodes.find((n) => n.name === name)!;
                const secrets = { privateKey: "ssh", certificatePem: "cert", keyPem: "key" };
                const got = desiredWebServer(model, node, secrets);
                const derived = webServerInputs(node, model.nodes, model.certificates).inputs;
                expect(got).to.deep.include({ ...derived, ...secrets, frontEnd: "whole-site", verifySeconds: 10 });
                expect(got.replaces).to.deep.equal(derived.replaces ?? DEFAULT_REPLACES);
                expect(got.siteConfig).to.contain(node.fqdn);
            }
        }
    });

    it("the as-is warning names the node, the mode, what was recorded and what the next up does", () => {
        const w = asIsWarning("app-1", "internal-ca", "AB:CD", "2027-01-01T00:00:00.000Z");
        expect(w).to.match(/^node app-1: web front end imported as it is\./);
        expect(w).to.contain("In internal-ca mode").and.contain("SHA-256 AB:CD, valid until 2027-01-01");
        expect(w).to.contain("The next `pulumi up` installs the stack's internal-ca certificate and key on app-1");
    });

    it("installedFilesScript reads the certificate and key as they are, and says which is absent", function () {
        if (spawnSync("sh", ["-c", "PATH=/usr/sbin:/usr/bin:/sbin:/bin command -v nginx"]).status !== 0) this.skip();
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "pinhole-import-"));
        try {
            const P = { certificate: path.join(dir, "c.pem"), key: path.join(dir, "k.pem"), site: path.join(dir, "s") };
            const cert = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";
            fs.writeFileSync(P.certificate, cert);
            const run = () => spawnSync("sh", ["-s"], { input: installedFilesScript(P), encoding: "utf8" });
            let r = run();
            expect(r.status, r.stderr).to.equal(0);
            expect(installedFilesOf(r.stdout)).to.deep.equal({ certificatePem: cert, keyPem: undefined });
            fs.writeFileSync(P.key, "k e y\n'$(x)`\n");
            r = run();
            expect(installedFilesOf(r.stdout)).to.deep.equal({ certificatePem: cert, keyPem: "k e y\n'$(x)`\n" });
            expect(spawnSync("sh", ["-n"], { input: installedFilesScript() }).status).to.equal(0);
        } finally {
            fs.rmSync(dir, { recursive: true, force: true });
        }
    });
});

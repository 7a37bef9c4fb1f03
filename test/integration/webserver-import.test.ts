// `pulumi import pinhole:node:WebServer` with the real engine on the unified lab (whole-site front ends):
// external mode, a node whose front end was set up by hand with the stack's bundle imports with no changes
// (and a hand-made difference shows as drift that `up` puts right); a node on pinhole's self-signed mode
// serving a certificate made by hand imports as it is with a warning naming it, and the next `up` installs
// the stack's certificate; a certificate-only node and an unknown node are refused with the reason.
// The import itself changes nothing on the node.
import { expect } from "chai";
import { spawnSync } from "child_process";
import { X509Certificate } from "crypto";
import * as fs from "fs";
import * as yaml from "js-yaml";
import { EngineEvent, LocalWorkspace, Stack } from "@pulumi/pulumi/automation";
import { labDown, labUp, LabStatus } from "../../lab";
import { runScript } from "../../remote/ssh";
import { WEB_OWNER_FILE } from "../../remote/webserver-scripts";
import { CERT_PATH, KEY_PATH, SITE_PATH } from "../../render/nginx";
import { generatePrivateKeyPem, issueSelfSigned } from "../../provider/tls";
import { issueLocallySigned } from "../../provider/certs";
import { PROJECT_ROOT, usePulumiEnv } from "../../tools/common/pulumi-env";

const log = (m: string) => process.stderr.write(`      · ${m}\n`);
const quiet = { onOutput: () => undefined };

interface ExportedResource {
    urn: string;
    type: string;
    parent?: string;
    inputs?: Record<string, unknown>;
    outputs?: Record<string, unknown>;
}

describe("WebServer import on the lab (real engine)", function () {
    this.timeout(1_800_000);
    let env: Record<string, string>;
    let lab: LabStatus;
    let stack: Stack;

    const resources = async (): Promise<ExportedResource[]> =>
        ((await stack.exportStack()).deployment as { resources: ExportedResource[] }).resources;
    const webServerOf = async (node: string) =>
        (await resources()).find((r) => r.type === "pinhole:node:WebServer" && r.outputs?.node === node);
    const labNode = (name: string) => lab.nodes.find((n) => n.name === name)!;
    const onNode = async (name: string, script: string) => {
        const n = labNode(name);
        const r = await runScript(
            {
                host: n.sshHost,
                port: n.sshPort,
                user: n.sshUser,
                hostKey: n.hostKey,
                sudo: n.sudo,
                privateKey: fs.readFileSync(lab.sshKey, "utf8"),
                node: name,
            },
            script,
        );
        expect(r.code, r.stderr).to.equal(0);
        return r.stdout;
    };
    const fileShas = (name: string) => onNode(name, `sha256sum ${CERT_PATH} ${KEY_PATH} ${SITE_PATH}`);
    /** The pulumi CLI on the lab's stack: its status and everything it printed. */
    const cli = (args: string[]) => {
        const r = spawnSync("pulumi", [...args, "--stack", lab.stack!, "--cwd", PROJECT_ROOT], {
            env: { ...process.env, ...env },
            encoding: "utf8",
        });
        return { status: r.status, out: `${r.stdout}\n${r.stderr}` };
    };
    const importWebServer = (name: string, id: string, parent: string) => {
        const args = ["pinhole:node:WebServer", name, id, "--parent", `parent=${parent}`, "--yes"];
        const r = cli(["import", ...args, "--generate-code=false"]);
        // The engine checks the imported inputs with the provider's check: what an import records must pass it.
        if (r.status === 0) expect(r.out, r.out).to.not.match(/failed to validate/);
        return r;
    };
    /** The node leaves pinhole's state: its front end stays as it is, without pinhole's owner marker (a hand-made one). */
    const forget = async (ws: ExportedResource, node: string) => {
        const r = cli(["state", "delete", ws.urn, "--yes"]);
        expect(r.status, r.out).to.equal(0);
        await onNode(node, `rm -f ${WEB_OWNER_FILE}`);
    };
    const changesOf = async () => {
        const events: EngineEvent[] = [];
        await stack.preview({ onEvent: (e) => events.push(e) });
        return events
            .filter((e) => e.resourcePreEvent && e.resourcePreEvent.metadata.op !== "same")
            .map((e) => e.resourcePreEvent!.metadata);
    };
    const editCertificates = (edit: (c: Record<string, unknown> & { nodes?: Record<string, unknown> }) => void) => {
        const file = yaml.load(fs.readFileSync(lab.stackFile!, "utf8")) as {
            config: Record<string, Record<string, unknown>>;
        };
        edit(file.config["pinhole:certificates"]);
        fs.writeFileSync(lab.stackFile!, yaml.dump(file));
    };

    before(async () => {
        env = usePulumiEnv();
        lab = await labUp({ model: "unified", nodes: 3, log, stack: "test-wsimport" });
        stack = await LocalWorkspace.selectStack({ stackName: lab.stack!, workDir: PROJECT_ROOT }, { envVars: env });
        editCertificates((c) => expect(c.frontEnd).to.equal("whole-site"));
        // The proof after apply depends on every WebServer, so `state delete` of one (forget) would be refused;
        // it has its own test (proof.test.ts): an import is about one resource's state.
        await stack.setConfig("pinhole:proof.enabled", { value: "false" }, true);
        expect((await stack.up(quiet)).summary.result).to.equal("succeeded");
    });
    after(async () => {
        await stack?.destroy({ continueOnError: true, ...quiet }).catch(() => undefined);
        await labDown({ log: () => undefined });
    });

    it("external mode: drift found by the import shows in preview and up puts it right; a node serving the config's bundle imports with no changes", async () => {
        const node = lab.nodes[1].name;
        const n = labNode(node);
        // A CA-signed bundle from the operator, in the stack's secret config.
        const caKey = generatePrivateKeyPem({ algorithm: "ECDSA" });
        const ca = await issueSelfSigned({
            privateKeyPem: caKey,
            subject: { commonName: "Import Test CA" },
            dnsNames: [],
            ipAddresses: [],
            validityDays: 365,
            earlyRenewalDays: 30,
            isCa: true,
        });
        const key = generatePrivateKeyPem({ algorithm: "ECDSA" });
        const leaf = await issueLocallySigned({
            privateKeyPem: key,
            subject: { commonName: n.fqdn },
            dnsNames: [n.fqdn],
            ipAddresses: [n.address],
            caPrivateKeyPem: caKey,
            caCertPem: ca.certPem,
            validityDays: 90,
            earlyRenewalDays: 1,
            isCa: false,
        });
        await stack.setConfig("pinhole:importCert", { value: leaf.certPem + ca.certPem, secret: true });
        await stack.setConfig("pinhole:importKey", { value: key, secret: true });
        editCertificates((c) => {
            c.nodes = {
                ...c.nodes,
                [node]: { mode: "external", certificateConfigKey: "importCert", keyConfigKey: "importKey" },
            };
        });
        expect((await stack.up(quiet)).summary.result).to.equal("succeeded");
        const ws = (await webServerOf(node))!;
        expect(ws.outputs!.fingerprint).to.equal(new X509Certificate(leaf.certPem).fingerprint256);

        // Set up by hand: the same bundle, but someone edited the site file.
        await forget(ws, node);
        await onNode(node, `printf '# edited by hand\\n' >> ${SITE_PATH}`);
        const handMade = await fileShas(node);
        const drifted = importWebServer(`${node}-web-server`, node, ws.parent!);
        expect(drifted.status, drifted.out).to.equal(0);
        expect(drifted.out).to.not.match(/imported as it is/);
        expect(await fileShas(node), "the import changes nothing on the node").to.equal(handMade);
        const imported = (await webServerOf(node))!;
        expect(imported.urn).to.equal(ws.urn);
        expect(imported.outputs!.liveCertificateSha256).to.equal(imported.outputs!.certificateSha256);
        expect(imported.outputs!.liveSiteSha256).to.not.equal(imported.outputs!.siteSha256);
        const changes = await changesOf();
        expect(changes.map((m) => `${m.urn.split("::").pop()}:${m.op}`)).to.deep.equal([`${node}-web-server:update`]);
        expect(changes[0].detailedDiff).to.deep.equal({ liveSiteSha256: { diffKind: "update", inputDiff: false } });
        expect((await stack.up(quiet)).summary.result).to.equal("succeeded");
        expect(await onNode(node, `cat ${SITE_PATH}`)).to.not.contain("# edited by hand");

        // Set up by hand exactly as the config says: the import records it, preview shows no changes.
        await forget((await webServerOf(node))!, node);
        const exact = importWebServer(`${node}-web-server`, node, ws.parent!);
        expect(exact.status, exact.out).to.equal(0);
        await stack.preview({ expectNoChanges: true });
        log(`external: drift (site edited) shown and put right; exact import of ${node} previews no changes`);
    });

    it("self-signed mode: a certificate made by hand imports as it is with a warning; the next up installs the stack's", async () => {
        const node = lab.nodes[2].name;
        const n = labNode(node);
        const ws = (await webServerOf(node))!;
        const stackCert = (await resources()).find(
            (r) => r.type === "pinhole:tls:SelfSignedCertificate" && r.urn.endsWith(`::${node}-web-selfsigned`),
        )!;
        const stackFingerprint = new X509Certificate(String(stackCert.outputs!.certPem)).fingerprint256;
        expect(ws.outputs!.fingerprint).to.equal(stackFingerprint);

        await forget(ws, node);
        const key = generatePrivateKeyPem({ algorithm: "ECDSA" });
        const hand = await issueSelfSigned({
            privateKeyPem: key,
            subject: { commonName: n.fqdn },
            dnsNames: [n.fqdn],
            ipAddresses: [n.address],
            validityDays: 30,
            earlyRenewalDays: 1,
            isCa: false,
        });
        const handFingerprint = new X509Certificate(hand.certPem).fingerprint256;
        await onNode(
            node,
            `cat > ${CERT_PATH} <<'EOF'\n${hand.certPem}EOF\ncat > ${KEY_PATH} <<'EOF'\n${key}EOF\nnginx -s reload\nsleep 1\n`,
        );
        const res = importWebServer(`${node}-web-server`, node, ws.parent!);
        expect(res.status, res.out).to.equal(0);
        expect(res.out.replace(/\s+/g, " ")).to.match(
            new RegExp(
                `node ${node}: web front end imported as it is\\. In self-signed mode .* The next \`pulumi up\` installs the stack's self-signed certificate and key on ${node}`,
            ),
        );
        const imported = (await webServerOf(node))!;
        expect(imported.outputs!.fingerprint).to.equal(handFingerprint);
        expect(imported.outputs!.liveServedFingerprint).to.equal(handFingerprint);

        const changes = await changesOf();
        expect(changes.map((m) => `${m.urn.split("::").pop()}:${m.op}`)).to.deep.equal([`${node}-web-server:update`]);
        expect(Object.keys(changes[0].detailedDiff ?? {}).sort()).to.deep.equal(["certificatePem", "keyPem"]);
        expect((await stack.up(quiet)).summary.result).to.equal("succeeded");
        const after = (await webServerOf(node))!;
        expect(after.outputs!.fingerprint).to.equal(stackFingerprint);
        expect(after.outputs!.servedFingerprint).to.equal(stackFingerprint);
        await stack.preview({ expectNoChanges: true });
        log(`self-signed: ${node} imported as it is (warning shown), the next up installed the stack's certificate`);
    });

    it("refused with the reason: a certificate-only node, a node the stack does not have (no stack trace, nothing recorded)", async () => {
        const node = lab.nodes[0].name;
        const ws = (await webServerOf(node))!;
        const before = (await resources()).length;
        const unknown = importWebServer("imported-web-server", "no-such-node", ws.parent!);
        expect(unknown.status).to.not.equal(0);
        expect(unknown.out).to.match(/has no node "no-such-node" \(the import ID is the node's name: one of /);
        const original = fs.readFileSync(lab.stackFile!, "utf8");
        try {
            editCertificates((c) => {
                c.nodes = { ...c.nodes, [node]: { mode: "self-signed", frontEnd: "certificate-only" } };
            });
            const platform = importWebServer("imported-web-server", node, ws.parent!);
            expect(platform.status).to.not.equal(0);
            expect(platform.out.replace(/\s+/g, " ")).to.match(
                new RegExp(
                    `node ${node} is in certificate-only mode, whose front end cannot be imported: .*Run \`pulumi up\` without the import`,
                ),
            );
            for (const r of [unknown, platform]) expect(r.out).to.not.match(/\n\s+at /);
        } finally {
            fs.writeFileSync(lab.stackFile!, original);
        }
        expect((await resources()).length).to.equal(before);
    });
});

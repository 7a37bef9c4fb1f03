// acme mode on the lab with the real engine (issue 13.5): Let's Encrypt's test CA pebble (toolchain/pebble, built by
// toolchain/go-tool.sh) runs in its own namespace on the lab network and validates HTTP-01 by fetching
// http://<fqdn>/.well-known/acme-challenge/<token> from the node itself, through pinhole's firewall (no
// PEBBLE_VA_ALWAYS_VALID, no -dnsserver: pebble resolves the node's name from a hosts file of the lab, bind-mounted
// in its own mount namespace). Then: the node serves pebble's chain (verified against pebble's root from the client
// network); a second up is a no-op; with pebble down, an up that must re-order fails saying so and the node keeps
// serving the previous certificate.
import { expect } from "chai";
import { ChildProcess, execFileSync, spawn, spawnSync } from "child_process";
import * as fs from "fs";
import * as https from "https";
import * as os from "os";
import * as path from "path";
import { LocalWorkspace, Stack } from "@pulumi/pulumi/automation";
import * as yaml from "js-yaml";
import { labDown, labUp, LabStatus } from "../../lab";
import { BRIDGE, LAB_PREFIX_LEN } from "../../lab/shapes";
import { PROJECT_ROOT, usePulumiEnv } from "../../tools/common/pulumi-env";
import { generatePrivateKeyPem, issueSelfSigned } from "../../provider/tls";
import { issueLocallySigned } from "../../provider/certs";
import { pebbleBinary } from "./helpers/go-tool";
import { parseTable } from "../../render/nft-listing";

const log = (m: string) => process.stderr.write(`      · ${m}\n`);
const quiet = { onOutput: () => undefined };
const CA_NS = "pinhole-acme-ca"; // not phlab-: the lab sweeps processes it did not start out of its namespaces
const CA_ADDRESS = "10.77.50.40";
const DIRECTORY = `https://${CA_ADDRESS}:14000/dir`;

function get(url: string, ca: string): Promise<{ status: number; body: string }> {
    return new Promise((resolve, reject) => {
        https
            .get(url, { ca, timeout: 3000, headers: { "User-Agent": "pinhole-acme-test" } }, (res) => {
                let body = "";
                res.on("data", (c: Buffer) => (body += c.toString()));
                res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
            })
            .on("error", reject)
            .on("timeout", function (this: { destroy(e: Error): void }) {
                this.destroy(new Error("timeout"));
            });
    });
}

/** The certificate the node serves on 443, as the client network sees it, checked against pebble's root. */
function served(
    lab: LabStatus,
    rootFile: string,
): { verified: boolean; fingerprint: string; issuer: string; out: string } {
    const node = lab.nodes[0];
    const client = lab.vantages.find((v) => v.name === "client")!.netns;
    const r = spawnSync(
        "ip",
        [
            "netns",
            "exec",
            client,
            "openssl",
            "s_client",
            "-connect",
            `${node.address}:443`,
            "-servername",
            node.fqdn,
            "-CAfile",
            rootFile,
            "-showcerts",
        ],
        { input: "", encoding: "utf8", timeout: 20_000 },
    );
    const out = (r.stdout ?? "") + (r.stderr ?? "");
    const leaf = /-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/.exec(out)?.[0] ?? "";
    const x = leaf
        ? spawnSync("openssl", ["x509", "-noout", "-fingerprint", "-sha256", "-issuer"], {
              input: leaf,
              encoding: "utf8",
          }).stdout
        : "";
    return {
        verified: /Verify return code: 0 \(ok\)/.test(out),
        fingerprint: /Fingerprint=(\S+)/i.exec(x)?.[1] ?? "",
        issuer: /issuer=(.*)/.exec(x)?.[1]?.trim() ?? "",
        out,
    };
}

describe("acme mode on the lab (real engine, pebble): HTTP-01 through the node's nginx and pinhole's firewall", function () {
    this.timeout(1_800_000);
    let env: Record<string, string>;
    let lab: LabStatus;
    let stack: Stack;
    let pebble: ChildProcess | undefined;
    let dir: string;
    let tlsCa: string;
    let stackDoc: string;

    const startPebble = async () => {
        const node = lab.nodes[0];
        fs.writeFileSync(path.join(dir, "hosts"), `127.0.0.1 localhost\n${node.address} ${node.fqdn}\n`);
        const bin = pebbleBinary();
        const logFd = fs.openSync(path.join(dir, "pebble.log"), "a");
        pebble = spawn(
            "ip",
            [
                "netns",
                "exec",
                CA_NS,
                "unshare",
                "-m",
                "sh",
                "-c",
                `mount --bind "$0/hosts" /etc/hosts && exec env PEBBLE_VA_NOSLEEP=1 "$1" -config "$0/pebble.json"`,
                dir,
                bin,
            ],
            { stdio: ["ignore", logFd, logFd] },
        );
        let last = "";
        for (let i = 0; i < 150; i++) {
            const ok = await get(DIRECTORY, tlsCa).then(
                (r) => ((last = `HTTP ${r.status}`), r.status === 200),
                (e: Error) => ((last = e.message), false),
            );
            if (ok) return;
            await new Promise((r) => setTimeout(r, 200));
        }
        throw new Error(
            `pebble did not answer at ${DIRECTORY} (${last}):\n${fs.readFileSync(path.join(dir, "pebble.log"), "utf8")}`,
        );
    };
    const stopPebble = () => {
        if (pebble?.pid) spawnSync("kill", [String(pebble.pid)]);
        spawnSync("ip", ["netns", "pids", CA_NS], { encoding: "utf8" })
            .stdout?.split(/\s+/)
            .filter(Boolean)
            .forEach((p) => spawnSync("kill", [p]));
        pebble = undefined;
    };
    const setCertificates = (extra: Record<string, unknown>) => {
        const doc = yaml.load(stackDoc) as { config: Record<string, unknown> };
        // The lab keeps a stack file's other keys across runs: a window left by an earlier run must not carry over.
        const { renewBeforeDays: _stale, ...certs } = (doc.config["pinhole:certificates"] ?? {}) as Record<
            string,
            unknown
        >;
        doc.config["pinhole:certificates"] = {
            ...certs,
            mode: "acme",
            acme: { directoryUrl: DIRECTORY, directoryCaConfigKey: "acmeCa" },
            ...extra,
        };
        doc.config["pinhole:acmeCa"] = tlsCa;
        fs.writeFileSync(lab.stackFile!, yaml.dump(doc, { lineWidth: 200 }));
    };

    before(async () => {
        env = usePulumiEnv();
        lab = await labUp({ model: "standalone", log, stack: "test-acme" });
        stackDoc = fs.readFileSync(lab.stackFile!, "utf8");
        dir = fs.mkdtempSync(path.join(os.tmpdir(), "pinhole-acme-"));
        fs.chmodSync(dir, 0o755);
        // pebble's own HTTPS: a test CA and a certificate for its lab address.
        const caKey = generatePrivateKeyPem({ algorithm: "ECDSA" });
        const ca = await issueSelfSigned({
            privateKeyPem: caKey,
            subject: { commonName: "lab ACME directory CA" },
            dnsNames: [],
            ipAddresses: [],
            validityDays: 30,
            earlyRenewalDays: 1,
            isCa: true,
        });
        const key = generatePrivateKeyPem({ algorithm: "ECDSA" });
        const leaf = await issueLocallySigned({
            privateKeyPem: key,
            subject: { commonName: "pebble" },
            dnsNames: ["pebble"],
            ipAddresses: [CA_ADDRESS],
            caPrivateKeyPem: caKey,
            caCertPem: ca.certPem,
            validityDays: 30,
            earlyRenewalDays: 1,
            isCa: false,
        });
        tlsCa = ca.certPem;
        fs.writeFileSync(path.join(dir, "cert.pem"), leaf.certPem);
        fs.writeFileSync(path.join(dir, "key.pem"), key);
        fs.writeFileSync(
            path.join(dir, "pebble.json"),
            JSON.stringify({
                pebble: {
                    listenAddress: `${CA_ADDRESS}:14000`,
                    managementListenAddress: `${CA_ADDRESS}:15000`,
                    certificate: path.join(dir, "cert.pem"),
                    privateKey: path.join(dir, "key.pem"),
                    httpPort: 80,
                    tlsPort: 5001,
                    ocspResponderURL: "",
                    externalAccountBindingRequired: false,
                    keyAlgorithm: "ecdsa",
                    profiles: { default: { description: "90 days", validityPeriod: 7776000 } },
                },
            }),
        );
        // pebble's namespace on the lab bridge (removed by the after hook).
        spawnSync("ip", ["netns", "del", CA_NS]);
        const sh = (cmd: string) => execFileSync("sh", ["-c", cmd], { stdio: "inherit" });
        sh(
            `ip netns add ${CA_NS} && ip link add phacme0 type veth peer name eth0 netns ${CA_NS} && ip link set phacme0 master ${BRIDGE} up`,
        );
        sh(
            `ip -n ${CA_NS} addr add ${CA_ADDRESS}/${LAB_PREFIX_LEN} dev eth0 && ip -n ${CA_NS} link set eth0 up && ip -n ${CA_NS} link set lo up`,
        );
        await startPebble();
        stack = await LocalWorkspace.selectStack({ stackName: lab.stack!, workDir: PROJECT_ROOT }, { envVars: env });
    });
    after(async () => {
        if (pebble === undefined) await startPebble().catch(() => undefined);
        await stack?.destroy({ continueOnError: true, ...quiet }).catch(() => undefined);
        stopPebble();
        spawnSync("ip", ["link", "del", "phacme0"]);
        spawnSync("ip", ["netns", "del", CA_NS]);
        if (lab) await labDown({ log: () => undefined });
        if (stackDoc && lab?.stackFile) fs.writeFileSync(lab.stackFile, stackDoc);
    });

    let first: ReturnType<typeof served>;
    let rootFile: string;

    it("up in acme mode: the firewall opens 80 to pebble, and the node serves a chain from pebble's CA", async () => {
        setCertificates({});
        let out = "";
        const t0 = Date.now();
        const up = await stack.up({ onOutput: (o) => (out += o) }).catch((e: Error) => {
            throw new Error(
                `${e.message}\n--- pebble log:\n${fs.readFileSync(path.join(dir, "pebble.log"), "utf8").slice(-3000)}`,
            );
        });
        expect(up.summary.result).to.equal("succeeded");
        log(`up in ${((Date.now() - t0) / 1000).toFixed(1)} s: ${JSON.stringify(up.summary.resourceChanges)}`);
        const node = lab.nodes[0];
        const table = execFileSync("ip", ["netns", "exec", node.netns, "nft", "list", "table", "inet", "pinhole"], {
            encoding: "utf8",
        });
        // The opening is a rule on a named set that holds pebble's address (or on the address itself).
        const parsed = parseTable(table);
        const sets = [...parsed.sets.values()].filter((s) => s.elements.some((e) => e.split(/[/ ]/)[0] === CA_ADDRESS));
        const line = [...parsed.chains.values()]
            .flatMap((c) => c.rules)
            .find(
                (r) =>
                    (r.includes(CA_ADDRESS) || sets.some((s) => r.includes(`@${s.name} `))) &&
                    /dport (80\b|\{[^}]*\b80\b)/.test(r) &&
                    /\baccept\b/.test(r),
            );
        expect(line, `an 80/tcp opening from pebble's address in the node's ruleset:\n${table}`).to.not.equal(
            undefined,
        );
        log(`firewall: ${line!.trim()} (sets holding ${CA_ADDRESS}: ${sets.map((s) => s.name).join(", ") || "none"})`);
        const root = await get(`https://${CA_ADDRESS}:15000/roots/0`, tlsCa);
        expect(root.status).to.equal(200);
        rootFile = path.join(dir, "pebble-root.pem");
        fs.writeFileSync(rootFile, root.body);
        first = served(lab, rootFile);
        log(`served: issuer ${first.issuer}, ${first.fingerprint}, verified against pebble's root: ${first.verified}`);
        expect(first.issuer).to.match(/Pebble Intermediate CA/);
        expect(first.verified, first.out.slice(-1500)).to.equal(true);
        const validations = fs
            .readFileSync(path.join(dir, "pebble.log"), "utf8")
            .split("\n")
            .filter((l) => /http-01|validat/i.test(l));
        log(`pebble: ${validations.slice(-3).join(" | ")}`);
    });

    it("a second up is a no-op", async () => {
        const up = await stack.up(quiet);
        const changes = up.summary.resourceChanges ?? {};
        log(`second up: ${JSON.stringify(changes)}`);
        expect(Object.keys(changes).filter((k) => k !== "same")).to.deep.equal([]);
        expect(served(lab, rootFile).fingerprint).to.equal(first.fingerprint);
    });

    it("pebble down: an up that must re-order fails saying so, and the previous certificate keeps serving", async () => {
        stopPebble();
        // More days than pebble's 90-day certificate has left: a new order is due on this up (89 would not be: 90 remain).
        setCertificates({ renewBeforeDays: 120 });
        let out = "";
        const err = await stack.up({ onOutput: (o) => (out += o) }).then(
            () => undefined,
            (e: Error) => e,
        );
        expect(err, "the up must fail").to.not.equal(undefined);
        const text = `${err!.message}\n${out}`;
        const line = text.split("\n").find((l) => /ACME certificate NOT issued/.test(l));
        expect(line, text.slice(-2000)).to.not.equal(undefined);
        log(`failure: ${line!.trim().slice(0, 300)}`);
        const now = served(lab, rootFile);
        expect(now.fingerprint).to.equal(first.fingerprint);
        expect(now.verified).to.equal(true);
    });
});

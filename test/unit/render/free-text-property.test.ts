// Property: random printable and control-character strings in every free-text field are either refused at
// validation (naming the field) or render to an nftables ruleset that `nft -c` accepts and that loads as exactly
// one table, `inet pinhole` (in a scratch network namespace this test creates), and to nginx configs `nginx -t` accepts.
import { expect } from "chai";
import { execFileSync, spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { parseClusterConfig } from "../../../model/config";
import { buildPolicy } from "../../../model/policy";
import { ClusterModel } from "../../../model/types";
import { renderRuleset, replaceTableTransaction } from "../../../render/nftables";
import { CERT_PATH, KEY_PATH, renderNginxSite, upstreamServers } from "../../../render/nginx";
import { servesWeb } from "../../../model/roles";
import { rawCluster } from "../helpers/model-builders";

/** Seeded generator (mulberry32) so a failure is reproducible. */
function rng(seed: number): () => number {
    return () => {
        seed |= 0;
        seed = (seed + 0x6d2b79f5) | 0;
        let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
        t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
        return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    };
}
const ALPHABET = [
    ..."abcXYZ019 -_.:/;{}\"'\\#$`()[]<>|&*!?%@=+,~^\n\r\t\0\x1b\x7f",
    "\u202e",
    "\u2028",
    "\u200b",
    "é",
    "Ω",
    "\ufeff",
];
function randomText(r: () => number): string {
    const n = 1 + Math.floor(r() * 40);
    let s = "";
    for (let i = 0; i < n; i++) s += ALPHABET[Math.floor(r() * ALPHABET.length)];
    return s;
}

const NODES = [
    { name: "proxy-1", role: "webproxy", address: "10.20.1.10" },
    { name: "app-1", role: "application", address: "10.20.2.10" },
    { name: "db-1", role: "database", address: "10.20.3.10" },
    { name: "db-2", role: "database", address: "10.20.3.11" },
    { name: "db-3", role: "database", address: "10.20.3.12" },
];

/** Every free-text field: where it sits in the raw config, and how to put a value there. */
const FIELDS: { path: string; set: (raw: Record<string, any>, v: string) => void }[] = [
    {
        path: "pinhole:firewall.extraInbound[0].reason",
        set: (raw, v) => {
            raw.firewall = { extraInbound: [{ port: 9443, from: ["admin"], reason: v }] };
        },
    },
    {
        path: "pinhole:nodes[0].site",
        set: (raw, v) => {
            raw.nodes[0].site = v;
        },
    },
    {
        path: "pinhole:nodes[1].name",
        set: (raw, v) => {
            raw.nodes[1].name = v;
        },
    },
    {
        path: "pinhole:nodes[0].fqdn",
        set: (raw, v) => {
            raw.nodes[0].fqdn = v;
        },
    },
    {
        path: "pinhole:domain",
        set: (raw, v) => {
            raw.domain = v;
        },
    },
    {
        path: "pinhole:nodes[0].ssh.user",
        set: (raw, v) => {
            raw.nodes[0].ssh.user = v;
        },
    },
    {
        path: "pinhole:external.ntp[0]",
        set: (raw, v) => {
            raw.external = { ntp: [v] };
            raw.hosts = { "ntp.example.net": ["10.30.0.17"] };
        },
    },
    {
        path: "pinhole:external.backupDestinations[0]",
        set: (raw, v) => {
            raw.external = { backupDestinations: [`sftp://backup@10.20.5.4/${v}`] };
        },
    },
    {
        path: "pinhole:external.backupDestinations[0]",
        set: (raw, v) => {
            raw.external = { backupDestinations: [`sftp://${v}@10.20.5.4/srv`] };
        },
    },
    {
        path: "pinhole:external.snmpTrapReceivers[0]",
        set: (raw, v) => {
            raw.external = { snmpTrapReceivers: [`snmp://${v}@10.20.5.5`] };
        },
    },
    {
        path: "pinhole:external.notificationDestinations[0]",
        set: (raw, v) => {
            raw.external = { notificationDestinations: [`https://10.20.5.6:9443/${v}`] };
        },
    },
    {
        path: "pinhole:hosts",
        set: (raw, v) => {
            raw.hosts = { [v]: ["10.30.0.17"] };
        },
    },
    ...(["organization", "organizationalUnit", "locality", "province", "email"] as const).map((k) => ({
        path: `pinhole:certificates.subject.${k}`,
        set: (raw: Record<string, any>, v: string) => {
            raw.certificates = { subject: { [k]: v } };
        },
    })),
    {
        path: "pinhole:certificates.nginx.upstream",
        set: (raw, v) => {
            raw.certificates = { nginx: { upstream: v } };
        },
    },
    {
        path: "pinhole:certificates.nginx.serverNames[0]",
        set: (raw, v) => {
            raw.certificates = { frontEnd: "whole-site", nginx: { serverNames: [v] } };
        },
    },
    {
        path: "pinhole:certificates.nginx.replaces[0]",
        set: (raw, v) => {
            raw.certificates = { frontEnd: "whole-site", nginx: { replaces: [`/etc/nginx/${v}`] } };
        },
    },
];

const canRun =
    process.getuid?.() === 0 && spawnSync("nft", ["--version"]).status === 0 && spawnSync("ip", ["-V"]).status === 0;

describe("free-text fields: refused, or rendered safely (nft -c in a scratch netns, nginx -t)", function () {
    this.timeout(300_000);
    const accepted: ClusterModel[] = [];
    const seenFields = new Set<string>();

    it("every random value is refused naming its field, or accepted", () => {
        const r = rng(20261201);
        for (const field of FIELDS) {
            for (let i = 0; i < 25; i++) {
                const raw = rawCluster("modular", structuredClone(NODES)) as Record<string, any>;
                raw.networks = { admin: ["10.20.0.0/16"], client: ["10.0.0.0/8"] };
                const value = randomText(r);
                field.set(raw, value);
                const res = parseClusterConfig(raw);
                if (res.model) {
                    accepted.push(res.model);
                    seenFields.add(field.path);
                    continue;
                }
                const base = field.path.replace(/\[0\]\.reason$/, "[0]");
                expect(
                    res.errors.some((e) => e.path.startsWith(base) || e.path.startsWith(field.path)),
                    `${JSON.stringify(value)} in ${field.path}: ${JSON.stringify(res.errors)}`,
                ).to.equal(true);
            }
        }
        expect(seenFields.has("pinhole:firewall.extraInbound[0].reason"), "some random reasons are accepted").to.equal(
            true,
        );
    });

    it("every accepted one loads as exactly one table inet pinhole (nft -c, then nft -f in a scratch netns)", function () {
        if (!canRun) this.skip();
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "pinhole-prop-"));
        const ns = `pinhole-prop-${process.pid}`;
        execFileSync("ip", ["netns", "add", ns]);
        try {
            let n = 0;
            for (const model of accepted) {
                for (const p of buildPolicy(model))
                    fs.writeFileSync(
                        path.join(dir, `${n++}.nft`),
                        replaceTableTransaction(renderRuleset(p, model.firewall)),
                    );
            }
            // One shell for all files: check, load, list the tables, repeat (each load replaces pinhole's table only).
            const script = `set -e\nfor f in ${dir}/*.nft; do nft -c -f "$f"; nft -f "$f"; t="$(nft list tables)"; [ "$t" = "table inet pinhole" ] || { echo "$f: $t"; exit 1; }; done\necho ok`;
            const out = execFileSync("ip", ["netns", "exec", ns, "sh", "-c", script], { encoding: "utf8" });
            expect(out.trim()).to.equal("ok");
            expect(n).to.be.greaterThan(10);
        } finally {
            spawnSync("ip", ["netns", "del", ns]);
            fs.rmSync(dir, { recursive: true, force: true });
        }
    });

    it("every accepted one renders nginx sites that nginx -t accepts", function () {
        if (!canRun || spawnSync("nginx", ["-v"]).status !== 0 || spawnSync("openssl", ["version"]).status !== 0)
            this.skip();
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "pinhole-nginx-"));
        try {
            execFileSync(
                "openssl",
                [
                    "req",
                    "-x509",
                    "-newkey",
                    "ec",
                    "-pkeyopt",
                    "ec_paramgen_curve:P-256",
                    "-nodes",
                    "-subj",
                    "/CN=t",
                    "-days",
                    "1",
                    "-keyout",
                    `${dir}/k`,
                    "-out",
                    `${dir}/c`,
                ],
                { stdio: "ignore" },
            );
            let n = 0;
            for (const model of accepted) {
                for (const node of model.nodes.filter((x) => servesWeb(x.role))) {
                    const site = renderNginxSite({
                        node: node.name,
                        fqdn: node.fqdn,
                        role: node.role,
                        addresses: [node.address],
                        legacyProtocols: false,
                        upstreams: node.role === "webproxy" ? upstreamServers(node, model.nodes) : undefined,
                    });
                    fs.writeFileSync(
                        `${dir}/site${n++}.conf`,
                        site.config.split(CERT_PATH).join(`${dir}/c`).split(KEY_PATH).join(`${dir}/k`),
                    );
                }
            }
            // Each site alone (they all listen on 443 with their own upstream name).
            for (let i = 0; i < n; i++) {
                fs.writeFileSync(
                    `${dir}/nginx.conf`,
                    `pid ${dir}/pid;\nerror_log ${dir}/error.log;\nevents {}\nhttp {\n  access_log off;\n  include ${dir}/site${i}.conf;\n}\n`,
                );
                const r = spawnSync("nginx", ["-t", "-q", "-p", dir, "-c", `${dir}/nginx.conf`], { encoding: "utf8" });
                expect(r.status, `site${i}: ${r.stderr}\n${fs.readFileSync(`${dir}/site${i}.conf`, "utf8")}`).to.equal(
                    0,
                );
            }
            expect(n).to.be.greaterThan(5);
        } finally {
            fs.rmSync(dir, { recursive: true, force: true });
        }
    });
});

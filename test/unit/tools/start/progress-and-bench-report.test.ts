// The pure parts of npm start (tools/start/progress.ts) and npm run bench (tools/bench/report.ts): arguments, progress lines from
// engine events, the final summary, ruleset sizes, step timings, the benchmark table.
import { expect } from "chai";
import * as path from "path";
import type { EngineEvent } from "@pulumi/pulumi/automation";
import { parseStackFile } from "../../../../tools/common/stack-file";
import { buildPolicy } from "../../../../model/policy";
import { renderRuleset } from "../../../../render/nftables";
import { formatSummary, parseStartArgs, Progress, START_USAGE } from "../../../../tools/start/progress";
import {
    analyse,
    BenchReport,
    formatBenchTable,
    rulesetStats,
    sessionsPerNode,
    SizeResult,
    spread,
    stateSize,
    StepTimer,
} from "../../../../tools/bench/report";
import { judgeProbe, VerifyReport } from "../../../../tools/verify";

const ROOT = path.resolve(__dirname, "..", "..", "..", "..");

const pre = (urn: string, type: string, op: string, custom = true): EngineEvent =>
    ({
        sequence: 0,
        timestamp: 0,
        resourcePreEvent: {
            metadata: {
                op,
                urn,
                type,
                provider: "",
                new: {
                    type,
                    urn,
                    custom,
                    delete: false,
                    id: "",
                    parent: "",
                    protect: false,
                    inputs: {},
                    outputs: {},
                    provider: "",
                },
            },
        },
    }) as unknown as EngineEvent;
const outs = (urn: string, type: string, op: string): EngineEvent =>
    ({
        sequence: 0,
        timestamp: 0,
        resOutputsEvent: { metadata: { op, urn, type, provider: "" } },
    }) as unknown as EngineEvent;

describe("tools/start/progress: arguments", () => {
    it("defaults to the modular lab; takes --model, --verbose, --parallel, --no-probes", () => {
        expect(parseStartArgs([])).to.deep.equal({ model: "modular", verbose: false, probes: true });
        expect(parseStartArgs(["--model", "multisite", "--verbose", "--parallel=16", "--no-probes"])).to.deep.equal({
            model: "multisite",
            verbose: true,
            probes: false,
            parallel: 16,
        });
        expect(parseStartArgs(["--help"])).to.equal(START_USAGE);
        expect(parseStartArgs(["--model", "mesh"])).to.match(
            /^--model must be one of standalone, unified, modular, multisite \(got "mesh"\)/,
        );
        expect(parseStartArgs(["--parallel", "0"])).to.match(/^--parallel needs a positive integer/);
        expect(parseStartArgs(["--frobnicate"])).to.match(/^unknown argument "--frobnicate"/);
    });
});

describe("tools/start/progress: progress from engine events", () => {
    it("one line per custom resource step with its duration; components, no-op and refresh steps are counted only", () => {
        let now = 1000;
        const lines: string[] = [];
        const p = new Progress(
            1000,
            (l) => lines.push(l),
            () => now,
        );
        const fw =
            "urn:pulumi:s::pinhole::pinhole:index:Cluster$pinhole:node:Database$pinhole:firewall:NodeFirewall$pinhole:node:Firewall::db-1-firewall-nft";
        p.on(pre("urn:pulumi:s::pinhole::pinhole:index:Cluster::cluster", "pinhole:index:Cluster", "create", false));
        p.on(pre("urn:x::key", "pinhole:tls:PrivateKey", "same"));
        p.on(pre("urn:x::key2", "pinhole:tls:PrivateKey", "refresh"));
        now = 2500;
        p.on(pre(fw, "pinhole:node:Firewall", "update"));
        now = 4000;
        p.on(outs(fw, "pinhole:node:Firewall", "update"));
        p.on({
            sequence: 0,
            timestamp: 0,
            diagnosticEvent: {
                severity: "warning",
                message: "node proxy-1: WEB CERT EXPIRES AT: ...\n",
                color: "never",
                urn: "urn:x::proxy-1-web",
            },
        } as unknown as EngineEvent);
        expect(lines).to.deep.equal([
            "[   1.5 s] updating   node:Firewall db-1-firewall-nft",
            "[   3.0 s] updated    node:Firewall db-1-firewall-nft (1.5 s)",
            "[   3.0 s] warning proxy-1-web: node proxy-1: WEB CERT EXPIRES AT: ...",
        ]);
        expect([p.done, p.same, p.refreshed]).to.deep.equal([1, 1, 1]);
    });
});

describe("tools/start/progress: the summary", () => {
    const verify: VerifyReport = {
        stack: "lab-modular",
        checkedAt: "t",
        nodes: ["app-1", "db-1"],
        listening: [],
        ms: 1000,
        findings: [
            { node: "app-1", check: "firewall", ok: true, message: "ok" },
            { node: "db-1", check: "firewall", ok: true, message: "ok" },
        ],
        probes: [
            judgeProbe(
                { from: "app-1", to: "db-1", address: "10.77.1.101", port: 27017, expect: "open", why: "w" },
                "open",
            ),
        ],
    };
    const input = {
        model: "modular",
        stack: "lab-modular",
        flows: 12,
        verify,
        upOk: true,
        now: new Date("2026-11-26T00:00:00Z"),
        phases: [
            ["lab", 2000],
            ["pulumi up", 30000],
            ["verify", 8000],
        ] as [string, number][],
        nodes: {
            "app-1": {
                role: "application",
                site: "dc1",
                address: "10.77.1.11",
                fqdn: "app-1.lab",
                inbound: ["a", "b"],
                outbound: ["c"],
                certificate: { mode: "self-signed", notAfter: "2027-12-28T00:00:00.000Z" },
            },
            "db-1": {
                role: "database",
                site: "dc1",
                address: "10.77.1.101",
                advertisedAddress: "10.77.2.101",
                fqdn: "db-1.lab",
                inbound: ["a"],
                outbound: [],
            },
        },
        lab: {
            sshKey: "/r/.lab/ssh/id_ed25519",
            knownHosts: "/r/.lab/ssh/known_hosts",
            example: { user: "pinhole", host: "10.77.1.13" },
        },
    };

    it("nodes with role, site, addresses, openings and certificate; totals; what was verified; how to look around and remove", () => {
        const text = formatSummary(input, "/r");
        expect(text).to.contain(
            "pinhole is up and verified on the modular lab (stack lab-modular) — lab 2.0 s, pulumi up 30.0 s, verify 8.0 s; total 40.0 s",
        );
        expect(text).to.match(
            /app-1 +application +dc1 +10\.77\.1\.11 +- +2 \/ 1 +self-signed, expires 2027-12-28 \(397 d\)/,
        );
        expect(text).to.match(/db-1 +database +dc1 +10\.77\.1\.101 +10\.77\.2\.101 +1 \/ 0 +-/);
        expect(text).to.contain(
            "2 nodes; 4 openings (3 inbound, 1 outbound), 12 flows in the port matrix; 1 web certificate(s) (1 self-signed)",
        );
        expect(text).to.contain("verified: PASS — 3 passed, 0 failed (firewall 2/2, probe 1/1)");
        expect(text).to.contain("npm run lab -- down");
        expect(text).to.contain(
            "ssh -i .lab/ssh/id_ed25519 -o UserKnownHostsFile=.lab/ssh/known_hosts pinhole@10.77.1.13 sudo -n nft list table inet pinhole",
        );
    });

    it("says FAILED and lists failures when the up or a check failed", () => {
        const bad = {
            ...verify,
            findings: [
                ...verify.findings,
                {
                    node: "db-1",
                    check: "firewall" as const,
                    ok: false,
                    message: "live table has an extra rule: tcp dport 3306 accept (chain input, position 1)",
                },
            ],
        };
        const text = formatSummary({ ...input, verify: bad }, "/r");
        expect(text).to.contain("pinhole FAILED on the modular lab");
        expect(text).to.contain(
            "  FAIL db-1: live table has an extra rule: tcp dport 3306 accept (chain input, position 1)",
        );
        expect(formatSummary({ ...input, upOk: false }, "/r")).to.contain("pinhole FAILED");
    });
});

describe("tools/bench/report", () => {
    it("ruleset size: rules in chains (hook lines aside), set elements, bytes — on a real rendered ruleset", () => {
        const model = parseStackFile(path.join(ROOT, "stacks", "Pulumi.example-multisite.yaml")).model!;
        const p = buildPolicy(model).find((x) => x.node.name === "db-1")!;
        const text = renderRuleset(p, model.firewall);
        const st = rulesetStats(text);
        const chainLines = text
            .split("\n")
            .filter((l) => /^\t\t/.test(l) && !/^\t\t(type|flags|auto-merge|comment|elements|size|timeout)\b/.test(l));
        expect(st.rules).to.equal(chainLines.length);
        expect(st.elements).to.equal(
            [...text.matchAll(/elements = \{ ([^}]*) \}/g)].reduce((a, m) => a + m[1].split(",").length, 0),
        );
        expect(st.bytes).to.equal(Buffer.byteLength(text));
        expect(
            rulesetStats(
                "table inet pinhole {\n\tset s {\n\t\telements = { 1.1.1.1,\n\t\t\t 2.2.2.2, 3.3.3.3 }\n\t}\n}\n",
            ).elements,
        ).to.equal(3);
    });

    it("state size: total, by resource type and the largest properties, as the backend stores them (JSON)", () => {
        const ruleset = "x".repeat(1000);
        const exported = {
            version: 3,
            deployment: {
                resources: [
                    {
                        urn: "u1",
                        type: "pinhole:node:Firewall",
                        inputs: { ruleset, node: "a" },
                        outputs: { listing: "y".repeat(300), node: "a" },
                    },
                    {
                        urn: "u2",
                        type: "pinhole:node:Firewall",
                        inputs: { ruleset, node: "b" },
                        outputs: { listing: "y".repeat(300), node: "b" },
                    },
                    { urn: "u3", type: "pinhole:firewall:NodeFirewall", outputs: {} },
                ],
            },
        };
        const st = stateSize(exported, 2);
        expect(st.bytes).to.equal(JSON.stringify(exported).length);
        expect(st.byType.map((t) => [t.type, t.count])).to.deep.equal([
            ["pinhole:node:Firewall", 2],
            ["pinhole:firewall:NodeFirewall", 1],
        ]);
        expect(st.byType[0].bytes).to.equal(
            JSON.stringify(exported.deployment.resources[0]).length +
                JSON.stringify(exported.deployment.resources[1]).length,
        );
        expect(st.topProperties).to.deep.equal([
            { property: "pinhole:node:Firewall inputs.ruleset", bytes: 2 * 1002 },
            { property: "pinhole:node:Firewall outputs.listing", bytes: 2 * 302 },
        ]);
        expect(stateSize(undefined)).to.deep.equal({ bytes: 0, byType: [], topProperties: [] });
    });

    it("spread and step timings by type", () => {
        expect(spread([1, 2, 6])).to.deep.equal({ min: 1, avg: 3, max: 6, total: 9 });
        let now = 0;
        const t = new StepTimer(() => now);
        now = 300;
        t.on(pre("urn:a::fw1", "pinhole:node:Firewall", "create"));
        now = 400;
        t.on(pre("urn:a::fw2", "pinhole:node:Firewall", "create"));
        now = 1300;
        t.on(outs("urn:a::fw1", "pinhole:node:Firewall", "create"));
        now = 1900;
        t.on(outs("urn:a::fw2", "pinhole:node:Firewall", "create"));
        expect(t.firstCustomMs).to.equal(300);
        expect(t.lastOutputMs).to.equal(1900);
        expect(t.byType()).to.deep.equal([
            { type: "pinhole:node:Firewall", op: "create", count: 2, avgMs: 1250, maxMs: 1500, totalMs: 2500 },
        ]);
    });

    const size = (nodes: number, k: number): SizeResult => ({
        nodes,
        labUpMs: 1000 * k,
        resources: 10 * nodes,
        cold: { ms: 10000 * k },
        noop: { ms: 3000 * k },
        preview: { ms: 2500 * k },
        changePreview: { ms: 2600 * k },
        changeUp: { ms: 5000 * k, changes: { update: nodes - 1 } },
        destroy: { ms: 4000 * k },
        floorMs: 500 * k,
        sshOnlyMs: 300 * k,
        ruleset: { rules: spread([20, 22]), elements: spread([10 * k, 12 * k]), bytes: spread([4000, 5000]) },
        coldDetail: {
            firstEventMs: 900,
            firstCustomMs: 2500,
            lastOutputMs: 9000 * k,
            byType: [
                {
                    type: "pinhole:node:Firewall",
                    op: "create",
                    count: nodes,
                    avgMs: 1500,
                    maxMs: 2000,
                    totalMs: 1500 * nodes,
                },
            ],
        },
        changedNode: "db-1",
    });

    it("the table: one row per size with ratios to the floor; the analysis names growth and the dominant steps", () => {
        const rep: BenchReport = {
            startedAt: "t",
            machine: { cpus: 2, memGiB: 23, node: "v20", pulumi: "v3.248.0" },
            micro: { "one SSH session": 150 },
            sizes: [size(3, 1), size(48, 4)],
        };
        const table = formatBenchTable(rep).split("\n");
        expect(table[0]).to.equal("times in seconds (wall); engine --parallel default (4 x CPUs); 2 CPUs");
        expect(table[1]).to.match(/^nodes +res +lab up +cold up +no-op up/);
        expect(table[3]).to.match(
            /^ +3 +30 +1\.0 +10\.0 +3\.0 +2\.5 +2\.6 +5\.0 \(2 upd\) +4\.0 +0\.5 +0\.3 +20\.0x +6\.0x +5\.0x +10\.0x +8\.0x +21 \(max 22\)/,
        );
        const a = analyse(rep);
        expect(a[0]).to.match(/^from 3 to 48 nodes \(16x\): cold up 10\.0 → 40\.0 s \(4\.0x, \+0\.67 s per node\)/);
        expect(a[2]).to.contain("Firewall create ×3 avg 1.5 s");
        expect(a.at(-1)).to.equal("fixed costs measured alone: one SSH session 0.1 s");
    });

    it("SSH sessions per node from the provider's log: nodes without a session count 0, other nodes' lines are ignored", () => {
        const text = ['{"node":"a","host":"h"}', '{"node":"b"}', '{"node":"a"}', '{"node":"zz"}', ""].join("\n");
        expect(sessionsPerNode(text, ["a", "b", "c"])).to.deep.equal({ min: 0, avg: 1, max: 2, total: 3 });
        expect(sessionsPerNode(text, ["a", "b", "c"], ["a"])).to.deep.equal({ min: 2, avg: 2, max: 2, total: 2 });
        expect(sessionsPerNode("", ["a"])).to.deep.equal({ min: 0, avg: 0, max: 0, total: 0 });
        const x = {
            ...size(6, 1),
            noop: { ms: 1, sessions: spread([1, 1]) },
            preview: { ms: 1, sessions: spread([1, 1]) },
            cold: { ms: 1, sessions: spread([2, 3]) },
            refresh: { ms: 2500, sessions: spread([1, 1]) },
            changeSessions: { changed: spread([2]), unchanged: spread([1, 1]) },
        };
        const rep: BenchReport = {
            startedAt: "t",
            machine: { cpus: 2, memGiB: 23, node: "v20", pulumi: "v" },
            micro: {},
            sizes: [x],
        };
        expect(analyse(rep)).to.include(
            "6 nodes, SSH sessions per node: cold up 2-3, no-op up 1, preview 1, refresh 1 (2.5 s), one-node change up: changed nodes 2, the others 1",
        );
    });
});

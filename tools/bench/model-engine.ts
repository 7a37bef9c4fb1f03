// Micro-benchmark of the model engine on a 48-node cluster (not a test: it prints numbers, asserts nothing).
//   node --expose-gc -r ts-node/register/transpile-only tools/bench/model-engine.ts [--nodes 48] [--iterations 50]
//   (or npx ts-node --transpile-only tools/bench/model-engine.ts, without the retained-heap figure)
// Measures config validation, the policy (buildPolicy), the matrix rows and the reachability oracle.

import { createHash } from "crypto";
import { parseClusterConfig } from "../../model/config";
import { buildFlows, buildPolicy } from "../../model/policy";
import { matrixRows } from "../../model/matrix";
import { expectedReachability } from "../../model/reachability";

function arg(name: string, fallback: number): number {
    const i = process.argv.indexOf(`--${name}`);
    return i > 0 ? Number(process.argv[i + 1]) : fallback;
}

function hostKey(seed: string): string {
    const type = Buffer.from("ssh-ed25519");
    const key = createHash("sha256").update(seed).digest();
    const len = (n: number) => {
        const b = Buffer.alloc(4);
        b.writeUInt32BE(n);
        return b;
    };
    return `ssh-ed25519 ${Buffer.concat([len(type.length), type, len(key.length), key]).toString("base64")}`;
}

/** Modular, two sites with NAT at dc2: 1/6 web proxies, the rest split between application and database. */
function rawCluster(total: number): Record<string, unknown> {
    const proxies = Math.max(1, Math.round(total / 6));
    const apps = Math.floor((total - proxies) / 2);
    const dbs = total - proxies - apps;
    const nodes: Record<string, unknown>[] = [];
    const add = (role: string, prefix: string, count: number) => {
        for (let i = 1; i <= count; i++) {
            const n = nodes.length + 1;
            const dc2 = i % 2 === 0;
            const node: Record<string, unknown> = {
                name: `${prefix}-${i}`,
                role,
                site: dc2 ? "dc2" : "dc1",
                address: `10.${dc2 ? 60 : 20}.${Math.floor(n / 250)}.${(n % 250) + 2}`,
                arbiter: role === "database" && i === 1 && dbs % 2 === 0,
                ssh: { hostKey: hostKey(`${prefix}-${i}`) },
            };
            if (dc2) node.advertisedAddress = `198.51.${100 + Math.floor(n / 250)}.${(n % 250) + 2}`;
            nodes.push(node);
        }
    };
    add("webproxy", "proxy", proxies);
    add("application", "app", apps);
    add("database", "db", dbs);
    return {
        model: "modular",
        networks: { admin: ["10.9.0.0/24"], client: ["10.0.0.0/8", "172.16.0.0/12"], monitoring: ["10.9.1.0/24"] },
        nodes,
        hosts: { "backup.example.net": ["10.20.5.4"] },
        external: {
            ucm: ["10.30.0.10", "10.30.0.20"],
            unityConnection: ["10.30.0.11"],
            hcmf: ["10.30.0.12"],
            webex: ["203.0.113.0/24"],
            sso: ["10.30.0.13"],
            ldap: ["10.30.0.14", { host: "10.30.0.15", ports: [636], protocols: ["tcp", "udp"] }],
            apiResponses: ["10.40.0.0/24"],
            notificationDestinations: ["https://10.40.0.20:9443/notify"],
            snmpTrapReceivers: ["snmp://traps@10.9.1.5"],
            backupDestinations: ["sftp://backup@backup.example.net/srv"],
            ntp: ["10.9.0.1", "10.9.0.2"],
        },
        firewall: { egress: "deny" },
    };
}

function timeIt(iterations: number, fn: () => void): { median: number; min: number } {
    fn();
    fn(); // warm up the JIT
    const samples: number[] = [];
    for (let i = 0; i < iterations; i++) {
        const t0 = process.hrtime.bigint();
        fn();
        samples.push(Number(process.hrtime.bigint() - t0) / 1e6);
    }
    samples.sort((a, b) => a - b);
    return { median: samples[Math.floor(samples.length / 2)], min: samples[0] };
}

function main(): void {
    const total = arg("nodes", 48);
    const iterations = arg("iterations", 50);
    const raw = rawCluster(total);
    const parsed = parseClusterConfig(raw);
    if (!parsed.model) throw new Error(parsed.errors.map((e) => `${e.path}: ${e.message}`).join("\n"));
    const model = parsed.model;

    // Retained heap of one policy: measured between two full GCs when node runs with --expose-gc.
    const gc = (global as { gc?: () => void }).gc;
    gc?.();
    const heapBefore = process.memoryUsage().heapUsed;
    const policies = buildPolicy(model);
    gc?.();
    const heapAfter = process.memoryUsage().heapUsed;
    const heapNote = gc
        ? `${((heapAfter - heapBefore) / 1024 / 1024).toFixed(1)} MiB retained heap`
        : "retained heap: run node with --expose-gc";
    const openings = policies.reduce((n, p) => n + p.inbound.length + p.outbound.length, 0);
    const flows = buildFlows(model);
    const json = JSON.stringify(policies);

    const results = {
        parse: timeIt(iterations, () => parseClusterConfig(raw)),
        policy: timeIt(iterations, () => buildPolicy(model)),
        matrix: timeIt(iterations, () => matrixRows(model, flows)),
        oracleBuild: timeIt(iterations, () => expectedReachability(model, policies)),
    };
    const oracle = expectedReachability(model, policies);
    const names = model.nodes.map((n) => n.name);
    let queries = 0;
    const probe = timeIt(Math.max(5, Math.floor(iterations / 5)), () => {
        for (const from of names)
            for (const to of names) {
                if (from === to) continue;
                for (const port of [22, 443, 8443, 27017, 27030]) {
                    oracle.between({ from, to, protocol: "tcp", port });
                    queries++;
                }
            }
    });
    const pairs = names.length * (names.length - 1) * 5;

    const line = (label: string, r: { median: number; min: number }) =>
        `${label.padEnd(34)} median ${r.median.toFixed(2)} ms   min ${r.min.toFixed(2)} ms`;
    process.stdout.write(
        [
            `model engine benchmark: ${total} nodes (${model.nodes.filter((n) => n.role === "webproxy").length} proxies, ${model.nodes.filter((n) => n.role === "application").length} application, ${model.nodes.filter((n) => n.role === "database").length} database), 2 sites with NAT, egress deny`,
            `policy: ${openings} openings (${flows.length} flows), ${(json.length / 1024).toFixed(0)} KiB as JSON, ${heapNote}`,
            line("parseClusterConfig", results.parse),
            line("buildPolicy", results.policy),
            line("matrixRows (from flows)", results.matrix),
            line("expectedReachability (build)", results.oracleBuild),
            line(`oracle.between x ${pairs}`, probe),
            `peak RSS ${(process.memoryUsage().rss / 1024 / 1024).toFixed(0)} MiB (whole process: node + ts-node), ${iterations} iterations, ${queries} oracle queries`,
        ].join("\n") + "\n",
    );
}

main();

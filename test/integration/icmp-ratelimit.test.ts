// ICMP and rate limits under pinhole's default-deny (issue 16, items 4 and 5), on the multisite lab (dual-stack,
// egress deny) with the real engine:
// - neighbour discovery: with every neighbour cache on the path flushed, IPv6 peers still reach each other;
// - path MTU: the router's leg into dc2 gets a smaller MTU (IPv6 1280, IPv4 1000), and a 4 MB SSH transfer from a
//   dc1 node to a dc2 node succeeds in both families because the sender's firewall lets packet-too-big /
//   fragmentation-needed in (controls: the same transfer stalls when the sender drops them);
// - rate limits: one client source opening connections above the configured limit is dropped after the burst,
//   while a second source keeps being served and a connection opened before the burst keeps working.
import { expect } from "chai";
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { LocalWorkspace, Stack } from "@pulumi/pulumi/automation";
import { labDown, labUp, LabStatus } from "../../lab";
import { ipv6Of } from "../../lab/shapes";
import { parseStackFile } from "../../tools/common/stack-file";
import { PROJECT_ROOT, usePulumiEnv } from "../../tools/common/pulumi-env";
import { waitForForeignLabHolders } from "../../tools/start/lab";
import type { BurstPlan, BurstResult } from "./helpers/conn-burst";

const log = (m: string) => process.stderr.write(`      · ${m}\n`);
const STACK = `test-icmp-rl-${process.pid}`;
const TMP = fs.mkdtempSync(path.join(os.tmpdir(), "pinhole-icmp-rl-"));
/** The smaller MTUs of the router's leg into dc2 (IPv6's minimum; an IPv4 route MTU below it). */
const MTU = { 6: 1280, 4: 1000 } as const;
const TRANSFER_BYTES = 4_000_000;
/** The router's bridge into dc2 and dc2's IPv4 subnet (lab/shapes.ts, the multisite router). */
const br = "brdc2";
const inner = "10.78.2.0/24";

interface Ran {
    code: number;
    out: string;
}

function inNs(netns: string, argv: string[], timeoutMs = 30_000): Ran {
    const r = spawnSync("ip", ["netns", "exec", netns, ...argv], { encoding: "utf8", timeout: timeoutMs });
    return { code: r.status ?? -1, out: `${r.stdout ?? ""}${r.stderr ?? ""}`.trim() };
}

function mustInNs(netns: string, argv: string[]): string {
    const r = inNs(netns, argv);
    if (r.code !== 0) throw new Error(`${netns}: ${argv.join(" ")}: ${r.out}`);
    return r.out;
}

/** Inserts a rule at the top of the node's pinhole input chain; returns its removal. */
function insertInputRule(netns: string, rule: string[]): () => void {
    const echo = mustInNs(netns, ["nft", "--echo", "--handle", "insert", "rule", "inet", "pinhole", "input", ...rule]);
    const handle = /# handle (\d+)/.exec(echo)?.[1];
    if (!handle) throw new Error(`no handle in: ${echo}`);
    return () => void mustInNs(netns, ["nft", "delete", "rule", "inet", "pinhole", "input", "handle", handle]);
}

describe("ICMP, path MTU and rate limits under pinhole's firewall (multisite lab, dual-stack, real engine)", function () {
    this.timeout(900_000);
    let lab: LabStatus;
    let stack: Stack;
    const node = (name: string) => lab.nodes.find((n) => n.name === name)!;

    before(async () => {
        const env = usePulumiEnv();
        await waitForForeignLabHolders(log);
        const t0 = Date.now();
        lab = await labUp({ model: "multisite", ipv6: true, log, stack: STACK });
        stack = await LocalWorkspace.createOrSelectStack({ stackName: STACK, workDir: PROJECT_ROOT }, { envVars: env });
        const up = await stack.up({ refresh: true, onOutput: () => undefined });
        expect(up.summary.result).to.equal("succeeded");
        log(`multisite lab up and \`pulumi up\` done in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    });
    after(async () => {
        await stack
            ?.destroy({ onOutput: () => undefined })
            .catch((e: Error) => log(`destroy: ${e.message.split("\n")[0]}`));
        await stack?.workspace.removeStack(STACK, { force: true }).catch(() => undefined);
        if (lab?.stackFile) fs.rmSync(lab.stackFile, { force: true });
        fs.rmSync(TMP, { recursive: true, force: true });
        await labDown({ log: () => undefined });
    });

    // ------------------------------------------------------------------ ND and path MTU: dc1 sender, dc2 receiver
    const SENDER = "unified-1"; // dc1, on the lab bridge
    const RECEIVER = "unified-3"; // dc2, behind the router
    const senderAddrs = () => [node(SENDER).address6!, node(SENDER).address];
    /** The receiver's address as the sender sees it (IPv4: the router's 1:1 NAT address). */
    const receiverSeen = (f: 4 | 6) => (f === 6 ? node(RECEIVER).address6! : node(RECEIVER).advertisedAddress!);

    /** From the dc2 node, over SSH: `bytes` from the dc1 node's /dev/urandom; the byte count that arrived. */
    function transfer(to: string, bytes: number, timeoutMs: number): { bytes: number; ms: number; err: string } {
        const s = node(SENDER);
        const kh = path.join(TMP, "known_hosts");
        fs.writeFileSync(
            kh,
            senderAddrs()
                .map((a) => `${a} ${s.hostKey}\n`)
                .join(""),
        );
        const t0 = Date.now();
        const r = spawnSync(
            "ip",
            [
                "netns",
                "exec",
                node(RECEIVER).netns,
                "ssh",
                "-F",
                "/dev/null",
                "-i",
                lab.sshKey,
                ...["-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=yes", "-o", `UserKnownHostsFile=${kh}`],
                ...["-o", "ConnectTimeout=4", `${s.sshUser}@${to}`, `head -c ${bytes} /dev/urandom`],
            ],
            { timeout: timeoutMs, maxBuffer: 4 * bytes },
        );
        const err = (r.stderr?.toString() ?? "").trim().split("\n").pop() ?? "";
        return { bytes: r.stdout?.length ?? 0, ms: Date.now() - t0, err: r.error ? r.error.message : err };
    }

    /** The path MTU the sender holds for the receiver (undefined: none learnt), after `ip route get`. */
    function learntMtu(f: 4 | 6): number | undefined {
        const out = mustInNs(node(SENDER).netns, ["ip", `-${f}`, "route", "get", receiverSeen(f)]);
        const m = / mtu (\d+)/.exec(out);
        return m ? Number(m[1]) : undefined;
    }

    function flushPathState(): void {
        const router = lab.router!.netns;
        for (const ns of [node(SENDER).netns, node(RECEIVER).netns, router]) {
            mustInNs(ns, ["ip", "-6", "neigh", "flush", "all"]);
            mustInNs(ns, ["ip", "route", "flush", "cache"]);
            mustInNs(ns, ["ip", "-6", "route", "flush", "cache"]);
        }
    }

    it("neighbour discovery: with every neighbour cache on the path flushed, IPv6 works; a node dropping solicitations is cut off", () => {
        flushPathState();
        const ok = transfer(node(SENDER).address6!, 1000, 20_000);
        expect(ok.bytes, `IPv6 ${RECEIVER} → ${SENDER}: ${ok.err}`).to.equal(1000);
        const learnt = mustInNs(node(SENDER).netns, ["ip", "-6", "neigh", "show", "dev", "eth0"]);
        log(
            `ND: ${SENDER}'s IPv6 neighbours after the flush and one SSH session:\n        ${learnt.split("\n").join("\n        ")}`,
        );
        expect(learnt, "the router, learnt by ND").to.match(
            new RegExp(`^${ipv6Of(lab.router!.address)} .*lladdr [0-9a-f:]{17}`, "m"),
        );
        expect(learnt).to.not.contain("PERMANENT");
        // control: the sender drops neighbour solicitations: the router cannot resolve it, IPv6 is cut off
        const undo = insertInputRule(node(SENDER).netns, ["icmpv6", "type", "nd-neighbor-solicit", "drop"]);
        try {
            flushPathState();
            const cut = transfer(node(SENDER).address6!, 1000, 20_000);
            log(`ND control (${SENDER} drops solicitations): IPv6 got ${cut.bytes} bytes (${cut.err})`);
            expect(cut.bytes).to.equal(0);
        } finally {
            undo();
        }
    });

    for (const f of [6, 4] as const) {
        it(`path MTU, IPv${f}: a 4 MB transfer into dc2 over a ${MTU[f]}-byte leg succeeds; with the ICMP dropped it stalls`, () => {
            const router = lab.router!.netns;
            mustInNs(router, ["ip", "link", "set", br, "mtu", String(MTU[6])]);
            mustInNs(router, ["ip", "route", "replace", inner, "dev", br, "src", "10.78.2.1", "mtu", String(MTU[4])]);
            try {
                flushPathState();
                // what lets the router's ICMP error in: the related-state rule and the explicit ICMP rules
                const accepting = mustInNs(node(SENDER).netns, ["nft", "list", "chain", "inet", "pinhole", "input"])
                    .split("\n")
                    .filter((l) => /related|icmp/.test(l))
                    .map((l) => l.trim());
                log(`${SENDER}'s input rules that admit ICMP errors:\n        ${accepting.join("\n        ")}`);
                expect(learntMtu(f), "no path MTU before the transfer").to.equal(undefined);
                const to = f === 6 ? node(SENDER).address6! : node(SENDER).address;
                const ok = transfer(to, TRANSFER_BYTES, 30_000);
                const mtu = learntMtu(f);
                log(
                    `IPv${f}: ${ok.bytes} bytes in ${ok.ms} ms; ${SENDER} learnt path MTU ${mtu} toward ${receiverSeen(f)}`,
                );
                expect(ok.bytes, ok.err).to.equal(TRANSFER_BYTES);
                expect(mtu).to.equal(MTU[f]);
                // control: the sender drops the router's packet-too-big / fragmentation-needed: the transfer stalls
                const undo = insertInputRule(
                    node(SENDER).netns,
                    f === 6
                        ? ["icmpv6", "type", "packet-too-big", "drop"]
                        : ["icmp", "type", "destination-unreachable", "icmp", "code", "frag-needed", "drop"],
                );
                try {
                    flushPathState();
                    const cut = transfer(to, TRANSFER_BYTES, 12_000);
                    log(`IPv${f} control (${SENDER} drops the ICMP): ${cut.bytes} bytes in ${cut.ms} ms (${cut.err})`);
                    expect(cut.bytes).to.be.lessThan(TRANSFER_BYTES);
                    expect(learntMtu(f)).to.equal(undefined);
                } finally {
                    undo();
                }
            } finally {
                mustInNs(router, ["ip", "route", "replace", inner, "dev", br, "src", "10.78.2.1"]);
                mustInNs(router, ["ip", "link", "set", br, "mtu", "1500"]);
            }
        });
    }

    // ------------------------------------------------------------------ rate limits: client sources → proxy-1:443
    for (const f of [4, 6] as const) {
        it(`rate limit, IPv${f}: one source above the limit is dropped after the burst; another source and an established connection are served`, () => {
            const model = parseStackFile(lab.stackFile!).model!;
            const { perMinute, burst } = model.firewall.rateLimit;
            const proxy = node("proxy-1");
            const live = mustInNs(proxy.netns, ["nft", "list", "chain", "inet", "pinhole", "input"]);
            const limitRule = new RegExp(
                `tcp dport 443 ${f === 6 ? "ip6" : "ip"} saddr .*limit rate over ${perMinute}/minute burst ${burst} packets .*drop`,
            );
            expect(live, `${proxy.name}'s live input chain`).to.match(limitRule);
            const client = lab.vantages.find((v) => v.name === "client")!;
            // fresh sources on the client vantage: no meter entry yet (the up's proof used the vantage's own address)
            const [a, b] = f === 6 ? ["fd77::200:21", "fd77::200:22"] : ["10.77.200.21", "10.77.200.22"];
            const len = f === 6 ? 128 : 32;
            for (const x of [a, b])
                mustInNs(client.netns, [
                    "ip",
                    "addr",
                    "add",
                    `${x}/${len}`,
                    "dev",
                    "eth0",
                    ...(f === 6 ? ["nodad"] : []),
                ]);
            try {
                const plan: BurstPlan = {
                    target: f === 6 ? proxy.address6! : proxy.address,
                    port: 443,
                    sourceA: a,
                    sourceB: b,
                    burst: burst + 30,
                    followUp: 10,
                    steady: 5,
                    steadyIntervalMs: Math.ceil(60_000 / perMinute),
                    connectTimeoutMs: 800,
                };
                const r = runBurstIn(client.netns, plan);
                checkBurst(f, r, plan, perMinute, burst);
            } finally {
                for (const x of [a, b]) inNs(client.netns, ["ip", "addr", "del", `${x}/${len}`, "dev", "eth0"]);
            }
        });
    }
});

function runBurstIn(netns: string, plan: BurstPlan): BurstResult {
    const helper = path.join(__dirname, "helpers", "conn-burst.ts");
    const r = spawnSync(
        "ip",
        [
            "netns",
            "exec",
            netns,
            process.execPath,
            "-r",
            "ts-node/register/transpile-only",
            helper,
            JSON.stringify(plan),
        ],
        { cwd: PROJECT_ROOT, encoding: "utf8", timeout: 120_000 },
    );
    if (r.status !== 0) throw new Error(`conn-burst in ${netns}: ${r.error?.message ?? ""} ${r.stderr}`);
    return JSON.parse(r.stdout.trim().split("\n").pop()!) as BurstResult;
}

/**
 * The limiter starts each source with `burst` packets and refills `perMinute`/60 per second: over A's span at most
 * burst + refill new connections pass, at least burst when it tried more; B (its own meter entry) is always served.
 */
function checkBurst(f: number, r: BurstResult, plan: BurstPlan, perMinute: number, burst: number): void {
    const refill = Math.floor((r.aSpanMs / 60_000) * perMinute) + 1;
    const acceptedA = 1 + r.burst.accepted + r.followUp.accepted;
    const droppedA = r.burst.dropped + r.followUp.dropped;
    log(
        `IPv${f} rate limit ${perMinute}/minute burst ${burst} (from the stack config, = the live rule): ` +
            `source A ${plan.sourceA}: 1 kept + ${plan.burst} at once (${r.burst.ms} ms) + ${plan.followUp} after: ` +
            `accepted ${acceptedA} (burst ${r.burst.accepted}, after ${r.followUp.accepted}), dropped ${droppedA} ` +
            `(burst ${r.burst.dropped}, after ${r.followUp.dropped}) over ${r.aSpanMs} ms (refill allowance ${refill}); ` +
            `source B ${plan.sourceB}: ${r.steady.served}/${plan.steady} served (HTTP ${r.steady.statuses.join(",")}) at one per ${plan.steadyIntervalMs} ms; ` +
            `A's connection opened before the burst: HTTP ${r.established.first} before, ${r.established.afterBurst} after`,
    );
    expect(acceptedA, "A: at least the burst passes").to.be.at.least(burst);
    expect(acceptedA, "A: at most burst + refill pass").to.be.at.most(burst + refill);
    expect(r.burst.dropped, "A: the rest of the burst is dropped").to.be.at.least(plan.burst + 1 - burst - refill);
    expect(r.followUp.dropped, "A: new connections right after the burst are dropped").to.be.at.least(
        plan.followUp - refill,
    );
    expect(r.steady.served, "B keeps being served").to.equal(plan.steady);
    expect(r.established.first, "A's connection before the burst answers").to.be.greaterThan(0);
    expect(r.established.afterBurst, "A's established connection still answers after it").to.equal(r.established.first);
    expect(r.steady.statuses, "B gets the same answer").to.deep.equal(r.steady.statuses.map(() => r.established.first));
}

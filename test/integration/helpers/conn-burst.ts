// Run inside a lab vantage's namespace (`ip netns exec <ns> node -r ts-node/register/transpile-only conn-burst.ts
// '<json>'`): a per-source rate-limit measurement against one TLS port. Source A opens one connection and keeps it
// (established before the burst), then opens `burst` new connections at once and `followUp` more right after;
// meanwhile source B makes `steady` TLS requests one per `steadyIntervalMs`; at the end A's first connection
// answers a second request. Prints one JSON line of counts and times.
import * as net from "net";
import * as tls from "tls";

export interface BurstPlan {
    target: string;
    port: number;
    /** The flooding source address and the well-behaved one (both on the vantage's eth0). */
    sourceA: string;
    sourceB: string;
    burst: number;
    followUp: number;
    steady: number;
    steadyIntervalMs: number;
    /** Below TCP's first SYN retransmission (1 s): one attempt is one SYN. */
    connectTimeoutMs: number;
}

export interface BurstResult {
    /** HTTP status codes on A's connection opened before the burst (0: no answer). */
    established: { first: number; afterBurst: number };
    burst: { accepted: number; dropped: number; ms: number };
    followUp: { accepted: number; dropped: number; msAfterBurst: number };
    /** B's requests: answered (any HTTP status) or not; the status codes. */
    steady: { served: number; failed: number; statuses: number[] };
    /** From A's first SYN to its last attempt (the limiter refills during it). */
    aSpanMs: number;
}

/** One TCP connect from `source`: true when the handshake completed in time (the SYN was let through). */
function connectOnce(plan: BurstPlan, source: string): Promise<boolean> {
    return new Promise((resolve) => {
        const s = net.connect({ host: plan.target, port: plan.port, localAddress: source });
        const done = (ok: boolean) => {
            clearTimeout(timer);
            s.destroy();
            resolve(ok);
        };
        const timer = setTimeout(() => done(false), plan.connectTimeoutMs);
        s.once("connect", () => done(true));
        s.once("error", () => done(false));
    });
}

/** A kept TLS connection that answers HTTP requests one after another (keep-alive). */
async function openKept(plan: BurstPlan, source: string): Promise<tls.TLSSocket> {
    return new Promise((resolve, reject) => {
        const tcp = net.connect({ host: plan.target, port: plan.port, localAddress: source });
        const s = tls.connect({ socket: tcp, rejectUnauthorized: false });
        s.setTimeout(5000, () => reject(new Error(`TLS connect from ${source} timed out`)));
        s.once("secureConnect", () => {
            s.setTimeout(0);
            resolve(s);
        });
        s.once("error", reject);
    });
}

/** One HTTP/1.1 request on the connection: the response's status code (0: no response within 5 s). */
function request(s: tls.TLSSocket): Promise<number> {
    return new Promise((resolve) => {
        let got = "";
        const done = (status: number) => {
            clearTimeout(timer);
            s.removeListener("data", onData);
            resolve(status);
        };
        const onData = (d: Buffer) => {
            got += d.toString("latin1");
            if (/\r\n\r\n/.test(got)) done(Number(/^HTTP\/1\.1 (\d{3}) /.exec(got)?.[1] ?? 0));
        };
        const timer = setTimeout(() => done(0), 5000);
        s.on("data", onData);
        s.write("GET / HTTP/1.1\r\nHost: lab\r\nConnection: keep-alive\r\n\r\n");
    });
}

/** A new TLS connection and one request on it: the status code (0: no connection or no answer). */
async function served(plan: BurstPlan, source: string): Promise<number> {
    try {
        const s = await openKept(plan, source);
        const status = await request(s);
        s.destroy();
        return status;
    } catch {
        return 0;
    }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const count = (xs: boolean[]) => ({ accepted: xs.filter(Boolean).length, dropped: xs.filter((x) => !x).length });

export async function runBurst(plan: BurstPlan): Promise<BurstResult> {
    const t0 = Date.now();
    const kept = await openKept(plan, plan.sourceA);
    const first = await request(kept);
    const steadyRun = (async () => {
        const statuses: number[] = [];
        for (let i = 0; i < plan.steady; i++) {
            if (i) await sleep(plan.steadyIntervalMs);
            statuses.push(await served(plan, plan.sourceB));
        }
        return statuses;
    })();
    const t1 = Date.now();
    const burst = await Promise.all(Array.from({ length: plan.burst }, () => connectOnce(plan, plan.sourceA)));
    const t2 = Date.now();
    const follow = await Promise.all(Array.from({ length: plan.followUp }, () => connectOnce(plan, plan.sourceA)));
    const t3 = Date.now();
    const steady = await steadyRun;
    const afterBurst = await request(kept);
    kept.destroy();
    return {
        established: { first, afterBurst },
        burst: { ...count(burst), ms: t2 - t1 },
        followUp: { ...count(follow), msAfterBurst: t3 - t2 },
        steady: { served: steady.filter(Boolean).length, failed: steady.filter((x) => !x).length, statuses: steady },
        aSpanMs: t3 - t0,
    };
}

if (require.main === module) {
    runBurst(JSON.parse(process.argv[2]) as BurstPlan).then(
        (r) => process.stdout.write(JSON.stringify(r) + "\n"),
        (e: Error) => {
            process.stderr.write(`conn-burst: ${e.message}\n`);
            process.exit(1);
        },
    );
}

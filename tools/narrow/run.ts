// `npm run narrow`: the I/O part. Reads each node over SSH (pinned host keys, remote/ssh.ts): listening
// sockets, then conntrack entries and established TCP sockets sampled every second over a window. Writes the
// evidence to .pinhole/evidence/<stack>.json, which the preview reads to warn about narrowings that would
// close a port something listens on. The judging is pure, in tools/narrow/narrow.ts.
import { LocalWorkspace } from "@pulumi/pulumi/automation";
import { ClusterModel } from "../../model/types";
import { sshConnectionOf } from "../../remote/connection";
import { runScript, explainSshFailure } from "../../remote/ssh";
import { pool } from "../../lab/sys";
import { PROJECT_ROOT, usePulumiEnv } from "../common/pulumi-env";
import { LISTENING_COMMAND, parseListening } from "../../remote/ss";
import { Evidence, externalTcpTargets, NodeEvidence, parseConntrack, parseEstablished } from "./narrow";
export { EVIDENCE_DIR, evidenceFile, readEvidence, writeEvidence } from "../../program/evidence-file";

/** The on-node script: listeners once, then connections every second for `windowSeconds`. Read-only. */
export function evidenceScript(windowSeconds: number, tcpTargets: { address: string; port: number }[] = []): string {
    const w = Math.max(0, Math.floor(windowSeconds));
    // Addresses and ports come from the validated model (literal IPs, integers): safe to place in the script.
    const reach = tcpTargets
        .filter((t) => /^[0-9a-fA-F.:]+$/.test(t.address) && Number.isInteger(t.port))
        .map(
            (t) =>
                `if timeout 3 bash -c 'exec 3<>/dev/tcp/${t.address}/${t.port}' 2>/tmp/.pinhole-reach; then echo '${t.address} ${t.port} open'; ` +
                `elif grep -qi refused /tmp/.pinhole-reach; then echo '${t.address} ${t.port} closed'; else echo '${t.address} ${t.port} unknown'; fi`,
        );
    return [
        "set -u",
        "echo '--- reach'",
        ...reach,
        "rm -f /tmp/.pinhole-reach",
        "echo '--- listen'",
        LISTENING_COMMAND,
        `end=$(( $(date +%s) + ${w} ))`,
        "while :; do",
        "  echo '--- conntrack'",
        "  cat /proc/net/nf_conntrack 2>/dev/null || conntrack -L 2>/dev/null || true",
        "  echo '--- established'",
        "  ss -Htn state established 2>/dev/null || true",
        '  [ "$(date +%s)" -ge "$end" ] && break',
        "  sleep 1",
        "done",
        "echo '--- done'",
        "",
    ].join("\n");
}

/** Splits the script's output into its sections and parses them. */
export function parseEvidenceOutput(node: string, stdout: string): NodeEvidence {
    const sections: { name: string; text: string[] }[] = [];
    for (const line of stdout.split("\n")) {
        const m = /^--- (\w+)$/.exec(line);
        if (m) sections.push({ name: m[1], text: [] });
        else sections.at(-1)?.text.push(line);
    }
    if (!sections.some((s) => s.name === "done"))
        return { node, listening: [], seen: [], error: "the evidence script did not finish" };
    const listening = parseListening(
        sections
            .filter((s) => s.name === "listen")
            .map((s) => s.text.join("\n"))
            .join("\n"),
    );
    const seen = [
        ...sections.filter((s) => s.name === "conntrack").flatMap((s) => parseConntrack(s.text.join("\n"))),
        ...sections
            .filter((s) => s.name === "established")
            .flatMap((s) => parseEstablished(s.text.join("\n"), listening)),
    ];
    const unique = new Map(seen.map((s) => [`${s.protocol} ${s.src} ${s.sport} ${s.dst} ${s.dport}`, s]));
    const reach = sections
        .filter((s) => s.name === "reach")
        .flatMap((s) => s.text)
        .flatMap((l) => {
            const m = /^(\S+) (\d+) (open|closed|unknown)$/.exec(l.trim());
            return m ? [{ address: m[1], port: Number(m[2]), result: m[3] as "open" | "closed" | "unknown" }] : [];
        });
    return { node, listening, seen: [...unique.values()], ...(reach.length ? { reach } : {}) };
}

/** The stack's SSH private key (secret config), unless one is given. */
export async function stackPrivateKey(stack: string): Promise<string> {
    const ws = await LocalWorkspace.selectStack(
        { stackName: stack, workDir: PROJECT_ROOT },
        { envVars: usePulumiEnv() },
    );
    const key = await ws.getConfig("pinhole:sshPrivateKey");
    if (!key?.value)
        throw new Error(`stack ${stack} has no pinhole:sshPrivateKey (pulumi config set --secret sshPrivateKey < key)`);
    return key.value;
}

/** Reads every node at once (all windows run in parallel) and returns the evidence. */
export async function collectEvidence(
    stack: string,
    model: ClusterModel,
    privateKey: string,
    opts: { windowSeconds?: number; log?: (m: string) => void } = {},
): Promise<Evidence> {
    const windowSeconds = opts.windowSeconds ?? 30;
    const log = opts.log ?? (() => undefined);
    log(`reading ${model.nodes.length} node(s): listening sockets, then connections for ${windowSeconds}s`);
    const targets = externalTcpTargets(model);
    const nodes = await pool(model.nodes, 64, async (n): Promise<NodeEvidence> => {
        const conn = sshConnectionOf(n, privateKey);
        try {
            const r = await runScript(conn, evidenceScript(windowSeconds, targets.get(n.name) ?? []), {
                timeoutMs: (windowSeconds + 60) * 1000,
            });
            if (r.code !== 0)
                return {
                    node: n.name,
                    listening: [],
                    seen: [],
                    error:
                        r.code === 255
                            ? explainSshFailure(conn, r)
                            : `exit ${r.code}: ${r.stderr.trim().split("\n").slice(-2).join(" | ")}`,
                };
            const ev = parseEvidenceOutput(n.name, r.stdout);
            log(`${n.name}: ${ev.listening.length} listening socket(s), ${ev.seen.length} connection(s) seen`);
            return ev;
        } catch (e) {
            return { node: n.name, listening: [], seen: [], error: (e as Error).message };
        }
    });
    return { stack, takenAt: new Date().toISOString(), windowSeconds, nodes };
}

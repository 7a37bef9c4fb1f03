// The bench's own SSH to every node of the lab (the floor, and resetting the nodes between the Ansible runs).
import { ClusterModel } from "../../model/types";
import { runScript, SshConnectionInput } from "../../remote/ssh";

export const log = (m: string) => process.stderr.write(`[bench] ${m}\n`);

export function connections(model: ClusterModel, key: string): SshConnectionInput[] {
    return model.nodes.map((n) => ({
        host: n.ssh.host,
        port: n.ssh.port,
        user: n.ssh.user,
        hostKey: n.ssh.hostKey,
        sudo: n.ssh.sudo,
        privateKey: key,
        node: n.name,
    }));
}

/** One SSH session per node, all at once; each runs `script(node)`. Throws if any fails. */
export async function everyNode(conns: SshConnectionInput[], script: (node: string) => string): Promise<number> {
    const t = Date.now();
    // The floor of a firewall's sessions: the same key exchange as theirs (remote/ssh-args.ts).
    const rs = await Promise.all(
        conns.map((c) => runScript(c, script(c.node!), { timeoutMs: 120_000, noSecrets: true })),
    );
    const bad = rs.map((r, i) => [r, conns[i]] as const).filter(([r]) => r.code !== 0);
    if (bad.length)
        throw new Error(
            `floor: ${bad.map(([r, c]) => `${c.node}: exit ${r.code} ${r.stderr.trim().split("\n").pop()}`).join("; ")}`,
        );
    return Date.now() - t;
}

export const nftScript = (transaction: string) =>
    `PATH=/usr/sbin:/usr/bin:/sbin:/bin\nnft -f - <<'PINHOLE_NFT'\n${transaction}PINHOLE_NFT\n`;

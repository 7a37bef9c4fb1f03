// The same job as the bench's pinhole runs, done with Ansible, for the comparison table.
import * as path from "path";
import { buildPolicy } from "../../model/policy";
import { ClusterModel } from "../../model/types";
import { SshConnectionInput } from "../../remote/ssh";
import { removeTableTransaction, renderRuleset, replaceTableTransaction } from "../../render/nftables";
import { SizeResult } from "./report";
import { PROJECT_ROOT } from "../common/pulumi-env";
import { AnsibleHost, runPlay } from "./ansible";
import { everyNode, log, nftScript } from "./nodes";

/**
 * The same job with Ansible (bench/ansible/firewall.yml), same lab, same rulesets: cold (no table on the nodes),
 * no-op, --check (its preview) and the same one-node change as pinhole's (a database node's address).
 */
export async function benchAnsible(
    n: number,
    model: ClusterModel,
    conns: SshConnectionInput[],
): Promise<NonNullable<SizeResult["ansible"]>> {
    const dir = path.join(PROJECT_ROOT, ".lab", "bench-ansible");
    const keyFile = path.join(PROJECT_ROOT, ".lab", "ssh", "id_ed25519");
    const hostsFor = (m: ClusterModel): AnsibleHost[] =>
        buildPolicy(m).map((p) => {
            const c = conns.find((x) => x.node === p.node.name)!;
            return {
                name: p.node.name,
                host: c.host,
                port: c.port,
                user: c.user,
                hostKey: c.hostKey,
                sudo: c.sudo,
                transaction: replaceTableTransaction(renderRuleset(p, m.firewall)),
            };
        });
    const hosts = hostsFor(model);
    const clean = () =>
        everyNode(conns, () => `${nftScript(removeTableTransaction())}rm -f /etc/pinhole/ansible-firewall.nft\n`);
    await clean();
    log(`${n} nodes: Ansible (forks ${hosts.length}): cold, no-op, --check, one-node change`);
    const cold = await runPlay(PROJECT_ROOT, dir, hosts, keyFile);
    const noop = await runPlay(PROJECT_ROOT, dir, hosts, keyFile);
    const check = await runPlay(PROJECT_ROOT, dir, hosts, keyFile, { check: true });
    const moved = structuredClone(model);
    moved.nodes.find((x) => x.role === "database")!.address = "10.77.9.1";
    const change = await runPlay(PROJECT_ROOT, dir, hostsFor(moved), keyFile);
    await clean();
    return {
        coldMs: cold.ms,
        noopMs: noop.ms,
        checkMs: check.ms,
        changeMs: change.ms,
        changeHosts: change.changed.length,
        coldHosts: cold.changed.length,
        noopHosts: noop.changed.length,
    };
}

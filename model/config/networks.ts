// pinhole:networks (admin, client, monitoring) and the management-path check (pinhole never locks itself out).
import { ClusterModel } from "../types";
import { cidrContains, parseIp } from "../net";
import { DEFAULT_CLIENT_NETWORKS, NETWORK_KEYS } from "./keys";
import { NodeDraft } from "./nodes";
import { ParseOptions } from "./parse";
import { Problems, dot, readCidrList, readMap, root } from "./read";

// ---------------------------------------------------------------------------------------------------------

export function readNetworks(v: unknown, pr: Problems): ClusterModel["networks"] | undefined {
    const path = root("networks");
    if (v === undefined) {
        pr.error(path, "missing: at least networks.admin (the SSH sources, including the host that runs pulumi)");
        return undefined;
    }
    const m = readMap(v, path, pr, NETWORK_KEYS);
    if (!m) return undefined;
    let admin: string[] | undefined;
    if (m.admin === undefined)
        pr.error(dot(path, "admin"), "missing: the SSH/SFTP sources, including the host that runs pulumi");
    else {
        admin = readCidrList(m.admin, dot(path, "admin"), pr);
        if (admin && admin.length === 0) {
            pr.error(dot(path, "admin"), "is empty: no node would accept SSH, and pinhole would lock itself out");
            admin = undefined;
        }
    }
    const client =
        m.client === undefined ? [...DEFAULT_CLIENT_NETWORKS] : readCidrList(m.client, dot(path, "client"), pr);
    if (client && client.length === 0)
        pr.warn(dot(path, "client"), "is empty: no user or API client can reach the cluster on 443");
    const monitoring = m.monitoring === undefined ? admin : readCidrList(m.monitoring, dot(path, "monitoring"), pr);
    if (!admin || !client || !monitoring) return undefined;
    return { admin, client, monitoring };
}

/** pinhole must keep its own way in: provisioning hosts and bastions inside the admin networks. */
export function checkManagementPath(admin: string[], drafts: NodeDraft[], opts: ParseOptions, pr: Problems): void {
    const inAdmin = (addr: string) => admin.some((c) => cidrContains(c, addr));
    for (const a of opts.provisioningAddresses ?? []) {
        if (!inAdmin(a))
            pr.error(
                root("networks.admin"),
                `does not include ${a}, the address pinhole runs from: applying would cut the management SSH path (every node would refuse pinhole's connections)`,
            );
    }
    for (const d of drafts) {
        const b = d.ssh?.bastion;
        if (b && parseIp(b.host) && !inAdmin(b.host)) {
            pr.error(
                dot(d.path, "ssh.bastion.host"),
                `${b.host} is not in pinhole:networks.admin: ${d.name ?? "the node"} would refuse SSH from its own bastion`,
            );
        }
    }
}

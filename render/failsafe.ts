// The management-only fail-safe ruleset: what a node loads at boot when its persisted ruleset does not
// load (a broken or truncated /etc/pinhole/firewall.nft). It keeps the node reachable for management
// (the management SSH port from the management sources, loopback, replies) and drops everything else
// inbound, so a broken file never leaves a node either unreachable or wide open. Outbound stays open:
// the node must be able to answer and to be repaired.
import { nftAddress } from "./escape";
import { replaceTableTransaction, TABLE_FAMILY, TABLE_NAME } from "./nftables";

/** A `table inet pinhole` transaction (replaces whatever pinhole table is loaded). */
export function failsafeRuleset(managementSources: string[], sshPort: number): string {
    managementSources.forEach(nftAddress);
    if (!Number.isInteger(sshPort) || sshPort < 1 || sshPort > 65535)
        throw new Error(`fail-safe ruleset: bad SSH port ${sshPort}`);
    const v4 = managementSources.filter((s) => !s.includes(":"));
    const v6 = managementSources.filter((s) => s.includes(":"));
    const L = [
        `table ${TABLE_FAMILY} ${TABLE_NAME} {`,
        '\tcomment "pinhole FAIL-SAFE: the persisted ruleset did not load at boot; management SSH only"',
        "\tchain input {",
        "\t\ttype filter hook input priority filter; policy drop;",
        '\t\tiif "lo" accept',
        ...(v4.length ? [`\t\tip saddr { ${v4.join(", ")} } tcp dport ${sshPort} accept`] : []),
        ...(v6.length ? [`\t\tip6 saddr { ${v6.join(", ")} } tcp dport ${sshPort} accept`] : []),
        "\t\tct state established,related accept",
        "\t\ticmpv6 type { nd-neighbor-solicit, nd-neighbor-advert, nd-router-advert, packet-too-big } accept",
        "\t\ticmp type { destination-unreachable, time-exceeded } accept",
        "\t}",
        "}",
        "",
    ];
    return replaceTableTransaction(L.join("\n"));
}

// Other firewall managers on booted lab nodes, set up the way a node image would have them (all packages
// are in the booted image, off by default): Debian's nftables.service with its stock /etc/nftables.conf,
// ufw enabled with its default deny, firewalld running (nftables backend), iptables-nft rules with a DROP
// policy, and Docker's table layout (docker.io itself needs a container runtime the nspawn node cannot
// give it, so its iptables chains are reproduced as Docker 20.10 creates them).
import { execInNode } from "./boot";
import type { LabNode } from "./shapes";

export type LabManager = "nftables.service" | "ufw" | "firewalld" | "iptables-drop" | "docker-tables";
export const LAB_MANAGERS: readonly LabManager[] = [
    "nftables.service",
    "ufw",
    "firewalld",
    "iptables-drop",
    "docker-tables",
];

/** Shell run inside the node to turn the manager on (enabled, so it also comes back at boot). */
export function managerSetup(m: LabManager): string {
    switch (m) {
        case "nftables.service":
            return "systemctl unmask nftables.service; systemctl enable --now nftables.service";
        // SSH allowed first, as on any node managed over SSH: ufw's default deny has no SSH rule, and without one
        // the node is simply unreachable (pinhole could not even look at it)
        case "ufw":
            return "systemctl unmask ufw.service; systemctl enable ufw.service && ufw allow 22/tcp && ufw --force enable";
        case "firewalld":
            return "systemctl unmask firewalld.service; systemctl enable --now firewalld.service && firewall-cmd --state";
        case "iptables-drop":
            return "iptables -A INPUT -p tcp --dport 22 -j ACCEPT && iptables -A INPUT -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT && iptables -P INPUT DROP";
        case "docker-tables":
            return [
                "iptables -N DOCKER",
                "iptables -N DOCKER-ISOLATION-STAGE-1",
                "iptables -N DOCKER-ISOLATION-STAGE-2",
                "iptables -N DOCKER-USER",
                "iptables -A DOCKER-USER -j RETURN",
                "iptables -A DOCKER-ISOLATION-STAGE-1 -j RETURN",
                "iptables -A DOCKER-ISOLATION-STAGE-2 -j RETURN",
                "iptables -P FORWARD DROP",
                "iptables -A FORWARD -j DOCKER-USER",
                "iptables -A FORWARD -j DOCKER-ISOLATION-STAGE-1",
                "iptables -t nat -N DOCKER",
                "iptables -t nat -A PREROUTING -m addrtype --dst-type LOCAL -j DOCKER",
                "iptables -t nat -A POSTROUTING -s 172.17.0.0/16 ! -o docker0 -j MASQUERADE",
            ].join(" && ");
    }
}

/** How to restart it (the test that pinhole's rules survive, or that the manager stays off after take-over). */
export function managerRestart(m: LabManager): string {
    switch (m) {
        case "nftables.service":
            return "systemctl restart nftables.service";
        case "ufw":
            return "systemctl restart ufw.service";
        case "firewalld":
            return "systemctl restart firewalld.service";
        case "iptables-drop":
            return "true";
        case "docker-tables":
            return "true";
    }
}

export async function enableManager(node: LabNode, m: LabManager): Promise<void> {
    const r = await execInNode(node, ["sh", "-c", managerSetup(m)], { timeoutMs: 60_000 });
    if (r.code !== 0)
        throw new Error(
            `lab: turning on ${m} on ${node.name} failed (exit ${r.code}): ${(r.stderr || r.stdout).trim()}`,
        );
}

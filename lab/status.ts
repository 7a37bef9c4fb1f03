// What the lab runs (LabStatus: nodes, vantages, router) as the API, the CLI and the tests see it.
import { hostKeyOf, nodeHealth, vantageHealthy } from "./node";
import { netnsExists } from "./net";
import { LabModel, LabPlan, PROVISIONER_ADDRESS } from "./shapes";
import { stackName } from "./stack";
import { KNOWN_HOSTS, readState, SSH_KEY } from "./state";
import type { Protocol, Role } from "../model/types";

export type Logger = (msg: string) => void;
export const defaultLog: Logger = (m) => process.stderr.write(`[lab] ${m}\n`);
export const quietLog: Logger = () => undefined;

export interface LabNodeStatus {
    name: string;
    role: Role;
    site: string;
    address: string;
    advertisedAddress?: string;
    /** Dual-stack lab: the IPv6 address (ULA, fd77::/48; the same from every site: no NAT for IPv6). */
    address6?: string;
    /** Address the provisioning host connects to. */
    sshHost: string;
    netns: string;
    sshPort: number;
    sshUser: string;
    sudo: boolean;
    /** Pinned host key, "ssh-ed25519 AAAA...". */
    hostKey: string;
    fqdn: string;
    arbiter: boolean;
    running: boolean;
    pids: { sshd?: number; nginx?: number; listener?: number };
}

export interface LabVantageStatus {
    name: string;
    vantage: string;
    description: string;
    site: null;
    address: string;
    /** Dual-stack lab only. */
    address6?: string;
    netns: string;
    /** Ports an external service serves (empty for client/admin). */
    ports: { protocol: Protocol; port: number }[];
    running: boolean;
}

export interface LabStatus {
    /** A lab exists and every node and service runs. */
    up: boolean;
    model?: LabModel;
    /** "boot" (systemd-nspawn nodes) or "process". */
    tier?: "boot" | "process";
    deployment?: string;
    stack?: string;
    stackFile?: string;
    provisioner: { address: string; address6?: string };
    /** The lab's SSH private key (root and the sudo user log in with it). */
    sshKey: string;
    /** known_hosts with every node's pinned key (written by up). */
    knownHosts: string;
    nodes: LabNodeStatus[];
    vantages: LabVantageStatus[];
    router?: { netns: string; address: string; nat: { node: string; advertised: string; internal: string }[] };
}

export function statusOf(
    plan: LabPlan,
    complete: boolean,
    stackFile?: string,
    stack = stackName(plan.model),
    tier?: "boot",
): LabStatus {
    const nodes: LabNodeStatus[] = plan.nodes.map((n) => {
        const h = netnsExists(n.netns) ? nodeHealth(n) : { healthy: false };
        const { healthy, ...pids } = h;
        return {
            name: n.name,
            role: n.role,
            site: n.site,
            address: n.address,
            ...(n.advertisedAddress ? { advertisedAddress: n.advertisedAddress } : {}),
            ...(n.address6 ? { address6: n.address6 } : {}),
            sshHost: n.sshHost,
            netns: n.netns,
            sshPort: 22,
            sshUser: n.sshUser,
            sudo: n.sudo,
            hostKey: hostKeyOf(n) ?? "",
            fqdn: n.fqdn,
            arbiter: n.arbiter,
            running: healthy,
            pids,
        };
    });
    const vantages: LabVantageStatus[] = plan.vantages.map((v) => ({
        name: v.name,
        vantage: v.vantage,
        description: v.description,
        site: null,
        address: v.address,
        ...(v.address6 ? { address6: v.address6 } : {}),
        netns: v.netns,
        ports: v.ports.map((p) => ({ protocol: p.protocol, port: p.port })),
        running: netnsExists(v.netns) && vantageHealthy(v) !== undefined,
    }));
    return {
        up: complete && nodes.every((n) => n.running) && vantages.every((v) => v.running),
        model: plan.model,
        tier: tier ?? "process",
        deployment: plan.deployment,
        stack,
        stackFile,
        provisioner: { ...plan.provisioner },
        sshKey: SSH_KEY,
        knownHosts: KNOWN_HOSTS,
        nodes,
        vantages,
        ...(plan.router
            ? { router: { netns: plan.router.netns, address: plan.router.outerAddress, nat: plan.router.nat } }
            : {}),
    };
}

/** What the lab runs now (up: false and no nodes when there is no lab). */
export async function labStatus(): Promise<LabStatus> {
    const s = readState();
    if (!s)
        return {
            up: false,
            provisioner: { address: PROVISIONER_ADDRESS },
            sshKey: SSH_KEY,
            knownHosts: KNOWN_HOSTS,
            nodes: [],
            vantages: [],
        };
    return statusOf(s.plan, s.complete, s.stackFile, s.stack, s.tier);
}

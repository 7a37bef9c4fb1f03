// How pinhole reaches a node over SSH, from the node's validated config: the one builder the program (resource
// inputs), the provider's import and the tools (verify, narrow) use. Pure.
import type { NodeSpec } from "../model/types";
import type { FIREWALL } from "../provider/schema";
import type { InputsOf } from "../provider/schema-types";
import type { SshConnectionInput } from "./ssh";

/** SSH details the provider connects with (the private key travels separately, as a secret). */
export type NodeConnection = InputsOf<typeof FIREWALL>["connection"];

export function connectionOf(node: NodeSpec): NodeConnection {
    const c: NodeConnection = {
        host: node.ssh.host,
        port: node.ssh.port,
        user: node.ssh.user,
        hostKey: node.ssh.hostKey,
        sudo: node.ssh.sudo,
    };
    if (node.ssh.bastion) c.bastion = { ...node.ssh.bastion };
    return c;
}

/** The same with the private key, for a tool that runs scripts on the node itself. */
export function sshConnectionOf(node: NodeSpec, privateKey: string): SshConnectionInput {
    return { ...connectionOf(node), privateKey, node: node.name };
}

// The schema's shared pieces (provider/schema.ts): property helpers and how a resource reaches a node over SSH.
import type { ArraySpec, ObjectSpec } from "./schema-types";
import { LIMITS } from "../model/limits";

export const str = (description: string) => ({ type: "string", description }) as const;
export const secretStr = (description: string) => ({ type: "string", description, secret: true }) as const;
export const strList = (description: string) =>
    ({ type: "array", description, items: { type: "string", description } }) as const satisfies ArraySpec;

const ENDPOINT = {
    type: "object",
    token: "pinhole:node:SshEndpoint",
    description: "An SSH server: address, port, login and pinned host key.",
    properties: {
        host: str("Address or name to connect to."),
        port: { type: "integer", description: "SSH port.", minimum: LIMITS.port.min, maximum: LIMITS.port.max },
        user: str("Login user (non-root users need passwordless `sudo -n`)."),
        hostKey: str("The server's pinned public host key (`ssh-ed25519 AAAA...`); every other key is refused."),
    },
    required: ["host", "port", "user", "hostKey"],
} as const satisfies ObjectSpec;

export const CONNECTION = {
    type: "object",
    token: "pinhole:node:Connection",
    description: "How the provider reaches a node over SSH (the private key is a separate secret input).",
    properties: {
        ...ENDPOINT.properties,
        sudo: { type: "boolean", description: "Run privileged steps with `sudo -n` when the user is not root." },
        bastion: { ...ENDPOINT, description: "Jump host the connection goes through (ProxyCommand `ssh -W`)." },
    },
    required: ["host", "port", "user", "hostKey", "sudo"],
} as const satisfies ObjectSpec;

/** Inputs of every resource that reaches a node: changing them alone never re-applies anything. */
export const CONNECTION_INPUTS = ["connection", "privateKey"] as const;

export const NODE_INPUTS = {
    node: str("Name of the node (from the stack config), for messages and resource IDs."),
    connection: CONNECTION,
    privateKey: secretStr("SSH private key (OpenSSH/PEM) the provider logs in with."),
} as const;

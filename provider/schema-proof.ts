// pinhole:node:Proof, the proof after apply (provider/proof.ts): its schema, with the other types' in provider/schema.ts.
import type { ObjectSpec, ResourceSpec } from "./schema-types";
import { CONNECTION, secretStr, str, strList } from "./schema-node";
import { LIMITS } from "../model/limits";

const TARGETS = strList(
    'One probe per line: "<open|blocked> <tcp|udp> <to> <address> <port> <why>" (model/proof.ts targetLine); open: must connect (or be refused by the peer: nothing listens), blocked: must time out.',
);

const PROOF_NODE = {
    type: "object",
    token: "pinhole:node:ProofNode",
    description: "One node the proof probes from, and what it probes.",
    properties: {
        node: str("Name of the node."),
        connection: CONNECTION,
        targets: TARGETS,
        openings: strList(
            "The listen audit: the node's inbound openings, one line per port/protocol, \"<port>/<tcp|udp> <any|some> <services> <peers>\" (model/proof-listen.ts openingLine). When given, the probe session also reads the node's listening sockets (`ss -Hlntu`) and a passing proof warns of dead pinholes, listeners no opening covers and services bound to all addresses where only some peers are admitted.",
        ),
    },
    required: ["node", "connection", "targets"],
} as const satisfies ObjectSpec;

export const PROOF = {
    token: "pinhole:node:Proof",
    description:
        "The proof after apply: once every Firewall (and WebServer) of the stack is applied, probes every required inter-node flow and a bounded sample of must-deny ones from each node over SSH, and pinhole's own SSH path from the provisioning host; any probe that does not see what the policy says fails the `up`, naming source, destination, port and what was seen. Changes nothing on any node, except with `rollback` on a failed proof.",
    inputs: {
        nodes: { type: "array", description: "Every node the proof probes from.", items: PROOF_NODE },
        hostTargets: {
            ...TARGETS,
            description:
                "Probes from the provisioning host (the machine running `pulumi up`), in the same form as a node's targets.",
        },
        privateKey: secretStr("SSH private key (OpenSSH/PEM) the provider logs in with."),
        rulesetDigest: str(
            "SHA-256 over every node's ruleset and when each Firewall and WebServer was last applied: the proof runs again whenever any of them changes.",
        ),
        timeoutSeconds: {
            type: "integer",
            description: "Seconds each probe may take to connect (every must-deny probe waits this long).",
            default: 2,
            minimum: LIMITS.proofTimeoutSeconds.min,
            maximum: LIMITS.proofTimeoutSeconds.max,
        },
        rollback: {
            type: "boolean",
            description:
                "Cluster rollback on a failed proof: every node whose Firewall this `up` applied goes back to the ruleset it ran before (the rollback target of its last apply), and the `up` fails with what was seen.",
            default: false,
        },
    },
    requiredInputs: ["nodes", "hostTargets", "privateKey", "rulesetDigest"],
    outputs: {
        provedAt: str("When the proof last passed (ISO 8601)."),
        probes: { type: "integer", description: "How many probes the last proof ran.", minimum: 0 },
        seconds: { type: "number", description: "How long the last proof took.", minimum: 0 },
        warnings: strList(
            "Probes that passed but are worth reading: a required port the firewall lets through with nothing listening, a UDP service that did not answer; and the listen audit's findings (`listening: ...`).",
        ),
    },
    import: "Not importable: the proof is no object on any node but a check the provider runs at `up`; `pulumi up` creates it (and runs it).",
} as const satisfies ResourceSpec;

// pinhole:proof: whether `pulumi up` ends with the proof after apply, how many must-deny probes it samples, how many probes in all, how long
// each probe may take, and whether a failed proof rolls back the nodes the `up` changed (components/proof.ts, provider/proof.ts).
import { ProofSettings } from "../types";
import { LIMITS } from "../limits";
import { DEFAULT_PROOF, PROOF_KEYS } from "./keys";
import { Problems, dot, readBool, readInt, readMap, root } from "./read";

export function readProof(v: unknown, pr: Problems): ProofSettings | undefined {
    const path = root("proof");
    const proof: ProofSettings = { ...DEFAULT_PROOF };
    if (v === undefined) return proof;
    const m = readMap(v, path, pr, PROOF_KEYS);
    if (!m) return undefined;
    const before = pr.errors.length;
    proof.enabled = readBool(m.enabled, dot(path, "enabled"), pr, proof.enabled);
    proof.rollback = readBool(m.rollback, dot(path, "rollback"), pr, proof.rollback);
    for (const [key, limit] of [
        ["denyPerNode", LIMITS.proofDenyPerNode],
        ["maxProbes", LIMITS.proofMaxProbes],
        ["timeoutSeconds", LIMITS.proofTimeoutSeconds],
    ] as const) {
        if (m[key] === undefined) continue;
        proof[key] = readInt(m[key], dot(path, key), pr, limit.min, limit.max) ?? proof[key];
    }
    return pr.errors.length === before ? proof : undefined;
}

// Every numeric bound, once. The validator (model/config/), the provider's input schema (provider/schema.ts)
// and the docs (docs/stack-config.md, checked by test/unit/model/limits.test.ts) all read these.

export interface Limit {
    min: number;
    max: number;
    /** What the bound protects, for docs and messages. */
    why: string;
}

export const LIMITS = {
    rollbackSeconds: {
        min: 10,
        max: 600,
        why: "below 10 s a slow SSH handshake cannot confirm in time; above 600 s a lockout lasts too long",
    },
    rateLimitPerMinute: {
        min: 1,
        max: 100000,
        why: "new connections per source per minute on client-exposed services",
    },
    rateLimitBurst: { min: 1, max: 100000, why: "packets above the rate before the limit bites" },
    webWeight: { min: 0, max: 1000, why: "nginx upstream weight (0 = backup)" },
    port: { min: 1, max: 65535, why: "TCP/UDP port numbers" },
    validityDays: { min: 1, max: 3650, why: "certificate lifetime pinhole issues" },
    renewBeforeDays: { min: 1, max: 3649, why: "renewal window, less than validityDays" },
    proofDenyPerNode: { min: 0, max: 50, why: "must-deny probes per node in the proof, beyond one per port class" },
    proofMaxProbes: {
        min: 100,
        max: 20000,
        why: "probes in one proof; above it the required flows are sampled (model/probe-budget.ts)",
    },
    proofTimeoutSeconds: {
        min: 1,
        max: 30,
        why: "seconds a proof probe may take; every must-deny probe waits this long",
    },
    rolloutBatchSize: { min: 1, max: 1000, why: "nodes changed together in one rollout batch" },
    reasonLength: { min: 1, max: 200, why: "a reason is one line in rules, comments and the matrix" },
} as const satisfies Record<string, Limit>;

export type LimitName = keyof typeof LIMITS;

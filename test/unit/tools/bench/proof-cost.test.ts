// tools/bench/proof-cost.ts: what the proof adds to an up, from the two ups' times and the Proof's outputs.
import { expect } from "chai";
import { formatProofCost, proofCostOf, upFailureReason } from "../../../../tools/bench/proof-cost";

describe("bench: the proof's cost", () => {
    const cases: [string, number, number, Record<string, unknown>, Partial<ReturnType<typeof proofCostOf>>][] = [
        [
            "24 nodes",
            14_200,
            9_100,
            { probes: 912, seconds: 3.8 },
            { addedMs: 5_100, probes: 912, probesPerSecond: 240 },
        ],
        ["faster than the no-op (noise): never negative", 8_000, 9_000, { probes: 10, seconds: 1 }, { addedMs: 0 }],
        ["outputs missing: zeros, not NaN", 5_000, 4_000, {}, { probes: 0, proofSeconds: 0, probesPerSecond: 0 }],
        ["seconds not a number", 5_000, 4_000, { probes: 5, seconds: "3" }, { probesPerSecond: 0 }],
    ];
    for (const [name, up, noop, outputs, want] of cases)
        it(name, () => expect(proofCostOf(up, noop, outputs)).to.include(want));
    it("one report line per measured size", () => {
        const lines = formatProofCost([
            { nodes: 6 },
            { nodes: 24, proof: proofCostOf(14_200, 9_100, { probes: 912, seconds: 3.8 }) },
            { nodes: 48, proof: { error: "39226 probes: at most 20000" } },
        ]);
        expect(lines).to.deep.equal([
            "proof after apply at 24 nodes: 912 probes in 3.8 s (240 probes/s), adds 5.1 s to an up (14.2 s with only the proof to run)",
            "proof after apply at 48 nodes: FAILED: 39226 probes: at most 20000",
        ]);
    });
    const failures: [string, string, string][] = [
        ["the engine's own problem line", "code: -2\n stderr: x\nerror: stack has a problem: no such plugin\n", "no such plugin"],
        [
            "the proof's error and the probes under it, not the CommandError's first line",
            [
                "code: -2",
                " stdout: ",
                "    pinhole:node:Proof bench-proof-run **updating failed** error: proof after apply failed (9000 probes in 40 s):",
                "      2 of 9000 probe(s) did not see what the policy says:",
                "        app-1 → db-1 (10.77.1.101) 27017/tcp: required but filtered (timed out)",
                "    error: update failed",
            ].join("\n"),
            "proof after apply failed (9000 probes in 40 s): | 2 of 9000 probe(s) did not see what the policy says: | app-1 → db-1 (10.77.1.101) 27017/tcp: required but filtered (timed out)",
        ],
        ["nothing better: the first line", "code: -2\nsomething", "code: -2"],
    ];
    for (const [name, message, want] of failures)
        it(`upFailureReason: ${name}`, () => expect(upFailureReason(message)).to.equal(want));
});

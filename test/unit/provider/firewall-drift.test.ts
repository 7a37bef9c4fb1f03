// The drift a firewall's live check finds (provider/firewall-drift.ts): the rules added on / missing from the node,
// both ways and counted (a rule twice in the live table is one added), and the warning that shows them in a
// preview that ran no refresh.
import { expect } from "chai";
import { driftWarning, listingDrift } from "../../../provider/firewall";

const APPLIED = `table inet pinhole {
  chain input {
    tcp dport 22 accept
    tcp dport 443 accept
  }
}`;

describe("firewall drift (live check)", () => {
    const CASES: [string, string, string[], string[]][] = [
        ["unchanged", APPLIED, [], []],
        [
            "a rule added",
            APPLIED.replace("tcp dport 22", "tcp dport 3306 accept\n    tcp dport 22"),
            ["tcp dport 3306 accept"],
            [],
        ],
        ["a rule removed", APPLIED.replace("    tcp dport 443 accept\n", ""), [], ["tcp dport 443 accept"]],
        [
            "a rule twice",
            APPLIED.replace("tcp dport 22 accept", "tcp dport 22 accept\n    tcp dport 22 accept"),
            ["tcp dport 22 accept"],
            [],
        ],
        [
            "the table gone",
            "",
            [],
            ["table inet pinhole {", "chain input {", "tcp dport 22 accept", "tcp dport 443 accept"],
        ],
    ];
    for (const [what, live, added, missing] of CASES)
        it(`listingDrift: ${what}`, () => {
            expect(listingDrift(APPLIED, live)).to.deep.equal({ rulesAddedOnNode: added, rulesMissingOnNode: missing });
        });

    it("driftWarning names the node and lists each rule under added or missing (only the lists that have rules)", () => {
        const w = driftWarning("uni-1", { rulesAddedOnNode: ["tcp dport 3306 accept"], rulesMissingOnNode: [] });
        expect(w.split("\n")).to.deep.equal([
            "node uni-1: the live table inet pinhole differs from the ruleset pinhole applied (the next `pulumi up` applies it again; `pulumi refresh` records the difference as drift):",
            "  rules added on the node:",
            "    tcp dport 3306 accept",
        ]);
        const both = driftWarning("a", { rulesAddedOnNode: ["x"], rulesMissingOnNode: ["y", "z"] });
        expect(both).to.contain("  rules added on the node:\n    x\n  rules missing on the node:\n    y\n    z");
    });
});

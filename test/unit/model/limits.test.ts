import { expect } from "chai";
import * as fs from "fs";
import * as path from "path";
import { LIMITS, LimitName } from "../../../model/limits";
import { parseClusterConfig } from "../../../model/config";
import { FIREWALL } from "../../../provider/schema";
import { rawCluster } from "../helpers/model-builders";

describe("model/limits: each bound once, used by validator, provider and docs", () => {
    it("docs/stack-config.md's limits table is exactly LIMITS", () => {
        const doc = fs.readFileSync(path.resolve(__dirname, "..", "..", "..", "docs", "stack-config.md"), "utf8");
        const table = /<!-- limits:begin -->\n([\s\S]*?)<!-- limits:end -->/.exec(doc)?.[1] ?? "";
        const rows = table.split("\n").slice(2).filter(Boolean);
        const want = Object.entries(LIMITS).map(([k, l]) => `| ${k} | ${l.min} | ${l.max} | ${l.why} |`);
        expect(rows).to.deep.equal(want);
    });

    it("the provider's rollbackSeconds bounds are the validator's", () => {
        const p = FIREWALL.inputs.rollbackSeconds as { minimum: number; maximum: number };
        expect([p.minimum, p.maximum]).to.deep.equal([LIMITS.rollbackSeconds.min, LIMITS.rollbackSeconds.max]);
    });

    const cases: [LimitName, (v: number) => Record<string, unknown>, string][] = [
        ["rollbackSeconds", (v) => ({ firewall: { rollbackSeconds: v } }), "pinhole:firewall.rollbackSeconds"],
        [
            "rateLimitPerMinute",
            (v) => ({ firewall: { rateLimit: { perMinute: v } } }),
            "pinhole:firewall.rateLimit.perMinute",
        ],
        ["rateLimitBurst", (v) => ({ firewall: { rateLimit: { burst: v } } }), "pinhole:firewall.rateLimit.burst"],
    ];
    for (const [name, set, where] of cases) {
        it(`${name}: the validator accepts ${LIMITS[name].min}..${LIMITS[name].max} and refuses one beyond each end`, () => {
            const run = (v: number) =>
                parseClusterConfig(
                    rawCluster("unified", [{ name: "uni-1", role: "unified", address: "10.0.0.1" }], set(v)),
                ).errors.filter((e) => e.path === where);
            expect(run(LIMITS[name].min)).to.deep.equal([]);
            expect(run(LIMITS[name].max)).to.deep.equal([]);
            expect(run(LIMITS[name].min - 1)).to.have.length(1);
            expect(run(LIMITS[name].max + 1)).to.have.length(1);
        });
    }
});

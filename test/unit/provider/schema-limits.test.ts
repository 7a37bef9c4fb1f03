// Limits once (issue 10, Deliver 4): the certificate lifetime and web weight bounds the validator applies are the
// ones the provider checks (its schema reads model/limits.ts), so a value the validator accepts is never refused at
// `pulumi up`, and one it refuses is refused by the provider too. (rollbackSeconds: test/unit/model/limits.test.ts.)
import { expect } from "chai";
import { LIMITS } from "../../../model/limits";
import { parseClusterConfig } from "../../../model/config";
import { checkInputs } from "../../../provider/schema-check";
import { LOCALLY_SIGNED_CERTIFICATE, SELF_SIGNED_CERTIFICATE, WEB_SERVER } from "../../../provider/schema";
import { ResourceSpec } from "../../../provider/schema-types";
import { rawCluster } from "../helpers/model-builders";

type Bounds = { minimum?: number; maximum?: number };
const bounds = (p: unknown) => {
    const b = p as Bounds;
    return [b.minimum, b.maximum];
};

describe("limits once: the provider's certificate and weight bounds are model/limits.ts", () => {
    for (const spec of [SELF_SIGNED_CERTIFICATE, LOCALLY_SIGNED_CERTIFICATE]) {
        it(`${spec.token}: validityDays ${LIMITS.validityDays.min}..${LIMITS.validityDays.max}, earlyRenewalDays up to ${LIMITS.renewBeforeDays.max}`, () => {
            expect(bounds(spec.inputs.validityDays)).to.deep.equal([LIMITS.validityDays.min, LIMITS.validityDays.max]);
            // The program derives the window (a third of a short lifetime): a fraction of a day is legal, so 0 is the floor.
            expect(bounds(spec.inputs.earlyRenewalDays)).to.deep.equal([0, LIMITS.renewBeforeDays.max]);
        });
    }

    it("the web server's weight targets take the validator's webWeight range", () => {
        const items = (WEB_SERVER.inputs.weights as { items: { properties: { weight: unknown } } }).items;
        expect(bounds(items.properties.weight)).to.deep.equal([LIMITS.webWeight.min, LIMITS.webWeight.max]);
    });

    const certInputs = (validityDays: number, earlyRenewalDays = 1) => ({
        privateKeyPem: "k",
        subject: { commonName: "x" },
        validityDays,
        earlyRenewalDays,
    });
    const providerRefuses = (spec: ResourceSpec, v: number) =>
        checkInputs(spec, certInputs(v)).failures.some((f) => f.property === "validityDays");
    const validatorRefuses = (v: number) =>
        parseClusterConfig(
            rawCluster("unified", [{ name: "uni-1", role: "unified", address: "10.0.0.1" }], {
                certificates: { validityDays: v },
            }),
        ).errors.some((e) => e.path === "pinhole:certificates.validityDays");

    for (const v of [
        LIMITS.validityDays.min - 1,
        LIMITS.validityDays.min,
        LIMITS.validityDays.max,
        LIMITS.validityDays.max + 1,
    ]) {
        it(`validityDays ${v}: the validator and the provider's check agree`, () => {
            expect(providerRefuses(SELF_SIGNED_CERTIFICATE as unknown as ResourceSpec, v)).to.equal(
                validatorRefuses(v),
            );
            expect(providerRefuses(LOCALLY_SIGNED_CERTIFICATE as unknown as ResourceSpec, v)).to.equal(
                validatorRefuses(v),
            );
        });
    }
});

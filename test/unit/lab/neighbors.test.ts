// lab/neighbors.ts ndiscThresholdsFor: room in the kernel's IPv6 neighbour table for every pair of lab namespaces.
import { expect } from "chai";
import { ndiscThresholdsFor } from "../../../lab/neighbors";
import { buildPlan, planNamespaces } from "../../../lab/shapes";

const DEFAULTS = { gc_thresh1: 128, gc_thresh2: 512, gc_thresh3: 1024 };

describe("lab: the IPv6 neighbour table's room", () => {
    const cases: [string, number, typeof DEFAULTS, typeof DEFAULTS | undefined][] = [
        ["the modular lab (8 nodes, 22 namespaces) fits the defaults", 22, DEFAULTS, undefined],
        ["32 namespaces: exactly 1024 pairs still fit", 32, DEFAULTS, undefined],
        [
            "48 nodes (62 namespaces, 3844 pairs): 4096, gc_thresh2 half of it",
            62,
            DEFAULTS,
            { gc_thresh1: 128, gc_thresh2: 2048, gc_thresh3: 4096 },
        ],
        ["raised before (8192): left alone", 62, { gc_thresh1: 1024, gc_thresh2: 4096, gc_thresh3: 8192 }, undefined],
        [
            "a higher gc_thresh2 is kept",
            62,
            { gc_thresh1: 128, gc_thresh2: 3000, gc_thresh3: 2048 },
            { gc_thresh1: 128, gc_thresh2: 3000, gc_thresh3: 4096 },
        ],
    ];
    for (const [what, n, current, want] of cases)
        it(what, () => expect(ndiscThresholdsFor(n, current)).to.deep.equal(want));

    it("the 48-node bench lab needs more than the defaults; the default lab does not", () => {
        const count = (nodes?: number) =>
            planNamespaces(buildPlan({ model: "modular", ...(nodes ? { nodes } : {}) })).length + 1;
        expect(ndiscThresholdsFor(count(48), DEFAULTS)).to.not.equal(undefined);
        expect(ndiscThresholdsFor(count(), DEFAULTS)).to.equal(undefined);
    });
});

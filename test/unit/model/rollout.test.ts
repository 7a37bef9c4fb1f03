// pinhole:rollout (issue 14.3): the steps a rollout makes of the nodes (model/rollout.ts), the config reader's
// messages (model/config/rollout.ts), and what a step's proof keeps of the probe targets (model/proof.ts).
import { expect } from "chai";
import { parseClusterConfig } from "../../../model/config";
import { describeRollout, modelRolloutSteps, rolloutSteps } from "../../../model/rollout";
import { scopedTargetLines } from "../../../model/proof";
import { NodeSpec, RolloutSettings } from "../../../model/types";
import { mustParse, rawCluster } from "../helpers/model-builders";

const NODES = [
    { name: "app-1", role: "application", address: "10.1.0.11", site: "east" },
    { name: "app-2", role: "application", address: "10.1.0.12", site: "west" },
    { name: "app-3", role: "application", address: "10.1.0.13", site: "east" },
    { name: "db-1", role: "database", address: "10.1.0.21", site: "east" },
    { name: "db-2", role: "database", address: "10.1.0.22", site: "west" },
    { name: "proxy-1", role: "webproxy", address: "10.1.0.10", site: "east" },
];
const spec = (n: (typeof NODES)[number]) => ({ name: n.name, role: n.role, site: n.site }) as NodeSpec;

describe("rollout steps (model/rollout.ts)", () => {
    const cases: [string, RolloutSettings, string[]][] = [
        [
            "canary 1, batches of 2",
            { canary: 1, batchSize: 2 },
            ["canary app-1", "batch 1 app-2 app-3", "batch 2 db-1 db-2", "batch 3 proxy-1"],
        ],
        [
            "no canary, batches of 4",
            { canary: 0, batchSize: 4 },
            ["batch 1 app-1 app-2 app-3 db-1", "batch 2 db-2 proxy-1"],
        ],
        [
            "canary by name keeps pinhole:nodes' order",
            { canary: ["proxy-1", "app-2"], batchSize: 10 },
            ["canary app-2 proxy-1", "batch 1 app-1 app-3 db-1 db-2"],
        ],
        [
            "by role, after a canary",
            { canary: 1, by: "role" },
            ["canary app-1", "batch 1 app-2 app-3", "batch 2 db-1 db-2", "batch 3 proxy-1"],
        ],
        [
            "by site, batches of 2 within each site",
            { canary: 0, by: "site", batchSize: 2 },
            ["batch 1 app-1 app-3", "batch 2 db-1 proxy-1", "batch 3 app-2 db-2"],
        ],
        [
            "canary only: the rest in one batch",
            { canary: 2 },
            ["canary app-1 app-2", "batch 1 app-3 db-1 db-2 proxy-1"],
        ],
    ];
    for (const [name, settings, want] of cases)
        it(name, () => {
            const steps = rolloutSteps(NODES.map(spec), settings);
            expect(steps.map((s) => `${s.label} ${s.nodes.join(" ")}`)).to.deep.equal(want);
            // every node in exactly one step
            expect(steps.flatMap((s) => s.nodes).sort()).to.deep.equal(NODES.map((n) => n.name).sort());
        });
    it("without pinhole:rollout: one step with every node, and preview's text names each step", () => {
        const model = mustParse(rawCluster("modular", NODES));
        expect(modelRolloutSteps(model)).to.deep.equal([{ label: "all nodes", nodes: NODES.map((n) => n.name) }]);
        expect(describeRollout(rolloutSteps(NODES.map(spec), { canary: 1, batchSize: 3 }))).to.equal(
            "rollout in 3 steps, each proven before the next: canary [app-1] → batch 1 [app-2, app-3, db-1] → batch 2 [db-2, proxy-1]",
        );
    });
});

describe("pinhole:rollout config (model/config/rollout.ts)", () => {
    const parse = (rollout: unknown, extra: Record<string, unknown> = {}) =>
        parseClusterConfig(rawCluster("modular", NODES, { rollout, ...extra }));
    it("reads canary, batchSize and by; {} (Pulumi.yaml's default) is no rollout", () => {
        const r = parse({ canary: "1", batchSize: 2, by: "site" });
        expect(r.errors, JSON.stringify(r.errors)).to.deep.equal([]);
        expect(r.model!.rollout).to.deep.equal({ canary: 1, batchSize: 2, by: "site" });
        expect(parse({}).model!.rollout).to.equal(undefined);
        expect(parse(undefined).model!.rollout).to.equal(undefined);
    });
    const bad: [string, unknown, Record<string, unknown>, string, RegExp][] = [
        ["unknown key", { canary: 1, batch: 2 }, {}, "pinhole:rollout.batch", /unknown key "batch"/],
        ["batchSize 0", { batchSize: 0 }, {}, "pinhole:rollout.batchSize", /out of range \(1-1000\)/],
        ["batchSize not a number", { batchSize: "three" }, {}, "pinhole:rollout.batchSize", /expected a whole number/],
        ["canary larger than the cluster", { canary: 7 }, {}, "pinhole:rollout.canary", /out of range \(0-6\)/],
        ["canary of every node", { canary: 6 }, {}, "pinhole:rollout.canary", /is every node/],
        [
            "canary names a node that is not there",
            { canary: ["app-9"] },
            {},
            "pinhole:rollout.canary[0]",
            /"app-9" is not a node/,
        ],
        ["canary names a node twice", { canary: ["app-1", "app-1"] }, {}, "pinhole:rollout.canary[1]", /named twice/],
        ["canary of hostile text", { canary: ["app-1\nx"] }, {}, "pinhole:rollout.canary[0]", /./],
        ["by something else", { by: "rack" }, {}, "pinhole:rollout.by", /"rack" is not one of site, role/],
        ["not a map", "canary", {}, "pinhole:rollout", /expected a map/],
        ["without the proof", { canary: 1 }, { proof: { enabled: false } }, "pinhole:rollout", /needs the proof/],
    ];
    for (const [name, rollout, extra, path, message] of bad)
        it(`refuses ${name}, naming ${path}`, () => {
            const r = parse(rollout, extra);
            expect(r.model).to.equal(undefined);
            const hit = r.errors.find((e) => e.path === path);
            expect(hit, JSON.stringify(r.errors)).to.not.equal(undefined);
            expect(hit!.message).to.match(message);
        });
});

describe("a rollout step's proof targets (model/proof.ts scopedTargetLines)", () => {
    const names = new Set(NODES.map((n) => n.name));
    const lines = [
        "open tcp db-1 10.1.0.21 27017 app to db",
        "blocked tcp db-2 10.1.0.22 27017 not in this step",
        "open tcp proxy-1 10.1.0.10 8443 later step",
        "open udp ntp-1 10.9.0.1 123 an external host",
        "blocked tcp admin-vantage 10.9.0.2 22 not a node",
    ];
    it("keeps targets on nodes of the step (and earlier) and outside the cluster, drops nodes of later steps", () => {
        expect(scopedTargetLines(lines, new Set(["app-1", "db-1"]), names)).to.deep.equal([
            lines[0],
            lines[3],
            lines[4],
        ]);
        expect(scopedTargetLines(lines, names, names)).to.deep.equal(lines);
    });
});

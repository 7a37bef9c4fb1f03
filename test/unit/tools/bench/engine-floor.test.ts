// tools/bench/engine-floor.ts: the throwaway project that measures the engine's own floor, and its report line.
import { expect } from "chai";
import * as yaml from "js-yaml";
import { floorProjectFiles, formatEngineFloor } from "../../../../tools/bench/engine-floor";
import { PRIVATE_KEY } from "../../../../provider/schema";

describe("bench: the engine's floor", () => {
    it("runs on pinhole's own language host and provider plugin, with trivial resources of that provider", () => {
        const files = floorProjectFiles("/srv/pinhole");
        const project = yaml.load(files["Pulumi.yaml"]) as Record<string, any>;
        expect(project.runtime).to.deep.equal({ name: "nodejs", options: { typescript: false } });
        expect(project.plugins.languages).to.deep.equal([{ name: "nodejs", path: "/srv/pinhole/scripts/langhost" }]);
        expect(project.plugins.providers).to.deep.equal([{ name: "pinhole", path: "/srv/pinhole/provider/bin" }]);
        expect(files["index.js"]).to.include(JSON.stringify(PRIVATE_KEY.token)).and.to.include("require('resources')");
    });
    it("one line per measured size, with the ratios to Ansible when it ran", () => {
        const lines = formatEngineFloor([
            { nodes: 6, noop: { ms: 4_000 }, preview: { ms: 3_500 } },
            {
                nodes: 24,
                noop: { ms: 5_100 },
                preview: { ms: 4_300 },
                engineFloor: { resources: 133, coldMs: 5_800, noopMs: 4_200, previewMs: 4_350 },
                ansible: { noopMs: 10_500, coldMs: 14_500 },
            },
            {
                nodes: 48,
                noop: { ms: 6_800 },
                preview: { ms: 6_000 },
                engineFloor: { resources: 265, coldMs: 7_000, noopMs: 5_000, previewMs: 5_100 },
            },
        ]);
        expect(lines).to.deep.equal([
            "engine floor at 24 nodes (133 trivial resources, no SSH): cold 5.80 s, no-op 4.20 s, preview 4.35 s; pinhole's no-op 5.10 s, preview 4.30 s; floor/Ansible: no-op 0.40x, cold 0.40x",
            "engine floor at 48 nodes (265 trivial resources, no SSH): cold 7.00 s, no-op 5.00 s, preview 5.10 s; pinhole's no-op 6.80 s, preview 6.00 s",
        ]);
    });
});

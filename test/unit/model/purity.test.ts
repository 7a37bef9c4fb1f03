import { expect } from "chai";
import * as fs from "fs";
import * as path from "path";

// model/ is pure: config reading (files, the pulumi CLI) lives in tools/common/ and program/, so every entry point can share it.
describe("model/ does no I/O", () => {
    const root = path.resolve(__dirname, "..", "..", "..", "model");
    const files = (dir: string): string[] =>
        fs
            .readdirSync(dir, { withFileTypes: true })
            .flatMap((e) =>
                e.isDirectory()
                    ? files(path.join(dir, e.name))
                    : e.name.endsWith(".ts")
                      ? [path.join(dir, e.name)]
                      : [],
            );
    for (const file of files(root)) {
        it(`${path.relative(root, file)} imports no fs, child_process, net or yaml module`, () => {
            const text = fs.readFileSync(file, "utf8");
            const imports = [...text.matchAll(/from "([^"]+)"|require\("([^"]+)"\)/g)].map((m) => m[1] ?? m[2]);
            expect(
                imports.filter((m) => /^(fs|fs\/promises|child_process|net|http|https|js-yaml|node:.*)$/.test(m)),
            ).to.deep.equal([]);
        });
    }
});

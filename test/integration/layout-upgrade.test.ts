// Issue 12's layout change moved files (lib/ → tools/ and program/, SSH and on-node scripts → remote/): a stack
// brought up by the code before the move must preview no changes with today's code. Type tokens and resource names
// do not depend on file paths, and this test holds it to that with the real engine on the lab: the code as it was
// (a git worktree of PRE_LAYOUT) runs `pulumi up`, then today's code previews the same stack with
// --expect-no-changes.
import { expect } from "chai";
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { EngineEvent, LocalWorkspace, Stack } from "@pulumi/pulumi/automation";
import { labDown, labUp, LabStatus } from "../../lab";
import { PROJECT_ROOT, usePulumiEnv } from "../../tools/common/pulumi-env";

const log = (m: string) => process.stderr.write(`      · ${m}\n`);
/** The last commit of main before the layout change (and before the one-time reformat). */
const PRE_LAYOUT = "700c67a0";
const quiet = { onOutput: () => undefined };

describe("layout change on the lab (real engine): a stack brought up before it previews no changes", function () {
    this.timeout(1_800_000);
    let env: Record<string, string>;
    let lab: LabStatus;
    let stack: Stack | undefined;
    let oldCheckout: string | undefined;

    before(async function () {
        try {
            execFileSync("git", ["-C", PROJECT_ROOT, "cat-file", "-e", `${PRE_LAYOUT}^{commit}`], { stdio: "ignore" });
        } catch {
            this.skip(); // a shallow clone without the commit (the test needs the code as it was)
        }
        env = usePulumiEnv();
        // IPv4 only: the old checkouts this test runs predate the dual-stack lab
        lab = await labUp({ model: "standalone", ipv6: false, log, stack: "test-layout" });
    });
    after(async () => {
        await stack?.destroy({ continueOnError: true, ...quiet }).catch(() => undefined);
        if (oldCheckout)
            execFileSync("git", ["-C", PROJECT_ROOT, "worktree", "remove", "--force", oldCheckout], {
                stdio: "ignore",
            });
        if (lab) await labDown({ log: () => undefined });
    });

    it("up with the code before the move, then today's preview: every resource the same", async () => {
        oldCheckout = fs.mkdtempSync(path.join(os.tmpdir(), "pinhole-pre-layout-"));
        fs.rmdirSync(oldCheckout);
        execFileSync("git", ["-C", PROJECT_ROOT, "worktree", "add", "--detach", oldCheckout, PRE_LAYOUT], {
            stdio: "ignore",
        });
        fs.symlinkSync(path.join(PROJECT_ROOT, "node_modules"), path.join(oldCheckout, "node_modules"));
        fs.copyFileSync(lab.stackFile!, path.join(oldCheckout, "stacks", path.basename(lab.stackFile!)));
        const oldStack = await LocalWorkspace.selectStack(
            { stackName: lab.stack!, workDir: oldCheckout },
            { envVars: env },
        );
        let oldOut = "";
        const oldUp = await oldStack.up({ onOutput: (o) => (oldOut += o) }).catch((e: Error) => {
            throw new Error(
                `the pre-layout code's up failed: ${e.message}\n${oldOut.split("\n").slice(-40).join("\n")}`,
            );
        });
        expect(oldUp.summary.result).to.equal("succeeded");
        const created = oldUp.summary.resourceChanges?.create ?? 0;
        expect(created, "the old code created the stack's resources").to.be.greaterThan(3);

        stack = await LocalWorkspace.selectStack({ stackName: lab.stack!, workDir: PROJECT_ROOT }, { envVars: env });
        const events: EngineEvent[] = [];
        await stack.preview({ onEvent: (e) => events.push(e) });
        const steps = events.filter((e) => e.resourcePreEvent).map((e) => e.resourcePreEvent!.metadata);
        expect(steps.length, "preview saw the stack's resources").to.be.greaterThan(3);
        // The proof after apply (on by default) came after the old code: its two resources are new, not moved.
        const proof = (m: { type: string; op: string }) =>
            m.op === "create" && ["pinhole:index:ClusterProof", "pinhole:node:Proof"].includes(m.type);
        expect(
            steps
                .filter((m) => m.op !== "same" && !proof(m))
                .map((m) => `${m.urn}: ${m.op} ${Object.keys(m.detailedDiff ?? {})}`),
        ).to.deep.equal([]);
        log(`${steps.length} resources, all the same after the layout change`);
    });
});

// The proof's cluster rollback (pinhole:proof.rollback): the node-side script run in sh with nft stubbed and the
// node's directories moved under a temporary one; which applies a failed proof undoes; the failed up's message.
import { expect } from "chai";
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { confirmScript, EXIT, rollbackScript } from "../../../remote/firewall-scripts";
import { removeTableTransaction } from "../../../render/nftables";
import {
    AppliedFirewall,
    forgetApplies,
    recordApply,
    rollbackOutcome,
    rollbackReport,
    rollbackTargets,
} from "../../../provider/proof-rollback";
import { runProof } from "../../../provider/proof";

const OLD = "table inet pinhole\ndelete table inet pinhole\ntable inet pinhole { # the previous one\n}\n";
const NEW = "table inet pinhole\ndelete table inet pinhole\ntable inet pinhole { # the new one\n}\n";

describe("rollbackScript: a node back on the rollback target its last confirmed apply kept (sh, nft stubbed)", () => {
    let dir: string;
    const p = (rel: string) => path.join(dir, rel);
    beforeEach(() => {
        dir = fs.mkdtempSync(path.join(os.tmpdir(), "pinhole-rollback-"));
        for (const d of ["etc", "run", "systemd/sysinit.target.wants", "systemd/nftables.service.d"])
            fs.mkdirSync(p(d), { recursive: true });
        fs.writeFileSync(p("etc/firewall.nft"), NEW);
        fs.writeFileSync(p("etc/firewall.owner"), "app-1-abc\n");
        fs.writeFileSync(p("systemd/pinhole-firewall.service"), "[Unit]\n");
    });
    afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

    /** Runs the script with the node's paths under `dir`; nft logs its arguments and fails on a file holding "BAD". */
    function run(script: string): { code: number; stdout: string; stderr: string; nft: string[] } {
        const moved = script
            .replaceAll("/etc/systemd/system", p("systemd"))
            .replaceAll("/etc/pinhole", p("etc"))
            .replaceAll("/run/pinhole", p("run"));
        const stub = `nft() { echo "$*" >> ${p("nft.log")}; if [ "$1" = -f ] && grep -q BAD "$2"; then return 1; fi; }\n`;
        const r = spawnSync("sh", ["-c", stub + moved], { encoding: "utf8" });
        const log = fs.existsSync(p("nft.log")) ? fs.readFileSync(p("nft.log"), "utf8").trim().split("\n") : [];
        return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr, nft: log };
    }
    const target = (content: string, token = "t1") => {
        fs.writeFileSync(p("etc/firewall.prev.nft"), content);
        fs.writeFileSync(p("etc/firewall.prev.token"), `${token}\n`);
    };

    it("confirm keeps its apply's rollback target and token, for the proof's rollback", () => {
        const c = confirmScript("t1", "app-1-abc");
        expect(c).to.contain("mv /run/pinhole/firewall.t1.prev /etc/pinhole/firewall.prev.nft.tmp");
        expect(c).to.contain("printf '%s\\n' t1 > /etc/pinhole/firewall.prev.token");
    });

    it("previous ruleset: loaded with one nft -f, persisted for boot, the target used up", () => {
        target(OLD);
        const r = run(rollbackScript("t1"));
        expect(r.code, r.stderr).to.equal(0);
        expect(r.stdout).to.match(/^rolled-back=previous$/m);
        expect(r.nft[0]).to.equal(`-f ${p("etc/firewall.prev.nft")}`);
        expect(fs.readFileSync(p("etc/firewall.nft"), "utf8")).to.equal(OLD);
        expect(fs.existsSync(p("etc/firewall.prev.nft")) || fs.existsSync(p("etc/firewall.prev.token"))).to.equal(
            false,
        );
        expect(fs.existsSync(p("systemd/pinhole-firewall.service"))).to.equal(true);
    });

    it("no table before (the up was the node's first apply): the table, persisted ruleset, owner and unit go", () => {
        target(removeTableTransaction());
        const r = run(rollbackScript("t1"));
        expect(r.code, r.stderr).to.equal(0);
        expect(r.stdout).to.match(/^rolled-back=none$/m);
        for (const f of ["etc/firewall.nft", "etc/firewall.owner", "systemd/pinhole-firewall.service"])
            expect(fs.existsSync(p(f)), f).to.equal(false);
    });

    it("another apply confirmed since (or no target kept): refused, nothing loaded", () => {
        target(OLD, "t0");
        const r = run(rollbackScript("t1"));
        expect(r.code).to.equal(EXIT.noRollbackTarget);
        expect(r.stderr).to.contain("no rollback target of apply t1 on this node (last confirmed apply: t0)");
        expect(r.nft.filter((l) => l.startsWith("-f"))).to.deep.equal([]);
        fs.rmSync(p("etc/firewall.prev.nft"));
        fs.writeFileSync(p("etc/firewall.prev.token"), "t1\n");
        expect(run(rollbackScript("t1")).code).to.equal(EXIT.noRollbackTarget);
        expect(fs.readFileSync(p("etc/firewall.nft"), "utf8")).to.equal(NEW);
    });

    it("nft refuses the previous ruleset: exit rollbackFailed, the new one stays persisted", () => {
        target("BAD\n");
        const r = run(rollbackScript("t1"));
        expect(r.code).to.equal(EXIT.rollbackFailed);
        expect(r.stderr).to.contain("nft refused the previous ruleset");
        expect(fs.readFileSync(p("etc/firewall.nft"), "utf8")).to.equal(NEW);
    });
});

describe("provider/proof-rollback.ts: what a failed proof undoes and how the up says it", () => {
    const conn = {
        host: "10.77.1.11",
        port: 22,
        user: "root",
        hostKey: "ssh-ed25519 AAAA",
        sudo: false,
        privateKey: "k",
    };
    const a = (node: string, token: string): AppliedFirewall => ({ node, token, conn: { ...conn, node } });

    it("targets: the proof's nodes this command applied, in the proof's order; others are left alone", () => {
        const applied = [a("proxy-1", "t2"), a("app-1", "t1"), a("elsewhere", "t9")];
        expect(rollbackTargets(applied, ["app-1", "db-1", "proxy-1"]).map((x) => `${x.node} ${x.token}`)).to.deep.equal(
            ["app-1 t1", "proxy-1 t2"],
        );
        expect(rollbackTargets([], ["app-1"])).to.deep.equal([]);
    });

    const ssh = () => "SSH refused";
    const cases: [{ code: number; stdout: string; stderr: string }, string, RegExp | undefined][] = [
        [{ code: 0, stdout: "rolled-back=previous\n--- listing\n", stderr: "" }, "previous", undefined],
        [{ code: 0, stdout: "rolled-back=none\n", stderr: "" }, "none", undefined],
        [{ code: 0, stdout: "", stderr: "" }, "failed", /did not say what it did/],
        [{ code: 255, stdout: "", stderr: "x" }, "failed", /^SSH refused$/],
        [{ code: EXIT.noRollbackTarget, stdout: "", stderr: "no rollback target\n" }, "failed", /left as it is/],
        [{ code: EXIT.rollbackFailed, stdout: "", stderr: "nft refused\n" }, "failed", /^exit 23: nft refused$/],
    ];
    for (const [r, outcome, detail] of cases)
        it(`outcome of exit ${r.code} ${JSON.stringify(r.stdout.split("\n")[0])}: ${outcome}`, () => {
            const o = rollbackOutcome("app-1", r, ssh);
            expect(o.outcome).to.equal(outcome);
            if (detail) expect(o.detail).to.match(detail);
            else expect(o.detail).to.equal(undefined);
        });

    it("report: one line per node, a headline that says whether every node is back", () => {
        const ok = rollbackReport([
            { node: "app-1", outcome: "previous" },
            { node: "proxy-1", outcome: "none" },
        ]);
        expect(ok).to.contain("every node this up changed is back on its previous ruleset (2)");
        expect(ok).to.contain("  app-1: back on its previous ruleset\n");
        expect(ok).to.contain("  proxy-1: back to no pinhole table (this up was its first apply)");
        expect(ok).to.contain("the next `pulumi up` applies them again");
        const bad = rollbackReport([
            { node: "app-1", outcome: "previous" },
            { node: "db-1", outcome: "failed", detail: "SSH refused" },
        ]);
        expect(bad).to.contain("1 of 2 node(s) could NOT be rolled back");
        expect(bad).to.contain("  db-1: NOT rolled back: SSH refused");
        expect(rollbackReport([])).to.contain("nothing to roll back");
    });

    it("a failed proof with rollback on says what it rolled back; off, it touches nothing", async () => {
        forgetApplies();
        recordApply(a("elsewhere", "t1")); // not one of the proof's nodes: left alone, no SSH
        const failure = async (rollback: boolean) => {
            // port 1 on loopback refuses: a must-deny probe that is refused got through, so the proof fails
            const hostTargets = ["blocked tcp lo 127.0.0.1 1 must time out"];
            try {
                await runProof({
                    nodes: [],
                    hostTargets,
                    privateKey: "k",
                    rulesetDigest: "d",
                    timeoutSeconds: 1,
                    rollback,
                });
            } catch (e) {
                return (e as Error).message;
            }
            return "";
        };
        const on = await failure(true);
        expect(on).to.contain("proof after apply failed");
        expect(on).to.contain("this up applied no firewall, nothing to roll back");
        const off = await failure(false);
        expect(off).to.contain("proof after apply failed");
        expect(off).not.to.contain("rollback");
        forgetApplies();
    });
});

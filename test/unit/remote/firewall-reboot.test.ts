// A node that reboots between pinhole's apply and its confirmation (issue 17 item 4): the confirmation finds its
// run files gone (the boot emptied /run, the rollback timer went with it), says what the node booted, and the
// provider's message says which ruleset is in force. The confirm script runs for real with a fake nft.
import { expect } from "chai";
import { spawnSync } from "child_process";
import { createHash } from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { confirmScript, EXIT, parseAfterReboot } from "../../../remote/firewall-scripts";
import { rebootedDuringApply } from "../../../provider/firewall";
import { replaceTableTransaction } from "../../../render/nftables";

const RULESET =
    "table inet pinhole {\n\tchain input {\n\t\ttype filter hook input priority filter; policy drop;\n\t}\n}\n";
const sha = (s: string) => createHash("sha256").update(s).digest("hex");

/** Runs the confirmation of token t1 in a scratch root: `setup` lays out its etc/ and run/ first. */
function confirmIn(
    setup: (dir: string) => void,
    tableLoaded = true,
): { status: number | null; stdout: string; stderr: string } {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "pinhole-confirm-"));
    try {
        for (const d of ["bin", "etc", "run"]) fs.mkdirSync(path.join(dir, d));
        fs.writeFileSync(path.join(dir, "bin/nft"), `#!/bin/sh\nexit ${tableLoaded ? 0 : 1}\n`, { mode: 0o755 });
        setup(dir);
        const script = confirmScript("t1", "app-1-abc")
            .replace(/\/etc\/pinhole/g, `${dir}/etc`)
            .replace(/\/run\/pinhole/g, `${dir}/run`)
            .replace("PATH=/usr/sbin:/usr/bin:/sbin:/bin", `PATH=${dir}/bin:/usr/bin:/bin`);
        const r = spawnSync("sh", ["-c", script], { encoding: "utf8" });
        return { status: r.status, stdout: r.stdout, stderr: r.stderr };
    } finally {
        fs.rmSync(dir, { recursive: true, force: true });
    }
}

describe("a reboot between apply and confirmation", () => {
    it("the confirmation finds its run files gone and reports the persisted ruleset's hash, the boot and the live table", () => {
        const r = confirmIn((d) => {
            fs.writeFileSync(path.join(d, "etc/firewall.nft"), "old ruleset\n");
            fs.writeFileSync(path.join(d, "run/boot-state"), "loaded\n");
        });
        expect(r.status, r.stderr).to.equal(EXIT.runFilesGone);
        expect(r.stderr).to.contain("run files are gone");
        expect(parseAfterReboot(r.stdout)).to.deep.equal({
            persisted: sha("old ruleset\n"),
            boot: "loaded",
            live: true,
        });
    });

    it("no persisted ruleset, no boot record, no table: reported as such", () => {
        const r = confirmIn(() => undefined, false);
        expect(r.status).to.equal(EXIT.runFilesGone);
        expect(parseAfterReboot(r.stdout)).to.deep.equal({ persisted: "", boot: "", live: false });
    });

    it("a rollback that won the race is still `already decided`, not a reboot (its run files are there)", () => {
        const r = confirmIn((d) => {
            fs.writeFileSync(path.join(d, "run/firewall.t1.nft"), "new\n");
            fs.mkdirSync(path.join(d, "run/decided.t1"));
            fs.writeFileSync(path.join(d, "run/result.t1"), "rolled-back\n");
        });
        expect(r.status).to.equal(EXIT.alreadyDecided);
        expect(r.stderr).to.contain("too late").and.contain("rolled-back");
    });

    const cases: { name: string; seen: { persisted: string; boot: string; live: boolean }; says: RegExp[] }[] = [
        {
            name: "booted the previous ruleset",
            seen: { persisted: sha("old\n"), boot: "loaded", live: true },
            says: [
                /node app-2 NOT confirmed: the node rebooted/,
                /its boot loaded the persisted ruleset/,
                /the previous confirmed one: the new ruleset is not in force/,
                /run pulumi up again/,
            ],
        },
        {
            name: "the confirmation had already saved the new ruleset",
            seen: { persisted: sha(replaceTableTransaction(RULESET)), boot: "loaded", live: true },
            says: [/already the new one/, /table is loaded/],
        },
        {
            name: "a broken persisted ruleset: fail-safe",
            seen: { persisted: sha("broken\n"), boot: "failsafe", live: true },
            says: [/could NOT load the persisted ruleset and loaded the management-only fail-safe ruleset/],
        },
        {
            name: "first apply: nothing persisted",
            seen: { persisted: "", boot: "", live: false },
            says: [/no boot record/, /NOT loaded/, /none: the node runs without pinhole's table/],
        },
    ];
    for (const c of cases) {
        it(`the provider's message: ${c.name}`, () => {
            const m = rebootedDuringApply("app-2", c.seen, RULESET);
            for (const re of c.says) expect(m).to.match(re);
        });
    }
});

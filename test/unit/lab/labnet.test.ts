// labnet (lab/native/labnet.c), compiled and run in a private network namespace with only loopback (root, cc):
// a probe whose deadline passed before the prober read its socket reports what the kernel saw, not "timeout";
// `labnet inotify N` counts the inotify instances it could create.
import { expect } from "chai";
import { execFileSync, spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { LABNET_SRC } from "../../../lab/state";

const isRoot = process.getuid?.() === 0;
const has = (bin: string) => spawnSync("sh", ["-c", `command -v ${bin}`]).status === 0;

describe("labnet (compiled, private network namespace)", function () {
    this.timeout(60_000);
    let dir: string;
    let bin: string;
    before(function () {
        if (!isRoot || !has("cc") || !has("unshare")) this.skip();
        dir = fs.mkdtempSync(path.join(os.tmpdir(), "pinhole-labnet-"));
        bin = path.join(dir, "labnet");
        execFileSync("cc", ["-O2", "-Wall", "-o", bin, LABNET_SRC]);
    });
    after(() => dir && fs.rmSync(dir, { recursive: true, force: true }));

    /** Runs a script in a new network namespace (loopback only: nothing leaves it). */
    const inNetns = (script: string) =>
        execFileSync("unshare", ["--net", "sh", "-c", `ip link set lo up\n${script}`], {
            encoding: "utf8",
            env: { ...process.env, LABNET: bin, PIDFILE: path.join(dir, "listen.pid") },
        });

    it("a connection completed or refused by the time the prober looks is not a timeout (a late prober)", () => {
        const out = inNetns(
            [
                '"$LABNET" listen --tcp 9000 --daemon --pidfile "$PIDFILE" 2>/dev/null',
                'for i in $(seq 50); do [ -s "$PIDFILE" ] && break; sleep 0.1; done',
                // a deadline of 1 µs: every TCP probe is past it before its first event is read
                'printf "a tcp 127.0.0.1 9000\\nb tcp 127.0.0.1 1\\nc tcp ::1 9000\\n" | "$LABNET" probe --tcp-timeout 0.001',
                'kill "$(cat "$PIDFILE")"',
            ].join("\n"),
        );
        const got = Object.fromEntries(
            out
                .trim()
                .split("\n")
                .map((l) => l.split(" ").slice(0, 2)),
        );
        expect(got).to.deep.equal({ a: "connected", b: "refused", c: "connected" });
    });

    it("inotify N: how many instances it could create, at most N; refuses a bad N", () => {
        expect(execFileSync(bin, ["inotify", "2"], { encoding: "utf8" }).trim()).to.equal("2");
        const bad = spawnSync(bin, ["inotify", "0"], { encoding: "utf8" });
        expect(bad.status).to.equal(2);
        expect(bad.stderr).to.match(/N must be 1\.\.65536/);
    });
});

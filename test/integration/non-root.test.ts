// The non-root operator path (docs/operations.md): an operator without root runs pinhole against real nodes.
// A fresh clone owned by an unprivileged account, a lab Debian package missing: set-up skips the lab's packages
// with a note instead of stopping, and the real engine goes up and destroys the smoke program as that account,
// inside a network namespace that has only loopback (nothing leaves the machine). The account gets copies of
// this machine's caches (node_modules, Node.js, the toolchain) so the test does not rebuild them.
import { expect } from "chai";
import { execFileSync, spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { PROJECT_ROOT } from "../../tools/common/pulumi-env";

const USER = "pinhole-operator";
const sh = (q: string) => `'${q.replace(/'/g, `'\\''`)}'`;

describe("non-root operator: set-up and the real engine without root", function () {
    this.timeout(600_000);
    let home = "";
    let checkout = "";
    let fakeBin = "";

    /** Runs `script` as the operator (login-like environment, the system's PATH with `fakeBin` first), in a loopback-only netns. */
    function asOperator(script: string): { code: number; out: string } {
        // Go stays on PATH: toolchain/build.sh asks for it before it looks in the cache (an operator's first set-up builds).
        const goDir = path.dirname(execFileSync("bash", ["-c", "command -v go"]).toString().trim());
        const env = `env -i HOME=${sh(home)} USER=${USER} LANG=C.UTF-8 PATH=${sh(`${fakeBin}:${goDir}:/usr/local/bin:/usr/bin:/bin`)}`;
        const r = spawnSync(
            "unshare",
            [
                "--net",
                "--",
                "bash",
                "-c",
                `ip link set lo up && runuser -u ${USER} -- ${env} bash -c ${sh(`set -e; cd ${sh(checkout)}; ${script}`)}`,
            ],
            { encoding: "utf8", timeout: 540_000 },
        );
        return { code: r.status ?? -1, out: `${r.stdout}\n${r.stderr}` };
    }

    before(() => {
        if (spawnSync("id", ["-u", USER]).status !== 0)
            execFileSync("useradd", ["--no-create-home", "--shell", "/bin/bash", USER]);
        home = fs.mkdtempSync(path.join(os.tmpdir(), "pinhole-operator-"));
        checkout = path.join(home, "pinhole");
        execFileSync("git", ["clone", "-q", PROJECT_ROOT, checkout]);
        // What a first set-up would fetch or build, copied so the test takes seconds: npm packages and the caches.
        execFileSync("cp", ["-a", path.join(PROJECT_ROOT, "node_modules"), checkout]);
        const cache =
            process.env.PINHOLE_CACHE_DIR ??
            path.join(process.env.XDG_CACHE_HOME ?? path.join(os.homedir(), ".cache"), "pinhole");
        fs.mkdirSync(path.join(home, ".cache", "pinhole"), { recursive: true });
        for (const d of ["node", "toolchain"])
            execFileSync("cp", ["-a", path.join(cache, d), path.join(home, ".cache", "pinhole")]);
        // One of the lab's Debian packages reads as missing (dpkg-query says so for sslscan, the real one answers the rest).
        fakeBin = path.join(home, "bin");
        fs.mkdirSync(fakeBin);
        fs.writeFileSync(
            path.join(fakeBin, "dpkg-query"),
            `#!/bin/sh\nfor a in "$@"; do [ "$a" = sslscan ] && { echo "dpkg-query: no packages found matching sslscan" >&2; exit 1; }; done\nexec /usr/bin/dpkg-query "$@"\n`,
            { mode: 0o755 },
        );
        execFileSync("chown", ["-R", `${USER}:`, home]);
        fs.chmodSync(home, 0o755);
    });
    after(() => {
        if (home) fs.rmSync(home, { recursive: true, force: true });
        spawnSync("userdel", [USER]);
    });

    it("set-up skips the lab's Debian packages with a note, and finishes", () => {
        const r = asOperator("bash scripts/setup.sh");
        expect(r.code, r.out).to.equal(0);
        expect(r.out).to.match(/not root: skipping the lab's Debian packages \(missing: sslscan\)/);
        expect(r.out).not.to.match(/installing Debian packages/);
        expect(r.out).to.match(/set-up done/);
        // Everything set-up made in the checkout belongs to the operator.
        for (const p of [".pulumi/state", ".pulumi/passphrase"])
            expect(fs.statSync(path.join(checkout, p)).uid, p).to.equal(
                Number(execFileSync("id", ["-u", USER]).toString()),
            );
    });

    it("the real engine goes up, previews no changes and destroys as that account, offline", () => {
        const stack = `operator-${process.pid}`;
        const r = asOperator(
            [
                ". scripts/env.sh",
                'test "$(id -u)" != 0',
                "cd test/fixtures/smoke",
                `pulumi stack init ${stack} --non-interactive`,
                `pulumi up --yes --skip-preview --non-interactive --stack ${stack}`,
                `pulumi preview --expect-no-changes --non-interactive --stack ${stack}`,
                `pulumi destroy --yes --skip-preview --non-interactive --stack ${stack}`,
                `pulumi stack rm --yes --stack ${stack}`,
            ].join("; "),
        );
        expect(r.code, r.out).to.equal(0);
        expect(r.out).not.to.match(/permission denied|download|acquir/i);
    });
});

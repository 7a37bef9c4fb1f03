// remote/ssh.ts sessions: several scripts in one SSH connection, each with its own exit code, stdout and
// stderr; reads of one node that arrive together share one connection; every connection is counted
// (PINHOLE_SSH_LOG). `ssh` is replaced by a local stand-in on PATH that logs each connection and runs the remote
// command with the local /bin/sh — the session's framing runs for real.
import { expect } from "chai";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import {
    READ_LINGER_MS,
    readScript,
    runScript,
    sessionChunk,
    splitAtMarks,
    SshConnectionInput,
    withSession,
} from "../../../remote/ssh";

const HOST_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJd1f3mKZ7tXwA0nRk1cDqPpE3x0bq8l1r0r8wQxk0Yx";
const conn = (node: string, host = "10.0.0.1"): SshConnectionInput => ({
    host,
    port: 22,
    user: "root",
    hostKey: HOST_KEY,
    privateKey: "not a key\n",
    sudo: false,
    node,
});

describe("remote/ssh.ts: sessions", () => {
    let dir: string;
    let calls: string;
    let counted: string;
    const saved = { path: process.env.PATH, log: process.env.PINHOLE_SSH_LOG, mode: process.env.FAKE_SSH_MODE };
    const connections = () => (fs.existsSync(calls) ? fs.readFileSync(calls, "utf8").split("\n").filter(Boolean) : []);

    before(() => {
        dir = fs.mkdtempSync(path.join(os.tmpdir(), "pinhole-fake-ssh-"));
        calls = path.join(dir, "calls");
        counted = path.join(dir, "counted");
        // Logs the destination, then runs the remote command (the last argument) here; FAKE_SSH_MODE=refused fails like ssh.
        fs.writeFileSync(
            path.join(dir, "ssh"),
            `#!/bin/bash
for a; do dest="$prev"; prev="$a"; done
echo "$dest" >> ${JSON.stringify(calls)}
kex=none; for a; do case "$a" in KexAlgorithms=*) kex="$a";; esac; done
echo "$dest $kex" >> ${JSON.stringify(calls)}.kex
if [ "$FAKE_SSH_MODE" = refused ]; then echo "ssh: connect to host x port 22: Connection refused" >&2; exit 255; fi
exec /bin/sh -c "\${@: -1}"
`,
            { mode: 0o755 },
        );
        process.env.PATH = `${dir}:${process.env.PATH}`;
        process.env.PINHOLE_SSH_LOG = counted;
    });
    beforeEach(() => {
        fs.rmSync(`${calls}.kex`, { force: true });
        fs.rmSync(calls, { force: true });
        fs.rmSync(counted, { force: true });
        delete process.env.FAKE_SSH_MODE;
    });
    after(() => {
        process.env.PATH = saved.path;
        if (saved.log === undefined) delete process.env.PINHOLE_SSH_LOG;
        else process.env.PINHOLE_SSH_LOG = saved.log;
        if (saved.mode !== undefined) process.env.FAKE_SSH_MODE = saved.mode;
        fs.rmSync(dir, { recursive: true, force: true });
    });

    it("sessions that carry no secret put curve25519 first in the key exchange; the others keep the default", async () => {
        await readScript(conn("r", "10.0.0.7"), "true", { noSecrets: true });
        await runScript(conn("w", "10.0.0.8"), "true", { noSecrets: true });
        await readScript(conn("s", "10.0.0.9"), "true");
        await runScript(conn("t", "10.0.0.10"), "true");
        const saved = process.env.PINHOLE_SSH_KEX;
        process.env.PINHOLE_SSH_KEX = "default";
        try {
            await runScript(conn("d", "10.0.0.11"), "true", { noSecrets: true });
        } finally {
            if (saved === undefined) delete process.env.PINHOLE_SSH_KEX;
            else process.env.PINHOLE_SSH_KEX = saved;
        }
        const kex = fs.readFileSync(`${calls}.kex`, "utf8").split("\n").filter(Boolean).sort();
        expect(kex).to.deep.equal([
            "root@10.0.0.10 none",
            "root@10.0.0.11 none",
            "root@10.0.0.7 KexAlgorithms=^curve25519-sha256",
            "root@10.0.0.8 KexAlgorithms=^curve25519-sha256",
            "root@10.0.0.9 none",
        ]);
    });

    it("a read that may carry a secret never shares a session opened without the default key exchange", async () => {
        await Promise.all([
            readScript(conn("m", "10.0.0.12"), "true", { noSecrets: true }),
            readScript(conn("m", "10.0.0.12"), "true"),
        ]);
        expect(connections()).to.deep.equal(["root@10.0.0.12", "root@10.0.0.12"]);
    });

    it("splitAtMarks: each finished script's text (with or without a last newline), the unfinished rest kept", () => {
        const t = "abc123";
        const cases: [string, boolean, { text: string; code?: number }[], string][] = [
            ["out\n\nPINHOLE-END-abc123 0\n", true, [{ text: "out\n", code: 0 }], ""],
            ["no newline\nPINHOLE-END-abc123 7\nnext par", true, [{ text: "no newline", code: 7 }], "next par"],
            [
                "\nPINHOLE-END-abc123 0\n\nPINHOLE-END-abc123 3\n",
                true,
                [
                    { text: "", code: 0 },
                    { text: "", code: 3 },
                ],
                "",
            ],
            ["PINHOLE-END-other 0\n\nPINHOLE-END-abc12", true, [], "PINHOLE-END-other 0\n\nPINHOLE-END-abc12"],
            ["err\n\nPINHOLE-END-abc123\n", false, [{ text: "err\n" }], ""],
        ];
        for (const [buf, withCode, parts, rest] of cases)
            expect(splitAtMarks(buf, t, withCode), JSON.stringify(buf)).to.deep.equal({ parts, rest });
    });

    it("sessionChunk: the script as a here-document its own text cannot end", () => {
        const c = sessionChunk("echo hi", "tok");
        expect(c.startsWith("/bin/sh <<'PINHOLE_SCRIPT_tok'\necho hi\nPINHOLE_SCRIPT_tok\n")).to.equal(true);
        expect(c).to.contain("PINHOLE-END-tok");
    });

    it("runScript: one connection; exit code, stdout and stderr of the script, a here-document and `exit` inside it", async () => {
        const r = await runScript(
            conn("a"),
            "set -eu\necho out1\necho err1 >&2\ncat <<'EOF'\nPINHOLE-END-fake 0\nEOF\nprintf 'last'\nexit 4\n",
        );
        expect(r).to.deep.equal({ code: 4, stdout: "out1\nPINHOLE-END-fake 0\nlast", stderr: "err1\n" });
        expect(connections()).to.deep.equal(["root@10.0.0.1"]);
    });

    it("withSession: scripts in turn in one connection, a failing one does not end the others", async () => {
        const rs = await withSession(conn("a"), async (s) => [
            await s.run("set -e\nfalse\necho never\n"),
            await s.run("echo second; echo e2 >&2; exit 0"),
            await s.run(`echo "$SSH_CLIENT_TEST"`),
        ]);
        expect(rs.map((r) => r.code)).to.deep.equal([1, 0, 0]);
        expect(rs[1]).to.deep.equal({ code: 0, stdout: "second\n", stderr: "e2\n" });
        expect(connections()).to.have.length(1);
    });

    it("readScript: reads of one node that arrive together share a connection; another node gets its own", async () => {
        const [a1, a2, b1] = await Promise.all([
            readScript(conn("a"), "sleep 0.2; echo fw"),
            readScript(conn("a"), "echo web; exit 3"),
            readScript(conn("b", "10.0.0.2"), "echo b"),
        ]);
        expect([a1.stdout, a2.stdout, a2.code, b1.stdout]).to.deep.equal(["fw\n", "web\n", 3, "b\n"]);
        expect(connections().sort()).to.deep.equal(["root@10.0.0.1", "root@10.0.0.2"]);
        const count = fs
            .readFileSync(counted, "utf8")
            .split("\n")
            .filter(Boolean)
            .map((l) => JSON.parse(l).node)
            .sort();
        expect(count, "PINHOLE_SSH_LOG: one line per connection").to.deep.equal(["a", "b"]);
    });

    it("readScript: a read after the shared session went idle opens a new one", async () => {
        await readScript(conn("c", "10.0.0.3"), "true");
        await new Promise((r) => setTimeout(r, READ_LINGER_MS + 400));
        await readScript(conn("c", "10.0.0.3"), "true");
        expect(connections()).to.have.length(2);
    });

    it("a connection that fails fails every script sent to it with ssh's exit 255 and message", async () => {
        process.env.FAKE_SSH_MODE = "refused";
        const rs = await withSession(conn("a"), (s) => Promise.all([s.run("echo 1"), s.run("echo 2")]));
        for (const r of rs) {
            expect(r.code).to.equal(255);
            expect(r.stderr).to.match(/Connection refused/);
        }
    });

    it("a script that outlives its timeout kills the connection and says so", async () => {
        const r = await runScript(conn("a"), "sleep 5", { timeoutMs: 300 });
        expect(r.code).to.equal(255);
        expect(r.stderr).to.match(/ssh killed after 300 ms/);
    });
});

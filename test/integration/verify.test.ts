// `npm run verify` on the modular lab with the real engine: passes after an up, fails (exit 1, naming node and
// rule) after a rule is changed by hand on a node, and passes again after the next up; lists a dead pinhole once
// a node's service is stopped and a blocked listener once one is started on an unopened port. About 1-2 minutes.
import * as fs from "fs";
import { expect } from "chai";
import { execFileSync, spawn, spawnSync } from "child_process";
import * as path from "path";
import { EngineEvent, LocalWorkspace, Stack } from "@pulumi/pulumi/automation";
import { labDown, labUp, LabStatus } from "../../lab";
import { PROJECT_ROOT, usePulumiEnv } from "../../tools/common/pulumi-env";
import { waitForForeignLabHolders } from "../../tools/start/lab";
import { formatReport, reportOk } from "../../tools/verify";
import { runVerify } from "../../tools/verify/run";
import type { NodeListening } from "../../model/listening";

const log = (m: string) => process.stderr.write(`      · ${m}\n`);

/** `npm run verify -- --stack <stack> ...` as CI would run it. */
function verifyCli(stack: string, ...extra: string[]): { code: number; out: string } {
    const r = spawnSync(
        process.execPath,
        [
            path.join(PROJECT_ROOT, "node_modules/ts-node/dist/bin.js"),
            "--transpile-only",
            path.join(PROJECT_ROOT, "tools/verify/main.ts"),
            "--stack",
            stack,
            ...extra,
        ],
        { cwd: PROJECT_ROOT, encoding: "utf8", timeout: 180_000 },
    );
    return { code: r.status ?? -1, out: `${r.stdout}${r.stderr}` };
}

describe("verify: the live cluster against the stack (modular lab, real engine)", function () {
    this.timeout(300_000);
    let lab: LabStatus;
    let stack: Stack;

    before(async () => {
        const env = usePulumiEnv();
        await waitForForeignLabHolders(log);
        lab = await labUp({ model: "modular", log, stack: "test-verify-modular" });
        stack = await LocalWorkspace.createOrSelectStack(
            { stackName: lab.stack!, workDir: PROJECT_ROOT },
            { envVars: env },
        );
        // refresh: a lab rebuilt since the stack's last up has no tables yet
        const up = await stack.up({ refresh: true, onOutput: () => undefined });
        expect(up.summary.result).to.equal("succeeded");
    });
    after(async () => {
        await stack
            ?.destroy({ onOutput: () => undefined })
            .catch((e: Error) => log(`destroy: ${e.message.split("\n")[0]}`));
        await labDown({ log: () => undefined });
    });

    it("passes right after an up: tables, certificates and probes from every node", async () => {
        const report = await runVerify({ stack: lab.stack!, log });
        expect(reportOk(report), formatReport(report)).to.equal(true);
        expect(report.probes.length).to.be.greaterThan(lab.nodes.length * 4);
        const checked = new Set(report.findings.filter((f) => f.check === "firewall" && f.ok).map((f) => f.node));
        expect([...checked].sort()).to.deep.equal(lab.nodes.map((n) => n.name).sort());
        expect(report.findings.filter((f) => f.check === "certificate" && f.ok && !f.warning)).to.have.length(
            lab.nodes.filter((n) => n.role !== "database").length,
        );
    });

    it("fails (exit 1) after a rule is changed by hand, naming the node and the rule; passes again after the next up", async () => {
        const db1 = lab.nodes.find((n) => n.name === "db-1")!;
        execFileSync("ip", [
            "netns",
            "exec",
            db1.netns,
            "nft",
            "insert",
            "rule",
            "inet",
            "pinhole",
            "input",
            "tcp",
            "dport",
            "3306",
            "accept",
        ]);
        const drift = verifyCli(lab.stack!);
        log(
            drift.out
                .split("\n")
                .filter((l) => /FAIL|db-1:/.test(l))
                .slice(0, 6)
                .join("\n        "),
        );
        expect(drift.code, drift.out).to.equal(1);
        expect(drift.out).to.contain(
            "db-1: live table has an extra rule: tcp dport 3306 accept (chain input, position 1)",
        );
        expect(drift.out).to.match(/^FAIL: /m);

        const json = verifyCli(lab.stack!, "--json", "--no-probes");
        expect(json.code).to.equal(1);
        const parsed = JSON.parse(json.out) as {
            ok: boolean;
            findings: { node: string; check: string; ok: boolean; message: string }[];
        };
        expect(parsed.ok).to.equal(false);
        expect(parsed.findings.filter((f) => !f.ok).map((f) => `${f.node}: ${f.message}`)).to.deep.equal([
            "db-1: live table has an extra rule: tcp dport 3306 accept (chain input, position 1)",
        ]);

        // The next up (with refresh: the provider reads the live table) puts pinhole's ruleset back.
        const events: EngineEvent[] = [];
        await stack.up({ refresh: true, onOutput: () => undefined, onEvent: (e) => events.push(e) });
        // Counted by type: the proof after apply runs again too (a Proof update) whenever a firewall changes.
        const updated = (type: string) =>
            events
                .filter(
                    (e) => e.resourcePreEvent?.metadata.type === type && e.resourcePreEvent.metadata.op === "update",
                )
                .map((e) => e.resourcePreEvent!.metadata.urn.split("::").pop());
        expect(updated("pinhole:node:Firewall"), "only db-1's firewall is re-applied").to.deep.equal([
            "db-1-firewall-nft",
        ]);
        expect(updated("pinhole:node:Proof"), "the proof runs again").to.have.length(1);
        const again = verifyCli(lab.stack!);
        expect(again.code, again.out).to.equal(0);
        expect(again.out).to.match(/^PASS: \d+ passed, 0 failed/m);
    });

    it("--drops lists traffic to a closed port from a vantage (needs the kernel log of the lab's namespaces)", async function () {
        const db1 = lab.nodes.find((n) => n.name === "db-1")!;
        const client = lab.vantages.find((v) => v.vantage === "client")!;
        // The kernel writes nft log lines from a network namespace other than the host's only when the host has
        // net.netfilter.nf_log_all_netns=1 (the sysctl exists in the host's namespace only, not in the sandbox's).
        // Counted before and after: the ring buffer is the machine's and keeps earlier runs' lines of these addresses.
        const lines = () =>
            (spawnSync("dmesg", { encoding: "utf8" }).stdout ?? "")
                .split("\n")
                .filter(
                    (l) => l.includes("pinhole drop in: ") && l.includes(`SRC=${client.address} DST=${db1.address} `),
                ).length;
        // Outside a sandbox (npm test, CI) the test turns the host's switch on for its own traffic and puts it back.
        const ALL_NETNS = "/proc/sys/net/netfilter/nf_log_all_netns";
        let restore: string | undefined;
        try {
            const was = fs.readFileSync(ALL_NETNS, "utf8").trim();
            if (was === "0") {
                fs.writeFileSync(ALL_NETNS, "1");
                restore = was;
            }
        } catch {
            /* no such sysctl in this network namespace (the lab sandbox): the kernel log may stay silent */
        }
        const earlier = lines();
        const t0 = new Date(Date.now() - 2000);
        // 3306/tcp is never opened (lab/ports.ts): the SYNs are dropped and logged by db-1's input chain.
        spawnSync("ip", [
            "netns",
            "exec",
            client.netns,
            "timeout",
            "2",
            "bash",
            "-c",
            `exec 3<>/dev/tcp/${db1.address}/3306`,
        ]);
        const logged = lines() > earlier;
        if (restore !== undefined) fs.writeFileSync(ALL_NETNS, restore);
        if (!logged) {
            log("no drop line in the kernel log: the host has net.netfilter.nf_log_all_netns=0, skipped");
            this.skip();
        }
        const since = t0.toISOString(); // absolute: both runs below look at the same window
        const cli = verifyCli(lab.stack!, "--no-probes", "--drops", "--since", since);
        log(
            cli.out
                .split("\n")
                .filter((l) => /^drops since|^db-1: \d+ logged|3306\/tcp/.test(l))
                .join("\n        "),
        );
        expect(cli.out).to.match(/^db-1: [1-9]\d* logged drop\(s\) \(dmesg\)$/m);
        expect(cli.out).to.match(new RegExp(`^  in +${client.address.replace(/\./g, "\\.")} +3306/tcp +[1-9]`, "m"));
        const json = JSON.parse(verifyCli(lab.stack!, "--json", "--no-probes", "--drops", "--since", since).out) as {
            drops: { nodes: { node: string; pairs: { direction: string; peer: string; port?: number }[] }[] };
        };
        const pairs = (node: string) => json.drops.nodes.find((n) => n.node === node)?.pairs ?? [];
        expect(
            pairs("db-1").some((p) => p.direction === "in" && p.peer === client.address && p.port === 3306),
        ).to.equal(true);
        // db-2 shares the kernel log but was not the target: the line is not counted for it
        expect(pairs("db-2").some((p) => p.peer === client.address && p.port === 3306)).to.equal(false);
    });

    it("lists what listens against the openings: a dead pinhole after a service stops, a blocked listener after one starts", async () => {
        const db1 = lab.nodes.find((n) => n.name === "db-1")!;
        const row = (ls: NodeListening[], port: number) =>
            ls.find((n) => n.node === "db-1")?.rows.find((r) => r.port === port && r.protocol === "tcp");
        const before = await runVerify({ stack: lab.stack!, probes: false, log });
        expect(row(before.listening, 27017)?.status, "27017 served by the lab's listener").to.equal("served");
        expect(row(before.listening, 3306)?.status, "3306 listens, never opened").to.equal("blocked");
        expect(row(before.listening, 4711), "nothing on 4711 yet").to.equal(undefined);

        // Stop db-1's stand-in database (the lab's labnet holds 27017 and the other service ports) ...
        expect(db1.pids.listener, "db-1's listener pid").to.be.a("number");
        process.kill(db1.pids.listener!, "SIGKILL");
        // ... and start a service on a port no opening covers, in db-1's network namespace.
        const py = "import socket,time\ns=socket.socket()\ns.bind(('0.0.0.0',4711))\ns.listen()\ntime.sleep(300)";
        const extra = spawn("ip", ["netns", "exec", db1.netns, "/usr/bin/python3", "-c", py], { stdio: "ignore" });
        try {
            const listens = () => execFileSync("ip", ["netns", "exec", db1.netns, "ss", "-Hlnt"], { encoding: "utf8" });
            for (let i = 0; i < 100 && !/:4711\b/.test(listens()); i++) await new Promise((r) => setTimeout(r, 50));
            const cli = verifyCli(lab.stack!, "--no-probes");
            log(
                cli.out
                    .split("\n")
                    .filter((l) => /^db-1: \d+ served|27017\/tcp|4711\/tcp/.test(l))
                    .join("\n        "),
            );
            expect(cli.out).to.match(/^ {2}27017\/tcp +DEAD +- +app-1, app-2/m);
            expect(cli.out).to.match(/^ {2}4711\/tcp +blocked +0\.0\.0\.0 +-$/m);
            const json = JSON.parse(verifyCli(lab.stack!, "--json", "--no-probes").out) as {
                listening: NodeListening[];
            };
            expect(row(json.listening, 27017)).to.deep.include({ status: "dead", bound: [] });
            expect(row(json.listening, 4711)).to.deep.include({ status: "blocked", bound: ["0.0.0.0"], peers: [] });
            expect(row(json.listening, 3306), "labnet's other ports went with it").to.equal(undefined);
            // other nodes are unchanged: their 27017 (databases) or 8443 still served
            expect(json.listening.find((n) => n.node === "db-2")?.rows.find((r) => r.port === 27017)?.status).to.equal(
                "served",
            );
        } finally {
            extra.kill("SIGKILL");
        }
    });
});

// The drop log as evidence (remote/drop-log.ts): the kernel log lines of pinhole's drop rules, their parser and the
// top dropped pairs; verify's --drops/--since flags (tools/verify/args.ts) and the table (tools/verify/report.ts).
import { expect } from "chai";
import { spawnSync } from "child_process";
import { DropLine, dropLogScript, parseDropLine, parseDropLog, topDrops } from "../../../remote/drop-log";
import { parseSince, parseVerifyArgs } from "../../../tools/verify/args";
import { formatDrops } from "../../../tools/verify/report";

const T0 = Date.parse("2026-12-03T06:00:00Z");
const TCP_IN =
    "pinhole drop in: IN=eth0 OUT= MAC=aa:bb:cc:dd:ee:ff:11:22:33:44:55:66:08:00 SRC=10.77.200.10 DST=10.77.1.41 LEN=60 TOS=0x00 PREC=0x00 TTL=64 ID=1 DF PROTO=TCP SPT=40000 DPT=3306 WINDOW=64240 RES=0x00 SYN URGP=0";
const UDP6_OUT =
    "pinhole drop out: IN= OUT=eth0 SRC=fd77::1:41 DST=fd77::50:9 LEN=76 TC=0 HOPLIMIT=64 FLOWLBL=1 PROTO=UDP SPT=5000 DPT=514 LEN=36";
const ICMP_IN =
    "pinhole drop in: IN=eth0 OUT= SRC=10.77.200.10 DST=10.77.1.41 LEN=84 TTL=64 ID=2 PROTO=ICMP TYPE=13 CODE=0 ID=5 SEQ=1";

describe("remote/drop-log: the drop log as evidence", () => {
    const cases: [string, string, Partial<DropLine> | undefined][] = [
        [
            "journal short-unix, TCP in",
            `1796277600.250000 db-1 kernel: ${TCP_IN}`,
            {
                at: T0 + 250,
                direction: "in",
                src: "10.77.200.10",
                dst: "10.77.1.41",
                protocol: "tcp",
                sport: 40000,
                dport: 3306,
            },
        ],
        [
            "dmesg iso, UDP over IPv6 out",
            `2026-12-03T06:00:01,500000+00:00 ${UDP6_OUT}`,
            {
                at: T0 + 1500,
                direction: "out",
                src: "fd77::1:41",
                dst: "fd77::50:9",
                protocol: "udp",
                sport: 5000,
                dport: 514,
            },
        ],
        ["dmesg iso with an offset", `2026-12-03T07:00:00,000000+01:00 ${TCP_IN}`, { at: T0, dport: 3306 }],
        ["ICMP: no port", `2026-12-03T06:00:00,000000+00:00 ${ICMP_IN}`, { protocol: "icmp" }],
        [
            "another kernel line",
            "2026-12-03T06:00:00,000000+00:00 phlab0: port 20(phl19) entered forwarding state",
            undefined,
        ],
        ["a drop line without a time (plain dmesg)", `[12345.678] ${TCP_IN}`, undefined],
        ["a drop line without addresses", "2026-12-03T06:00:00,000000+00:00 pinhole drop in: IN=eth0", undefined],
    ];
    for (const [what, line, want] of cases)
        it(what, () => {
            const got = parseDropLine(line);
            if (want === undefined) expect(got).to.equal(undefined);
            else expect(got).to.deep.include(want);
        });

    it("ICMP has no port fields", () => {
        expect(parseDropLine(`2026-12-03T06:00:00,000000+00:00 ${ICMP_IN}`)).to.not.have.any.keys("sport", "dport");
    });

    it("the output names the log it read; none carries why", () => {
        const j = parseDropLog(`--- journal\n1796277600.000000 n kernel: ${TCP_IN}\nnoise\n`);
        expect([j.source, j.lines.length]).to.deep.equal(["journal", 1]);
        expect(parseDropLog("--- dmesg\n").lines).to.deep.equal([]);
        expect(parseDropLog("--- none\ndmesg: read kernel buffer failed: Operation not permitted\n")).to.deep.include({
            source: "none",
            note: "dmesg: read kernel buffer failed: Operation not permitted",
        });
    });

    it("top pairs: since the time, only this node's addresses, most frequent first", () => {
        const at = (s: number, line: string) => parseDropLine(`${1796277600 + s}.000000 n kernel: ${line}`)!;
        const other = TCP_IN.replace("DST=10.77.1.41", "DST=10.77.1.42"); // another node's line in a shared log
        const lines = [at(-10, TCP_IN), at(1, TCP_IN), at(2, TCP_IN), at(3, ICMP_IN), at(4, other), at(5, UDP6_OUT)];
        const r = topDrops(lines, { since: T0, addresses: ["10.77.1.41", "fd77::1:41"] });
        expect(r.total).to.equal(4);
        expect(r.pairs.map((p) => [p.direction, p.peer, p.protocol, p.port, p.count])).to.deep.equal([
            ["in", "10.77.200.10", "tcp", 3306, 2],
            ["out", "fd77::50:9", "udp", 514, 1],
            ["in", "10.77.200.10", "icmp", undefined, 1],
        ]);
        expect([r.pairs[0].first, r.pairs[0].last]).to.deep.equal([T0 + 1000, T0 + 2000]);
        expect(topDrops(lines, { since: T0, addresses: ["10.77.1.41"], top: 1 }).pairs).to.have.length(1);
    });

    it("the script is valid sh, read-only, and puts the time in as a number", () => {
        const s = dropLogScript(1796277600.9);
        expect(spawnSync("/bin/sh", ["-n"], { input: s }).status).to.equal(0);
        expect(s)
            .to.contain("--since @1796277600 ")
            .and.contain("journalctl -k")
            .and.contain("dmesg --time-format iso");
        expect(s.replace(/2>&1|2>\/dev\/null|>\/dev\/null/g, "")).to.not.match(/>|\brm\b|\bnft\b/);
    });

    it("prints per node the count, the log read and the pairs", () => {
        const text = formatDrops({
            since: "2026-12-03T06:00:00.000Z",
            nodes: [
                {
                    node: "db-1",
                    source: "dmesg",
                    total: 2,
                    pairs: topDrops([parseDropLine(`1796277601.0 n kernel: ${TCP_IN}`)!], { since: T0, addresses: [] })
                        .pairs,
                },
                { node: "db-2", source: "none", total: 0, pairs: [], error: "no kernel log readable" },
            ],
        }).join("\n");
        expect(text).to.contain("db-1: 2 logged drop(s) (dmesg)");
        expect(text).to.match(/^ {2}in +10\.77\.200\.10 +3306\/tcp +1 +06:00:01Z +06:00:01Z$/m);
        expect(text).to.contain("db-2: drop log not read (no kernel log readable)");
    });
});

describe("tools/verify/args: --drops and --since", () => {
    const now = new Date(T0);
    const since = (...a: string[]) => {
        const r = parseVerifyArgs(["--stack", "s", ...a], now);
        return typeof r === "string" ? r : r.drops?.since.toISOString();
    };
    const cases: [string[], string | RegExp | undefined][] = [
        [[], undefined],
        [["--drops"], "2026-12-03T05:00:00.000Z"],
        [["--drops", "--since", "30m"], "2026-12-03T05:30:00.000Z"],
        [["--drops", "--since", "2d"], "2026-12-01T06:00:00.000Z"],
        [["--drops", "--since", "2026-12-03T04:15"], "2026-12-03T04:15:00.000Z"],
        [["--drops", "--since", "2026-12-03 05:15:30+01:00"], "2026-12-03T04:15:30.000Z"],
        [["--drops", "--since", "yesterday"], /--since needs a past time/],
        [["--drops", "--since", "2027-01-01"], /--since needs a past time/],
        [["--since", "1h"], /--since goes with --drops/],
    ];
    for (const [argv, want] of cases)
        it(argv.join(" ") || "(no flags)", () => {
            const got = since(...argv);
            if (want instanceof RegExp) expect(got).to.match(want);
            else expect(got).to.equal(want);
        });
    it("parseSince names the flag and the value", () => {
        expect(() => parseSince("5x", now)).to.throw(
            '--since needs a past time (2026-12-03T06:00Z) or an age (90s, 30m, 2h, 1d), not "5x"',
        );
    });
});

// What listens against the openings (model/listening.ts) and the one `ss` parser (remote/ss.ts): tables of cases.
import { expect } from "chai";
import { auditListening, isLoopback, Listener, listenCounts } from "../../../model/listening";
import { buildPolicy } from "../../../model/policy";
import { NodePolicy, Opening, Protocol } from "../../../model/types";
import { parseListening, splitHostPort } from "../../../remote/ss";
import { formatListening } from "../../../tools/verify/report";
import { mustParse, rawCluster } from "../helpers/model-builders";

const opening = (port: number, protocol: Protocol, peer: string, addresses: string[], service = "svc"): Opening => ({
    direction: "inbound",
    protocol,
    port,
    peer: { kind: "node", name: peer, addresses },
    service,
    reason: "",
    section: "",
    exposed: false,
});
const policy = (inbound: Opening[]) => ({ node: { name: "n" } as NodePolicy["node"], inbound });
const listen = (s: string): Listener[] =>
    s
        .split(" ")
        .filter(Boolean)
        .map((x) => {
            const [proto, rest] = x.split("/");
            const hp = splitHostPort(rest)!;
            return { protocol: proto as Protocol, ...hp };
        });

describe("remote/ss: the ss parser", () => {
    const cases: [string, string, Listener[]][] = [
        [
            "an IPv4 TCP listener",
            "tcp LISTEN 0 128 10.1.0.41:22 0.0.0.0:*",
            [{ protocol: "tcp", port: 22, address: "10.1.0.41" }],
        ],
        ["UDP on * is all addresses", "udp UNCONN 0 0 *:161 *:*", [{ protocol: "udp", port: 161, address: "0.0.0.0" }]],
        ["IPv6 in brackets", "tcp LISTEN 0 5 [::]:8443 [::]:*", [{ protocol: "tcp", port: 8443, address: "::" }]],
        [
            "an interface suffix is dropped",
            "udp UNCONN 0 0 127.0.0.53%lo:53 0.0.0.0:*",
            [{ protocol: "udp", port: 53, address: "127.0.0.53" }],
        ],
        [
            "a scoped IPv6 address",
            "udp UNCONN 0 0 [fe80::1%eth0]:546 [::]:*",
            [{ protocol: "udp", port: 546, address: "fe80::1" }],
        ],
        ["other socket kinds and junk are skipped", "raw UNCONN 0 0 *:ipv6-icmp *:*\nnonsense\n\n", []],
        ["a port that is not a number is skipped", "tcp LISTEN 0 5 0.0.0.0:ssh 0.0.0.0:*", []],
    ];
    for (const [what, text, want] of cases) it(what, () => expect(parseListening(text)).to.deep.equal(want));
});

describe("model/listening: what listens against the openings", () => {
    const db = [10, 11].map((i) => opening(27017, "tcp", `app-${i}`, [`10.0.0.${i}`], "database"));
    const anyone = opening(443, "tcp", "client", ["0.0.0.0/0", "::/0"], "https");
    type Row = [string, Opening[], string, string[]];
    // [what, openings, listeners "proto/addr:port ...", expected rows "port/proto status [bound] [peers] *=all-addresses"]
    const cases: Row[] = [
        ["an opening with a listener is served", db, "tcp/10.0.0.5:27017", ["27017/tcp served 10.0.0.5 app-10,app-11"]],
        ["an opening with nothing listening is a dead pinhole", db, "", ["27017/tcp dead - app-10,app-11"]],
        [
            "a listener only on the other protocol does not serve it",
            db,
            "udp/0.0.0.0:27017",
            ["27017/tcp dead - app-10,app-11", "27017/udp blocked 0.0.0.0 -"],
        ],
        ["a listener no opening covers is blocked", [], "tcp/0.0.0.0:3306", ["3306/tcp blocked 0.0.0.0 -"]],
        [
            "loopback-only listeners are left out (counted)",
            db,
            "tcp/127.0.0.1:27017 tcp/[::1]:27017",
            ["27017/tcp dead - app-10,app-11"],
        ],
        [
            "bound to all addresses while only some peers may: flagged",
            db,
            "tcp/0.0.0.0:27017 tcp/[::]:27017",
            ["27017/tcp served 0.0.0.0,:: app-10,app-11 *"],
        ],
        [
            "bound to all addresses where anyone may: not flagged",
            [anyone],
            "tcp/[::]:443",
            ["443/tcp served :: client"],
        ],
        [
            "ordered by port, then protocol",
            [],
            "udp/0.0.0.0:9 tcp/0.0.0.0:9 tcp/0.0.0.0:1",
            ["1/tcp blocked 0.0.0.0 -", "9/tcp blocked 0.0.0.0 -", "9/udp blocked 0.0.0.0 -"],
        ],
    ];
    const show = (r: ReturnType<typeof auditListening>["rows"][number]) =>
        [
            `${r.port}/${r.protocol}`,
            r.status,
            r.bound.join(",") || "-",
            r.peers.join(",") || "-",
            ...(r.allAddresses ? ["*"] : []),
        ].join(" ");
    for (const [what, inbound, ls, want] of cases)
        it(what, () => expect(auditListening(policy(inbound), listen(ls)).rows.map(show)).to.deep.equal(want));

    it("counts loopback sockets and each status", () => {
        const a = auditListening(policy(db), listen("tcp/127.0.0.1:5432 tcp/0.0.0.0:27017 tcp/0.0.0.0:3306"));
        expect(a.loopback).to.equal(1);
        expect(listenCounts(a)).to.deep.equal({ served: 1, dead: 0, blocked: 1, allAddresses: 1 });
    });

    it("loopback: 127/8, ::1, IPv4-mapped; not other addresses", () => {
        expect(["127.0.0.1", "127.0.0.53", "::1", "::ffff:127.0.0.1"].map(isLoopback)).to.deep.equal([
            true,
            true,
            true,
            true,
        ]);
        expect(["10.0.0.1", "0.0.0.0", "::", "fe80::1"].map(isLoopback)).to.deep.equal([false, false, false, false]);
    });

    it("on a real policy: a database node's 27017 from the applications, 3306 blocked, outbound ignored", () => {
        const model = mustParse(
            rawCluster("modular", [
                { name: "proxy-1", role: "webproxy", address: "10.1.0.21" },
                { name: "app-1", role: "application", address: "10.1.0.31" },
                { name: "db-1", role: "database", address: "10.1.0.41" },
            ]),
        );
        const p = buildPolicy(model).find((x) => x.node.name === "db-1")!;
        const a = auditListening(p, listen("tcp/0.0.0.0:27017 tcp/0.0.0.0:3306"));
        const row = (port: number) => a.rows.find((r) => r.port === port && r.protocol === "tcp");
        expect(row(27017)?.status).to.equal("served");
        expect(row(27017)?.peers).to.include("app-1");
        expect(row(3306)?.status).to.equal("blocked");
        expect(row(22)?.status).to.equal("dead");
        // 123/udp is outbound (NTP to the servers): nothing about it here
        expect(a.rows.some((r) => r.port === 123)).to.equal(false);
        expect(p.outbound.some((o) => o.port === 123)).to.equal(true);
    });
});

describe("tools/verify/report: the listen table", () => {
    const db = [
        opening(27017, "tcp", "app-1", ["10.0.0.1"], "database"),
        opening(22, "tcp", "admin", ["10.9.0.0/24"], "ssh"),
    ];
    const n = auditListening(policy(db), listen("tcp/0.0.0.0:22 tcp/0.0.0.0:3306 tcp/127.0.0.1:5432"));
    it("names each dead pinhole, blocked listener and all-addresses binding per node; served ones with --verbose", () => {
        const text = formatListening([n, { node: "db-2", rows: [], loopback: 0, error: "ssh: timeout" }]).join("\n");
        expect(text).to.contain("n: 1 served (1 *), 1 DEAD, 1 blocked, 1 on loopback only");
        expect(text).to.match(/^ {2}27017\/tcp +DEAD +- +app-1 \(database\)$/m);
        expect(text).to.match(/^ {2}3306\/tcp +blocked +0\.0\.0\.0 +-$/m);
        expect(text).to.match(/^ {2}22\/tcp +served \* +0\.0\.0\.0 +admin \(ssh\)$/m);
        expect(text).to.contain("db-2: not read (ssh: timeout)");
        const plain = auditListening(policy([opening(22, "tcp", "admin", ["10.9.0.0/24"])]), listen("tcp/10.0.0.5:22"));
        expect(formatListening([plain]).join("\n")).to.not.match(/^ {2}22\/tcp/m);
        expect(formatListening([plain], { verbose: true }).join("\n")).to.match(/^ {2}22\/tcp +served +10\.0\.0\.5/m);
    });
});

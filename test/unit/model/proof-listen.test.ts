// The proof's listen audit (model/proof-listen.ts, remote/probes.ts readListeningSection, provider/proof.ts inputs):
// the opening lines' round trip on every example and fixture stack, hostile lines refused, the warnings, the section.
import { expect } from "chai";
import * as fs from "fs";
import * as path from "path";
import { buildPolicy } from "../../../model/policy";
import { openingGroups } from "../../../model/listening";
import { listenWarnings, openingLines, parseOpeningLine } from "../../../model/proof-listen";
import { parseStackFile } from "../../../tools/common/stack-file";
import { readListeningSection } from "../../../remote/probes";
import { parseProofInputs } from "../../../provider/proof";
import { Listener } from "../../../model/listening";

const ROOT = path.resolve(__dirname, "..", "..", "..");
const stackFiles = [
    ...fs
        .readdirSync(path.join(ROOT, "stacks"))
        .filter((f) => /^Pulumi\.example-.*\.yaml$/.test(f))
        .map((f) => path.join(ROOT, "stacks", f)),
    ...fs
        .readdirSync(path.join(__dirname, "..", "fixtures", "valid"))
        .map((f) => path.join(__dirname, "..", "fixtures", "valid", f)),
];

describe("the proof's listen audit", () => {
    it("every node of every example and valid fixture: its opening lines parse back to its grouped openings", () => {
        let lines = 0;
        for (const file of stackFiles) {
            const model = parseStackFile(file).model;
            expect(model, file).to.not.equal(undefined);
            for (const p of buildPolicy(model!)) {
                const back = openingLines(p).map(parseOpeningLine);
                expect(back, `${file} ${p.node.name}`).to.deep.equal(openingGroups(p.inbound));
                lines += back.length;
            }
        }
        expect(lines).to.be.greaterThan(20);
    });

    it("a label with a comma or a space still travels as one name", () => {
        const [line] = openingLines({
            inbound: [
                {
                    direction: "inbound",
                    protocol: "tcp",
                    port: 9000,
                    peer: { kind: "network", name: "backup, east", addresses: ["10.9.0.0/16"] },
                    service: "backup agent",
                    reason: "",
                    section: "",
                    exposed: false,
                },
            ],
        });
        expect(parseOpeningLine(line)).to.deep.equal({
            port: 9000,
            protocol: "tcp",
            anyone: false,
            services: ["backup agent"],
            peers: ["backup, east"],
        });
    });

    const refused: [string, string, RegExp][] = [
        ["not the form", "27017 tcp some database app-1", /is not "<port>\/<tcp\|udp>/],
        ["port 0", "0/tcp some database app-1", /port 0 is out of range/],
        ["port 65536", "65536/tcp some database app-1", /port 65536 is out of range/],
        ["sctp", "27017/sctp some database app-1", /is not "<port>/],
        ["an ANSI escape, encoded", "22/tcp some ssh %1B%5B2J", /name 2 of .* is not URI-encoded printable ASCII/],
        ["a newline, encoded", "22/tcp some ssh admin%0Arm", /name 2 of/],
        ["a broken escape", "22/tcp some ssh %E0%A4%A", /name 2 of/],
        ["a raw newline", "22/tcp some ssh admin\nx", /is not "<port>/],
    ];
    for (const [what, line, want] of refused)
        it(`refuses an opening line: ${what}`, () => expect(parseOpeningLine(line)).to.be.a("string").and.match(want));

    it("the provider refuses a bad opening line at check, naming its property", () => {
        const parsed = parseProofInputs({
            nodes: [
                {
                    node: "db-1",
                    connection: { host: "10.0.0.1", user: "root", port: 22, hostKey: "" },
                    targets: [],
                    openings: ["27017/tcp some database app-1", "22/tcp some ssh %1B"],
                },
            ],
            hostTargets: [],
            privateKey: "k",
        } as unknown as Parameters<typeof parseProofInputs>[0]);
        expect(parsed.failures.map((f) => f.property)).to.deep.equal(["nodes[0].openings[1]"]);
        expect(parsed.nodes[0].openings).to.have.length(1);
    });

    const groups = ["27017/tcp some database app-1,app-2", "443/tcp any https client", "22/tcp some ssh admin"].map(
        (l) => parseOpeningLine(l) as Exclude<ReturnType<typeof parseOpeningLine>, string>,
    );
    const l = (protocol: "tcp" | "udp", address: string, port: number): Listener => ({ protocol, address, port });
    const cases: [string, Listener[], string[]][] = [
        [
            "everything served on the node's own address: nothing to say",
            [l("tcp", "10.0.0.5", 27017), l("tcp", "0.0.0.0", 443), l("tcp", "10.0.0.5", 22)],
            [],
        ],
        [
            "the database stopped: a dead pinhole",
            [l("tcp", "0.0.0.0", 443), l("tcp", "10.0.0.5", 22)],
            ["listening: db-1: 1 dead pinhole(s), opened but nothing listens: 27017/tcp (database)"],
        ],
        [
            "an agent no opening covers; loopback-only sockets are nobody's business",
            [
                l("tcp", "10.0.0.5", 27017),
                l("tcp", "0.0.0.0", 443),
                l("tcp", "10.0.0.5", 22),
                l("udp", "0.0.0.0", 8125),
                l("tcp", "127.0.0.1", 5000),
            ],
            ["listening: db-1: 1 listener(s) no opening covers (the firewall drops them): 8125/udp"],
        ],
        [
            "sshd on all addresses while only admin may come in; https to anyone on all addresses is fine",
            [l("tcp", "10.0.0.5", 27017), l("tcp", "0.0.0.0", 443), l("tcp", "::", 22)],
            ["listening: db-1: 1 port(s) bound to all addresses while the firewall admits only some peers: 22/tcp"],
        ],
    ];
    for (const [what, listeners, want] of cases)
        it(`warns: ${what}`, () => expect(listenWarnings("db-1", groups, listeners)).to.deep.equal(want));

    it("one line per kind and node, at most 12 ports named", () => {
        const many = Array.from({ length: 15 }, (_, k) => l("tcp", "0.0.0.0", 9000 + k));
        const wide = [l("tcp", "::", 27017), l("tcp", "0.0.0.0", 443), l("tcp", "::", 22)];
        expect(listenWarnings("db-1", groups, [...many, ...wide])).to.deep.equal([
            "listening: db-1: 15 listener(s) no opening covers (the firewall drops them): 9000/tcp, 9001/tcp, 9002/tcp, 9003/tcp, 9004/tcp, 9005/tcp, 9006/tcp, 9007/tcp, 9008/tcp, 9009/tcp, 9010/tcp, 9011/tcp, ... and 3 more",
            "listening: db-1: 2 port(s) bound to all addresses while the firewall admits only some peers: 22/tcp, 27017/tcp",
        ]);
    });

    it("reads the sockets between the marks, and says why when it could not", () => {
        const ok =
            "pinhole-listening-begin\ntcp LISTEN 0 128 10.0.0.5:22 0.0.0.0:*\npinhole-listening-end\n0 open\nprobes-done\n";
        expect(readListeningSection(ok)).to.deep.equal([{ protocol: "tcp", port: 22, address: "10.0.0.5" }]);
        expect(
            readListeningSection(
                "pinhole-listening-begin\nsh: 1: ss: not found\nss-failed: exit 127\npinhole-listening-end\n",
            ),
        ).to.equal("ss -Hlntu failed (exit 127): sh: 1: ss: not found");
        expect(readListeningSection("pinhole-listening-begin\ntcp LISTEN")).to.match(/were not read/);
    });
});

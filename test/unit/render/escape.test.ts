import { expect } from "chai";
import {
    childPath,
    nftAddress,
    nftCommentLine,
    nftIdentifier,
    nftString,
    nginxServerName,
    safeText,
    shellQuote,
} from "../../../render/escape";
import { renderRuleset } from "../../../render/nftables";
import { FirewallSettings, NodePolicy } from "../../../model/types";
import { spawnSync } from "child_process";

const HOSTILE = [
    "a\nflush ruleset",
    'x"; flush ruleset; #',
    "\r\ndelete table inet filter",
    "back\\slash",
    "tab\there",
    "nul\0byte",
    "bidi\u202Eevil",
    "line\u2028sep",
    "$(reboot)",
    "`id`",
    "{ } ;",
    "\x1b[31mred",
    "ünïcödé",
    "'single'",
];

describe("render/escape: one function per target, safe for any input", () => {
    for (const text of HOSTILE) {
        const label = JSON.stringify(text);
        it(`nftString keeps ${label} inside one quoted token`, () => {
            const q = nftString(text);
            expect(q).to.match(/^"[^"\\\n\r]*"$/);
            expect(q.length).to.be.at.most(128);
        });
        it(`nftCommentLine and nginxCommentLine keep ${label} on one comment line`, () => {
            for (const line of [nftCommentLine(text), safeText(text)])
                expect(line).not.to.match(/[\n\r\0\u2028\u2029]/);
            expect(nftCommentLine(text).startsWith("# ")).to.equal(true);
        });
        it(`shellQuote passes ${label} to sh as one literal word (or refuses NUL)`, function () {
            if (text.includes("\0")) {
                expect(() => shellQuote(text)).to.throw(/NUL/);
                return;
            }
            const r = spawnSync("sh", ["-c", `printf '%s' ${shellQuote(text)}`], { encoding: "utf8" });
            expect(r.stdout).to.equal(text);
        });
    }

    const strict: [string, (s: string) => string, string[], string[]][] = [
        [
            "nftIdentifier",
            nftIdentifier,
            ["admin_v4", "peers_12_v6"],
            ["", "1abc", "a-b", "a b", "a;flush", "x".repeat(40)],
        ],
        [
            "nftAddress",
            nftAddress,
            ["10.0.0.1", "10.0.0.0/8", "2001:db8::/32", "::ffff:10.0.0.1"],
            ["10.0.0.1 }", "any", "10.0.0.1/33", "10.0.0.1\n"],
        ],
        [
            "nginxServerName",
            nginxServerName,
            ["a.example.com", "_", "node-1"],
            ["a b", "a;b", "a\nb", "$host", "a..b", "{x}"],
        ],
    ];
    for (const [name, fn, good, bad] of strict) {
        it(`${name} accepts its grammar and refuses everything else`, () => {
            for (const g of good) expect(fn(g)).to.equal(g);
            for (const b of bad) expect(() => fn(b), JSON.stringify(b)).to.throw();
        });
    }

    it("childPath stays inside its directory", () => {
        expect(childPath("/etc/pinhole/", "firewall.nft")).to.equal("/etc/pinhole/firewall.nft");
        for (const bad of ["../etc/shadow", "a/b", "..", ".hidden", "", "x\n", "a/../../b"])
            expect(() => childPath("/etc/pinhole", bad), bad).to.throw();
    });

    it("a reason that reaches the renderer unvalidated still yields only pinhole's table", () => {
        const settings: FirewallSettings = {
            egress: "allow",
            rateLimit: { perMinute: 1, burst: 1 },
            logDrops: false,
            rollbackSeconds: 30,
        };
        const node = {
            name: "n1",
            role: "database" as const,
            site: "s\nflush ruleset",
            address: "10.0.0.1",
            fqdn: "n1",
            arbiter: false,
            ssh: { host: "10.0.0.1", port: 22, user: "root", hostKey: "k", sudo: false },
        };
        const policy: NodePolicy = {
            node,
            outbound: [],
            inbound: HOSTILE.map((h, i) => ({
                direction: "inbound",
                protocol: "tcp",
                port: 1000 + i,
                service: "svc",
                exposed: false,
                section: h,
                peer: { kind: "network", name: h, addresses: ["10.9.0.0/24"] },
                reason: h,
            })),
        };
        const lines = renderRuleset(policy, settings).split("\n");
        const outside = lines.filter(
            (l, i) =>
                !l.startsWith("#") &&
                l !== "" &&
                !l.startsWith("\t") &&
                !(l === "table inet pinhole {" && i > 0) &&
                l !== "}",
        );
        expect(outside).to.deep.equal([]);
    });
});

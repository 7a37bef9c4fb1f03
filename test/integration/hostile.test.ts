// Hostile text in every free-text field of a stack, on the lab with the real engine (issue 10, "Must show"):
// it either fails at preview naming the field, or it applies and leaves every other nftables table on the node
// untouched. The node carries two foreign tables (an `inet other` filter chain and an `ip nat` table) before
// pinhole touches it; they are compared, as `nft list table` prints them, before and after every step.
//
//  1. Multi-line / control / invisible characters in every free-text field: `pulumi preview` and `pulumi up` fail,
//     the output names every field (path first, one line each, no stack trace, no colour codes), nothing is created.
//  2. Printable but hostile text (quotes, `;`, `#`, braces, `$(...)`, backticks, nft and shell commands, a DN
//     injection) in every field that accepts it: `pulumi up` applies, the foreign tables are byte-identical,
//     the node has exactly one more table (inet pinhole), no injected command ran, the certificate's subject
//     carries the hostile text verbatim (as data, not as syntax).
//  3. `pulumi destroy`: pinhole's table is gone, the foreign tables are still identical.
import { expect } from "chai";
import * as fs from "fs";
import * as path from "path";
import { LocalWorkspace, Stack } from "@pulumi/pulumi/automation";
import * as yaml from "js-yaml";
import { labDown, labUp, LabStatus } from "../../lab";
import { nodeDir } from "../../lab/state";
import { parseStackFile } from "../../tools/common/stack-file";
import { PROJECT_ROOT, usePulumiEnv } from "../../tools/common/pulumi-env";
import { nft } from "./helpers/nft";

const log = (m: string) => process.stderr.write(`      · ${m}\n`);
const STACK = "test-hostile";
const quiet = { onOutput: () => undefined };
/** Any injected shell command would create this (on the host or in the node's own file tree). */
const PWNED = "/tmp/pinhole-hostile-pwned";
const pwnedFiles = (node: string) => [PWNED, path.join(nodeDir(node), PWNED)];

const FOREIGN = `table inet other {
    chain c {
        type filter hook input priority 10; policy accept;
        tcp dport 7777 accept comment "foreign rule"
    }
}
table ip nat {
    chain postrouting {
        type nat hook postrouting priority srcnat; policy accept;
        ip daddr 192.0.2.1 masquerade
    }
}
`;

/** Every table of the node but pinhole's, as nft prints each (sorted by name), and the list of all tables. */
function foreignTables(ns: string): { text: string; tables: string[] } {
    const tables = nft(ns, ["list", "tables"])
        .split("\n")
        .map((l) => l.trim())
        .filter(Boolean)
        .sort();
    const text = tables
        .filter((t) => t !== "table inet pinhole")
        .map((t) => nft(ns, ["list", ...t.split(" ")]))
        .join("\n");
    return { text, tables };
}

/** Edits the test stack's file (the engine reads it on every operation); returns the undo. */
function editConfig(stackFile: string, edit: (config: Record<string, any>) => void): () => void {
    // any: YAML as written
    const original = fs.readFileSync(stackFile, "utf8");
    const doc = yaml.load(original) as { config: Record<string, any> };
    edit(doc.config);
    fs.writeFileSync(stackFile, yaml.dump(doc, { lineWidth: 400 }));
    return () => fs.writeFileSync(stackFile, original);
}

/** The lab's addresses of external services, from the URIs it generated. */
const hostOf = (uri: string) => /@([^:/]+)/.exec(uri)?.[1] ?? /\/\/([^:/]+)/.exec(uri)![1];

/** Values that must be refused, by field path (relative to the config as the lab wrote it). */
export function refusedEdits(c: Record<string, any>): Record<string, string> {
    const ext = c["pinhole:external"];
    const snmp = hostOf(ext.snmpTrapReceivers[0]);
    const backup = ext.backupDestinations[0] as string;
    const notify = ext.notificationDestinations[0] as string;
    c["pinhole:firewall"] = {
        ...c["pinhole:firewall"],
        extraInbound: [
            { port: 9443, from: ["admin"], reason: "innocent\nflush ruleset" },
            { port: 9444, from: ["admin"], reason: "line\u2028separator" },
            { port: 9445, from: ["admin"], reason: "next\u0085line (NEL)" },
            { port: 9446, from: ["admin"], reason: "tab\there" },
        ],
    };
    c["pinhole:certificates"] = {
        ...c["pinhole:certificates"],
        subject: {
            organization: "Org\nflush ruleset",
            organizationalUnit: "Ops\u202egnp.exe",
            locality: "Zu\u200brich",
            province: "ZH\r",
            email: "pki@example.com\u001b[31m",
        },
        nginx: { serverNames: ["solo.example.com;\n return 200"], upstream: "up\nstream" },
    };
    c["pinhole:nodes"][0].site = "dc1\nflush ruleset";
    c["pinhole:nodes"][0].fqdn = "solo.example.com\n}";
    c["pinhole:nodes"][0].ssh.user = "root\u0000";
    ext.snmpTrapReceivers = [`snmp://pub\nflush ruleset@${snmp}:162`];
    ext.backupDestinations = [backup.replace("/srv/backups", "/srv/\u2029backups")];
    ext.notificationDestinations = [notify.replace("/notify", "/notify\u200e")];
    c["pinhole:domain"] = "lab.example\tcom";
    return {
        "pinhole:firewall.extraInbound[0].reason": "line break",
        "pinhole:firewall.extraInbound[1].reason": "U+2028",
        "pinhole:firewall.extraInbound[2].reason": "U+0085",
        "pinhole:firewall.extraInbound[3].reason": "a tab",
        "pinhole:certificates.subject.organization": "line break",
        "pinhole:certificates.subject.organizationalUnit": "U+202E",
        "pinhole:certificates.subject.locality": "U+200B",
        "pinhole:certificates.subject.province": "carriage return",
        "pinhole:certificates.subject.email": "escape",
        "pinhole:certificates.nginx.serverNames[0]": "line break",
        "pinhole:certificates.nginx.upstream": "line break",
        "pinhole:nodes[0].site": "line break",
        "pinhole:nodes[0].fqdn": "line break",
        "pinhole:nodes[0].ssh.user": "NUL",
        "pinhole:external.snmpTrapReceivers[0]": "line break",
        "pinhole:external.backupDestinations[0]": "U+2029",
        "pinhole:external.notificationDestinations[0]": "U+200E",
        "pinhole:domain": "a tab",
    };
}

const HOSTILE_REASON = `x"; flush ruleset; delete table ip nat; # $(touch ${PWNED}) \`touch ${PWNED}\` } { ' \\ é Ω`;
const HOSTILE_ORG = `Evil"; $(touch ${PWNED}) flush ruleset`;
const HOSTILE_OU = `'; delete table inet other; '`;
const HOSTILE_L = `\`touch ${PWNED}\``;
const HOSTILE_ST = "/CN=attacker.example/O=x";
const HOSTILE_EMAIL = "a'$(touch)@example.com";

/** "CN=a, O=b\\, c" (the subject as the outputs print it, RFC 4514-style escapes) → [["CN","a"],["O","b, c"]]. */
function parseDn(dn: string): [string, string][] {
    const out: [string, string][] = [];
    let cur = "";
    for (let i = 0; i < dn.length; i++) {
        if (dn[i] === "\\" && i + 1 < dn.length) {
            cur += dn[i] + dn[++i];
            continue;
        }
        if (dn[i] === "," && dn[i + 1] === " ") {
            out.push(rdn(cur));
            cur = "";
            i++;
            continue;
        }
        cur += dn[i];
    }
    if (cur) out.push(rdn(cur));
    return out;
}
function rdn(text: string): [string, string] {
    const eq = text.indexOf("=");
    return [text.slice(0, eq), text.slice(eq + 1).replace(/\\(.)/g, "$1")];
}

/** Printable hostile text in every field that accepts it. */
export function acceptedEdits(c: Record<string, any>): void {
    const ext = c["pinhole:external"];
    const snmp = hostOf(ext.snmpTrapReceivers[0]);
    c["pinhole:firewall"] = {
        ...c["pinhole:firewall"],
        extraInbound: [
            { port: 9443, from: ["admin"], reason: HOSTILE_REASON },
            {
                port: 9444,
                protocol: "udp",
                from: ["10.99.0.0/16"],
                roles: ["standalone"],
                reason: "'\"$(touch /tmp/pinhole-hostile-pwned)\"'; }; table inet other { }",
            },
        ],
    };
    c["pinhole:certificates"] = {
        ...c["pinhole:certificates"],
        subject: {
            organization: HOSTILE_ORG,
            organizationalUnit: HOSTILE_OU,
            locality: HOSTILE_L,
            province: HOSTILE_ST,
            email: HOSTILE_EMAIL,
        },
    };
    ext.snmpTrapReceivers = [`snmp://pub%22%3B%24(touch)%27@${snmp}:162`];
    ext.backupDestinations = [
        (ext.backupDestinations[0] as string).replace("/srv/backups", "/srv/$(touch%20/tmp/pinhole-hostile-pwned);'q"),
    ];
    ext.notificationDestinations = [
        (ext.notificationDestinations[0] as string).replace("/notify", "/notify/$(touch%20x);'"),
    ];
}

describe("hostile stack config on the lab (real engine): refused at preview, or applied leaving other tables untouched", function () {
    this.timeout(1_800_000);
    let lab: LabStatus;
    let stack: Stack;
    let ns: string;
    let node: string;
    let before0: { text: string; tables: string[] };

    before(async () => {
        const env = usePulumiEnv();
        lab = await labUp({ model: "standalone", log, stack: STACK });
        stack = await LocalWorkspace.selectStack({ stackName: lab.stack!, workDir: PROJECT_ROOT }, { envVars: env });
        ns = lab.nodes[0].netns;
        node = lab.nodes[0].name;
        for (const f of pwnedFiles(node)) fs.rmSync(f, { force: true });
        for (const t of ["inet other", "ip nat"]) {
            try {
                nft(ns, ["delete", "table", ...t.split(" ")]);
            } catch {
                /* none */
            }
        }
        try {
            nft(ns, ["delete", "table", "inet", "pinhole"]);
        } catch {
            /* none */
        }
        nft(ns, ["-f", "-"], FOREIGN);
        before0 = foreignTables(ns);
        expect(before0.tables).to.deep.equal(["table inet other", "table ip nat"]);
        expect(before0.text).to.contain("foreign rule").and.to.contain("masquerade");
    });
    after(async () => {
        await stack?.destroy({ continueOnError: true, ...quiet }).catch(() => undefined);
        for (const f of pwnedFiles(node ?? "none")) fs.rmSync(f, { force: true });
        await labDown({ log: () => undefined });
    });

    it("multi-line, control and invisible characters in every free-text field: preview and up fail naming each field, nothing is created", async () => {
        let expected: Record<string, string> = {};
        const undo = editConfig(lab.stackFile!, (c) => {
            expected = refusedEdits(c);
        });
        try {
            const lines: string[] = [];
            let failed: Error | undefined;
            try {
                await stack.preview({ onOutput: (l) => lines.push(l) });
            } catch (e) {
                failed = e as Error;
            }
            expect(failed, "preview must fail").to.not.equal(undefined);
            const out = `${lines.join("")}\n${failed!.message}`;
            const problems = out
                .split("\n")
                .filter((l) => /^\s*pinhole:/.test(l))
                .map((l) => l.trim());
            log(`preview refused the stack: ${problems.length} problem lines`);
            for (const [field, what] of Object.entries(expected)) {
                const line = problems.find((l) => l.startsWith(`${field}: `));
                expect(line, `no problem line for ${field}; got:\n${problems.join("\n")}`).to.not.equal(undefined);
                expect(line, field).to.contain(what);
            }
            expect(out, "no stack trace").to.not.match(/\n\s+at .*\.(ts|js):\d+/);
            expect(out, "no colour codes").to.not.match(/\x1b\[/);
            expect(out).to.not.contain("flush ruleset@");
            expect(foreignTables(ns)).to.deep.equal(before0);
            expect(fs.existsSync(PWNED)).to.equal(false);

            // `up` refuses it the same way, and nothing is created (no pinhole resource in the state, no table on the node).
            let upFailed: Error | undefined;
            const upLines: string[] = [];
            try {
                await stack.up({ onOutput: (l) => upLines.push(l) });
            } catch (e) {
                upFailed = e as Error;
            }
            expect(upFailed, "up must fail").to.not.equal(undefined);
            const upOut = `${upLines.join("")}\n${upFailed!.message}`;
            for (const field of Object.keys(expected))
                expect(upOut, field).to.match(new RegExp(`^\\s*${field.replace(/[.[\]]/g, "\\$&")}: `, "m"));
            expect(upOut, "no stack trace").to.not.match(/\n\s+at .*\.(ts|js):\d+/);
            const state = await stack.exportStack();
            const created = ((state.deployment?.resources ?? []) as { type: string }[]).filter((r) =>
                r.type.startsWith("pinhole:"),
            );
            expect(
                created.map((r) => r.type),
                "nothing created",
            ).to.deep.equal([]);
            expect(foreignTables(ns)).to.deep.equal(before0);
        } finally {
            undo();
        }
    });

    it("printable hostile text in every field that accepts it: up applies, other tables untouched, nothing injected", async () => {
        editConfig(lab.stackFile!, acceptedEdits); // kept: the destroy below runs on this config
        const parsed = parseStackFile(lab.stackFile!);
        expect(parsed.errors, JSON.stringify(parsed.errors)).to.deep.equal([]);
        expect(parsed.model!.firewall.extraInbound?.[0]?.reason).to.equal(HOSTILE_REASON);

        const up = await stack.up(quiet);
        expect(up.summary.result).to.equal("succeeded");
        const after = foreignTables(ns);
        expect(after.tables).to.deep.equal(["table inet other", "table inet pinhole", "table ip nat"]);
        expect(after.text, "the foreign tables are byte-identical").to.equal(before0.text);
        const pinhole = nft(ns, ["list", "table", "inet", "pinhole"]);
        expect(pinhole).to.match(/tcp dport 9443/);
        expect(pinhole).to.match(/udp dport 9444/);
        for (const f of pwnedFiles(node)) expect(fs.existsSync(f), `${f}: an injected command ran`).to.equal(false);

        // The hostile subject is data in the certificate, not syntax: every field verbatim, no extra RDN.
        const certs = up.outputs.certificates?.value as Record<string, { subject: string }> | undefined;
        const subject = certs?.[node]?.subject ?? "";
        log(`certificate subject: ${subject}`);
        const rdns = parseDn(subject);
        // Each attribute once (their order is the issuer's), none smuggled in by the values.
        expect(rdns.map(([k]) => k).sort(), subject).to.deep.equal(["CN", "L", "O", "OU", "ST", "emailAddress"]);
        const field = Object.fromEntries(rdns);
        expect(field.CN).to.equal(lab.nodes[0].fqdn);
        expect([field.O, field.OU, field.L, field.ST, field.emailAddress]).to.deep.equal([
            HOSTILE_ORG,
            HOSTILE_OU,
            HOSTILE_L,
            HOSTILE_ST,
            HOSTILE_EMAIL,
        ]);

        // A second preview agrees with what is on the node (the hostile text round-trips).
        await stack.preview({ expectNoChanges: true, ...quiet });
        expect(foreignTables(ns).text).to.equal(before0.text);
    });

    it("destroy removes pinhole's table only: the foreign tables are still identical", async () => {
        await stack.destroy(quiet);
        const after = foreignTables(ns);
        expect(after.tables).to.deep.equal(["table inet other", "table ip nat"]);
        expect(after.text).to.equal(before0.text);
    });
});

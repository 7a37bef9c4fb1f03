// Real services through pinhole's firewall (issue 16, deliverable 3): the modular lab with `services: true`
// (lab/services.ts: chronyd, slapd, internal-sftp, snmptrapd, an HTTPS receiver on the external hosts, snmpd on
// every node), the real engine applies the lab stack (egress deny), then Debian's real clients run from the
// nodes and vantages: what the policy allows works, what it does not allow fails. A few minutes.
import { expect } from "chai";
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { LocalWorkspace, Stack } from "@pulumi/pulumi/automation";
import * as yaml from "js-yaml";
import { labDown, labUp, LabStatus, probe } from "../../lab";
import { serviceDir } from "../../lab/services-run";
import { chronyQueryArgs, LDAP_SUFFIX, parseNotifications, SNMP_COMMUNITY } from "../../lab/services";
import { parseStackFile } from "../../tools/common/stack-file";
import { buildPolicy } from "../../model/policy";
import { PROJECT_ROOT, usePulumiEnv } from "../../tools/common/pulumi-env";
import { waitForForeignLabHolders } from "../../tools/start/lab";
import { compareProbe, familySummary, formatMismatches } from "./helpers/expected";

const log = (m: string) => process.stderr.write(`      · ${m}\n`);
const STACK = `test-services-${process.pid}`;
const TMP = fs.mkdtempSync(path.join(os.tmpdir(), "pinhole-services-"));
const SNMP_ENV = { SNMP_PERSISTENT_DIR: path.join(TMP, "snmp") };

interface Ran {
    code: number;
    out: string;
}

/** A client inside a lab namespace (the node's or vantage's network: its firewall applies). */
function inNs(netns: string, argv: string[], opts: { env?: Record<string, string>; input?: string } = {}): Ran {
    const r = spawnSync("ip", ["netns", "exec", netns, ...argv], {
        encoding: "utf8",
        timeout: 30_000,
        input: opts.input,
        env: { ...process.env, ...opts.env },
    });
    return { code: r.status ?? -1, out: `${r.stdout ?? ""}${r.stderr ?? ""}`.trim() };
}

const bracket = (a: string) => (a.includes(":") ? `[${a}]` : a);
const lastLine = (s: string) => s.split("\n").filter(Boolean).pop() ?? "";

describe("real services through pinhole's firewall (modular lab, services on, real engine)", function () {
    this.timeout(900_000);
    let lab: LabStatus;
    let stack: Stack;
    const nodes = () => lab.nodes;
    const vantage = (name: string) => lab.vantages.find((v) => v.name === name)!;
    /** Each address of a lab host: IPv4, and IPv6 in the dual-stack lab. */
    const addrs = (h: { address: string; address6?: string }) => [h.address, ...(h.address6 ? [h.address6] : [])];
    /** The address a node is reached at from outside its site (advertised where NAT applies). */
    const reach = (n: LabStatus["nodes"][number]) => [
        n.advertisedAddress ?? n.address,
        ...(n.address6 ? [n.address6] : []),
    ];

    before(async () => {
        const env = usePulumiEnv();
        await waitForForeignLabHolders(log);
        const t0 = Date.now();
        lab = await labUp({ model: "modular", services: true, log, stack: STACK });
        log(`lab with services up in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
        stack = await LocalWorkspace.createOrSelectStack({ stackName: STACK, workDir: PROJECT_ROOT }, { envVars: env });
        const up = await stack.up({ refresh: true, onOutput: () => undefined });
        expect(up.summary.result).to.equal("succeeded");
    });
    after(async () => {
        await stack
            ?.destroy({ onOutput: () => undefined })
            .catch((e: Error) => log(`destroy: ${e.message.split("\n")[0]}`));
        await stack?.workspace.removeStack(STACK, { force: true }).catch(() => undefined);
        if (lab?.stackFile) fs.rmSync(lab.stackFile, { force: true });
        fs.rmSync(TMP, { recursive: true, force: true });
        await labDown({ log: () => undefined });
    });

    it("the probe's matrix equals the policy exactly with the real services answering (UDP 123/161/162 by protocol)", async () => {
        const parsed = parseStackFile(lab.stackFile!);
        expect(parsed.errors, JSON.stringify(parsed.errors)).to.deep.equal([]);
        const rows = await probe({});
        const mismatches = compareProbe(parsed.model!, buildPolicy(parsed.model!), lab, rows);
        log(`probe: ${rows.length} rows, ${familySummary(rows, mismatches)}`);
        expect(mismatches, formatMismatches(mismatches)).to.have.length(0);
        const ntp = rows.filter((r) => r.to === "ntp" && r.port === 123 && r.protocol === "udp");
        expect(ntp.length).to.be.greaterThan(0);
        expect(ntp.every((r) => r.result === "open")).to.equal(true);
    });

    const ntpQuery = (n: LabStatus["nodes"][number], a: string) =>
        inNs(n.netns, ["chronyd", ...chronyQueryArgs(a, path.join(TMP, `chrony-${n.name}.pid`))]);
    const NTP_ANSWER = /System clock wrong by -?[0-9.]+ seconds/;

    it("NTP: chronyd -Q on every node gets the time from the ntp host (IPv4 and IPv6)", () => {
        for (const n of nodes()) {
            for (const a of addrs(vantage("ntp"))) {
                const r = ntpQuery(n, a);
                expect(r.out, `${n.name} → ntp ${a}`).to.match(NTP_ANSWER);
                expect(r.code, `${n.name} → ntp ${a}: ${r.out}`).to.equal(0);
            }
        }
        log(`chronyd -Q answered on ${nodes().length} nodes × ${addrs(vantage("ntp")).length} families`);
    });

    const ldapsearch = (netns: string, url: string) =>
        inNs(
            netns,
            ["ldapsearch", "-x", "-LLL", "-o", "nettimeout=4", "-H", url, "-b", LDAP_SUFFIX, "uid=operator", "cn"],
            { env: { LDAPTLS_CACERT: path.join(serviceDir(vantage("ldap")), "tls.crt"), LDAPTLS_REQCERT: "demand" } },
        );

    it("LDAP: ldapsearch from an application node answers (389, and 636 with TLS); from a database node it fails", () => {
        const ldap = vantage("ldap");
        const app = nodes().find((n) => n.role === "application")!;
        const db = nodes().find((n) => n.role === "database")!;
        const urls = [
            `ldap://${ldap.address}`,
            `ldaps://${ldap.address}`,
            ...(ldap.address6 ? [`ldap://[${ldap.address6}]`] : []),
        ];
        for (const url of urls) {
            const ok = ldapsearch(app.netns, url);
            expect(ok.out, `${app.name} → ${url}`).to.match(/^cn: Lab Operator$/m);
            const no = ldapsearch(db.netns, url);
            expect(no.code, `${db.name} → ${url} must fail: ${no.out}`).to.not.equal(0);
            expect(no.out).to.not.match(/Lab Operator/);
            log(`${url}: ${app.name} answered; ${db.name}: ${lastLine(no.out)}`);
        }
        if (ldap.address6)
            log(
                `ldaps://[${ldap.address6}] from ${app.name}: ${lastLine(ldapsearch(app.netns, `ldaps://[${ldap.address6}]`).out) || "answered"}`,
            );
    });

    /** An sftp upload from node `n` to the backup host at `a`; true when the file landed with its content. */
    const sftpBackup = (n: LabStatus["nodes"][number], a: string): Ran & { landed: boolean } => {
        const backup = vantage("backup");
        const name = `${n.name}-${a.includes(":") ? 6 : 4}-${Date.now()}.tar`;
        const src = path.join(TMP, name);
        const content = `backup of ${n.name} over ${a} at ${Date.now()}\n`;
        fs.writeFileSync(src, content);
        const r = inNs(
            n.netns,
            [
                "sftp",
                "-i",
                lab.sshKey,
                "-o",
                "IdentitiesOnly=yes",
                "-o",
                "StrictHostKeyChecking=yes",
                "-o",
                `UserKnownHostsFile=${path.join(serviceDir(backup), "known_hosts")}`,
                "-o",
                "ConnectTimeout=5",
                "-b",
                "-",
                `backup@${bracket(a)}`,
            ],
            { input: `put ${src} ${name}\n` },
        );
        const file = path.join(serviceDir(backup), "srv", "backups", name);
        return { ...r, landed: fs.existsSync(file) && fs.readFileSync(file, "utf8") === content };
    };

    it("SFTP: a backup upload from every node lands in /srv/backups on the backup host", () => {
        const landed = path.join(serviceDir(vantage("backup")), "srv", "backups");
        for (const n of nodes()) {
            for (const a of addrs(vantage("backup"))) {
                const r = sftpBackup(n, a);
                expect(r.code, `${n.name} → ${a}: ${r.out}`).to.equal(0);
                expect(r.landed, `${n.name}'s upload over ${a} landed`).to.equal(true);
            }
        }
        log(`${fs.readdirSync(landed).length} uploads landed`);
    });

    /** Sends a trap from node `n` to the receiver at `a`; returns [node, its source address, mark] for trapsMissing. */
    const sendTrap = (n: LabStatus["nodes"][number], a: string): { ran: Ran; sent: [string, string, string] } => {
        const mark = `trap-${n.name}-${a.includes(":") ? 6 : 4}-${process.pid}-${Date.now()}`;
        const target = a.includes(":") ? `udp6:[${a}]:162` : `${a}:162`;
        const ran = inNs(
            n.netns,
            ["snmptrap", "-m", "", "-v", "2c", "-c", SNMP_COMMUNITY, target, "", "1.3.6.1.6.3.1.1.5.1"].concat([
                "1.3.6.1.2.1.1.5.0",
                "s",
                mark,
            ]),
            { env: SNMP_ENV },
        );
        return { ran, sent: [n.name, a.includes(":") ? n.address6! : (n.advertisedAddress ?? n.address), mark] };
    };
    /** The traps of `sent` the receiver has not logged (with the sender's address) after waiting up to `ms`. */
    const trapsMissing = (sent: [string, string, string][], ms: number): [string, string, string][] => {
        const file = path.join(serviceDir(vantage("snmp")), "traps.log");
        const deadline = Date.now() + ms;
        for (;;) {
            const blocks = fs.readFileSync(file, "utf8").split(/\n(?=\d{4}-\d\d-\d\d )/);
            const missing = sent.filter(
                ([, src, mark]) => !blocks.some((b) => b.includes(`[${src}]`) && b.includes(mark)),
            );
            if (!missing.length || Date.now() > deadline) return missing;
            spawnSync("sleep", ["0.2"]);
        }
    };

    it("SNMP traps: a trap from every node is logged at the trap receiver (IPv4 and IPv6)", () => {
        const sent: [string, string, string][] = [];
        for (const n of nodes()) {
            for (const a of addrs(vantage("snmp"))) {
                const t = sendTrap(n, a);
                expect(t.ran.code, `${n.name} → ${a}: ${t.ran.out}`).to.equal(0);
                sent.push(t.sent);
            }
        }
        const missing = trapsMissing(sent, 5000);
        expect(
            missing.map((m) => `${m[0]} (${m[1]})`),
            "traps not logged",
        ).to.deep.equal([]);
        log(`${sent.length} traps logged with the sending node's address`);
    });

    it("SNMP agent: snmpget from the monitoring network answers on every node; from the client vantage it times out", () => {
        const get = (netns: string, a: string) =>
            inNs(
                netns,
                ["snmpget", "-m", "", "-v", "2c", "-c", SNMP_COMMUNITY, "-t", "2", "-r", "0"].concat([
                    a.includes(":") ? `udp6:[${a}]:161` : a,
                    "1.3.6.1.2.1.1.5.0",
                ]),
                { env: SNMP_ENV },
            );
        for (const n of nodes()) {
            for (const a of reach(n)) {
                const ok = get(vantage("admin").netns, a);
                expect(ok.out, `admin → ${n.name} ${a}`).to.include(`STRING: "${n.name}"`);
                const no = get(vantage("client").netns, a);
                expect(no.out, `client → ${n.name} ${a}`).to.match(/Timeout/);
                expect(no.out).to.not.include(`STRING: "${n.name}"`);
            }
        }
        log(`snmpget: admin answered, client timed out, on ${nodes().length} nodes`);
    });

    it("HTTPS notifications: a POST from each proxy arrives at the receiver; from a database node it does not", () => {
        const notify = vantage("notify");
        const file = path.join(serviceDir(notify), "notifications.log");
        const post = (netns: string, a: string, mark: string) =>
            inNs(netns, [
                "curl",
                "-sS",
                "--max-time",
                "5",
                "--cacert",
                path.join(serviceDir(notify), "tls.crt"),
                "-o",
                "/dev/null",
                "-w",
                "%{http_code}",
                "-H",
                "content-type: application/json",
                "-d",
                JSON.stringify({ event: "lab-test", mark }),
                `https://${bracket(a)}:9443/notify`,
            ]);
        const proxies = nodes().filter((n) => n.role === "webproxy");
        const db = nodes().find((n) => n.role === "database")!;
        expect(proxies.length).to.be.greaterThan(0);
        for (const a of addrs(notify)) {
            for (const p of proxies) {
                const mark = `${p.name}-${a}`;
                const r = post(p.netns, a, mark);
                expect(r.out, `${p.name} → ${a}`).to.equal("204");
                const got = parseNotifications(fs.readFileSync(file, "utf8"));
                const src = a.includes(":") ? p.address6 : (p.advertisedAddress ?? p.address);
                expect(
                    got.some((g) => g.source === src && g.method === "POST" && g.body.includes(mark)),
                    mark,
                ).to.equal(true);
            }
            const no = post(db.netns, a, `${db.name}-${a}`);
            expect(no.code, `${db.name} → ${a} must fail: ${no.out}`).to.not.equal(0);
            expect(fs.readFileSync(file, "utf8")).to.not.include(`${db.name}-${a}`);
            log(`POST to ${a}: ${proxies.map((p) => p.name).join(", ")} arrived; ${db.name}: ${lastLine(no.out)}`);
        }
    });

    // The same exchanges from the same node to the same server, once the policy no longer lists that address:
    // they fail, while the address the policy still lists works (the firewall, not the service, decides).
    it("NTP, SFTP and traps to an address the policy no longer lists fail from a node; the listed address still works", async function () {
        const n = nodes().find((x) => x.role === "application")!;
        const [ntp, backup, snmp] = [vantage("ntp"), vantage("backup"), vantage("snmp")];
        if (!ntp.address6 || !backup.address6 || !snmp.address6) this.skip(); // needs the dual-stack lab
        const file = lab.stackFile!;
        const original = fs.readFileSync(file, "utf8");
        const doc = yaml.load(original) as { config: Record<string, Record<string, unknown>> };
        const ext = doc.config["pinhole:external"];
        ext.ntp = [ntp.address];
        ext.backupDestinations = (ext.backupDestinations as string[]).filter((u) => !u.includes("["));
        ext.snmpTrapReceivers = (ext.snmpTrapReceivers as string[]).filter((u) => !u.includes("["));
        fs.writeFileSync(file, yaml.dump(doc, { lineWidth: 200 }));
        try {
            const up = await stack.up({ onOutput: () => undefined });
            expect(up.summary.result).to.equal("succeeded");
            const v6 = {
                ntp: ntpQuery(n, ntp.address6!),
                sftp: sftpBackup(n, backup.address6!),
                trap: sendTrap(n, snmp.address6!),
            };
            const v4 = {
                ntp: ntpQuery(n, ntp.address),
                sftp: sftpBackup(n, backup.address),
                trap: sendTrap(n, snmp.address),
            };
            expect(v6.ntp.out, `${n.name} → ntp ${ntp.address6} (no longer listed)`).to.not.match(NTP_ANSWER);
            expect(v6.sftp.landed, `${n.name} → backup ${backup.address6}: ${v6.sftp.out}`).to.equal(false);
            expect(v6.sftp.code).to.not.equal(0);
            expect(v4.ntp.out, `${n.name} → ntp ${ntp.address}`).to.match(NTP_ANSWER);
            expect(v4.sftp.landed, `${n.name} → backup ${backup.address}: ${v4.sftp.out}`).to.equal(true);
            expect(trapsMissing([v4.trap.sent], 5000), "the IPv4 trap is logged").to.deep.equal([]);
            expect(trapsMissing([v6.trap.sent], 3000), "the IPv6 trap is not").to.deep.equal([v6.trap.sent]);
            log(
                `${n.name}, no longer listed over IPv6: ntp ${lastLine(v6.ntp.out) || "no answer"}; sftp ${lastLine(v6.sftp.out)}; trap not logged (snmptrap: ${lastLine(v6.trap.ran.out) || `exit ${v6.trap.ran.code}`}); IPv4 all answered`,
            );
        } finally {
            fs.writeFileSync(file, original);
        }
        const back = await stack.up({ onOutput: () => undefined });
        expect(back.summary.result).to.equal("succeeded");
        expect(ntpQuery(n, ntp.address6!).out, "listed again: answers").to.match(NTP_ANSWER);
    });
});

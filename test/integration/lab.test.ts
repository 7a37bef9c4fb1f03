// The local lab, for real: namespaces, sshd, nginx, listeners, NAT. Needs root; skipped otherwise.
// Every model comes up, every node answers SSH with its pinned host key, the probe of a lab without
// firewall shows every port open, nginx answers TLS, NAT rewrites dc2's source address, reboot loads a
// persisted firewall first, and down leaves nothing behind.
import { expect } from "chai";
import { execFile } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { labDown, labStatus, labUp, probe, reboot, LabStatus } from "../../lab";
import type { LabNodeStatus } from "../../lab";
import { NODE_PORTS } from "../../lab/ports";
import { LAB_DIR, NODES_DIR, STATE_FILE } from "../../lab/state";

const isRoot = typeof process.getuid === "function" && process.getuid() === 0;
const quiet = () => undefined;

interface Out {
    code: number;
    stdout: string;
    stderr: string;
}

function sh(cmd: string, args: string[], input?: string, timeoutMs = 30_000): Promise<Out> {
    return new Promise((resolve) => {
        const child = execFile(cmd, args, { timeout: timeoutMs, maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
            const code = err
                ? typeof (err as NodeJS.ErrnoException).code === "number"
                    ? Number((err as NodeJS.ErrnoException).code)
                    : 1
                : 0;
            resolve({ code, stdout: String(stdout), stderr: String(stderr) });
        });
        if (input !== undefined) child.stdin!.end(input);
    });
}

/** known_hosts built from status: "<sshHost> <hostKey>" per node. */
function knownHostsFrom(status: LabStatus, dir: string, mutate?: (n: LabNodeStatus) => string): string {
    const file = path.join(dir, `known_hosts.${Math.random().toString(36).slice(2)}`);
    fs.writeFileSync(file, status.nodes.map((n) => `${n.sshHost} ${mutate ? mutate(n) : n.hostKey}`).join("\n") + "\n");
    return file;
}

function ssh(
    status: LabStatus,
    node: LabNodeStatus,
    knownHosts: string,
    command: string,
    user = node.sshUser,
): Promise<Out> {
    return sh("ssh", [
        "-i",
        status.sshKey,
        "-o",
        "IdentitiesOnly=yes",
        "-o",
        `UserKnownHostsFile=${knownHosts}`,
        "-o",
        "GlobalKnownHostsFile=/dev/null",
        "-o",
        "StrictHostKeyChecking=yes",
        "-o",
        "BatchMode=yes",
        "-o",
        "ConnectTimeout=5",
        "-o",
        "ControlMaster=no",
        "-o",
        "LogLevel=ERROR",
        "-p",
        String(node.sshPort),
        `${user}@${node.sshHost}`,
        command,
    ]);
}

/** A TLS handshake + GET from inside a namespace (Node's tls, run in the vantage's netns). */
async function tlsFrom(
    netns: string,
    address: string,
    servername: string,
    port = 443,
): Promise<{ subject: string; body: string }> {
    const js = `const tls=require("tls");const s=tls.connect({host:${JSON.stringify(address)},port:${port},servername:${JSON.stringify(servername)},rejectUnauthorized:false},()=>{const c=s.getPeerCertificate();s.write("GET / HTTP/1.0\\r\\nHost: ${servername}\\r\\n\\r\\n");let b="";s.on("data",d=>b+=d);s.on("end",()=>{process.stdout.write(JSON.stringify({subject:c.subject.CN,body:b.split("\\r\\n\\r\\n")[1]||""}),()=>process.exit(0));});});s.on("error",e=>{console.error(e.message);process.exit(3)});setTimeout(()=>process.exit(4),5000);`;
    const r = await sh("ip", ["netns", "exec", netns, process.execPath, "-e", js]);
    if (r.code !== 0) throw new Error(`TLS from ${netns} to ${address}:${port} failed (${r.code}): ${r.stderr}`);
    return JSON.parse(r.stdout.trim());
}

/** Reads the line a lab listener sends back: it names the source address it saw. */
function seenBy(status: LabStatus, from: LabNodeStatus, kh: string, toAddress: string, port = 9000): Promise<string> {
    return ssh(status, from, kh, `exec 3<>/dev/tcp/${toAddress}/${port} && head -n1 <&3`, "root").then((r) => {
        if (r.code !== 0 && from.sshUser !== "root")
            return ssh(status, from, kh, `bash -c 'exec 3<>/dev/tcp/${toAddress}/${port} && head -n1 <&3'`).then((x) =>
                x.stdout.trim(),
            );
        return r.stdout.trim();
    });
}

/** A process that exists and is not a zombie (PID 1 here reaps lazily). */
function alive(pid: number): boolean {
    try {
        return !/^State:\s+Z/m.test(fs.readFileSync(`/proc/${pid}/status`, "utf8"));
    } catch {
        return false;
    }
}

function nodesWith(status: LabStatus, pred: (n: LabNodeStatus) => boolean): LabNodeStatus[] {
    return status.nodes.filter(pred);
}

async function expectSshEverywhere(status: LabStatus, kh: string): Promise<void> {
    await Promise.all(
        status.nodes.map(async (n) => {
            const r = await ssh(status, n, kh, "hostname; id -un; ip -br addr");
            expect(r.code, `${n.name}: ${r.stderr}`).to.equal(0);
            const [host, user] = r.stdout.split("\n");
            expect(host, n.name).to.equal(n.name);
            expect(user, n.name).to.equal(n.sshUser);
            expect(r.stdout, n.name).to.contain(` ${n.address}/`);
            if (n.sudo) {
                const s = await ssh(status, n, kh, "sudo -n nft list ruleset && sudo -n id -u");
                expect(s.code, `${n.name} sudo: ${s.stderr}`).to.equal(0);
                expect(s.stdout.trim().split("\n").pop()).to.equal("0");
            }
        }),
    );
}

async function expectAllOpen(status: LabStatus): Promise<void> {
    const results = await probe();
    const sources = 1 + status.nodes.length + status.vantages.length;
    const externalsPorts = status.vantages.reduce((a, v) => a + v.ports.length, 0);
    const n = status.nodes.length;
    // every row in IPv4 and again in IPv6 (the lab is dual-stack)
    expect(results.length).to.equal(
        2 * ((sources - n) * n * NODE_PORTS.length + n * ((n - 1) * NODE_PORTS.length + externalsPorts)),
    );
    expect(results.filter((r) => r.address.includes(":")).length).to.equal(results.length / 2);
    const notOpen = results.filter((r) => r.result !== "open");
    expect(
        notOpen
            .map((r) => `${r.from}>${r.to}(${r.address}) ${r.port}/${r.protocol} ${r.result} ${r.detail}`)
            .slice(0, 20),
    ).to.deep.equal([]);
    expect(results.some((r) => r.result === "filtered")).to.equal(false);
}

describe("lab (integration, root)", function () {
    this.timeout(10 * 60_000);
    let tmp: string;

    before(async function () {
        if (!isRoot) this.skip();
        // waits while another test run holds the lab (machine-wide lease): not part of this file's own time
        this.timeout(40 * 60_000);
        tmp = fs.mkdtempSync(path.join(os.tmpdir(), "pinhole-lab-test-"));
        await labDown({ log: quiet });
    });

    after(async () => {
        if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
    });

    describe("standalone (--sudo-user)", () => {
        let status: LabStatus;
        let kh: string;
        before(async () => {
            status = await labUp({ model: "standalone", ipv6: true, sudoUser: true, log: quiet });
            kh = knownHostsFrom(status, tmp);
        });

        it("comes up with one node logging in as the sudo user", () => {
            expect(status.up).to.equal(true);
            expect(status.nodes.map((n) => [n.name, n.role, n.sshUser, n.sudo])).to.deep.equal([
                ["standalone-1", "standalone", "pinhole", true],
            ]);
            expect(status.nodes[0].hostKey).to.match(/^ssh-ed25519 AAAA\S+$/);
        });

        it("answers SSH with its pinned host key; sudo -n nft works", () => expectSshEverywhere(status, kh));

        it("probe without firewall: everything open", () => expectAllOpen(status));

        it("writes stacks/Pulumi.lab-standalone.yaml without the private key in clear", () => {
            const text = fs.readFileSync(status.stackFile!, "utf8");
            expect(text).to.contain("pinhole:model: standalone");
            expect(text).to.contain(status.nodes[0].hostKey);
            expect(text).to.contain("egress: deny");
            expect(text).to.not.contain("PRIVATE KEY");
            if (/pinhole:sshPrivateKey/.test(text)) expect(text).to.match(/pinhole:sshPrivateKey:\s*\n\s+secure: /);
        });
    });

    describe("unified", () => {
        let status: LabStatus;
        let kh: string;
        before(async () => {
            status = await labUp({ model: "unified", ipv6: true, log: quiet });
            kh = knownHostsFrom(status, tmp);
        });

        it("replaced the standalone lab: shape, sites, sudo node", async () => {
            expect(status.up).to.equal(true);
            expect(fs.existsSync("/run/netns/phlab-standalone-1")).to.equal(false);
            expect(status.nodes.map((n) => `${n.name}/${n.site}`)).to.deep.equal([
                "unified-1/dc1",
                "unified-2/dc1",
                "unified-3/dc2",
                "unified-4/dc2",
                "proxy-1/dc1",
                "proxy-2/dc2",
            ]);
            expect(nodesWith(status, (n) => n.sudo).map((n) => n.name)).to.deep.equal(["unified-4"]);
            const json = (await labStatus()).vantages.map((v) => v.vantage);
            expect(json).to.include.members([
                "client",
                "admin",
                "ucm",
                "unity",
                "hcmf",
                "webex",
                "sso",
                "ldap",
                "ntp",
                "backup",
                "snmp",
                "notify",
                "api",
            ]);
        });

        it("every node answers SSH with its pinned host key, and refuses a wrong pin", async () => {
            await expectSshEverywhere(status, kh);
            const other = status.nodes[1].hostKey;
            const wrong = knownHostsFrom(status, tmp, (n) => (n.name === "unified-1" ? other : n.hostKey));
            const r = await ssh(status, status.nodes[0], wrong, "true");
            expect(r.code).to.not.equal(0);
            expect(r.stderr).to.match(/host key|HOST IDENTIFICATION/i);
        });

        it("probe without firewall: everything open from every source, provisioner included", () =>
            expectAllOpen(status));

        it("nginx answers TLS on 443 from the client vantage with each node's self-signed certificate", async () => {
            for (const n of status.nodes) {
                const r = await tlsFrom("phlab-client", n.sshHost, n.fqdn);
                expect(r.subject).to.equal(n.fqdn);
                expect(r.body).to.equal(`pinhole lab ${n.name}\n`);
            }
        });

        it("nginx -t / reload over SSH changes that node only; private /etc/nginx", async () => {
            const [p1, p2] = nodesWith(status, (n) => n.role === "webproxy");
            const conf =
                'server { listen 8081; location / { default_type text/plain; return 200 "marker-proxy-1\\n"; } }';
            const w = await ssh(
                status,
                p1,
                kh,
                `printf '%s\\n' '${conf}' > /etc/nginx/conf.d/zz-lab-test.conf && nginx -t 2>&1 && nginx -s reload`,
            );
            expect(w.code, w.stderr + w.stdout).to.equal(0);
            expect(fs.existsSync("/etc/nginx/conf.d/zz-lab-test.conf")).to.equal(false);
            expect((await ssh(status, p2, kh, "ls /etc/nginx/conf.d")).stdout).to.not.contain("zz-lab-test");
            let body = "";
            for (let i = 0; i < 40 && !body.includes("marker"); i++) {
                const r = await sh("ip", [
                    "netns",
                    "exec",
                    "phlab-client",
                    "bash",
                    "-c",
                    `exec 3<>/dev/tcp/${p1.address}/8081 && printf 'GET / HTTP/1.0\\r\\n\\r\\n' >&3 && cat <&3`,
                ]);
                body = r.stdout;
                if (!body.includes("marker")) await new Promise((res) => setTimeout(res, 100));
            }
            expect(body).to.contain("marker-proxy-1");
            const other = await probe({
                from: ["client"],
                to: [p2.name],
                ports: [{ protocol: "tcp", port: 8081, label: "t", reference: false }],
                families: [4],
            });
            expect(other.map((r) => r.result)).to.deep.equal(["refused"]);
            await ssh(status, p1, kh, "rm -f /etc/nginx/conf.d/zz-lab-test.conf && nginx -s reload");
        });

        it("up again is a no-op: same host keys, same processes", async () => {
            const before = await labStatus();
            const again = await labUp({ model: "unified", ipv6: true, log: quiet, setSecret: false });
            expect(again.nodes.map((n) => [n.hostKey, n.pids.sshd])).to.deep.equal(
                before.nodes.map((n) => [n.hostKey, n.pids.sshd]),
            );
        });

        it("reboot loads /etc/pinhole/firewall.nft before the services; the file is private to the node", async () => {
            const u1 = status.nodes.find((n) => n.name === "unified-1")!;
            const u2 = status.nodes.find((n) => n.name === "unified-2")!;
            const rules =
                "table inet labtest { chain input { type filter hook input priority 0; policy accept; tcp dport 9000 drop; }; }";
            const w = await ssh(
                status,
                u1,
                kh,
                `mkdir -p /etc/pinhole && printf '%s\\n' '${rules}' > /etc/pinhole/firewall.nft`,
            );
            expect(w.code, w.stderr).to.equal(0);
            expect((await ssh(status, u2, kh, "ls /etc/pinhole")).stdout).to.not.contain("firewall.nft");
            const sshdBefore = (await labStatus()).nodes.find((n) => n.name === "unified-1")!.pids.sshd;
            const r = await reboot("unified-1");
            expect(r.firewall).to.equal("loaded");
            const after = (await labStatus()).nodes.find((n) => n.name === "unified-1")!;
            expect(after.running).to.equal(true);
            expect(after.pids.sshd).to.not.equal(sshdBefore);
            const res = await probe({ from: ["admin", "unified-2"], to: ["unified-1"] });
            const by = (port: number, proto = "tcp") => [
                ...new Set(res.filter((x) => x.port === port && x.protocol === proto).map((x) => x.result)),
            ];
            expect(by(9000)).to.deep.equal(["filtered"]);
            expect(by(22)).to.deep.equal(["open"]);
            expect(by(8443)).to.deep.equal(["open"]);
            const listing = await ssh(status, u1, kh, "nft list ruleset");
            expect(listing.stdout).to.contain("table inet labtest");
            await ssh(status, u1, kh, "rm -f /etc/pinhole/firewall.nft");
            expect((await reboot("unified-1")).firewall).to.equal("none");
            expect((await probe({ from: ["admin"], to: ["unified-1"] })).every((x) => x.result === "open")).to.equal(
                true,
            );
        });

        it("up recovers after a crash: killed processes, a namespace deleted under live processes", async () => {
            const pids = (await sh("ip", ["netns", "pids", "phlab-unified-2"])).stdout
                .trim()
                .split(/\s+/)
                .filter(Boolean);
            await sh("kill", ["-9", ...pids]);
            // a session keeps proxy-2's namespace (and veth) alive after the namespace is deleted
            const sleeper = await sh("ip", [
                "netns",
                "exec",
                "phlab-proxy-2",
                "sh",
                "-c",
                "setsid sleep 600 </dev/null >/dev/null 2>&1 & echo $!",
            ]);
            expect(sleeper.code).to.equal(0);
            // the node's own sshd, nginx and listener (in the node's pid namespace) outlive the namespace's name too
            const proxy2 = (await sh("ip", ["netns", "pids", "phlab-proxy-2"])).stdout.trim().split(/\s+/).map(Number);
            await sh("ip", ["netns", "del", "phlab-proxy-2"]);
            await sh("ip", ["netns", "add", "phlab-halfmade"]);
            const s = await labUp({ model: "unified", ipv6: true, log: quiet, setSecret: false });
            expect(s.up).to.equal(true);
            expect(fs.existsSync("/run/netns/phlab-halfmade")).to.equal(false);
            expect(alive(Number(sleeper.stdout.trim())), "the session holding the deleted namespace").to.equal(false);
            expect(proxy2.filter(alive), "proxy-2's processes of before").to.deep.equal([]);
            await expectSshEverywhere(s, knownHostsFrom(s, tmp));
            const res = await probe({ from: ["provisioner", "admin"] });
            expect(res.filter((r) => r.result !== "open")).to.deep.equal([]);
        });
    });

    describe("modular", () => {
        let status: LabStatus;
        before(async () => {
            status = await labUp({ model: "modular", ipv6: true, log: quiet });
        });

        it("comes up: app-1..3, db-1..3 (db-3 arbiter), proxy-1..2; app-3 is the sudo node", () => {
            expect(status.up).to.equal(true);
            expect(status.nodes.map((n) => n.name)).to.deep.equal([
                "app-1",
                "app-2",
                "app-3",
                "db-1",
                "db-2",
                "db-3",
                "proxy-1",
                "proxy-2",
            ]);
            expect(nodesWith(status, (n) => n.arbiter).map((n) => n.name)).to.deep.equal(["db-3"]);
            expect(nodesWith(status, (n) => n.sudo).map((n) => n.name)).to.deep.equal(["app-3"]);
            expect(fs.readFileSync(status.stackFile!, "utf8")).to.match(
                /name: db-3\n\s+role: database\n(.*\n)*?\s+arbiter: true/,
            );
        });

        it("every node answers SSH with its pinned host key", () =>
            expectSshEverywhere(status, knownHostsFrom(status, tmp)));

        it("probe without firewall: everything open", () => expectAllOpen(status));
    });

    describe("multisite (NAT between sites)", () => {
        let status: LabStatus;
        let kh: string;
        before(async () => {
            status = await labUp({ model: "multisite", ipv6: true, log: quiet });
            kh = knownHostsFrom(status, tmp);
        });

        it("dc2 nodes have internal 10.78.2.x addresses advertised as 10.77.2.x", () => {
            expect(status.up).to.equal(true);
            for (const n of nodesWith(status, (x) => x.site === "dc2")) {
                expect(n.address).to.match(/^10\.78\.2\./);
                expect(n.advertisedAddress).to.equal(n.address.replace("10.78.", "10.77."));
                expect(n.sshHost).to.equal(n.advertisedAddress);
            }
            expect(status.router!.nat).to.have.length(3);
        });

        it("every node answers SSH (dc2 through the NAT) and sees its own internal address", () =>
            expectSshEverywhere(status, kh));

        it("a dc1 node sees a dc2 peer's connection coming from the advertised address; dc2 peers see internal ones", async () => {
            const u1 = status.nodes.find((n) => n.name === "unified-1")!;
            const u3 = status.nodes.find((n) => n.name === "unified-3")!;
            const u4 = status.nodes.find((n) => n.name === "unified-4")!;
            expect(await seenBy(status, u3, kh, u1.address)).to.equal(`labnet ${u3.advertisedAddress} 9000`);
            expect(await seenBy(status, u3, kh, u4.address)).to.equal(`labnet ${u3.address} 9000`);
            expect(await seenBy(status, u1, kh, u3.advertisedAddress!)).to.equal(`labnet ${u1.address} 9000`);
        });

        it("probe without firewall: everything open (other sites by advertised address)", async () => {
            await expectAllOpen(status);
            const ssh = [{ protocol: "tcp" as const, port: 22, label: "ssh", reference: true }];
            const rows = await probe({
                from: ["unified-1", "unified-4"],
                to: ["unified-3"],
                ports: ssh,
                families: [4],
            });
            expect(Object.fromEntries(rows.map((r) => [r.from, r.address]))).to.deep.equal({
                "unified-1": "10.77.2.11",
                "unified-4": "10.78.2.11",
            });
            // IPv6 is routed between the sites, not NATed: one address from everywhere
            const rows6 = await probe({
                from: ["unified-1", "unified-4", "provisioner"],
                to: ["unified-3"],
                ports: ssh,
                families: [6],
            });
            expect(rows6.map((r) => `${r.from} ${r.address} ${r.result}`)).to.deep.equal([
                "provisioner fd77:0:0:2::11 open",
                "unified-1 fd77:0:0:2::11 open",
                "unified-4 fd77:0:0:2::11 open",
            ]);
        });
    });

    describe("down", () => {
        it("leaves no namespace, process, mount, link, user or runtime file", async () => {
            // a killed booted run's leftover: systemd as PID 1 of its own pid namespace (a stand-in with the same
            // command line) in a lab namespace deleted since, beside the node's own sshd, nginx and listener
            const fake = await sh("ip", [
                "netns",
                "exec",
                "phlab-proxy-2",
                "sh",
                "-c",
                [
                    `setsid unshare --pid --fork perl -e '$0 = "/usr/lib/systemd/systemd"; sleep 600' </dev/null >/dev/null 2>&1 &`,
                    // until it runs (exit 0) or 5 s have gone (exit 1)
                    'for i in $(seq 50); do pgrep -f "^/usr/lib/systemd/systemd$" >/dev/null && exit 0; sleep 0.1; done; exit 1',
                ].join("\n"),
            ]);
            expect(fake.code).to.equal(0);
            const proxy2 = (await sh("ip", ["netns", "pids", "phlab-proxy-2"])).stdout.trim().split(/\s+/).map(Number);
            await sh("ip", ["netns", "del", "phlab-proxy-2"]);
            const said: string[] = [];
            await labDown({ log: (m) => said.push(m) });
            expect(said.join("\n")).to.match(
                /stopping a stray booted lab container: systemd pid \d+, its network namespace holds a lab address/,
            );
            expect(proxy2.filter(alive), "proxy-2's processes (its namespace deleted)").to.deep.equal([]);
            expect((await sh("ip", ["netns", "list"])).stdout).to.not.contain("phlab-");
            const links = (await sh("ip", ["-o", "link", "show"])).stdout;
            expect(links).to.not.match(/\bphlab0\b|\bphl\d+[@:]/);
            expect((await sh("getent", ["passwd", "pinhole"])).code).to.not.equal(0);
            expect((await sh("getent", ["group", "pinhole"])).code).to.not.equal(0);
            expect(fs.readFileSync("/proc/self/mountinfo", "utf8")).to.not.match(/\.lab\/|\/run\/netns\/phlab-/);
            const ours: string[] = [];
            for (const e of fs.readdirSync("/proc").filter((x) => /^\d+$/.test(x))) {
                try {
                    const cmd = fs.readFileSync(`/proc/${e}/cmdline`, "utf8");
                    const mounts = fs.readFileSync(`/proc/${e}/mountinfo`, "utf8");
                    if (cmd.includes(`${LAB_DIR}/`) || mounts.includes(`${LAB_DIR}/`))
                        ours.push(`${e}: ${cmd.replace(/\0/g, " ")}`);
                } catch {
                    /* gone */
                }
            }
            expect(ours).to.deep.equal([]);
            expect(fs.existsSync(NODES_DIR)).to.equal(false);
            expect(fs.existsSync(STATE_FILE)).to.equal(false);
            expect((await labStatus()).up).to.equal(false);
        });
    });
});

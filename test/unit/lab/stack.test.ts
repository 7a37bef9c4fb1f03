import { expect } from "chai";
import * as yaml from "js-yaml";
import { bootScript, hostsFile, overlaysFor, routerNatRuleset, sshdConfig } from "../../../lab/render";
import { buildPlan } from "../../../lab/shapes";
import { labStackConfig, mergeStackDocument, renderStackDocument, stackFileName } from "../../../lab/stack";
import { ipv6Flag, parseArgs } from "../../../lab/cli";
import { parseClusterConfig } from "../../../model/config/parse";

/** A well-formed ed25519 public key line (string "ssh-ed25519" + 32 key bytes, length-prefixed). */
const ed25519Key = (seed: number) => {
    const lp = (b: Buffer) => Buffer.concat([Buffer.from([0, 0, 0, b.length]), b]);
    return `ssh-ed25519 ${Buffer.concat([lp(Buffer.from("ssh-ed25519")), lp(Buffer.alloc(32, seed))]).toString("base64")}`;
};
const keysFor = (names: string[]) => Object.fromEntries(names.map((n) => [n, `ssh-ed25519 AAAAkey-${n}`]));

describe("lab stack config", () => {
    it("generates the documented keys for the multisite lab", () => {
        const plan = buildPlan({ model: "multisite", ipv6: true });
        const c = labStackConfig(plan, keysFor(plan.nodes.map((n) => n.name))) as Record<string, any>;
        expect(stackFileName("multisite")).to.equal("Pulumi.lab-multisite.yaml");
        expect(c["pinhole:model"]).to.equal("unified");
        expect(c["pinhole:domain"]).to.equal("lab.pinhole.test");
        const admin = ["10.77.100.0/24", "10.77.0.1/32", "fd77::100:0/112", "fd77::1/128"];
        expect(c["pinhole:networks"]).to.deep.equal({ admin, client: ["0.0.0.0/0", "::/0"], monitoring: admin });
        const u3 = c["pinhole:nodes"].find((n: any) => n.name === "unified-3");
        expect(u3).to.deep.equal({
            name: "unified-3",
            role: "unified",
            site: "dc2",
            address: "10.78.2.11",
            address6: "fd77:0:0:2::11",
            advertisedAddress: "10.77.2.11",
            ssh: { host: "10.77.2.11", port: 22, user: "root", sudo: false, hostKey: "ssh-ed25519 AAAAkey-unified-3" },
        });
        expect(c["pinhole:nodes"].find((n: any) => n.name === "unified-4").ssh).to.include({
            user: "pinhole",
            sudo: true,
        });
        const ext = c["pinhole:external"];
        expect(c["pinhole:nodes"].find((n: any) => n.name === "unified-1").address6).to.equal("fd77::1:11");
        expect(ext.ucm).to.deep.equal(["10.77.50.11", "fd77::50:11"]);
        expect(ext.notificationDestinations).to.deep.equal([
            "https://10.77.50.20:9443/notify",
            "https://[fd77::50:20]:9443/notify",
        ]);
        expect(ext.snmpTrapReceivers).to.deep.equal([
            "snmp://public@10.77.50.19:162",
            "snmp://public@[fd77::50:19]:162",
        ]);
        expect(ext.backupDestinations[0]).to.match(/^sftp:\/\/backup@10\.77\.50\.18:22\//);
        expect(ext.backupDestinations[1]).to.match(/^sftp:\/\/backup@\[fd77::50:18\]:22\//);
        expect(ext.ldap).to.deep.equal([
            { host: "10.77.50.16", ports: [389, 636], protocols: ["tcp", "udp"] },
            { host: "fd77::50:16", ports: [389, 636], protocols: ["tcp", "udp"] },
        ]);
        expect(() => labStackConfig(plan, {})).to.throw(/no host key/);
    });

    it("every lab stack parses as a dual-stack cluster: each node and external system in both families, no problems", () => {
        for (const model of ["standalone", "unified", "modular", "multisite"] as const) {
            const plan = buildPlan({ model, ipv6: true });
            const raw = {
                ...labStackConfig(plan, Object.fromEntries(plan.nodes.map((n, i) => [n.name, ed25519Key(i + 1)]))),
                "pinhole:firewall": { egress: "deny" },
            };
            const r = parseClusterConfig(
                Object.fromEntries(Object.entries(raw).map(([k, v]) => [k.replace(/^pinhole:/, ""), v])),
            );
            expect(r.errors, `${model}: ${JSON.stringify(r.errors)}`).to.deep.equal([]);
            const m = r.model!;
            for (const n of m.nodes) expect(n.address6, `${model} ${n.name}`).to.match(/^fd77:/);
            const kinds = new Set(m.external.map((e) => e.kind));
            for (const kind of kinds) {
                const addrs = m.external.filter((e) => e.kind === kind).flatMap((e) => e.addresses);
                expect(
                    addrs.some((a) => a.startsWith("10.77.50.")),
                    `${model} ${kind} IPv4`,
                ).to.equal(true);
                expect(
                    addrs.some((a) => a.startsWith("fd77::50:")),
                    `${model} ${kind} IPv6`,
                ).to.equal(true);
            }
        }
    });

    it("IPv4-only lab (ipv6: false): no address6, no IPv6 network or external address", () => {
        const plan = buildPlan({ model: "multisite", ipv6: false });
        const c = labStackConfig(plan, keysFor(plan.nodes.map((n) => n.name))) as Record<string, any>;
        expect(c["pinhole:networks"]).to.deep.equal({
            admin: ["10.77.100.0/24", "10.77.0.1/32"],
            client: ["0.0.0.0/0"],
            monitoring: ["10.77.100.0/24", "10.77.0.1/32"],
        });
        expect(c["pinhole:nodes"].some((n: any) => "address6" in n)).to.equal(false);
        expect(JSON.stringify(c["pinhole:external"])).to.not.contain("fd77");
        expect(sshdConfig(plan.nodes[0])).to.not.contain("[");
    });

    it("modular: db-3 carries arbiter: true", () => {
        const plan = buildPlan({ model: "modular" });
        const c = labStackConfig(plan, keysFor(plan.nodes.map((n) => n.name))) as Record<string, any>;
        expect(c["pinhole:nodes"].filter((n: any) => n.arbiter).map((n: any) => n.name)).to.deep.equal(["db-3"]);
    });

    it("merging keeps non-lab keys and fields, replaces lab keys", () => {
        const plan = buildPlan({ model: "standalone" });
        const existing = {
            encryptionsalt: "v1:abc",
            config: {
                "pinhole:sshPrivateKey": { secure: "v1:xyz" },
                "pinhole:nodes": [{ name: "old" }],
                "pinhole:firewall": { egress: "allow", rollbackSeconds: 7 },
                "pinhole:certificates": { mode: "external", validityDays: 30 },
                "other:key": 1,
            },
        };
        const doc = mergeStackDocument(existing, labStackConfig(plan, keysFor(["standalone-1"]))) as any;
        expect(doc.encryptionsalt).to.equal("v1:abc");
        expect(doc.config["pinhole:sshPrivateKey"]).to.deep.equal({ secure: "v1:xyz" });
        expect(doc.config["other:key"]).to.equal(1);
        expect(doc.config["pinhole:nodes"].map((n: any) => n.name)).to.deep.equal(["standalone-1"]);
        expect(doc.config["pinhole:firewall"]).to.deep.equal({ egress: "deny", rollbackSeconds: 7 });
        expect(doc.config["pinhole:certificates"]).to.deep.equal({
            mode: "self-signed",
            frontEnd: "whole-site",
            validityDays: 30,
        });
        expect(existing.config["pinhole:firewall"].egress).to.equal("allow"); // input untouched
        const text = renderStackDocument(doc);
        expect(text.startsWith("# Generated by")).to.equal(true);
        expect(yaml.load(text)).to.deep.equal(doc);
        const fresh = mergeStackDocument(undefined, { "pinhole:model": "standalone" }) as any;
        expect(fresh.config["pinhole:firewall"]).to.deep.equal({ egress: "deny" });
    });
});

describe("lab renderers", () => {
    const plan = buildPlan({ model: "multisite", ipv6: true });
    const u3 = plan.nodes.find((n) => n.name === "unified-3")!;

    it("sshd_config: node address, own host key, key-only, no PAM", () => {
        const c = sshdConfig(u3);
        for (const l of [
            "ListenAddress 10.78.2.11:22",
            "ListenAddress [fd77:0:0:2::11]:22",
            "HostKey /mnt/nodes/unified-3/ssh/ssh_host_ed25519_key",
            "AuthorizedKeysFile /etc/ssh/pinhole_lab_authorized_keys",
            "PasswordAuthentication no",
            "UsePAM no",
            "StrictModes no",
            "PidFile /run/sshd.pid",
        ])
            expect(c).to.contain(l + "\n");
    });

    it("boot script: the lab dir first, private mounts, then firewall before nginx, listener and sshd", () => {
        const b = bootScript(u3, "/x/.lab");
        const at = (s: string) => {
            const i = b.indexOf(s);
            expect(i, s).to.be.greaterThan(-1);
            return i;
        };
        expect(at("mount --bind '/x/.lab' /mnt")).to.be.lessThan(at("mount -t overlay"));
        expect(at("D=/mnt/nodes/unified-3")).to.be.lessThan(at("mount -t overlay"));
        expect(at('mount --bind "$D/run" /run')).to.be.lessThan(at("nft -f /etc/pinhole/firewall.nft"));
        expect(at("nft -f /etc/pinhole/firewall.nft")).to.be.lessThan(at("/usr/sbin/nginx"));
        expect(at("/usr/sbin/nginx")).to.be.lessThan(at('"$L/bin/labnet" listen'));
        expect(at('"$L/bin/labnet" listen')).to.be.lessThan(at("exec /usr/sbin/sshd"));
        for (const m of [
            "/etc/nginx",
            "/etc/pinhole",
            "/etc/systemd/system",
            "/etc/sudoers.d",
            "/var/log/nginx",
            "/var/lib/nginx",
            "/home",
            "/root",
            "/tmp",
        ])
            at(`" ${m}\n`);
        for (const m of ["/etc", "/var", "/usr/local"]) at(`lowerdir=${m},`);
        // root's home is the node's own, not an overlay of this machine's (whose shell start-up every session ran)
        expect(b).to.not.contain("lowerdir=/root,");
        expect(b).to.contain('mount --bind "$D/root" /root\n');
        expect(b).to.not.match(/--tcp [^ ]*\b(22|80|443)\b/);
    });

    it("boot script: no overlay over a tree that holds the lab directory", () => {
        expect(overlaysFor("/work/main/.lab").map(([, d]) => d)).to.deep.equal(["/etc", "/var", "/usr/local"]);
        expect(overlaysFor("/root/ci/.lab").map(([, d]) => d)).to.deep.equal(["/etc", "/var", "/usr/local"]);
        const b = bootScript(u3, "/var/tmp/x/.lab");
        expect(b).to.not.contain("lowerdir=/var,");
        expect(b).to.contain("boot: /var is not private");
    });

    it("hosts file: peers by the address this node uses", () => {
        const h = hostsFile(
            plan.nodes.find((n) => n.name === "unified-1")!,
            plan,
        );
        expect(h).to.contain("10.77.2.11 unified-3.lab.pinhole.test unified-3");
        expect(
            hostsFile(
                plan.nodes.find((n) => n.name === "unified-4")!,
                plan,
            ),
        ).to.contain("10.78.2.11 unified-3.lab.pinhole.test unified-3");
    });

    it("router NAT: 1:1 maps both ways on the outside interface, replaced atomically", () => {
        const r = routerNatRuleset(plan.router!);
        expect(r).to.contain("delete table ip phlab_nat");
        expect(r).to.contain("10.77.2.11 : 10.78.2.11");
        expect(r).to.contain("10.78.2.11 : 10.77.2.11");
        expect(r).to.contain('iifname "eth0" dnat to ip daddr map @advertised_to_internal');
        expect(r).to.contain('oifname "eth0" snat to ip saddr map @internal_to_advertised');
    });
});

describe("lab cli arguments", () => {
    it("parses commands, flags with values and booleans", () => {
        const a = parseArgs(["up", "--model", "unified", "--nodes=24", "--sudo-user", "--no-secret"]);
        expect(a.cmd).to.equal("up");
        expect(a.flags.get("model")).to.equal("unified");
        expect(a.flags.get("nodes")).to.equal("24");
        expect(a.flags.get("sudo-user")).to.equal(true);
        expect(a.flags.get("no-secret")).to.equal(true);
        const b = parseArgs(["reboot", "proxy-1"]);
        expect(b.positional).to.deep.equal(["proxy-1"]);
        expect(parseArgs(["up", "--sudo-user", "app-1,app-2"]).flags.get("sudo-user")).to.equal("app-1,app-2");
    });

    it("--ipv4-only / --ipv6 → the plan's ipv6 (neither: the tier's default, dual-stack on the process tier)", () => {
        const table: [string[], boolean | undefined][] = [
            [[], undefined],
            [["--ipv4-only"], false],
            [["--ipv6"], true],
            [["--boot", "--ipv6"], true],
        ];
        for (const [argv, want] of table)
            expect(ipv6Flag(parseArgs(["up", ...argv]).flags), argv.join(" ")).to.equal(want);
        expect(() => ipv6Flag(parseArgs(["up", "--ipv6", "--ipv4-only"]).flags)).to.throw(/exclude each other/);
    });
});

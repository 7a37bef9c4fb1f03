// The IPv6-only lab's plan (`up --ipv6-only`, labUp({ ipv6Only: true })): nodes with IPv6 addresses only,
// everything else dual-stack, and what the stack, the node files, the probe and the ARP table make of it.
import { expect } from "chai";
import { ipv6Flag, parseArgs } from "../../../lab/cli";
import { familyOf, probeTargets } from "../../../lab/probe-plan";
import { hostsFile, nginxDefaultServer, sshdConfig } from "../../../lab/render";
import { macFor, neighborTable, nodeMac } from "../../../lab/neighbors";
import { buildPlan, checkIpv6Only, ipv6Of, LAB6_PREFIX_LEN, LabModel } from "../../../lab/shapes";
import { labStackConfig } from "../../../lab/stack";
import { parseClusterConfig } from "../../../model/config/parse";

const MODELS: LabModel[] = ["standalone", "unified", "modular"];
/** A well-formed ed25519 public key line (string "ssh-ed25519" + 32 key bytes, length-prefixed). */
const ed25519Key = (seed: number) => {
    const lp = (b: Buffer) => Buffer.concat([Buffer.from([0, 0, 0, b.length]), b]);
    return `ssh-ed25519 ${Buffer.concat([lp(Buffer.from("ssh-ed25519")), lp(Buffer.alloc(32, seed))]).toString("base64")}`;
};
const rowKey = (t: { from: string; to: string; address: string; protocol: string; port: number }) =>
    `${t.from}>${t.to} ${t.address} ${t.port}/${t.protocol}`;

describe("lab IPv6-only plan", () => {
    for (const model of MODELS) {
        describe(model, () => {
            const only6 = buildPlan({ model, ipv6Only: true });
            const dual = buildPlan({ model });

            it("each node's one address is the IPv6 mirror of its lab IPv4; ssh.host is it; no address6", () => {
                expect(only6.ipv6Only).to.equal(true);
                expect(only6.nodes.map((n) => n.name)).to.deep.equal(dual.nodes.map((n) => n.name));
                for (const [i, n] of only6.nodes.entries()) {
                    const d = dual.nodes[i];
                    expect(n, n.name).to.include({
                        address: ipv6Of(d.address),
                        labIpv4: d.address,
                        sshHost: ipv6Of(d.address),
                        prefixLen: LAB6_PREFIX_LEN,
                    });
                    expect(n.address6, n.name).to.equal(undefined);
                    expect(n.advertisedAddress, n.name).to.equal(undefined);
                    // the MAC stays that of the (unconfigured) lab IPv4, as in the dual-stack lab
                    expect(nodeMac(n), n.name).to.equal(macFor(d.address));
                }
            });

            it("vantages, external hosts and the provisioning host stay dual-stack", () => {
                expect(only6.vantages).to.deep.equal(dual.vantages);
                expect(only6.provisioner).to.deep.equal(dual.provisioner);
                expect(only6.provisioner.address6).to.be.a("string");
            });

            it("the stack lists each node at its IPv6 address (address and ssh.host), and the model reads it", () => {
                const keys = Object.fromEntries(only6.nodes.map((n, i) => [n.name, ed25519Key(i + 1)]));
                const c = labStackConfig(only6, keys) as Record<string, any>; // any: YAML-shaped config
                for (const n of c["pinhole:nodes"]) {
                    expect(familyOf(n.address), n.name).to.equal(6);
                    expect(n.ssh.host, n.name).to.equal(n.address);
                    expect(n, n.name).to.not.have.property("address6");
                }
                expect(c["pinhole:networks"].client).to.deep.equal(["0.0.0.0/0", "::/0"]);
                expect(c["pinhole:external"].ntp.map(familyOf)).to.deep.equal([4, 6]);
                const parsed = parseClusterConfig(
                    Object.fromEntries(Object.entries(c).map(([k, v]) => [k.replace(/^pinhole:/, ""), v])),
                );
                expect(parsed.errors, JSON.stringify(parsed.errors)).to.deep.equal([]);
                expect(parsed.model!.nodes.map((n) => n.address)).to.deep.equal(only6.nodes.map((n) => n.address));
            });

            it("probes exactly the dual-stack lab's IPv6 rows: no IPv4 row, none repeated", () => {
                const rows = probeTargets(only6).map(rowKey);
                const dual6 = probeTargets(dual)
                    .filter((t) => familyOf(t.address) === 6)
                    .map(rowKey);
                expect(rows.length).to.be.greaterThan(0);
                expect(new Set(rows).size).to.equal(rows.length);
                expect(rows).to.deep.equal(dual6);
                expect(probeTargets(only6, { families: [4] })).to.deep.equal([]);
            });

            it("node files: sshd listens on [address]:22 only, nginx on [::] too, /etc/hosts names IPv6 vantages", () => {
                for (const n of only6.nodes) {
                    const listen = sshdConfig(n)
                        .split("\n")
                        .filter((l) => l.startsWith("ListenAddress"));
                    expect(listen, n.name).to.deep.equal([`ListenAddress [${n.address}]:22`]);
                    expect(nginxDefaultServer(n)).to.contain("listen [::]:443 ssl default_server;");
                    const hosts = hostsFile(n, only6);
                    for (const v of only6.vantages) expect(hosts).to.contain(`${v.address6} ${v.name}.`);
                    expect(hosts).to.not.match(/^10\.77\./m);
                }
            });

            it("no static ARP entry names a node or is given to one; vantages keep theirs", () => {
                const t = neighborTable(only6);
                for (const n of only6.nodes) expect(t.has(n.netns), n.netns).to.equal(false);
                const all = [...t.values()].flat().map((e) => e.address);
                for (const n of only6.nodes) expect(all, n.name).to.not.include(n.labIpv4);
                expect(all.every((a) => familyOf(a) === 4)).to.equal(true);
                expect(t.get(only6.vantages[0].netns)!.map((e) => e.address)).to.include("10.77.0.1");
            });
        });
    }

    const refusals: [string, Parameters<typeof checkIpv6Only>[0], RegExp][] = [
        ["multisite (dc2 behind an IPv4 NAT router)", { model: "multisite", ipv6Only: true }, /multisite.*IPv4 NAT/],
        ["with --boot", { model: "modular", ipv6Only: true, boot: true }, /booted tier/],
        ["with --ipv4-only", { model: "unified", ipv6Only: true, ipv6: false }, /--ipv6-only and --ipv4-only/],
    ];
    for (const [what, opts, message] of refusals) {
        it(`is refused ${what}, with a clear message`, () => {
            expect(() => checkIpv6Only(opts)).to.throw(message);
            if (!opts.boot) expect(() => buildPlan({ ...opts, model: opts.model as LabModel })).to.throw(message);
            // without ipv6Only the same options are fine
            expect(() => checkIpv6Only({ ...opts, ipv6Only: false })).to.not.throw();
        });
    }

    it("the CLI: --ipv6-only excludes --ipv4-only and leaves --ipv6 to the tier's default", () => {
        expect(() => ipv6Flag(parseArgs(["up", "--ipv6-only", "--ipv4-only"]).flags)).to.throw(/exclude each other/);
        expect(ipv6Flag(parseArgs(["up", "--model", "modular", "--ipv6-only"]).flags)).to.equal(undefined);
    });
});

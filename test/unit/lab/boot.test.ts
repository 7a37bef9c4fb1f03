import { expect } from "chai";
import {
    bootBinds,
    bootedSshdConfig,
    listenerUnit,
    nspawnArgs,
    NSPAWN_REBOOT_EXIT,
    supervisorScript,
} from "../../../lab/boot-render";
import { BOOT_PACKAGES, imageKey, parseCandidates } from "../../../lab/boot-image";
import { listenerPorts } from "../../../lab/ports";
import { buildPlan } from "../../../lab/shapes";

describe("lab booted tier (pure parts)", () => {
    const plan = buildPlan({ model: "unified" });
    const node = plan.nodes[0];
    const a = {
        node,
        root: "/x/.lab/nodes/n/boot/root",
        nodeDir: "/x/.lab/nodes/n",
        labBin: "/x/.lab/bin",
        authorizedKeys: "/x/.lab/ssh/authorized_keys",
    };

    it("nspawn boots systemd in the node's existing namespace, without the host's system bus", () => {
        const args = nspawnArgs(a);
        for (const f of [
            "--boot",
            "--register=no",
            "--keep-unit",
            `--network-namespace-path=/run/netns/${node.netns}`,
            `--directory=${a.root}`,
        ])
            expect(args).to.include(f);
        // no --private-network or --network-veth: the namespace is the lab's, already wired to the bridge
        expect(args.some((x) => /^--(private-network|network-veth|network-bridge)/.test(x))).to.equal(false);
    });

    it("binds the node's own files (same host key, nginx, /etc/pinhole as the process tier) and the lab's read-only", () => {
        const binds = bootBinds(a);
        const byTarget = new Map(binds.map(([h, c, ro]) => [c, { h, ro }]));
        expect(byTarget.get("/etc/pinhole")).to.deep.equal({ h: "/x/.lab/nodes/n/etc/pinhole", ro: false });
        expect(byTarget.get("/etc/nginx")?.h).to.equal("/x/.lab/nodes/n/etc/nginx");
        expect(byTarget.get("/etc/ssh/pinhole-lab")).to.deep.equal({ h: "/x/.lab/nodes/n/ssh", ro: true });
        expect(byTarget.get("/opt/pinhole-lab/bin")?.ro).to.equal(true);
        expect(binds.some(([, c]) => c === "/etc/systemd/system")).to.equal(
            false,
            "the image's enabled units live there",
        );
    });

    it("sshd listens on the node address with the bind-mounted host key", () => {
        const c = bootedSshdConfig(node);
        expect(c).to.match(new RegExp(`^ListenAddress ${node.address.replace(/\./g, "\\.")}:22$`, "m"));
        expect(c).to.match(/^HostKey \/etc\/ssh\/pinhole-lab\/ssh_host_ed25519_key$/m);
        expect(c).to.match(/^PasswordAuthentication no$/m);
    });

    it("the listener unit serves every port the process tier serves, after the network", () => {
        const u = listenerUnit();
        const { tcp, udp } = listenerPorts();
        expect(u)
            .to.include(`--tcp ${tcp.join(",")}`)
            .and.include(`--udp ${udp.join(",")}`);
        expect(u)
            .to.match(/^After=network\.target$/m)
            .and.match(/^WantedBy=multi-user\.target$/m);
        expect(u).not.to.include("--daemon");
    });

    it("the supervisor boots again only on exit 133 (reboot) and flushes the kernel ruleset before each boot", () => {
        const s = supervisorScript(node, ["--boot", "--machine=it's"]);
        expect(s).to.include(`[ "$rc" -eq ${NSPAWN_REBOOT_EXIT} ] || exit "$rc"`);
        expect(s.indexOf("nft flush ruleset")).to.be.lessThan(s.indexOf("systemd-nspawn"));
        expect(s).to.include(`'--machine=it'\\''s'`);
    });

    it("image key: changes with any listed package's version, stable otherwise", () => {
        const v = Object.fromEntries(BOOT_PACKAGES.map((p) => [p, "1.0"]));
        const k1 = imageKey(v);
        expect(imageKey({ ...v })).to.equal(k1);
        expect(imageKey({ ...v, nftables: "1.1" })).to.not.equal(k1);
        expect(k1).to.match(/^bookworm-[0-9a-f]{16}$/);
    });

    it("parses apt-cache policy candidates", () => {
        const text =
            "systemd:\n  Installed: 252.38\n  Candidate: 252.39-1~deb12u2\n  Version table:\nufw:\n  Installed: (none)\n  Candidate: 0.36.2-1\n";
        expect(parseCandidates(text)).to.deep.equal({ systemd: "252.39-1~deb12u2", ufw: "0.36.2-1" });
    });
});

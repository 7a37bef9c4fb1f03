import { expect } from "chai";
import { spawnSync } from "child_process";
import * as fsMod from "fs";
import * as osMod from "os";
import * as pathMod from "path";
import {
    applyScript,
    confirmScript,
    inspectScript,
    loaderScript,
    nftablesDropIn,
    removeScript,
    systemdUnit,
} from "../../../remote/firewall-scripts";
import { failsafeRuleset } from "../../../render/failsafe";

const RULESET =
    "table inet pinhole {\n\tchain input {\n\t\ttype filter hook input priority filter; policy drop;\n\t}\n}\n";

function shSyntax(script: string): string {
    const r = spawnSync("sh", ["-n"], { input: script, encoding: "utf8" });
    return r.status === 0 ? "ok" : r.stderr;
}

/** Extracts the base64 payloads of a script (in order) and decodes them. */
function payloads(script: string): string[] {
    return [...script.matchAll(/<<'PINHOLE_PAYLOAD'\n([\s\S]*?)\nPINHOLE_PAYLOAD/g)].map((m) =>
        Buffer.from(m[1].replace(/\n/g, ""), "base64").toString("utf8"),
    );
}

describe("remote/firewall-scripts", () => {
    const apply = applyScript({
        token: "t1",
        ruleset: RULESET,
        managementSources: ["10.77.0.1/32", "10.77.100.0/24"],
        rollbackSeconds: 30,
    });

    const scripts: [string, string][] = [
        ["apply", apply],
        [
            "apply without pre-check",
            applyScript({
                token: "t2",
                ruleset: RULESET,
                managementSources: ["10.0.0.1"],
                rollbackSeconds: 30,
                skipPrecheck: true,
            }),
        ],
        ["confirm", confirmScript("t1", "app-1-abc")],
        ["inspect", inspectScript()],
        ["remove", removeScript("app-1-abc")],
    ];
    for (const [name, script] of scripts) {
        it(`${name} script is valid POSIX sh`, () => expect(shSyntax(script)).to.equal("ok"));
    }

    it("apply checks with nft -c, arms the rollback, then applies atomically, in that order", () => {
        const check = apply.indexOf(`nft -c -f "$new"`);
        const precheck = apply.indexOf("refusing to apply");
        const timer = apply.indexOf("setsid sh -c 'sleep 30;");
        const commit = apply.indexOf(`\nnft -f "$new"`);
        expect(check).to.be.greaterThan(0);
        expect(precheck).to.be.greaterThan(check);
        expect(timer).to.be.greaterThan(precheck);
        expect(commit).to.be.greaterThan(timer);
    });

    it("apply carries the ruleset as an atomic replace of pinhole's table, and a remove-only rollback when nothing was confirmed before", () => {
        const [ruleset, rollback] = payloads(apply);
        expect(ruleset).to.equal(`table inet pinhole\ndelete table inet pinhole\n${RULESET}`);
        expect(rollback).to.equal("table inet pinhole\ndelete table inet pinhole\n");
    });

    it("confirm and rollback race on one atomic mkdir", () => {
        expect(apply).to.contain(
            "if mkdir /run/pinhole/decided.t1 2>/dev/null; then nft -f /run/pinhole/firewall.t1.prev",
        );
        expect(confirmScript("t1", "o")).to.contain("if ! mkdir /run/pinhole/decided.t1 2>/dev/null; then");
    });

    it("confirm persists for boot with a unit ordered before network and services", () => {
        const c = confirmScript("t1", "owner-x");
        expect(c).to.contain("mv /etc/pinhole/firewall.nft.tmp /etc/pinhole/firewall.nft");
        expect(payloads(c)).to.include(systemdUnit());
        expect(systemdUnit()).to.match(/Before=network-pre.target .*sshd.service nginx.service/);
        expect(systemdUnit()).to.contain("WantedBy=sysinit.target");
        expect(systemdUnit()).to.match(/^After=nftables\.service$/m);
        expect(systemdUnit()).not.to.match(/^ExecStop/m);
    });

    it("confirm installs the boot loader, the fail-safe ruleset and the nftables.service drop-in", () => {
        const fs = failsafeRuleset(["10.77.0.1/32", "fd77::/64"], 22);
        const c = confirmScript("t1", "owner-x", fs);
        const p = payloads(c);
        expect(p).to.include(loaderScript()).and.include(nftablesDropIn()).and.include(fs);
        expect(c).to.contain("mv /etc/pinhole/failsafe.nft.tmp /etc/pinhole/failsafe.nft");
        expect(c).to.contain(
            "mv /etc/systemd/system/nftables.service.d/pinhole.conf.tmp /etc/systemd/system/nftables.service.d/pinhole.conf",
        );
        expect(shSyntax(c)).to.equal("ok");
        expect(nftablesDropIn())
            .to.match(/^ExecStartPost=-\/usr\/sbin\/nft -f \/etc\/pinhole\/firewall\.nft$/m)
            .and.match(/^ExecStopPost=-/m)
            .and.match(/^ExecReload=-/m);
        expect(removeScript("me"))
            .to.contain("/etc/pinhole/failsafe.nft")
            .and.contain("/etc/systemd/system/nftables.service.d/pinhole.conf");
    });

    it("the boot loader falls back to the fail-safe ruleset and says so (run for real with a fake nft)", () => {
        const dir = fsMod.mkdtempSync(pathMod.join(osMod.tmpdir(), "pinhole-loader-"));
        const script = loaderScript()
            .replace(/\/etc\/pinhole/g, `${dir}/etc`)
            .replace(/\/run\/pinhole/g, `${dir}/run`);
        fsMod.mkdirSync(`${dir}/bin`);
        fsMod.mkdirSync(`${dir}/etc`);
        // fake nft: fails on a file containing "broken"
        fsMod.writeFileSync(
            `${dir}/bin/nft`,
            '#!/bin/sh\ngrep -q broken "$2" && exit 1; echo "$2" >> "$(dirname "$2")/loaded"; exit 0\n',
            { mode: 0o755 },
        );
        const run = () =>
            spawnSync(
                "sh",
                ["-c", script.replace("PATH=/usr/sbin:/usr/bin:/sbin:/bin", `PATH=${dir}/bin:/usr/bin:/bin`)],
                { encoding: "utf8" },
            );
        fsMod.writeFileSync(`${dir}/etc/firewall.nft`, "table inet pinhole {}\n");
        fsMod.writeFileSync(`${dir}/etc/failsafe.nft`, "table inet pinhole {}\n");
        expect(run().status).to.equal(0);
        expect(fsMod.readFileSync(`${dir}/run/boot-state`, "utf8").trim()).to.equal("loaded");
        fsMod.writeFileSync(`${dir}/etc/firewall.nft`, "broken\n");
        const r = run();
        expect(r.status).to.equal(1);
        expect(r.stderr).to.contain("fail-safe");
        expect(fsMod.readFileSync(`${dir}/run/boot-state`, "utf8").trim()).to.equal("failsafe");
        fsMod.rmSync(dir, { recursive: true, force: true });
    });

    it("the fail-safe ruleset: management SSH from the management sources only, both families; refuses junk", () => {
        const r = failsafeRuleset(["10.77.0.1/32", "10.77.100.0/24", "fd77::/64"], 2222);
        expect(r).to.match(/^table inet pinhole\ndelete table inet pinhole\n/);
        expect(r)
            .to.contain("policy drop;")
            .and.contain("ip saddr { 10.77.0.1/32, 10.77.100.0/24 } tcp dport 2222 accept")
            .and.contain("ip6 saddr { fd77::/64 } tcp dport 2222 accept");
        expect(r).not.to.match(/hook output/);
        expect(() => failsafeRuleset(["10.0.0.1; flush ruleset"], 22)).to.throw(/not an address/);
        expect(() => failsafeRuleset(["10.0.0.1"], 0)).to.throw(/bad SSH port/);
    });

    it("remove leaves a firewall owned by another resource alone", () => {
        expect(removeScript("me")).to.match(/if \[ -n "\$current" \] && \[ "\$current" != 'me' \]; then/);
    });

    it("reads the client address under `set -u` whether it comes from sshd or through sudo", () => {
        const line = apply.split("\n").find((l) => l.startsWith("client="))!;
        const run = (env: Record<string, string>) =>
            spawnSync("sh", ["-c", `set -eu\n${line}\necho "[$client]"`], { env, encoding: "utf8" });
        expect(run({ PATH: "/usr/bin:/bin" }).stdout.trim()).to.equal("[]");
        expect(run({ PATH: "/usr/bin:/bin", SSH_CLIENT: "10.77.0.1 51234 22" }).stdout.trim()).to.equal("[10.77.0.1]");
        expect(run({ PATH: "/usr/bin:/bin", PINHOLE_SSH_CLIENT: "10.77.0.9 40000 22" }).stdout.trim()).to.equal(
            "[10.77.0.9]",
        );
    });

    // The pre-check's CIDR test, run for real in sh + awk.
    const inCidrs = apply.slice(
        apply.indexOf("in_cidrs() {"),
        apply.indexOf("\n}\n", apply.indexOf("in_cidrs() {")) + 3,
    );
    const table: [string, string, string][] = [
        ["10.77.0.1", "10.77.0.1/32 10.77.100.0/24", "yes"],
        ["10.77.100.200", "10.77.0.1/32 10.77.100.0/24", "yes"],
        ["10.77.101.1", "10.77.0.1/32 10.77.100.0/24", "no"],
        ["10.77.0.2", "10.77.0.1", "no"],
        ["192.168.1.1", "0.0.0.0/0", "yes"],
        ["172.16.5.4", "172.16.0.0/12", "yes"],
        ["172.32.0.1", "172.16.0.0/12", "no"],
        ["10.1.2.3", "fd00::/8 10.1.2.3", "yes"],
        ["fd00::1", "fd00::/8", "unknown"],
    ];
    for (const [ip, cidrs, want] of table) {
        it(`pre-check: ${ip} in [${cidrs}] → ${want}`, () => {
            const r = spawnSync("sh", ["-c", `${inCidrs}\nin_cidrs "$1" "$2"`, "sh", ip, cidrs], { encoding: "utf8" });
            expect(r.stdout.trim(), r.stderr).to.equal(want);
        });
    }
});

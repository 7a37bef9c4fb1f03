// npm run bench's comparison parts: the Ansible inventory (pinned host keys, become for sudo nodes), the play
// recap, which process is which for the memory figures, and the targets computed from a report.
import { expect } from "chai";
import * as yaml from "js-yaml";
import { ansibleInventory, parseRecap, processKind } from "../../../../tools/bench/ansible";
import { marginals, targets, formatComparison } from "../../../../tools/bench/targets";
import type { BenchReport, SizeResult } from "../../../../tools/bench/report";

describe("tools/bench/ansible: the Ansible side of the benchmark", () => {
    it("inventory: every host with its address, port, user, own pinned key alias and its transaction; become only for sudo users", () => {
        const { inventory, knownHosts } = ansibleInventory(
            [
                {
                    name: "db-1",
                    host: "10.0.0.1",
                    port: 22,
                    user: "root",
                    hostKey: "ssh-ed25519 AAAA1 comment",
                    sudo: false,
                    transaction: "table inet pinhole {}\n",
                },
                {
                    name: "app-1",
                    host: "10.0.0.2",
                    port: 2222,
                    user: "pinhole",
                    hostKey: "ssh-ed25519 AAAA2",
                    sudo: true,
                    transaction: "x\n",
                },
            ],
            "/k/id",
            "/k/known_hosts",
        );
        const inv = yaml.load(inventory) as {
            all: { vars: Record<string, string>; hosts: Record<string, Record<string, unknown>> };
        };
        expect(inv.all.vars.ansible_ssh_common_args)
            .to.contain("StrictHostKeyChecking=yes")
            .and.to.contain("KexAlgorithms=^curve25519-sha256")
            .and.contain("UserKnownHostsFile=/k/known_hosts");
        expect(inv.all.hosts["db-1"]).to.include({
            ansible_host: "10.0.0.1",
            ansible_port: 22,
            ansible_user: "root",
            ansible_ssh_extra_args: "-o HostKeyAlias=db-1",
            pinhole_transaction: "table inet pinhole {}\n",
        });
        expect(inv.all.hosts["db-1"].ansible_become).to.equal(undefined);
        expect(inv.all.hosts["app-1"].ansible_become).to.equal(true);
        expect(knownHosts).to.equal("db-1 ssh-ed25519 AAAA1\napp-1 ssh-ed25519 AAAA2\n");
    });

    it("recap: hosts with changes and hosts that failed or were unreachable", () => {
        const out = `PLAY RECAP *********\ndb-1 : ok=2    changed=1    unreachable=0    failed=0    skipped=0\napp-1 : ok=1    changed=0    unreachable=0    failed=0\nweb-1 : ok=0    changed=0    unreachable=1    failed=0\n`;
        expect(parseRecap(out)).to.deep.equal({ changed: ["db-1"], failed: ["web-1"] });
    });

    it("process kinds for the memory figures: engine, language host, program, provider; nothing else", () => {
        expect(processKind("/x/pulumi\x00up\x00--yes")).to.equal("engineMiB");
        expect(processKind("/x/pulumi-language-nodejs\x00-typescript=false\x00127.0.0.1:1")).to.equal(
            "languageHostMiB",
        );
        expect(processKind("/usr/bin/node\x00/p/node_modules/@pulumi/pulumi/cmd/run\x00--monitor")).to.equal(
            "programMiB",
        );
        expect(processKind("/usr/bin/node\x00-e\x00...\x00/p/scripts/compile.js\x00/p/dist/provider/main.js")).to.equal(
            "providerMiB",
        );
        expect(processKind("/usr/bin/node\x00/p/node_modules/.bin/mocha")).to.equal(undefined);
        expect(processKind("/usr/sbin/sshd\x00-D")).to.equal(undefined);
    });
});

describe("tools/bench/targets: ratios and targets", () => {
    const size = (
        nodes: number,
        cold: number,
        noop: number,
        floor: number,
        ansible?: SizeResult["ansible"],
        startup?: number,
    ): SizeResult => ({
        nodes,
        labUpMs: 0,
        resources: nodes * 3,
        cold: { ms: cold },
        noop: { ms: noop },
        preview: { ms: noop - 100 },
        changePreview: { ms: 0 },
        changeUp: { ms: 0 },
        destroy: { ms: 0 },
        floorMs: floor,
        sshOnlyMs: floor,
        ruleset: { rules: sp(), elements: sp(), bytes: sp() },
        coldDetail: { byType: [] },
        changedNode: "db-1",
        ...(ansible ? { ansible } : {}),
        ...(startup !== undefined ? { startup: { noopFirstResourceMs: startup } } : {}),
    });
    const sp = () => ({ min: 0, avg: 0, max: 0, total: 0 });
    const ans = (cold: number, noop: number): SizeResult["ansible"] => ({
        coldMs: cold,
        noopMs: noop,
        checkMs: noop,
        changeMs: cold,
        coldHosts: 1,
        noopHosts: 0,
        changeHosts: 1,
    });
    const rep = (sizes: SizeResult[]): BenchReport => ({
        startedAt: "",
        machine: { cpus: 2, memGiB: 1, node: "", pulumi: "" },
        micro: {},
        sizes,
    });

    it("marginal cost per added node between consecutive sizes, pinhole and floor", () => {
        expect(marginals([size(12, 6000, 3000, 1000), size(24, 9600, 3100, 2200)])).to.deep.equal([
            { from: 12, to: 24, coldPerNodeMs: 300, floorPerNodeMs: 100 },
        ]);
    });

    it("targets met and missed, from the 24-node size; n/a when not measured", () => {
        const t = targets(
            rep([
                size(6, 4000, 1000, 500, ans(9000, 8000), 1500),
                size(12, 5000, 1050, 1000, ans(12000, 9000), 1500),
                size(24, 9000, 1100, 2200, ans(30000, 10000), 1900),
            ]),
        );
        const by = Object.fromEntries(t.map((x) => [x.what, x]));
        expect(by["cold converge <= 0.35x Ansible's (24 nodes)"].ok).to.equal(true); // 9.0 / 30.0 = 0.30
        expect(by["no-op up <= 0.15x Ansible's no-op (24 nodes)"].ok).to.equal(true); // 1.1 / 10.0
        // 12→24: (9.0 - 5.0) / 12 = 333 ms per node against the floor's (2.2 - 1.0) / 12 = 100 ms: 3.3x
        expect(by["marginal cost per added node <= 2x the parallel-SSH floor's"].ok).to.equal(false);
        expect(by["start-up to the first registered resource <= 2 s"].ok).to.equal(true);
        expect(by["no-op up flat within 20% from 6 to 48 nodes"].ok).to.equal(true);
        expect(targets(rep([size(24, 6000, 1100, 2200)]))[0].ok).to.equal(undefined);
        expect(formatComparison(rep([size(24, 6000, 1100, 2200, ans(20000, 10000))]))).to.match(/24\s+20\.00\s+10\.00/);
    });
});

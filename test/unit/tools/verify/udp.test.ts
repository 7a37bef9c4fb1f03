// verify's UDP probes and per-family planning: which UDP exchanges a node is checked on (its outbound UDP
// openings to external services, each address family), how outcomes are judged, and the script on loopback.
import { expect } from "chai";
import { spawn } from "child_process";
import * as dgram from "dgram";
import {
    judgeProbe,
    parseProbeOutput,
    probeFindings,
    probePlan,
    probeScript,
    udpExternalTargets,
} from "../../../../tools/verify";
import { buildClusterPolicy } from "../../../../model/policy";
import { mustParse, rawCluster } from "../../helpers/model-builders";

function runSh(script: string): Promise<string> {
    return new Promise((resolve) => {
        const p = spawn("/bin/sh", [], { stdio: ["pipe", "pipe", "ignore"] });
        let out = "";
        p.stdout.on("data", (d) => (out += d));
        p.on("close", () => resolve(out));
        p.stdin.end(script);
    });
}

describe("tools/verify/verify: UDP probes and address families", () => {
    const model = mustParse(
        rawCluster(
            "modular",
            [
                { name: "app-1", role: "application", address: "10.77.1.11", address6: "fd77::1:11" },
                { name: "db-1", role: "database", address: "10.77.1.101", address6: "fd77::1:101" },
                { name: "proxy-1", role: "webproxy", address: "10.77.1.201" },
            ],
            {
                hosts: { "backup.example.net": ["10.20.5.4"], "ntp.example.net": ["10.30.0.17", "fd30::17"] },
                external: {
                    ntp: ["ntp.example.net"],
                    ldap: [{ host: "10.30.0.14", ports: [389, 636], protocols: ["tcp", "udp"] }],
                    snmpTrapReceivers: ["snmp://public@10.30.0.16:162"],
                    backupDestinations: ["sftp://backup@backup.example.net/srv/backups"],
                },
                firewall: { egress: "deny" },
            },
        ),
    );
    const { flows, nodes: policies } = buildClusterPolicy(model);

    it("UDP probes go to each external service the node opens on UDP, on each family the node has", () => {
        const t = udpExternalTargets(flows, "app-1", new Set([4, 6]));
        const keys = t.map((x) => `${x.address}:${x.port}`).sort();
        expect(keys).to.include.members([
            "10.30.0.17:123",
            "fd30::17:123",
            "10.30.0.16:162",
            "10.30.0.14:389",
            "10.30.0.14:636",
        ]);
        expect(t.every((x) => x.protocol === "udp" && x.expect === "open")).to.equal(true);
        const db1 = udpExternalTargets(flows, "db-1", new Set([4]));
        expect(db1.some((x) => x.port === 389)).to.equal(false);
        expect(db1.every((x) => !x.address.includes(":"))).to.equal(true);
    });

    it("TCP probes between nodes run on each family both ends have", () => {
        const plan = probePlan(model, flows, { forbiddenPerPeer: 1, from: ["app-1"] }, policies);
        expect(
            plan
                .filter((x) => x.to === "db-1" && x.port === 27017)
                .map((x) => x.address)
                .sort(),
        ).to.deep.equal(["10.77.1.101", "fd77::1:101"]);
        expect(plan.filter((x) => x.to === "proxy-1").every((x) => !x.address.includes(":"))).to.equal(true);
        expect(plan.filter((x) => x.protocol === "udp").length).to.be.greaterThan(0);
    });

    it("judges UDP: an answer passes, silence is a warning (a trap receiver never answers), a local refusal fails", () => {
        const t = {
            from: "app-1",
            to: "ntp",
            address: "10.30.0.17",
            port: 123,
            protocol: "udp" as const,
            expect: "open" as const,
            why: "123/udp to ntp",
        };
        expect(judgeProbe(t, "open").ok).to.equal(true);
        expect(judgeProbe(t, "timeout").ok).to.equal(true);
        expect(judgeProbe(t, "eperm").ok).to.equal(false);
        const f = probeFindings([judgeProbe(t, "eperm"), judgeProbe(t, "timeout")]);
        expect(f[0]).to.include({ ok: false });
        expect(f[0].message).to.match(
            /app-1 → ntp \(10\.30\.0\.17\) 123\/udp: required but blocked by the source's egress filter/,
        );
        expect(f[1]).to.include({ ok: true, warning: true });
    });

    it("the UDP probe script gets an echo's answer and a closed port's refusal on loopback (IPv4 and IPv6)", async () => {
        const echo4 = dgram.createSocket("udp4"),
            echo6 = dgram.createSocket({ type: "udp6", ipv6Only: true });
        for (const s of [echo4, echo6]) s.on("message", (m, r) => s.send(m.subarray(0, 4), r.port, r.address));
        await Promise.all([
            new Promise<void>((r) => echo4.bind(0, "127.0.0.1", r)),
            new Promise<void>((r) => echo6.bind(0, "::1", r)),
        ]);
        const closed = dgram.createSocket("udp4");
        await new Promise<void>((r) => closed.bind(0, "127.0.0.1", r));
        const closedPort = closed.address().port;
        closed.close();
        try {
            const out = await runSh(
                probeScript(
                    [
                        { address: "127.0.0.1", port: echo4.address().port, protocol: "udp" },
                        { address: "::1", port: echo6.address().port, protocol: "udp" },
                        { address: "127.0.0.1", port: closedPort, protocol: "udp" },
                    ],
                    { timeoutSeconds: 1.5 },
                ),
            );
            expect(parseProbeOutput(out, 3).map((o) => o.outcome)).to.deep.equal(["open", "open", "refused"]);
        } finally {
            echo4.close();
            echo6.close();
        }
    });
});

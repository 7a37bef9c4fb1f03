// Narrowing from evidence (tools/narrow/narrow.ts, tools/narrow/run.ts output parsing): parsers, verdicts, proposals.
import { expect } from "chai";
import {
    Evidence,
    formatProposal,
    judgeNarrowings,
    listenerConflicts,
    parseConntrack,
    parseEstablished,
    proposedSettings,
} from "../../../../tools/narrow/narrow";
import { parseListening } from "../../../../remote/ss";
import { evidenceScript, parseEvidenceOutput } from "../../../../tools/narrow/run";
import { EVIDENCE_DIR } from "../../../../program/evidence-file";
import * as fs from "fs";
import * as path from "path";
import { buildFlowReport } from "../../../../model/policy";
import { NARROWING_IDS } from "../../../../model/narrowings";
import { mustParse, rawCluster } from "../../helpers/model-builders";

const model = mustParse(
    rawCluster("modular", [
        { name: "proxy-1", role: "webproxy", address: "10.1.0.21" },
        { name: "app-1", role: "application", address: "10.1.0.31" },
        { name: "db-1", role: "database", address: "10.1.0.41", arbiter: true },
        { name: "db-2", role: "database", address: "10.1.0.42" },
    ]),
);

/** Every node listens on what a real node of its role would (no 27019/27020, 27030 only on the arbiter, no 22/udp). */
function realistic(): Evidence {
    const base = ["tcp 22", "tcp 80", "tcp 443", "udp 161", "tcp 8443"];
    const byRole: Record<string, string[]> = { webproxy: base, application: base, database: [...base, "tcp 27017"] };
    return {
        stack: "t",
        takenAt: "2026-12-01T00:00:00Z",
        windowSeconds: 1,
        nodes: model.nodes.map((n) => ({
            node: n.name,
            seen: [],
            listening: [...byRole[n.role], ...(n.arbiter ? ["tcp 27030"] : [])].map((x) => ({
                protocol: x.split(" ")[0] as "tcp" | "udp",
                port: Number(x.split(" ")[1]),
                address: "0.0.0.0",
            })),
        })),
    };
}

describe("tools/narrow/narrow: narrowing from evidence", () => {
    it("parses ss listeners, conntrack entries and established sockets", () => {
        expect(
            parseListening(
                "tcp LISTEN 0 128 10.1.0.41:22 0.0.0.0:*\nudp UNCONN 0 0 *:161 *:*\ntcp LISTEN 0 5 [::]:8443 [::]:*\n",
            ),
        ).to.deep.equal([
            { protocol: "tcp", port: 22, address: "10.1.0.41" },
            { protocol: "udp", port: 161, address: "0.0.0.0" },
            { protocol: "tcp", port: 8443, address: "::" },
        ]);
        expect(
            parseConntrack(
                "ipv4     2 tcp      6 431999 ESTABLISHED src=10.1.0.31 dst=10.1.0.41 sport=40000 dport=27017 src=10.1.0.41 dst=10.1.0.31 sport=27017 dport=40000 [ASSURED] mark=0 use=1\n" +
                    "ipv4     2 udp      17 29 src=10.1.0.41 dst=10.30.0.17 sport=5000 dport=123 src=10.30.0.17 dst=10.1.0.41 sport=123 dport=5000 mark=0 use=1\n" +
                    // unanswered (a probe, a scan): not use
                    "ipv4     2 udp      17 29 src=10.1.0.31 dst=10.1.0.41 sport=5001 dport=22 [UNREPLIED] src=10.1.0.41 dst=10.1.0.31 sport=22 dport=5001 mark=0 use=1\n" +
                    "ipv4     2 tcp      6 9 CLOSE src=10.1.0.31 dst=10.1.0.41 sport=40002 dport=27019 src=10.1.0.41 dst=10.1.0.31 sport=27019 dport=40002 mark=0 use=1",
            ),
        ).to.deep.equal([
            { protocol: "tcp", src: "10.1.0.31", sport: 40000, dst: "10.1.0.41", dport: 27017 },
            { protocol: "udp", src: "10.1.0.41", sport: 5000, dst: "10.30.0.17", dport: 123 },
        ]);
        const l = parseListening("tcp LISTEN 0 128 0.0.0.0:22 0.0.0.0:*");
        expect(
            parseEstablished("0 0 10.1.0.41:22 10.1.0.31:41000\n0 0 10.1.0.41:50000 10.1.0.42:8443", l),
        ).to.deep.equal([
            { protocol: "tcp", src: "10.1.0.31", sport: 41000, dst: "10.1.0.41", dport: 22 },
            { protocol: "tcp", src: "10.1.0.41", sport: 50000, dst: "10.1.0.42", dport: 8443 },
        ]);
    });

    it("the on-node script is read-only and its output parses back; an unfinished run is an error", () => {
        const s = evidenceScript(5);
        expect(s).to.contain("ss -Hlntu").and.contain("nf_conntrack");
        expect(s.replace(/2>\/dev\/null/g, "")).to.not.match(/\bnft\b|>/);
        expect(evidenceScript(1, [{ address: "10.30.0.16", port: 162 }])).to.contain("/dev/tcp/10.30.0.16/162");
        expect(
            parseEvidenceOutput("n", "--- reach\n10.30.0.16 162 closed\n--- listen\n--- done\n").reach,
        ).to.deep.equal([{ address: "10.30.0.16", port: 162, result: "closed" }]);
        const ev = parseEvidenceOutput(
            "db-1",
            "--- listen\ntcp LISTEN 0 1 0.0.0.0:27017 0.0.0.0:*\n--- conntrack\n--- established\n0 0 10.1.0.41:27017 10.1.0.31:40000\n--- done\n",
        );
        expect(ev.listening).to.have.length(1);
        expect(ev.seen).to.deep.equal([
            { protocol: "tcp", src: "10.1.0.31", sport: 40000, dst: "10.1.0.41", dport: 27017 },
        ]);
        expect(parseEvidenceOutput("db-1", "--- listen\n").error).to.match(/did not finish/);
    });

    it("a narrowing is safe when nothing listens on and nothing used what it closes", () => {
        const v = Object.fromEntries(judgeNarrowings(model, realistic()).map((x) => [x.narrowing, x]));
        expect(v.databasePortsFromTables.safe).to.equal(true);
        expect(v.arbiterOnArbiterNodes.safe).to.equal(true);
        expect(v.sshTcpOnly.safe).to.equal(true);
        expect(v.noSshBetweenNodes.safe, "sshd listens on 22").to.equal(false);
        expect(v.noHttpBetweenNodes.safe, "nginx listens on 80").to.equal(false);
        expect(v.noSnmpBetweenNodes.safe, "snmpd listens on 161/udp").to.equal(false);
        expect(v.serviceListAsTables.safe, "443 on the proxy is listened on").to.equal(false);
        expect(v.databasePortsFromTables.openings.length).to.be.greaterThan(0);
    });

    it("traffic on a closed flow makes it unsafe even without a listener now; an unread node makes everything unsafe", () => {
        const ev = realistic();
        ev.nodes
            .find((n) => n.node === "db-1")!
            .seen.push({ protocol: "tcp", src: "10.1.0.31", sport: 40001, dst: "10.1.0.41", dport: 27019 });
        expect(judgeNarrowings(model, ev).find((x) => x.narrowing === "databasePortsFromTables")!.safe).to.equal(false);
        const broken = realistic();
        broken.nodes[3] = { node: "db-2", listening: [], seen: [], error: "timeout" };
        expect(judgeNarrowings(model, broken).find((x) => x.narrowing === "databasePortsFromTables")!.safe).to.equal(
            false,
        );
    });

    it("proposes the shorter spelling, and the proposal applies exactly the safe narrowings", () => {
        const verdicts = judgeNarrowings(model, realistic());
        const p = proposedSettings(verdicts);
        const safe = verdicts
            .filter((v) => v.safe)
            .map((v) => v.narrowing)
            .sort();
        const applies = verdicts.filter((v) => v.applies).map((v) => v.narrowing);
        const applied = NARROWING_IDS.filter(
            (id) => applies.includes(id) && (p.narrow[id] ?? p.profile === "strict"),
        ).sort();
        expect(applied).to.deep.equal(safe);
        expect(formatProposal(p)).to.match(/^pinhole:firewall:\n  profile: (reference|strict)\n/);
        const parsed = mustParse(
            rawCluster(
                "modular",
                model.nodes.map((n) => ({ name: n.name, role: n.role, address: n.address, arbiter: n.arbiter })),
                { firewall: p },
            ),
        );
        expect(parsed.firewall).to.deep.include({ profile: p.profile, narrow: p.narrow });
    });

    it("keeps evidence under the project root, where the program (run from dist/) finds it too", () => {
        expect(fs.existsSync(path.join(EVIDENCE_DIR, "..", "..", "Pulumi.yaml"))).to.equal(true);
    });

    it("preview: warns when the stack's profile closes a port something listened on", () => {
        const strict = { ...model, firewall: { ...model.firewall, profile: "strict" as const } };
        const warnings = listenerConflicts(buildFlowReport(strict).narrowed, realistic());
        expect(warnings.some((w) => /80\/tcp into proxy-1/.test(w) && /noHttpBetweenNodes/.test(w))).to.equal(true);
        expect(
            warnings.some((w) => /2701[9]|27020/.test(w)),
            "nothing listens on 27019/27020",
        ).to.equal(false);
        expect(listenerConflicts(buildFlowReport(model).narrowed, realistic())).to.deep.equal([]);
    });
});

import { expect } from "chai";
import { Opening } from "../../../model/types";
import { openingSummaryLines } from "../../../model/opening-summary";
import { buildPolicy } from "../../../model/policy";
import { parseClusterConfig } from "../../../model/config/parse";
import { buildPlan } from "../../../lab/shapes";
import { labStackConfig } from "../../../lab/stack";
import { renderRuleset } from "../../../render/nftables";

function opening(port: number, peer: string, why: string, kind: "node" | "network" = "node", section = "S"): Opening {
    const label = kind === "network" ? `${peer} networks` : peer;
    return {
        direction: "inbound",
        protocol: "tcp",
        port,
        service: "svc",
        exposed: false,
        section,
        peer: { kind, name: peer, addresses: ["10.0.0.1"] },
        reason: `${port}/tcp from ${label}: ${why}`,
    };
}

describe("model/opening-summary: the ruleset header's reason lines", () => {
    const cases: { name: string; openings: Opening[]; lines: string[] }[] = [
        {
            name: "one peer keeps its own reason",
            openings: [opening(22, "app-1", "ssh")],
            lines: ["22/tcp from app-1: ssh [S]"],
        },
        {
            name: "up to three peers are named",
            openings: ["app-1", "app-2", "app-3"].map((p) => opening(22, p, "ssh")),
            lines: ["22/tcp from app-1, app-2, app-3: ssh [S]"],
        },
        {
            name: "more are counted, first, second and last named",
            openings: ["app-1", "app-2", "app-3", "app-4", "app-5"].map((p) => opening(22, p, "ssh")),
            lines: ["22/tcp from 5 nodes (app-1, app-2, ..., app-5): ssh [S]"],
        },
        {
            name: "a different why, port or section is a line of its own",
            openings: [
                opening(22, "app-1", "ssh"),
                opening(22, "db-1", "database ssh"),
                opening(22, "app-2", "ssh"),
                opening(80, "app-1", "ssh"),
                opening(22, "app-3", "ssh", "node", "T"),
            ],
            lines: [
                "22/tcp from app-1, app-2: ssh [S]",
                "22/tcp from db-1: database ssh [S]",
                "80/tcp from app-1: ssh [S]",
                "22/tcp from app-3: ssh [T]",
            ],
        },
        {
            name: "networks and reasons not in the prefix form are never merged",
            openings: [
                opening(22, "admin", "ssh", "network"),
                opening(22, "monitoring", "ssh", "network"),
                { ...opening(22, "app-1", "ssh"), reason: "hand-made reason" },
                { ...opening(22, "app-2", "ssh"), reason: "hand-made reason" },
            ],
            lines: [
                "22/tcp from admin networks: ssh [S]",
                "22/tcp from monitoring networks: ssh [S]",
                "hand-made reason [S]",
                "hand-made reason [S]",
            ],
        },
    ];
    for (const c of cases)
        it(c.name, () => {
            expect(openingSummaryLines(c.openings)).to.deep.equal(c.lines);
        });

    // The point of grouping: a node's header does not grow with its peers. The lab's modular shape at 6 and 48
    // nodes: every ruleset's comment lines stay within a fixed count, where one line per peer grew ~8x.
    it("keeps each ruleset's header flat from 6 to 48 nodes of the lab's modular shape", function () {
        this.timeout(60_000);
        const headerLines = (n: number) => {
            const plan = buildPlan({ model: "modular", nodes: n });
            const keys = Object.fromEntries(
                plan.nodes.map((x) => [
                    x.name,
                    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGm1dYnHC3m7v4gQ1Ywq0V1cPZf1T9oQm3c5a7y9bY0c",
                ]),
            );
            const raw = Object.fromEntries(
                Object.entries(labStackConfig(plan, keys)).map(([k, v]) => [k.replace(/^pinhole:/, ""), v]),
            );
            const parsed = parseClusterConfig(raw);
            if (!parsed.model) throw new Error(JSON.stringify(parsed.errors));
            const model = parsed.model;
            return Math.max(
                ...buildPolicy(model).map(
                    (p) =>
                        renderRuleset(p, model.firewall)
                            .split("\n")
                            .filter((l) => l.startsWith("#")).length,
                ),
            );
        };
        const small = headerLines(6);
        const large = headerLines(48);
        expect(large, `header lines at 6 nodes: ${small}, at 48: ${large}`).to.be.at.most(small + 10);
    });
});

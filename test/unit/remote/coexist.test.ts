import { expect } from "chai";
import { spawnSync } from "child_process";
import { detectScript, findings, parseDetection, planCoexistence } from "../../../remote/coexist";

// `nft list ruleset` as each manager leaves it (abridged from the real listings on a booted lab node).
const PINHOLE = `table inet pinhole {
	chain input {
		type filter hook input priority filter; policy drop;
		tcp dport 22 accept
	}
}
`;
const STOCK_NFTABLES_CONF = `table inet filter {
	chain input {
		type filter hook input priority filter; policy accept;
	}
	chain forward {
		type filter hook forward priority filter; policy accept;
	}
	chain output {
		type filter hook output priority filter; policy accept;
	}
}
`;
const UFW = `table ip filter {
	chain ufw-before-input {
	}
	chain INPUT {
		type filter hook input priority filter; policy drop;
		counter packets 0 bytes 0 jump ufw-before-input
	}
	chain OUTPUT {
		type filter hook output priority filter; policy accept;
	}
}
`;
const FIREWALLD = `table inet firewalld {
	chain filter_INPUT {
		type filter hook input priority filter + 10; policy accept;
		ct state { established, related } accept
		reject with icmpx admin-prohibited
	}
}
`;
const IPTABLES = `table ip filter {
	chain INPUT {
		type filter hook input priority filter; policy drop;
		tcp dport 22 counter packets 10 bytes 600 accept
	}
}
`;
const DOCKER = `table ip nat {
	chain DOCKER {
	}
	chain PREROUTING {
		type nat hook prerouting priority dstnat; policy accept;
		fib daddr type local counter packets 0 bytes 0 jump DOCKER
	}
}
table ip filter {
	chain DOCKER {
	}
	chain DOCKER-USER {
		counter packets 0 bytes 0 return
	}
	chain FORWARD {
		type filter hook forward priority filter; policy drop;
		counter packets 0 bytes 0 jump DOCKER-USER
	}
}
`;

const detect = (head: string, ruleset: string) => parseDetection(`${head}--- ruleset\n${ruleset}`);

describe("remote/coexist: other firewall managers", () => {
    it("the detection script is valid sh and read-only", () => {
        expect(spawnSync("sh", ["-n"], { input: detectScript() }).status).to.equal(0);
        expect(detectScript()).not.to.match(/\bnft (add|delete|flush|-f)\b|systemctl (stop|disable|mask)/);
    });

    const cases: { name: string; head: string; ruleset: string; manager: string; blocks: boolean }[] = [
        {
            name: "stock nftables.service (flush ruleset, accept policies)",
            head: "unit nftables enabled active\nnftables-conf-flush yes\n",
            ruleset: STOCK_NFTABLES_CONF,
            manager: "nftables.service",
            blocks: false,
        },
        {
            name: "ufw default deny",
            head: "unit ufw enabled active\nufw-enabled yes\n",
            ruleset: UFW,
            manager: "ufw",
            blocks: true,
        },
        {
            name: "firewalld (nftables backend)",
            head: "unit firewalld enabled active\n",
            ruleset: FIREWALLD,
            manager: "firewalld",
            blocks: true,
        },
        { name: "iptables-nft DROP policy", head: "", ruleset: IPTABLES, manager: "iptables", blocks: true },
        {
            name: "Docker's tables",
            head: "unit docker enabled active\n",
            ruleset: DOCKER,
            manager: "docker",
            blocks: false,
        },
    ];
    for (const c of cases) {
        it(`${c.name}: found as ${c.manager}, ${c.blocks ? "blocks" : "does not block"} pinhole's openings`, () => {
            const f = findings(detect(c.head, PINHOLE + c.ruleset));
            expect(f.map((x) => x.manager)).to.deep.equal([c.manager]);
            expect(f[0].blocks).to.equal(c.blocks);
            const refused = planCoexistence("app-1", f, "refuse");
            if (c.blocks) {
                expect(refused.refuse)
                    .to.match(/^firewall not applied on node app-1: /)
                    .and.contain("does not beat a drop")
                    .and.contain("take-over");
                const taken = planCoexistence("app-1", f, "take-over");
                expect(taken.refuse).to.equal(undefined);
                expect(taken.takeOver).to.match(/mask|-P INPUT ACCEPT/);
                expect(spawnSync("sh", ["-n"], { input: taken.takeOver }).status).to.equal(0);
            } else {
                expect(refused.refuse).to.equal(undefined);
                expect(refused.notes).to.have.length(1);
                expect(refused.takeOver).to.equal("");
            }
        });
    }

    it("pinhole's own table alone: nothing to say", () => {
        expect(findings(detect("unit nftables disabled inactive\n", PINHOLE))).to.deep.equal([]);
    });

    it("a drop in an unknown table is refused even with take-over (pinhole does not remove what it cannot attribute)", () => {
        const other =
            "table inet custom {\n\tchain in {\n\t\ttype filter hook input priority 0; policy drop;\n\t}\n}\n";
        const f = findings(detect("unit nftables disabled inactive\n", other));
        expect(f.map((x) => [x.manager, x.blocks])).to.deep.equal([["nft-table", true]]);
        expect(planCoexistence("db-1", f, "take-over").refuse)
            .to.contain("table inet custom")
            .and.contain("by hand");
    });

    it("names the table, chain, hook and policy in the message", () => {
        const f = findings(detect("unit ufw enabled active\nufw-enabled yes\n", UFW));
        expect(planCoexistence("n", f, "refuse").refuse)
            .to.contain("table ip filter, chain INPUT (hook input, policy drop)")
            .and.contain("ufw disable");
    });
});

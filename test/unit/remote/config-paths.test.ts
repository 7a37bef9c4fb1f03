// No traversal (issue 10, Deliver 1, file paths): the run files pinhole's scripts create on a node are built with
// childPath (render/escape.ts), so a token that is not one plain file-name part cannot name a path anywhere else
// (the token is pinhole's own; this is the guard that makes it safe by construction, not by the caller).
import { expect } from "chai";
import { applyScript, confirmScript } from "../../../remote/firewall-scripts";
import { installScript } from "../../../remote/webserver-scripts";
import { platformInstallScript } from "../../../remote/webserver-platform-scripts";

const BAD_TOKENS = ["../../etc/cron.d/x", "a/b", "x;reboot", "$(id)", "", "..", "a b", "x\nflush ruleset"];

describe("provider run files: paths through childPath, whatever the token", () => {
    const apply = (token: string) =>
        applyScript({
            token,
            ruleset: "table inet pinhole {\n}\n",
            managementSources: ["10.0.0.0/8"],
            rollbackSeconds: 30,
        });
    const web = (token: string) =>
        installScript({
            token,
            owner: "o",
            certificatePem: "c",
            keyPem: "k",
            siteConfig: "",
            replaces: [],
            fqdn: "h.example.com",
            fingerprint: "AB",
            verifySeconds: 0,
        });
    const platform = (token: string) =>
        platformInstallScript({
            token,
            owner: "o",
            files: [],
            fqdn: "h.example.com",
            fingerprint: "AB",
            verifySeconds: 0,
        });

    it("a plain token builds the scripts, with the run files under /run/pinhole", () => {
        expect(apply("mabc123")).to.contain("new=/run/pinhole/firewall.mabc123.nft");
        expect(confirmScript("mabc123", "owner")).to.contain("mkdir /run/pinhole/decided.mabc123");
        expect(web("mabc123")).to.contain("W=/run/pinhole/web.mabc123");
        expect(platform("mabc123")).to.contain("/run/pinhole/webp.mabc123");
    });

    for (const t of BAD_TOKENS) {
        it(`token ${JSON.stringify(t)} is refused by every script that builds a run-file path`, () => {
            expect(() => apply(t)).to.throw(/not a safe file name/);
            expect(() => confirmScript(t, "owner")).to.throw(/not a safe file name/);
            expect(() => web(t)).to.throw(/not a safe file name/);
            expect(() => platform(t)).to.throw(/not a safe file name/);
        });
    }
});

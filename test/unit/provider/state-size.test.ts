// The state keeps a Firewall's ruleset once (its inputs) and its live listing only on drift (issue 18: the
// engine rewrites the whole state after every step). Checked here: the schema says so, the framework drops
// input-only properties from whatever a handler returns (old states included), the server gives diff and
// update the ruleset from the old inputs and marks its diff an input diff (so `preview --diff` shows the
// changed lines, not an added property), and a read records the live listing only when it differs.
import { expect } from "chai";
import { Struct } from "google-protobuf/google/protobuf/struct_pb";
import * as provproto from "@pulumi/pulumi/proto/provider_pb";
import { erase, ResourceHandler, withoutInputOnly } from "../../../provider/framework";
import { FIREWALL, packageSchema } from "../../../provider/schema";
import { diffResponse, providerService } from "../../../provider/server";
import { handlers } from "../../../provider/main";
import { liveFields } from "../../../provider/firewall";
import { stateSummary } from "../../../components/nodes";

const conn = { host: "10.0.0.1", port: 22, user: "root", hostKey: "ssh-ed25519 AAAA", sudo: false };
const RULESET = "# reasons\ntable inet pinhole {\n\tchain input {\n\t\ttcp dport 22 accept\n\t}\n}\n";
const LISTING = "table inet pinhole {\n\tchain input {\n\t\ttcp dport 22 accept\n\t}\n}\n";
const inputs = {
    node: "db-1",
    connection: conn,
    privateKey: "k",
    ruleset: RULESET,
    managementSources: ["10.9.0.0/24"],
    rollbackSeconds: 30,
};
/** A state as the provider before this change wrote it: the ruleset and the live listing in the outputs too. */
const oldOutputs = {
    ...inputs,
    listing: LISTING,
    liveListing: LISTING,
    drift: { rulesAddedOnNode: [], rulesMissingOnNode: [] },
    appliedFrom: "10.9.0.1",
    appliedAt: "2026-12-01T00:00:00Z",
    otherFirewallNotes: [],
};
const newOutputs = Object.fromEntries(
    Object.entries(oldOutputs).filter(([k]) => k !== "ruleset" && k !== "liveListing"),
);

type Svc = Record<string, (call: unknown, cb: (e: unknown, r?: unknown) => void) => void>;
const svc = providerService({ version: "0", schema: "{}", handlers, warn: async () => undefined }) as unknown as Svc;
const call = <T>(method: string, request: unknown) =>
    new Promise<T>((res, rej) => svc[method]({ request }, (e, r) => (e ? rej(e) : res(r as T))));
const URN = "urn:pulumi:s::pinhole::pinhole:firewall:NodeFirewall$pinhole:node:Firewall::db-1-firewall-nft";

describe("provider state size: the ruleset once, the live listing only on drift", () => {
    let liveCheck: string | undefined;
    before(() => {
        liveCheck = process.env.PINHOLE_LIVE_CHECK;
        process.env.PINHOLE_LIVE_CHECK = "0";
    });
    after(() => {
        if (liveCheck === undefined) delete process.env.PINHOLE_LIVE_CHECK;
        else process.env.PINHOLE_LIVE_CHECK = liveCheck;
    });

    it("schema: ruleset is an input, not an output property; liveListing an optional output", () => {
        const fw = (
            packageSchema() as {
                resources: Record<
                    string,
                    { inputProperties: object; properties: object; required: string[]; requiredInputs: string[] }
                >;
            }
        ).resources[FIREWALL.token];
        expect(fw.inputProperties).to.have.property("ruleset");
        expect(fw.requiredInputs).to.include("ruleset");
        expect(fw.properties).to.not.have.property("ruleset");
        expect(fw.properties).to.have.property("liveListing");
        expect(fw.required).to.not.include.members(["ruleset"]);
        expect(fw.required).to.not.include("liveListing");
        expect(fw.required).to.include.members(["listing", "drift", "node", "connection"]);
    });

    const cases: { name: string; outs: Record<string, unknown>; want: string[] }[] = [
        {
            name: "a state of the provider before (ruleset in the outputs)",
            outs: oldOutputs,
            want: Object.keys(oldOutputs).filter((k) => k !== "ruleset"),
        },
        { name: "a state of this provider", outs: newOutputs, want: Object.keys(newOutputs) },
    ];
    for (const c of cases) {
        it(`the framework drops input-only properties from what a handler returns: ${c.name}`, async () => {
            expect(Object.keys(withoutInputOnly(FIREWALL, c.outs)).sort()).to.deep.equal([...c.want].sort());
            // Through erase: a read (refresh) that returns the old state as it came rewrites it without the ruleset.
            const echo: ResourceHandler<typeof FIREWALL> = {
                spec: FIREWALL,
                create: async () => {
                    throw new Error("not used");
                },
                read: async (id, olds) => ({ id, props: olds! }),
            };
            const res = await erase(echo).read("db-1-abc", c.outs, URN);
            expect(Object.keys(res.props).sort()).to.deep.equal([...c.want].sort());
        });
    }

    const reads: { name: string; live: string; liveListing: string | undefined; added: string[]; missing: string[] }[] =
        [
            { name: "as applied", live: LISTING, liveListing: undefined, added: [], missing: [] },
            {
                name: "a rule added by hand",
                live: LISTING.replace(
                    "\t\ttcp dport 22 accept\n",
                    "\t\ttcp dport 3306 accept\n\t\ttcp dport 22 accept\n",
                ),
                liveListing: "x",
                added: ["tcp dport 3306 accept"],
                missing: [],
            },
            {
                name: "the table gone (a rebuilt node)",
                live: "",
                liveListing: "",
                added: [],
                missing: ["table inet pinhole {", "chain input {", "tcp dport 22 accept"],
            },
        ];
    for (const r of reads) {
        it(`a read records the live listing only when it differs: ${r.name}`, () => {
            const f = liveFields(LISTING, r.live);
            expect(f.drift).to.deep.equal({ rulesAddedOnNode: r.added, rulesMissingOnNode: r.missing });
            if (r.liveListing === undefined) expect(f).to.not.have.property("liveListing");
            else expect(f.liveListing).to.equal(r.live);
        });
    }

    it("server: Diff takes the ruleset from the old inputs; a ruleset change is an input diff", async () => {
        const diff = (olds: object, oldInputs: object, news: object) =>
            call<provproto.DiffResponse>(
                "diff",
                new provproto.DiffRequest()
                    .setUrn(URN)
                    .setId("db-1-abc")
                    .setOlds(Struct.fromJavaScript(olds as never))
                    .setOldInputs(Struct.fromJavaScript(oldInputs as never))
                    .setNews(Struct.fromJavaScript(news as never)),
            );
        // New state: no ruleset among the outputs; unchanged inputs are no change (not "ruleset added").
        const same = await diff(newOutputs, inputs, inputs);
        expect(same.getChanges()).to.equal(provproto.DiffResponse.DiffChanges.DIFF_NONE);
        // Old state (ruleset in both): the same.
        expect((await diff(oldOutputs, inputs, inputs)).getChanges()).to.equal(
            provproto.DiffResponse.DiffChanges.DIFF_NONE,
        );
        const changed = await diff(newOutputs, inputs, { ...inputs, ruleset: RULESET.replace("22", "2222") });
        expect(changed.getChanges()).to.equal(provproto.DiffResponse.DiffChanges.DIFF_SOME);
        const dd = changed.getDetaileddiffMap();
        expect(dd.get("ruleset")?.getKind()).to.equal(provproto.PropertyDiff.Kind.UPDATE);
        expect(dd.get("ruleset")?.getInputdiff(), "the CLI shows the old value from the old inputs").to.equal(true);
        // Only the header's reasons changed: nothing to load on the node (a new header format re-applies nothing).
        const reasons = await diff(newOutputs, inputs, { ...inputs, ruleset: RULESET.replace("# reasons", "# other") });
        expect(reasons.getChanges()).to.equal(provproto.DiffResponse.DiffChanges.DIFF_NONE);
        const key = await diff(newOutputs, inputs, { ...inputs, privateKey: "k2" });
        expect(key.getDetaileddiffMap().get("privateKey")?.getInputdiff()).to.equal(false);
    });

    it("diffResponse marks only the given properties (and their paths) as input diffs", () => {
        const r = diffResponse(
            {
                changes: true,
                replaces: [],
                detailedDiff: { ruleset: "update", "connection.host": "update", drift: "delete" },
            },
            ["ruleset", "connection"],
        );
        const m = r.getDetaileddiffMap();
        expect([
            m.get("ruleset")!.getInputdiff(),
            m.get("connection.host")!.getInputdiff(),
            m.get("drift")!.getInputdiff(),
        ]).to.deep.equal([true, true, false]);
    });

    it("a node component's state summary keeps its openings' counts, not their reasons (in the ruleset and the stack output)", () => {
        const s = stateSummary({
            role: "database",
            site: "dc1",
            address: "10.0.0.1",
            fqdn: "db-1",
            inbound: ["a", "b", "c"],
            outbound: ["d"],
            openings: { inbound: 3, outbound: 1 },
        });
        expect(s).to.deep.equal({
            role: "database",
            site: "dc1",
            address: "10.0.0.1",
            fqdn: "db-1",
            openings: { inbound: 3, outbound: 1 },
        });
    });
});

// Least privilege by address, not by label (issue 10, Deliver 2): an extraInbound whose CIDR sources cover a client
// network is client traffic, so `exposed` (rate-limited like every client-exposed service) defaults to true as it
// does for the label `client`; an explicit `exposed: false` is kept; a narrower range is not the client networks.
import { expect } from "chai";
import { parseClusterConfig } from "../../../../model/config";
import { rawCluster } from "../../helpers/model-builders";

const NODES = [{ name: "uni-1", role: "unified", address: "10.1.0.1" }];
function exposedOf(from: string[], exposed?: boolean): boolean | undefined {
    const raw = rawCluster("unified", NODES, {
        networks: { admin: ["192.168.100.0/24"], client: ["10.0.0.0/8", "172.16.0.0/12"] },
        firewall: { extraInbound: [{ port: 9443, from, reason: "r", ...(exposed === undefined ? {} : { exposed }) }] },
    });
    const r = parseClusterConfig(raw);
    expect(r.errors, JSON.stringify(r.errors)).to.deep.equal([]);
    return r.model!.firewall.extraInbound?.[0].exposed;
}

describe("extraInbound exposed: by address, not by label", () => {
    const cases: [string, string[], boolean | undefined, boolean][] = [
        ["the label client", ["client"], undefined, true],
        ["a CIDR equal to a client network", ["10.0.0.0/8"], undefined, true],
        ["a CIDR wider than a client network", ["10.0.0.0/7"], undefined, true],
        ["admin and a CIDR equal to the other client network", ["admin", "172.16.0.0/12"], undefined, true],
        ["a range inside a client network (not the client networks)", ["10.9.0.0/16"], undefined, false],
        ["the admin label", ["admin"], undefined, false],
        ["a CIDR covering a client network, exposed: false written", ["10.0.0.0/8"], false, false],
    ];
    for (const [name, from, written, want] of cases)
        it(`${name}: exposed ${want}`, () => expect(exposedOf(from, written)).to.equal(want));
});

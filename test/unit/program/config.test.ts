import { expect } from "chai";
import { sourceAddressesFor } from "../../../program/config";

describe("program/config: the addresses this host reaches the nodes from", () => {
    it("asks the kernel once for all addresses; host names and non-addresses never reach ip", () => {
        // 127.0.0.1 and ::1 route over lo with themselves as source; the rest are not addresses.
        const got = sourceAddressesFor(["127.0.0.1", "127.0.0.1", "lab-host", "300.1.1.1", "1.2.3.4\nroute flush"]);
        expect(got).to.deep.equal(["127.0.0.1"]);
    });

    it("an empty list runs nothing", () => {
        expect(sourceAddressesFor([])).to.deep.equal([]);
    });
});

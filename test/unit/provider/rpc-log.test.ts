// PINHOLE_RPC_LOG: the provider writes one line per engine call (call, resource type, start, duration) and
// nothing of the inputs; a log it cannot write never fails the call.
import { expect } from "chai";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { Struct } from "google-protobuf/google/protobuf/struct_pb";
import * as provproto from "@pulumi/pulumi/proto/provider_pb";
import { providerService, rpcTimingLog } from "../../../provider/server";
import { handlers } from "../../../provider/main";

const URN = "urn:pulumi:s::pinhole::pinhole:firewall:NodeFirewall$pinhole:node:Firewall::db-1-firewall-nft";
const inputs = {
    node: "db-1",
    connection: { host: "10.0.0.1", port: 22, user: "root", hostKey: "ssh-ed25519 AAAA", sudo: false },
    privateKey: "the-private-key-text",
    ruleset: "table inet pinhole {\n}\n",
    managementSources: ["10.9.0.0/24"],
    rollbackSeconds: 30,
};

describe("provider PINHOLE_RPC_LOG: where a command's time went", () => {
    const saved = { log: process.env.PINHOLE_RPC_LOG, live: process.env.PINHOLE_LIVE_CHECK };
    let dir: string;
    before(() => {
        dir = fs.mkdtempSync(path.join(os.tmpdir(), "pinhole-rpc-log-"));
        process.env.PINHOLE_LIVE_CHECK = "0";
    });
    after(() => {
        for (const [k, v] of [
            ["PINHOLE_RPC_LOG", saved.log],
            ["PINHOLE_LIVE_CHECK", saved.live],
        ] as const)
            if (v === undefined) delete process.env[k];
            else process.env[k] = v;
        fs.rmSync(dir, { recursive: true, force: true });
    });

    it("one line per call: its name, the resource type, start and duration; no input values", async () => {
        const file = path.join(dir, "rpc.log");
        process.env.PINHOLE_RPC_LOG = file;
        type Svc = Record<string, (call: unknown, cb: (e: unknown, r?: unknown) => void) => void>;
        const svc = providerService({
            version: "0",
            schema: "{}",
            handlers,
            warn: async () => undefined,
        }) as unknown as Svc;
        const req = new provproto.DiffRequest()
            .setUrn(URN)
            .setId("db-1-abc")
            .setOlds(Struct.fromJavaScript(inputs as never))
            .setOldInputs(Struct.fromJavaScript(inputs as never))
            .setNews(Struct.fromJavaScript(inputs as never));
        await new Promise((res, rej) => svc.diff({ request: req }, (e, r) => (e ? rej(e) : res(r))));
        const text = fs.readFileSync(file, "utf8");
        const lines = text
            .trim()
            .split("\n")
            .map((l) => JSON.parse(l) as Record<string, unknown>);
        expect(lines).to.have.length(1);
        expect(lines[0]).to.include({ call: "Diff", type: "pinhole:node:Firewall" });
        expect(lines[0].ms).to.be.a("number").and.at.least(0);
        expect(text).to.not.contain("the-private-key-text").and.not.contain("10.0.0.1");
    });

    it("a log that cannot be written is skipped, never thrown", () => {
        const log = rpcTimingLog(path.join(dir, "no-such-dir", "rpc.log"))!;
        expect(() => log("Check", {}, Date.now())).to.not.throw();
        expect(rpcTimingLog(undefined)).to.equal(undefined);
    });
});

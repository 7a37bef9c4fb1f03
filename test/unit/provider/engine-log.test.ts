// provider/engine-log.ts and the certificates' renewal notice (provider/tls.ts certificateDiff): the warning a
// certificate inside its renewal window carries, and how it reaches the engine (a real gRPC Engine/Log server here).
import { expect } from "chai";
import * as grpc from "@grpc/grpc-js";
import * as engrpc from "@pulumi/pulumi/proto/engine_grpc_pb";
import * as engproto from "@pulumi/pulumi/proto/engine_pb";
import * as provproto from "@pulumi/pulumi/proto/provider_pb";
import { Struct } from "google-protobuf/google/protobuf/struct_pb";
import { Empty } from "google-protobuf/google/protobuf/empty_pb";
import { engineAddress, engineWarn } from "../../../provider/engine-log";
import { certificateDiff } from "../../../provider/tls";
import { providerService } from "../../../provider/server";
import { handlers } from "../../../provider/main";

const DAY = 86_400_000;

describe("certificate renewal notice (provider/tls.ts certificateDiff)", () => {
    const now = new Date("2026-12-02T06:00:00Z");
    const olds = (daysLeft: number) => ({
        notAfter: new Date(now.getTime() + daysLeft * DAY).toISOString(),
        validityDays: 3,
        earlyRenewalDays: 1,
        subject: { commonName: "proxy-1.lab.example" },
    });
    const cases = [
        {
            name: "outside the window: no change, no warning",
            daysLeft: 2.5,
            window: 1,
            replace: false,
            warning: undefined,
        },
        {
            name: "inside the window: replaced, the notice names the certificate",
            daysLeft: 2.5,
            window: 2.9999,
            replace: true,
            warning:
                /^proxy-1\.lab\.example: WEB CERT EXPIRES AT: 2026-12-04 18:00:00 UTC \(in 2 days\): inside the renewal window \(2\.9999 days\), pinhole issues a new certificate on this up$/,
        },
        {
            name: "expired: replaced, the notice says so",
            daysLeft: -1,
            window: 1,
            replace: true,
            warning: /^proxy-1\.lab\.example: WEB CERT EXPIRED AT: 2026-12-01 06:00:00 UTC: inside the renewal window/,
        },
    ];
    for (const c of cases) {
        it(c.name, () => {
            const d = certificateDiff(
                olds(c.daysLeft),
                { validityDays: 3, earlyRenewalDays: c.window },
                ["validityDays"],
                now,
            );
            expect(d.replaces.includes("notAfter")).to.equal(c.replace);
            if (!c.warning) expect(d.warnings).to.equal(undefined);
            else
                expect(d.warnings)
                    .to.have.length(1)
                    .and.satisfy((w: string[]) => c.warning!.test(w[0]));
        });
    }
});

describe("engine log (provider/engine-log.ts)", () => {
    it("finds the engine's address among the plugin's arguments", () => {
        const t: [string[], string | undefined][] = [
            [["/x/compile.js", "/x/main.js", "127.0.0.1:40123"], "127.0.0.1:40123"],
            [["--logtostderr", "-v=9", "localhost:5000", "--tracing", "file:/t"], "localhost:5000"],
            [["[::1]:7"], "[::1]:7"],
            [["/x/main.js"], undefined],
        ];
        for (const [argv, want] of t) expect(engineAddress(argv), argv.join(" ")).to.equal(want);
    });

    describe("against a gRPC Engine server", () => {
        let server: grpc.Server;
        let address = "";
        const got: { urn: string; message: string; severity: number }[] = [];
        before(async () => {
            server = new grpc.Server();
            server.addService(engrpc.EngineService, {
                log: (call: grpc.ServerUnaryCall<engproto.LogRequest, Empty>, cb: grpc.sendUnaryData<Empty>) => {
                    got.push({
                        urn: call.request.getUrn(),
                        message: call.request.getMessage(),
                        severity: call.request.getSeverity(),
                    });
                    cb(null, new Empty());
                },
            } as unknown as grpc.UntypedServiceImplementation);
            const port = await new Promise<number>((res, rej) =>
                server.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (e, p) =>
                    e ? rej(e) : res(p),
                ),
            );
            address = `127.0.0.1:${port}`;
        });
        after(() => server.forceShutdown());

        it("sends a WARNING on the resource's URN", async () => {
            await engineWarn(address, () => {
                throw new Error("fallback used");
            })("urn:pulumi:s::p::t::n", "hello");
            expect(got.at(-1)).to.deep.equal({
                urn: "urn:pulumi:s::p::t::n",
                message: "hello",
                severity: engproto.LogSeverity.WARNING,
            });
        });

        it("the provider's Diff passes a certificate's renewal notice to the engine, on its URN", async () => {
            const warn = engineWarn(address);
            const svc = providerService({ version: "0", schema: "{}", handlers, warn }) as unknown as Record<
                string,
                (call: unknown, cb: (e: unknown, r?: provproto.DiffResponse) => void) => void
            >;
            const urn = "urn:pulumi:s::p::pinhole:tls:SelfSignedCertificate::proxy-1-selfsigned";
            const olds = {
                privateKeyPem: "k",
                subject: { commonName: "proxy-1.lab.example" },
                dnsNames: [],
                ipAddresses: [],
                validityDays: 3,
                earlyRenewalDays: 1,
                isCa: false,
                certPem: "c",
                notBefore: "",
                notAfter: new Date(Date.now() + 2.5 * DAY).toISOString(),
                serial: "1",
            };
            const news = { ...olds, earlyRenewalDays: 2.9 };
            for (const k of ["certPem", "notBefore", "notAfter", "serial"]) delete (news as Record<string, unknown>)[k];
            const req = new provproto.DiffRequest()
                .setUrn(urn)
                .setOlds(Struct.fromJavaScript(olds))
                .setNews(Struct.fromJavaScript(news));
            const n = got.length;
            const resp = await new Promise<provproto.DiffResponse>((res, rej) =>
                svc.diff({ request: req }, (e, r) => (e ? rej(e) : res(r!))),
            );
            expect(resp.getReplacesList()).to.include("notAfter");
            expect(got.slice(n).map((g) => g.urn)).to.deep.equal([urn]);
            expect(got.at(-1)!.message).to.match(
                /^proxy-1\.lab\.example: WEB CERT EXPIRES AT: .* UTC \(in 2 days\): inside the renewal window \(2\.9 days\)/,
            );
        });
    });

    it("without an engine (or when it does not answer) the warning goes to the fallback", async () => {
        const seen: string[] = [];
        await engineWarn(undefined, (m) => seen.push(m))("u", "no engine");
        await engineWarn("127.0.0.1:1", (m) => seen.push(m))("u", "engine down");
        expect(seen[0]).to.equal("warning: no engine");
        expect(seen[1]).to.match(/^warning: engine down \(engine log failed: /);
    });
});

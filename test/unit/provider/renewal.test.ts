// Certificate renewal as `pulumi preview --diff` shows it: the check plans the certificate's end
// (the notAfter input), so a renewal is a replacement whose detailed diff is notAfter, the expiring date
// (old state) against the new one (new inputs) — the two values the CLI prints — and the certificate
// issued by the replacement ends on the planned date. Table-driven over both certificate types.
import { expect } from "chai";
import { X509Certificate } from "crypto";
import * as provproto from "@pulumi/pulumi/proto/provider_pb";
import { handlers } from "../../../provider/main";
import { diffResponse } from "../../../provider/server";
import type { Handler } from "../../../provider/framework";
import { generatePrivateKeyPem, issueSelfSigned, plannedNotAfter } from "../../../provider/tls";
import { unwrapSecrets } from "../../../provider/secrets";

const DAY = 86_400_000;
const iso = (ms: number) => new Date(ms).toISOString();
const KEY = generatePrivateKeyPem({ algorithm: "ECDSA" });
const CA_KEY = generatePrivateKeyPem({ algorithm: "ECDSA" });

type Values = Record<string, unknown>;
const handler = (t: string) => (handlers as Record<string, Handler>)[t];

/** Creates the certificate as the engine would (check, then create with the checked inputs). */
async function created(type: string, inputs: Values): Promise<{ inputs: Values; state: Values }> {
    const h = handler(type);
    const checked = await h.check(inputs);
    expect(checked.failures).to.deep.equal([]);
    const res = await h.create(checked.inputs);
    return { inputs: unwrapSecrets(checked.inputs), state: unwrapSecrets(res.outs) };
}

/** A stored resource whose certificate ends in `daysLeft` days (as if issued long ago). */
function aged(c: { inputs: Values; state: Values }, daysLeft: number): { inputs: Values; state: Values } {
    const notAfter = iso(Date.now() + daysLeft * DAY);
    return { inputs: { ...c.inputs, notAfter }, state: { ...c.state, notAfter } };
}

describe("certificate renewal in preview --diff (provider/tls.ts, provider/certs.ts)", () => {
    let caCertPem = "";
    before(async () => {
        caCertPem = (
            await issueSelfSigned({
                privateKeyPem: CA_KEY,
                subject: { commonName: "Unit CA" },
                dnsNames: [],
                ipAddresses: [],
                validityDays: 200,
                earlyRenewalDays: 30,
                isCa: true,
            })
        ).certPem;
    });
    const cases: { type: string; inputs: () => Values }[] = [
        {
            type: "pinhole:tls:SelfSignedCertificate",
            inputs: () => ({
                privateKeyPem: KEY,
                subject: { commonName: "a.example.com" },
                dnsNames: ["a.example.com"],
                validityDays: 90,
                earlyRenewalDays: 30,
            }),
        },
        {
            type: "pinhole:tls:LocallySignedCertificate",
            inputs: () => ({
                privateKeyPem: KEY,
                subject: { commonName: "a.example.com" },
                dnsNames: ["a.example.com"],
                caPrivateKeyPem: CA_KEY,
                caCertPem,
                validityDays: 90,
                earlyRenewalDays: 30,
            }),
        },
    ];

    for (const { type, inputs } of cases) {
        describe(type, () => {
            it("create: the check plans the end (now + validityDays) and the certificate ends then", async () => {
                const t0 = Date.now();
                const c = await created(type, inputs());
                const planned = Date.parse(String(c.inputs.notAfter));
                expect(planned).to.be.within(t0 + 90 * DAY, Date.now() + 90 * DAY);
                expect(c.state.notAfter).to.equal(c.inputs.notAfter);
                // The X.509 time has whole seconds.
                expect(Math.floor(Date.parse(new X509Certificate(String(c.state.certPem)).validTo) / 1000)).to.equal(
                    Math.floor(planned / 1000),
                );
            });

            it("outside the renewal window: the check keeps the end, the diff shows no change", async () => {
                const old = aged(await created(type, inputs()), 60);
                const h = handler(type);
                const checked = await h.check(inputs(), old.inputs);
                expect(unwrapSecrets(checked.inputs).notAfter).to.equal(old.inputs.notAfter);
                expect(await h.diff(old.state, checked.inputs)).to.deep.include({ changes: false, replaces: [] });
            });

            it("inside the renewal window: a replacement whose detailed diff is notAfter, expiring date => new date", async () => {
                const old = aged(await created(type, inputs()), 10);
                const h = handler(type);
                const checked = await h.check(inputs(), old.inputs);
                const news = unwrapSecrets(checked.inputs);
                const d = await h.diff(old.state, checked.inputs);
                expect(d).to.deep.include({
                    changes: true,
                    replaces: ["notAfter"],
                    detailedDiff: { notAfter: "update-replace" },
                });
                // What the CLI prints for that path: the old state's value and the new inputs' value.
                expect(old.state.notAfter).to.equal(old.inputs.notAfter);
                expect(Date.parse(String(news.notAfter)) - Date.now()).to.be.within(90 * DAY - 60_000, 90 * DAY);
                // On the wire: a detailed diff (the SDK's own server drops these), the property named.
                const wire = diffResponse(d);
                expect(wire.getHasdetaileddiff()).to.equal(true);
                expect(wire.getReplacesList()).to.deep.equal(["notAfter"]);
                expect(wire.getDetaileddiffMap().get("notAfter")!.getKind()).to.equal(
                    provproto.PropertyDiff.Kind.UPDATE_REPLACE,
                );
                // The replacement's certificate ends on the date the preview showed.
                const renewed = await h.create(checked.inputs);
                expect(unwrapSecrets(renewed.outs).notAfter).to.equal(news.notAfter);
            });

            it("a content change plans a new end; earlyRenewalDays alone keeps it (in-place update)", async () => {
                const old = aged(await created(type, inputs()), 60);
                const h = handler(type);
                const renamed = await h.check({ ...inputs(), dnsNames: ["b.example.com"] }, old.inputs);
                expect(unwrapSecrets(renamed.inputs).notAfter).to.not.equal(old.inputs.notAfter);
                expect((await h.diff(old.state, renamed.inputs)).replaces).to.deep.equal(["dnsNames"]);
                const window = await h.check({ ...inputs(), earlyRenewalDays: 20 }, old.inputs);
                expect(unwrapSecrets(window.inputs).notAfter).to.equal(old.inputs.notAfter);
                expect(await h.diff(old.state, window.inputs)).to.deep.include({
                    changes: true,
                    replaces: [],
                    detailedDiff: { earlyRenewalDays: "update" },
                });
            });

            it("a state from before the notAfter input: no planned end until due, the diff still renews from the issued one", async () => {
                const old = aged(await created(type, inputs()), 10);
                delete old.inputs.notAfter;
                const h = handler(type);
                const checked = await h.check(inputs(), old.inputs);
                expect(unwrapSecrets(checked.inputs).notAfter).to.equal(undefined);
                expect(await h.diff(old.state, checked.inputs)).to.deep.include({ replaces: ["notAfter"] });
            });
        });
    }

    it("plannedNotAfter: table of create, kept, due, changed and capped by the CA", () => {
        const now = Date.parse("2026-12-02T00:00:00Z");
        const news = { validityDays: 90, earlyRenewalDays: 30, dnsNames: ["a"] };
        const keys = ["dnsNames", "validityDays"];
        const rows: [string, Values | undefined, Values, string | undefined, string | undefined][] = [
            ["create", undefined, news, undefined, "2027-03-02T00:00:00.000Z"],
            [
                "kept (60 days left)",
                { ...news, notAfter: "2027-01-31T00:00:00.000Z" },
                news,
                undefined,
                "2027-01-31T00:00:00.000Z",
            ],
            [
                "due (10 days left)",
                { ...news, notAfter: "2026-12-12T00:00:00.000Z" },
                news,
                undefined,
                "2027-03-02T00:00:00.000Z",
            ],
            ["expired", { ...news, notAfter: "2026-11-01T00:00:00.000Z" }, news, undefined, "2027-03-02T00:00:00.000Z"],
            [
                "content changed",
                { ...news, dnsNames: ["b"], notAfter: "2027-01-31T00:00:00.000Z" },
                news,
                undefined,
                "2027-03-02T00:00:00.000Z",
            ],
            ["capped by the CA", undefined, news, "2027-01-01T00:00:00.000Z", "2027-01-01T00:00:00.000Z"],
            ["old state without the input", { ...news }, news, undefined, undefined],
        ];
        for (const [name, olds, n, cap, want] of rows) {
            expect(plannedNotAfter(n as typeof news, olds as typeof news | undefined, keys, now, cap), name).to.equal(
                want,
            );
        }
    });
});

// A small ACME client (RFC 8555) on Node's crypto and https: JWS (ES256/ES384/RS256) over flattened JSON,
// nonces (badNonce retried), account, order, HTTP-01 challenge, finalize with a CSR, chain download.
// The challenge files are put on the node by the caller (provider/acme.ts, over SSH); no key ever leaves
// this module except as a signature.
import * as https from "https";
import { createHash, createPrivateKey, KeyObject, sign } from "crypto";
import { ProviderError } from "./errors";

export class AcmeError extends ProviderError {}

const b64u = (b: Buffer | string) => Buffer.from(b).toString("base64url");

export type AcmeJwk = { kty: "EC"; crv: string; x: string; y: string } | { kty: "RSA"; n: string; e: string };

/** The account key's public JWK and JWS algorithm. */
export function accountJwk(key: KeyObject): { jwk: AcmeJwk; alg: "ES256" | "ES384" | "RS256" } {
    const j = key.export({ format: "jwk" });
    if (j.kty === "EC" && (j.crv === "P-256" || j.crv === "P-384"))
        return { jwk: { kty: "EC", crv: j.crv, x: j.x!, y: j.y! }, alg: j.crv === "P-256" ? "ES256" : "ES384" };
    if (j.kty === "RSA") return { jwk: { kty: "RSA", n: j.n!, e: j.e! }, alg: "RS256" };
    throw new AcmeError(`the ACME account key must be ECDSA P-256/P-384 or RSA (got ${j.kty} ${j.crv ?? ""})`);
}

/** RFC 7638 thumbprint: SHA-256 of the required members in lexicographic order. */
export function jwkThumbprint(jwk: AcmeJwk): string {
    const canonical =
        jwk.kty === "EC"
            ? JSON.stringify({ crv: jwk.crv, kty: jwk.kty, x: jwk.x, y: jwk.y })
            : JSON.stringify({ e: jwk.e, kty: jwk.kty, n: jwk.n });
    return b64u(createHash("sha256").update(canonical).digest());
}

/** What the node serves at /.well-known/acme-challenge/<token> (RFC 8555 §8.1, §8.3). */
export const keyAuthorization = (token: string, jwk: AcmeJwk) => `${token}.${jwkThumbprint(jwk)}`;

export interface Jws {
    protected: string;
    payload: string;
    signature: string;
}

/** A flattened JWS; payload "" is POST-as-GET. EC signatures are r||s (JWA), not DER. */
export function signJws(key: KeyObject, header: Record<string, unknown>, payload: unknown): Jws {
    const { alg } = accountJwk(key);
    const p = b64u(JSON.stringify({ alg, ...header }));
    const body = payload === "" ? "" : b64u(JSON.stringify(payload));
    const input = Buffer.from(`${p}.${body}`);
    const hash = alg === "ES384" ? "sha384" : "sha256";
    const sig = alg === "RS256" ? sign(hash, input, key) : sign(hash, input, { key, dsaEncoding: "ieee-p1363" });
    return { protected: p, payload: body, signature: b64u(sig) };
}

interface HttpResponse {
    status: number;
    headers: Record<string, string | string[] | undefined>;
    body: string;
}

function request(
    url: string,
    o: { method: "GET" | "HEAD" | "POST"; body?: string; ca?: string; accept?: string; timeoutMs: number },
): Promise<HttpResponse> {
    return new Promise((resolve, reject) => {
        const req = https.request(
            url,
            {
                method: o.method,
                ...(o.ca ? { ca: o.ca } : {}),
                headers: {
                    "User-Agent": "pinhole-acme/1",
                    ...(o.body !== undefined ? { "Content-Type": "application/jose+json" } : {}),
                    ...(o.accept ? { Accept: o.accept } : {}),
                },
                timeout: o.timeoutMs,
            },
            (res) => {
                const chunks: Buffer[] = [];
                res.on("data", (c: Buffer) => chunks.push(c));
                res.on("end", () =>
                    resolve({
                        status: res.statusCode ?? 0,
                        headers: res.headers,
                        body: Buffer.concat(chunks).toString("utf8"),
                    }),
                );
            },
        );
        req.on("timeout", () => req.destroy(new Error(`no answer within ${o.timeoutMs} ms`)));
        req.on("error", (e) => reject(new AcmeError(`cannot reach the ACME server at ${url}: ${e.message}`)));
        req.end(o.body);
    });
}

const header = (r: HttpResponse, k: string) => {
    const v = r.headers[k.toLowerCase()];
    return Array.isArray(v) ? v[0] : v;
};

type Json = Record<string, unknown>;
const parse = (r: HttpResponse): Json => {
    try {
        return JSON.parse(r.body) as Json;
    } catch {
        return {};
    }
};

export interface AcmeClientOptions {
    directoryUrl: string;
    /** CA certificate(s) for the directory's HTTPS; default: Node's trust store. */
    ca?: string;
    accountKeyPem: string;
    timeoutMs?: number;
}

export class AcmeClient {
    private readonly key: KeyObject;
    private readonly jwk: AcmeJwk;
    private directory?: Record<string, string>;
    private nonces: string[] = [];
    public kid?: string;

    constructor(private readonly o: AcmeClientOptions) {
        this.key = createPrivateKey(o.accountKeyPem);
        this.jwk = accountJwk(this.key).jwk;
    }

    get thumbprintJwk(): AcmeJwk {
        return this.jwk;
    }

    private get timeoutMs() {
        return this.o.timeoutMs ?? 30_000;
    }

    async dir(): Promise<Record<string, string>> {
        if (this.directory) return this.directory;
        const r = await request(this.o.directoryUrl, { method: "GET", ca: this.o.ca, timeoutMs: this.timeoutMs });
        if (r.status !== 200)
            throw new AcmeError(
                `the ACME directory ${this.o.directoryUrl} answered HTTP ${r.status}: ${r.body.slice(0, 200)}`,
            );
        const d = parse(r) as Record<string, string>;
        for (const k of ["newNonce", "newAccount", "newOrder"])
            if (typeof d[k] !== "string")
                throw new AcmeError(`${this.o.directoryUrl} is not an ACME directory (no ${k})`);
        this.directory = d;
        return d;
    }

    private async nonce(): Promise<string> {
        const n = this.nonces.pop();
        if (n) return n;
        const r = await request((await this.dir()).newNonce, {
            method: "HEAD",
            ca: this.o.ca,
            timeoutMs: this.timeoutMs,
        });
        const fresh = header(r, "replay-nonce");
        if (!fresh) throw new AcmeError(`the ACME server gave no Replay-Nonce (HTTP ${r.status})`);
        return fresh;
    }

    /** A signed POST (payload "" = POST-as-GET); a badNonce is retried with the nonce the error carried. */
    async post(url: string, payload: unknown, what: string, accept?: string): Promise<HttpResponse & { json: Json }> {
        for (let attempt = 0; ; attempt++) {
            const head = { nonce: await this.nonce(), url, ...(this.kid ? { kid: this.kid } : { jwk: this.jwk }) };
            const r = await request(url, {
                method: "POST",
                body: JSON.stringify(signJws(this.key, head, payload)),
                ca: this.o.ca,
                accept,
                timeoutMs: this.timeoutMs,
            });
            const next = header(r, "replay-nonce");
            if (next) this.nonces.push(next);
            const json = accept ? {} : parse(r);
            if (r.status < 400) return { ...r, json };
            const problem = accept ? parse(r) : json;
            if (problem.type === "urn:ietf:params:acme:error:badNonce" && attempt < 5) continue;
            throw new AcmeError(
                `ACME ${what} refused (HTTP ${r.status}${problem.type ? `, ${String(problem.type).replace("urn:ietf:params:acme:error:", "")}` : ""}): ${String(problem.detail ?? r.body.slice(0, 300))}`,
            );
        }
    }

    async account(email?: string): Promise<string> {
        const r = await this.post(
            (await this.dir()).newAccount,
            { termsOfServiceAgreed: true, ...(email ? { contact: [`mailto:${email}`] } : {}) },
            "account",
        );
        const kid = header(r, "location");
        if (!kid) throw new AcmeError("the ACME server created the account but gave no Location (account URL)");
        this.kid = kid;
        return kid;
    }

    async newOrder(dnsNames: string[]): Promise<{ url: string; order: Json }> {
        const r = await this.post(
            (await this.dir()).newOrder,
            { identifiers: dnsNames.map((value) => ({ type: "dns", value })) },
            "new order",
        );
        const url = header(r, "location");
        if (!url) throw new AcmeError("the ACME server gave no order URL");
        return { url, order: r.json };
    }

    /** POST-as-GET until `done` says so, every second (or Retry-After, at most 3 s), until the deadline. */
    async poll(url: string, what: string, done: (j: Json) => boolean, deadline: number): Promise<Json> {
        for (;;) {
            const r = await this.post(url, "", what);
            if (done(r.json)) return r.json;
            if (Date.now() > deadline)
                throw new AcmeError(`ACME ${what} still "${String(r.json.status)}" after the wait (challengeSeconds)`);
            const after = Number(header(r, "retry-after"));
            await new Promise((res) =>
                setTimeout(res, Number.isFinite(after) && after > 0 ? Math.min(after, 3) * 1000 : 1000),
            );
        }
    }
}

/** The first problem of an invalid authorization, in words. */
export function authorizationProblem(authz: Json): string {
    const challenges = (authz.challenges as Json[] | undefined) ?? [];
    const err = challenges.map((c) => c.error as Json | undefined).find(Boolean);
    return err
        ? `${String(err.type ?? "").replace("urn:ietf:params:acme:error:", "")}: ${String(err.detail ?? "")}`
        : "no detail";
}

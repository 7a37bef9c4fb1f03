// verify's certificate check: the installed web certificate, key and site files (and what nginx serves) vs the state.
import { CertificateDetails, certificateDetails, expiryStatus, platformTime } from "../../model/certificates";
import {
    CERT_PATH as DEFAULT_CERT_PATH,
    KEY_PATH as DEFAULT_KEY_PATH,
    SITE_PATH as DEFAULT_SITE_PATH,
} from "../../render/nginx";
import { Finding, fail, ok } from "./findings";
import type { NodeExpectation, StateWebServer } from "./state";

export interface LiveWeb {
    owner: string;
    /** sha256 hex of the files, or "absent". */
    certSha: string;
    keySha: string;
    siteSha: string;
    /** Octal mode of the key file, or "absent". */
    keyMode: string;
    /** SHA-256 fingerprint nginx served on 127.0.0.1:443 ("AB:CD..."), "no-openssl", or "" (nothing served). */
    served: string;
    /** The certificate file nginx serves (public). */
    certPem: string;
    /** certificate-only: SHA-256 (or "absent") of each file the state lists (inspectScript's `file=` lines). */
    files?: Record<string, string>;
}

/** The leaf of a PEM bundle as model/certificates.ts reads it, or undefined when it holds no readable certificate. */
function readable(pem: string): CertificateDetails | undefined {
    try {
        return certificateDetails(pem);
    } catch {
        return undefined;
    }
}

/** Output of remote/webserver-scripts.ts inspectScript followed by "--- cert" and the certificate file. */
export function parseWebInspect(stdout: string): LiveWeb {
    const [head, cert = ""] = stdout.split("--- cert\n");
    const field = (k: string) => new RegExp(`^${k.replace(/\./g, "\\.")}=(.*)$`, "m").exec(head)?.[1]?.trim() ?? "";
    return {
        owner: field("owner"),
        certSha: field("sha.cert") || "absent",
        keySha: field("sha.key") || "absent",
        siteSha: field("sha.site") || "absent",
        keyMode: field("keymode") || "absent",
        served: field("served"),
        certPem: cert,
        ...(/^file=/m.test(head)
            ? { files: Object.fromEntries([...head.matchAll(/^file=(\S+) (.+)$/gm)].map((m) => [m[2], m[1]])) }
            : {}),
    };
}

const DAY = 86_400_000;

/** Whether `name` is covered by a SAN DNS entry (one-label wildcards allowed). */
function nameMatches(name: string, san: string): boolean {
    if (san.toLowerCase() === name.toLowerCase()) return true;
    if (!san.startsWith("*.")) return false;
    const dot = name.indexOf(".");
    return dot > 0 && name.slice(dot + 1).toLowerCase() === san.slice(2).toLowerCase();
}

/** What every step of checkCertificate looks at: the node, its WebServer in the state, the live files, the paths. */
interface CertContext {
    name: string;
    w: StateWebServer;
    live: LiveWeb;
    facts: CertificateDetails;
    paths: StateWebServer["paths"];
}

/** First 16 hex digits of a fingerprint: enough to tell two certificates apart in a message. */
const short = (f: string) => f.replace(/:/g, "").slice(0, 16).toLowerCase();

/**
 * The installed certificate (the file nginx serves, its key and site config, and what nginx actually serves)
 * vs the state's WebServer; plus the node's name in the certificate and its expiry (failure once expired,
 * a warning inside renewBeforeDays).
 */
export function checkCertificate(
    e: Pick<NodeExpectation, "node" | "web">,
    live: LiveWeb,
    opts: { renewBeforeDays: number; renewBeforeExplicit?: boolean; now?: Date },
): Finding[] {
    const name = e.node.name;
    const w = e.web;
    if (!w) return [];
    const paths = w.paths ?? { certificate: DEFAULT_CERT_PATH, key: DEFAULT_KEY_PATH, site: DEFAULT_SITE_PATH };
    if (live.certSha === "absent" || !live.certPem.trim())
        return [fail(name, "certificate", `no certificate installed at ${paths.certificate}`)];
    const facts = readable(live.certPem);
    if (!facts) return [fail(name, "certificate", `${paths.certificate} holds no readable certificate`)];
    const c: CertContext = { name, w, live, facts, paths };
    const now = (opts.now ?? new Date()).getTime();
    const days = Math.floor((Date.parse(facts.notAfter) - now) / DAY);
    const out = [
        ...installedFiles(c),
        ...servedCertificate(c),
        ...patchedPlatformFiles(c),
        ...ownerAndName(c, e.node.fqdn),
        ...expiryFindings(c, opts, now, days),
    ];
    if (!out.some((f) => !f.ok))
        out.push(
            ok(
                name,
                "certificate",
                `installed certificate matches the state (${short(facts.fingerprintSha256)}…, expires ${facts.notAfter.slice(0, 10)}, in ${days} days)`,
            ),
        );
    return out;
}

/** The certificate, key (and its mode) and site config on the node vs the hashes the state recorded. */
function installedFiles({ name, w, live, facts, paths }: CertContext): Finding[] {
    const out: Finding[] = [];
    if (live.certSha !== w.certificateSha256 || facts.fingerprintSha256 !== w.fingerprint) {
        out.push(
            fail(
                name,
                "certificate",
                `the installed certificate differs from the state: live ${short(facts.fingerprintSha256)}… (${facts.subject}, expires ${facts.notAfter.slice(0, 10)}), state ${short(w.fingerprint)}… (expires ${w.notAfter.slice(0, 10)})`,
            ),
        );
    }
    if (live.keySha === "absent") out.push(fail(name, "certificate", `no private key at ${paths.key}`));
    else if (live.keySha !== w.keySha256)
        out.push(fail(name, "certificate", `the installed private key ${paths.key} differs from the state`));
    if (live.keyMode !== "absent" && live.keyMode !== "600")
        out.push(fail(name, "certificate", `the private key ${paths.key} has mode ${live.keyMode} (expected 600)`));
    if (live.siteSha === "absent") out.push(fail(name, "certificate", `no nginx site config at ${paths.site}`));
    else if (live.siteSha !== w.siteSha256)
        out.push(fail(name, "certificate", `the nginx site config ${paths.site} differs from the state`));
    return out;
}

/** What nginx actually serves on 127.0.0.1:443 ("no-openssl": the node cannot tell, so nothing is claimed). */
function servedCertificate({ name, w, live }: CertContext): Finding[] {
    if (live.served && live.served !== "no-openssl" && live.served !== w.fingerprint)
        return [
            fail(
                name,
                "certificate",
                `nginx serves another certificate (${short(live.served)}…) than the state's (${short(w.fingerprint)}…): reload pending or another front end`,
            ),
        ];
    if (!live.served) return [fail(name, "certificate", "nginx serves nothing on 127.0.0.1:443")];
    return [];
}

/** certificate-only: the platform files pinhole patched (TLS take-over, upstream weights) as it left them. */
function patchedPlatformFiles({ name, w, live, paths }: CertContext): Finding[] {
    const out: Finding[] = [];
    const own = new Set([paths.certificate, paths.key, paths.site]);
    for (const f of (w.files ?? []).filter((x) => !own.has(x.path))) {
        const got = live.files?.[f.path] ?? "absent";
        if (got === "absent")
            out.push(fail(name, "certificate", `the platform file ${f.path} pinhole patched is missing`));
        else if (got !== f.sha256)
            out.push(
                fail(
                    name,
                    "certificate",
                    `the platform file ${f.path} pinhole patched differs from the state (edited since the last up?)`,
                ),
            );
    }
    return out;
}

/** The front end is this stack's, and the certificate carries the node's network name. */
function ownerAndName({ name, w, live, facts }: CertContext, fqdn: string): Finding[] {
    const out: Finding[] = [];
    if (live.owner && w.id && live.owner !== w.id)
        out.push(
            fail(
                name,
                "certificate",
                `the web front end belongs to another resource (${live.owner}), not this stack's ${w.id}`,
            ),
        );
    if (!facts.dnsNames.some((d) => nameMatches(fqdn, d))) {
        out.push(
            fail(
                name,
                "certificate",
                `the certificate does not carry the node's network name ${fqdn} (SAN: ${facts.dnsNames.join(", ") || "none"})`,
            ),
        );
    }
    return out;
}

/**
 * The same window as preview and the outputs (30 days, a third of the lifetime for short-lived certificates):
 * inside it verify fails, so its exit status tells a scheduler that `pulumi up` (or a new bundle) is due.
 */
function expiryFindings(
    { name, facts }: CertContext,
    opts: { renewBeforeDays: number; renewBeforeExplicit?: boolean },
    now: number,
    days: number,
): Finding[] {
    const expiry = expiryStatus(
        facts.notBefore,
        facts.notAfter,
        opts.renewBeforeDays,
        opts.renewBeforeExplicit,
        new Date(now),
    );
    if (expiry.state === "expired")
        return [fail(name, "certificate", `WEB CERT EXPIRED AT: ${platformTime(facts.notAfter)} UTC`)];
    if (expiry.state === "notice")
        return [
            fail(
                name,
                "certificate",
                `WEB CERT EXPIRES AT: ${platformTime(facts.notAfter)} UTC (in ${days} days; notice window ${expiry.windowDays} days): run pulumi up (pinhole-issued) or install the renewed bundle`,
            ),
        ];
    return [];
}

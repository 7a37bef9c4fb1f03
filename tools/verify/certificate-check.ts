// verify's certificate check: the installed web certificate, key and site files (and what nginx serves) vs the state.
import { CertificateDetails, certificateDetails, expiryStatus, platformTime } from "../../model/certificates";
import {
    CERT_PATH as DEFAULT_CERT_PATH,
    KEY_PATH as DEFAULT_KEY_PATH,
    SITE_PATH as DEFAULT_SITE_PATH,
} from "../../render/nginx";
import { Finding, fail, ok } from "./findings";
import type { NodeExpectation } from "./state";

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
    const {
        certificate: CERT_PATH,
        key: KEY_PATH,
        site: SITE_PATH,
    } = w.paths ?? { certificate: DEFAULT_CERT_PATH, key: DEFAULT_KEY_PATH, site: DEFAULT_SITE_PATH };
    const out: Finding[] = [];
    if (live.certSha === "absent" || !live.certPem.trim())
        return [fail(name, "certificate", `no certificate installed at ${CERT_PATH}`)];
    const facts = readable(live.certPem);
    if (!facts) return [fail(name, "certificate", `${CERT_PATH} holds no readable certificate`)];
    const short = (f: string) => f.replace(/:/g, "").slice(0, 16).toLowerCase();
    if (live.certSha !== w.certificateSha256 || facts.fingerprintSha256 !== w.fingerprint) {
        out.push(
            fail(
                name,
                "certificate",
                `the installed certificate differs from the state: live ${short(facts.fingerprintSha256)}… (${facts.subject}, expires ${facts.notAfter.slice(0, 10)}), state ${short(w.fingerprint)}… (expires ${w.notAfter.slice(0, 10)})`,
            ),
        );
    }
    if (live.keySha === "absent") out.push(fail(name, "certificate", `no private key at ${KEY_PATH}`));
    else if (live.keySha !== w.keySha256)
        out.push(fail(name, "certificate", `the installed private key ${KEY_PATH} differs from the state`));
    if (live.keyMode !== "absent" && live.keyMode !== "600")
        out.push(fail(name, "certificate", `the private key ${KEY_PATH} has mode ${live.keyMode} (expected 600)`));
    if (live.siteSha === "absent") out.push(fail(name, "certificate", `no nginx site config at ${SITE_PATH}`));
    else if (live.siteSha !== w.siteSha256)
        out.push(fail(name, "certificate", `the nginx site config ${SITE_PATH} differs from the state`));
    if (live.served && live.served !== "no-openssl" && live.served !== w.fingerprint) {
        out.push(
            fail(
                name,
                "certificate",
                `nginx serves another certificate (${short(live.served)}…) than the state's (${short(w.fingerprint)}…): reload pending or another front end`,
            ),
        );
    } else if (!live.served) {
        out.push(fail(name, "certificate", "nginx serves nothing on 127.0.0.1:443"));
    }
    // certificate-only: the platform files pinhole patched (TLS take-over, upstream weights) as it left them.
    const own = new Set([CERT_PATH, KEY_PATH, SITE_PATH]);
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
    if (live.owner && w.id && live.owner !== w.id)
        out.push(
            fail(
                name,
                "certificate",
                `the web front end belongs to another resource (${live.owner}), not this stack's ${w.id}`,
            ),
        );
    if (!facts.dnsNames.some((d) => nameMatches(e.node.fqdn, d))) {
        out.push(
            fail(
                name,
                "certificate",
                `the certificate does not carry the node's network name ${e.node.fqdn} (SAN: ${facts.dnsNames.join(", ") || "none"})`,
            ),
        );
    }
    const now = (opts.now ?? new Date()).getTime();
    const to = Date.parse(facts.notAfter);
    const days = Math.floor((to - now) / DAY);
    // The same window as preview and the outputs (30 days, a third of the lifetime for short-lived certificates):
    // inside it verify fails, so its exit status tells a scheduler that `pulumi up` (or a new bundle) is due.
    const expiry = expiryStatus(
        facts.notBefore,
        facts.notAfter,
        opts.renewBeforeDays,
        opts.renewBeforeExplicit,
        new Date(now),
    );
    if (expiry.state === "expired")
        out.push(fail(name, "certificate", `WEB CERT EXPIRED AT: ${platformTime(facts.notAfter)} UTC`));
    else if (expiry.state === "notice")
        out.push(
            fail(
                name,
                "certificate",
                `WEB CERT EXPIRES AT: ${platformTime(facts.notAfter)} UTC (in ${days} days; notice window ${expiry.windowDays} days): run pulumi up (pinhole-issued) or install the renewed bundle`,
            ),
        );
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

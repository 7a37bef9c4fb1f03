// Network URIs as the reference's "Network URI specification" writes them:
//   ftp://user[:password]@host[:port][/path]         http(s)://user[:password]@host[:port]/path
//   file://{/path}+[/filename]                        sftp://user[:password]@host[:port][/path]
//   scp://[user@]host[:port]:[/path]                  mailto:user@host
//   snmp://community@host[:port]  (v2c)               snmp://user:auth:password@host[:port]  (v3)
// Credentials (passwords, SNMP communities and v3 secrets) are secrets: no message and no printable field
// ever contains them; `redacted` replaces them with "***". Decisions are in docs/decisions.md ("Network URIs").

import { NetworkUri } from "./types";
import { isHostname, parseIPv4, parseIPv6 } from "./net";
import { didYouMean } from "./suggest";

export type UriScheme = NetworkUri["scheme"];
export const URI_SCHEMES: readonly UriScheme[] = ["ftp", "http", "https", "file", "sftp", "scp", "mailto", "snmp"];

/** Port used when the URI names none. snmp: 162, because pinhole only sends to SNMP trap receivers. */
export const DEFAULT_PORTS: Readonly<Partial<Record<UriScheme, number>>> = {
    ftp: 21,
    http: 80,
    https: 443,
    sftp: 22,
    scp: 22,
    snmp: 162,
};

export type UriResult = { ok: true; uri: NetworkUri } | { ok: false; error: string };

/** The smallest SNMPv3 passphrase length net-snmp accepts (RFC 3414 §11.2 recommends 8). */
export const SNMPV3_MIN_SECRET = 8;

const USER_RE = /^(?:[A-Za-z0-9._~!$&'()*+,;=-]|%[0-9A-Fa-f]{2})+$/;
const SECRET_RE = /^(?:[A-Za-z0-9._~!$&'()*+,;=:-]|%[0-9A-Fa-f]{2})*$/;
const PATH_RE = /^(?:\/(?:[A-Za-z0-9._~!$&'()*+,;=:@-]|%[0-9A-Fa-f]{2})*)*$/;
const QUERY_RE = /^(?:[A-Za-z0-9._~!$&'()*+,;=:@/?-]|%[0-9A-Fa-f]{2})*$/;
const MAIL_LOCAL_RE = /^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*$/;

const SYNTAX: Record<UriScheme, string> = {
    ftp: "ftp://[user[:password]@]host[:port][/path]",
    http: "http://[user[:password]@]host[:port][/path]",
    https: "https://[user[:password]@]host[:port][/path]",
    file: "file:///path[/filename]",
    sftp: "sftp://user[:password]@host[:port][/path]",
    scp: "scp://[user@]host[:port]:[/path]",
    mailto: "mailto:user@host",
    snmp: "snmp://community@host[:port] (v2c) or snmp://user:auth:password@host[:port] (v3)",
};

/** Parse and validate one URI. `allowed` restricts the schemes (the message then lists what is accepted). */
export function parseNetworkUri(text: unknown, allowed: readonly UriScheme[] = URI_SCHEMES): UriResult {
    if (typeof text !== "string") return fail(`expected a URI string, got ${describeType(text)}`);
    if (text.length === 0) return fail("empty URI");
    if (/[\s\x00-\x1f\x7f]/.test(text)) return fail("URI contains whitespace or control characters");
    const schemeMatch = /^([A-Za-z][A-Za-z0-9+.-]*):/.exec(text);
    if (!schemeMatch) return fail(`missing scheme: write it as ${allowed.map((s) => SYNTAX[s]).join(", or ")}`);
    const schemeText = schemeMatch[1].toLowerCase();
    if (!(URI_SCHEMES as readonly string[]).includes(schemeText)) {
        return fail(
            `unknown scheme "${schemeText}" (expected ${allowed.join(", ")})${didYouMean(schemeText, allowed)}`,
        );
    }
    const scheme = schemeText as UriScheme;
    if (!allowed.includes(scheme))
        return fail(`scheme "${scheme}" is not accepted here (expected ${allowed.join(", ")})`);
    const rest = text.slice(schemeMatch[0].length);
    const result =
        scheme === "mailto" ? parseMailto(rest) : scheme === "file" ? parseFile(rest) : parseHierarchical(scheme, rest);
    if (!result.ok) return fail(`invalid ${scheme} URI: ${result.error}; syntax: ${SYNTAX[scheme]}`);
    return result;
}

function fail(error: string): UriResult {
    return { ok: false, error };
}

function describeType(v: unknown): string {
    if (v === null) return "null";
    if (Array.isArray(v)) return "a list";
    return typeof v === "object" ? "an object" : `a ${typeof v}`;
}

function parseMailto(rest: string): UriResult {
    if (rest.startsWith("//")) return fail('mailto takes no "//": write mailto:user@host');
    if (rest.includes("?")) return fail("mailto headers (?subject=...) are not supported");
    const at = rest.lastIndexOf("@");
    if (at < 0) return fail("missing @host");
    const user = rest.slice(0, at);
    const host = rest.slice(at + 1);
    if (!user) return fail("missing user before @");
    if (!MAIL_LOCAL_RE.test(user)) return fail("the user part is not a valid mailbox name");
    const hostCheck = checkHost(host, false);
    if (!hostCheck.ok) return hostCheck;
    return {
        ok: true,
        uri: {
            scheme: "mailto",
            user,
            hasSecret: false,
            host: hostCheck.host,
            redacted: `mailto:${user}@${hostCheck.display}`,
        },
    };
}

function parseFile(rest: string): UriResult {
    if (!rest.startsWith("//")) return fail('expected "file://" followed by an absolute path');
    const path = rest.slice(2);
    if (!path.startsWith("/")) return fail("file URIs name no host: write file:///path (three slashes)");
    if (!/[^/]/.test(path)) return fail("missing path");
    if (/[?#]/.test(path)) return fail("file URIs take no query or fragment");
    if (!PATH_RE.test(path)) return fail("the path has characters that must be percent-encoded");
    return { ok: true, uri: { scheme: "file", hasSecret: false, path, redacted: `file://${path}` } };
}

interface Authority {
    user?: string;
    /** Secret parts of the user info: [password] or, for SNMPv3, [auth, password]; for v2c, [community]. */
    secretCount: number;
    snmpVersion?: "v2c" | "v3";
    host: string;
    hostDisplay: string;
    port?: number;
}

function parseHierarchical(scheme: UriScheme, rest: string): UriResult {
    if (!rest.startsWith("//")) return fail('expected "//" after the scheme');
    const body = rest.slice(2);
    // The authority ends at the first "/" (and "?"/"#" for http). Userinfo must percent-encode "/", "?", "#", "@".
    const end = body.search(scheme === "http" || scheme === "https" ? /[/?#]/ : /[/#?]/);
    let authorityText = end < 0 ? body : body.slice(0, end);
    let tail = end < 0 ? "" : body.slice(end);
    if (scheme === "scp") {
        // scp://[user@]host[:port]:[/path] — the ":" before the path is part of the syntax.
        if (!authorityText.endsWith(":")) {
            return fail('the host part must end with ":" before the path, e.g. scp://user@host:/srv/backups');
        }
        authorityText = authorityText.slice(0, -1);
    }
    const authority = parseAuthority(scheme, authorityText);
    if (!authority.ok) return authority;
    const a = authority.value;

    let path: string | undefined;
    let query = "";
    if (tail.includes("#")) return fail("fragments (#...) are not allowed");
    const q = tail.indexOf("?");
    if (q >= 0) {
        if (scheme !== "http" && scheme !== "https") return fail("only http(s) URIs may have a query (?...)");
        query = tail.slice(q);
        tail = tail.slice(0, q);
        if (!QUERY_RE.test(query.slice(1))) return fail("the query has characters that must be percent-encoded");
    }
    if (tail) {
        if (!PATH_RE.test(tail)) return fail("the path has characters that must be percent-encoded");
        path = tail + query;
    } else if (query) {
        path = "/" + query;
    }

    const defaultPort = DEFAULT_PORTS[scheme];
    const port = a.port ?? defaultPort;
    let userinfo = "";
    if (a.snmpVersion === "v2c") userinfo = "***@";
    else if (a.user !== undefined) userinfo = `${a.user}${":***".repeat(a.secretCount)}@`;
    const portText = a.port !== undefined ? `:${a.port}` : "";
    const redacted =
        scheme === "scp"
            ? `scp://${userinfo}${a.hostDisplay}${portText}:${path ?? ""}`
            : `${scheme}://${userinfo}${a.hostDisplay}${portText}${path ?? ""}`;
    const uri: NetworkUri = {
        scheme,
        hasSecret: a.secretCount > 0,
        host: a.host,
        port,
        portExplicit: a.port !== undefined,
        redacted,
    };
    if (a.user !== undefined) uri.user = a.user;
    if (path !== undefined) uri.path = path;
    if (a.snmpVersion) uri.snmpVersion = a.snmpVersion;
    return { ok: true, uri };
}

type AuthorityResult = { ok: true; value: Authority } | { ok: false; error: string };

function parseAuthority(scheme: UriScheme, text: string): AuthorityResult {
    const at = text.lastIndexOf("@");
    const creds = parseUserinfo(scheme, at >= 0 ? text.slice(0, at) : undefined);
    if (!creds.ok) return creds;
    const split = splitHostPort(at >= 0 ? text.slice(at + 1) : text);
    if (!split.ok) return split;
    const hostCheck = checkHost(split.hostText, true);
    if (!hostCheck.ok) return hostCheck;
    let port: number | undefined;
    if (split.portText !== undefined) {
        const portResult = checkPort(split.portText);
        if (!portResult.ok) return portResult;
        port = portResult.port;
    }
    const value: Authority = { secretCount: creds.secretCount, host: hostCheck.host, hostDisplay: hostCheck.display };
    if (creds.user !== undefined) value.user = creds.user;
    if (creds.snmpVersion) value.snmpVersion = creds.snmpVersion;
    if (port !== undefined) value.port = port;
    return { ok: true, value };
}

type Credentials = { user?: string; secretCount: number; snmpVersion?: "v2c" | "v3" };
type CredentialsResult = ({ ok: true } & Credentials) | { ok: false; error: string };

/** The part before "@" (undefined: none), per scheme. Never quote any part after the first ":" (or the community): they are secrets. */
function parseUserinfo(scheme: UriScheme, userinfo: string | undefined): CredentialsResult {
    if (userinfo === undefined) {
        if (scheme === "snmp")
            return {
                ok: false,
                error: "missing credentials: snmp://community@host (v2c) or snmp://user:auth:password@host (v3)",
            };
        if (scheme === "sftp") return { ok: false, error: "missing user: sftp://user@host" };
        return { ok: true, secretCount: 0 };
    }
    if (userinfo === "") return { ok: false, error: "empty user before @" };
    const parts = userinfo.split(":");
    if (scheme === "snmp") return parseSnmpCredentials(parts);
    if (scheme === "scp" && parts.length > 1) {
        return {
            ok: false,
            error: "scp URIs take no password (scp://[user@]host[:port]:[/path]); use key authentication",
        };
    }
    const user = parts[0];
    if (!user) return { ok: false, error: "empty user name before the password" };
    if (!USER_RE.test(user))
        return { ok: false, error: `the user name "${user}" has characters that must be percent-encoded` };
    if (parts.length === 1) return { ok: true, user, secretCount: 0 };
    if (!SECRET_RE.test(parts.slice(1).join(":")))
        return { ok: false, error: "the password has characters that must be percent-encoded" };
    return { ok: true, user, secretCount: 1 };
}

/** v2c: community@host; v3: user:auth:password@host (at least auth and password). */
function parseSnmpCredentials(parts: string[]): CredentialsResult {
    if (parts.length === 1) {
        if (!SECRET_RE.test(parts[0]) || parts[0] === "")
            return { ok: false, error: "the community has characters that must be percent-encoded" };
        return { ok: true, snmpVersion: "v2c", secretCount: 1 };
    }
    if (parts.length === 2) {
        return {
            ok: false,
            error: 'SNMP credentials have one ":": v2c is community@host, v3 is user:auth:password@host (v3 needs at least auth and password)',
        };
    }
    if (parts.length > 3) {
        return { ok: false, error: 'SNMP credentials have too many ":" (percent-encode ":" inside secrets as %3A)' };
    }
    const [u, auth, password] = parts;
    if (!u || !USER_RE.test(u))
        return { ok: false, error: "the SNMPv3 user name is empty or has characters that must be percent-encoded" };
    if (!auth) return { ok: false, error: "the SNMPv3 auth secret is empty (v3 needs at least auth and password)" };
    if (!password) return { ok: false, error: "the SNMPv3 password is empty (v3 needs at least auth and password)" };
    if (!SECRET_RE.test(auth) || !SECRET_RE.test(password))
        return { ok: false, error: "an SNMPv3 secret has characters that must be percent-encoded" };
    if (decodedLength(password) < SNMPV3_MIN_SECRET)
        return { ok: false, error: `the SNMPv3 password is shorter than ${SNMPV3_MIN_SECRET} characters` };
    return { ok: true, user: u, snmpVersion: "v3", secretCount: 2 };
}

type HostPort = { ok: true; hostText: string; portText?: string } | { ok: false; error: string };

/** "host", "host:port", "[v6]" or "[v6]:port" (a bare IPv6 address is refused: it needs brackets). */
function splitHostPort(hostport: string): HostPort {
    if (hostport.startsWith("[")) {
        const close = hostport.indexOf("]");
        if (close < 0) return { ok: false, error: 'missing "]" after the IPv6 address' };
        const after = hostport.slice(close + 1);
        if (after === "") return { ok: true, hostText: hostport.slice(0, close + 1) };
        if (!after.startsWith(":")) return { ok: false, error: 'unexpected text after "]" (expected ":port")' };
        return { ok: true, hostText: hostport.slice(0, close + 1), portText: after.slice(1) };
    }
    const colons = (hostport.match(/:/g) ?? []).length;
    if (colons > 1) {
        return parseIPv6(hostport) !== undefined
            ? { ok: false, error: `IPv6 addresses go in brackets: [${hostport}]` }
            : { ok: false, error: 'too many ":" in host:port (IPv6 addresses go in brackets, e.g. [2001:db8::1])' };
    }
    if (colons === 0) return { ok: true, hostText: hostport };
    const c = hostport.indexOf(":");
    return { ok: true, hostText: hostport.slice(0, c), portText: hostport.slice(c + 1) };
}

type HostResult = { ok: true; host: string; display: string } | { ok: false; error: string };

function checkHost(text: string, ipv6Brackets: boolean): HostResult {
    if (text === "") return { ok: false, error: "missing host" };
    if (text.startsWith("[")) {
        if (!text.endsWith("]")) return { ok: false, error: 'missing "]" after the IPv6 address' };
        const inner = text.slice(1, -1);
        if (parseIPv6(inner) === undefined)
            return { ok: false, error: `"${inner}" in brackets is not an IPv6 address` };
        if (!ipv6Brackets) return { ok: true, host: inner, display: text };
        return { ok: true, host: inner.toLowerCase(), display: text.toLowerCase() };
    }
    if (/^[0-9.]+$/.test(text)) {
        if (parseIPv4(text) === undefined) return { ok: false, error: `"${text}" is not a valid IPv4 address` };
        return { ok: true, host: text, display: text };
    }
    if (!isHostname(text)) return { ok: false, error: `"${text}" is not a valid host name or address` };
    const lower = text.toLowerCase().replace(/\.$/, "");
    return { ok: true, host: lower, display: lower };
}

type PortResult = { ok: true; port: number } | { ok: false; error: string };

/**
 * The port text is never quoted: in "ftp://user:secret/path" (a forgotten "@") the "port" is the password.
 */
function checkPort(text: string): PortResult {
    if (text === "") return { ok: false, error: 'empty port after ":"' };
    if (!/^[0-9]+$/.test(text))
        return {
            ok: false,
            error: 'the port is not a number (if the URI has credentials, did you forget the "@" before the host?)',
        };
    const port = Number(text);
    if (port < 1 || port > 65535) return { ok: false, error: "the port is out of range (1-65535)" };
    return { ok: true, port };
}

function decodedLength(s: string): number {
    return s.replace(/%[0-9A-Fa-f]{2}/g, "x").length;
}

/**
 * Redact every URI credential found anywhere inside a longer text (a message that quotes config values):
 * "scheme://user:secret@" → "scheme://user:***@", "snmp://community@" → "snmp://***@".
 */
export function redactSecretsInText(text: string): string {
    return text.replace(/([A-Za-z][A-Za-z0-9+.-]*):\/\/([^\s/?#"'@]*)@/g, (_m, scheme: string, userinfo: string) => {
        const colon = userinfo.indexOf(":");
        if (colon >= 0) return `${scheme}://${userinfo.slice(0, colon)}:***@`;
        return scheme.toLowerCase() === "snmp" ? `${scheme}://***@` : `${scheme}://${userinfo}@`;
    });
}

/**
 * Best-effort redaction of ANY string that may be a URI with credentials, valid or not, for messages:
 * everything after the first ":" of the user info, and a lone SNMP community, becomes "***".
 */
export function redactUriText(text: string): string {
    const m = /^([A-Za-z][A-Za-z0-9+.-]*:\/\/)([^/?#]*)@(.*)$/.exec(text);
    if (!m) return text;
    const [, prefix, userinfo, after] = m;
    const scheme = prefix.slice(0, -3).toLowerCase();
    const colon = userinfo.indexOf(":");
    let shown: string;
    if (colon >= 0) shown = `${userinfo.slice(0, colon)}:***`;
    else if (scheme === "snmp") shown = "***";
    else shown = userinfo;
    return `${prefix}${shown}@${after}`;
}

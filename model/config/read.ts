// Small typed readers for raw config values. Each reports into `Problems` with the full config path and
// returns undefined when the value is invalid.
import { ConfigError, ConfigWarning } from "../types";
import { parseCidr, parseIp, isHostname } from "../net";
import { didYouMean } from "../suggest";
import { redactSecretsInText } from "../uri";
import { CONFIG_NAMESPACE } from "./keys";
import { LIMITS } from "../limits";

/** An encrypted stack value as it appears in Pulumi.<stack>.yaml: kept opaque, never decrypted here. */
export interface SecretRef {
    secure: string;
}

export function isSecretRef(v: unknown): v is SecretRef {
    return isMap(v) && Object.keys(v).length === 1 && typeof v.secure === "string";
}

// ---------------------------------------------------------------------------------------------------------
// Small typed readers. Each reports into `Problems` with the full path and returns undefined when invalid.

/** Control, format (bidi overrides, zero-width) and line/paragraph separator characters: never in a one-line field. */
const UNSAFE_CHAR = /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}]/u;
const UNSAFE_CHARS = /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}]/gu;

/** Writes a character as U+XXXX (with its usual name for the common ones). */
export function describeChar(ch: string): string {
    const names: Record<string, string> = {
        "\n": "a line break",
        "\r": "a carriage return",
        "\t": "a tab",
        "\0": "a NUL byte",
        "\x1b": "an escape (ANSI) character",
    };
    const code = `U+${(ch.codePointAt(0) ?? 0).toString(16).toUpperCase().padStart(4, "0")}`;
    return names[ch] ? `${names[ch]} (${code})` : code;
}

/** Problem text is always one printable line: control characters from quoted values are shown as \\uXXXX. */
function printable(text: string): string {
    return text.replace(UNSAFE_CHARS, (c) => `\\u${(c.codePointAt(0) ?? 0).toString(16).padStart(4, "0")}`);
}

/** Collects problems. Messages may quote config values, so URI credentials in them are redacted here, always. */
export class Problems {
    readonly errors: ConfigError[] = [];
    readonly warnings: ConfigWarning[] = [];
    error(path: string, message: string): void {
        this.errors.push({ path: printable(path), message: printable(redactSecretsInText(message)) });
    }
    warn(path: string, message: string): void {
        this.warnings.push({ path: printable(path), message: printable(redactSecretsInText(message)) });
    }
}

/** true when `text` is one line of plain text; else reports which character is not (without echoing the value). */
export function checkSingleLine(text: string, path: string, pr: Problems): boolean {
    const bad = UNSAFE_CHAR.exec(text);
    if (!bad) return true;
    pr.error(
        path,
        `contains ${describeChar(bad[0])} at character ${bad.index + 1}: this field is one line of plain text (control and invisible formatting characters are refused)`,
    );
    return false;
}

export const root = (key: string) => `${CONFIG_NAMESPACE}:${key}`;
export const at = (path: string, i: number) => `${path}[${i}]`;
export const dot = (path: string, key: string) => `${path}.${key}`;
export const quoted = (path: string, key: string) => `${path}["${key}"]`;

export function isMap(v: unknown): v is Record<string, unknown> {
    return typeof v === "object" && v !== null && !Array.isArray(v);
}

export function typeName(v: unknown): string {
    if (v === null) return "null";
    if (Array.isArray(v)) return "a list";
    if (isSecretRef(v)) return "an encrypted value";
    if (isMap(v)) return "a map";
    return `${typeof v === "number" ? "the number" : typeof v === "boolean" ? "the boolean" : "the string"} ${JSON.stringify(v)}`;
}

export function readMap(
    v: unknown,
    path: string,
    pr: Problems,
    keys?: readonly string[],
): Record<string, unknown> | undefined {
    if (!isMap(v) || isSecretRef(v)) {
        pr.error(path, `expected a map (key: value), got ${typeName(v)}`);
        return undefined;
    }
    if (keys) {
        for (const k of Object.keys(v)) {
            if (!keys.includes(k))
                pr.error(dot(path, k), `unknown key "${k}"${didYouMean(k, keys) || ` (known: ${keys.join(", ")})`}`);
        }
    }
    return v;
}

export function readList(v: unknown, path: string, pr: Problems): unknown[] | undefined {
    if (!Array.isArray(v)) {
        pr.error(path, `expected a list, got ${typeName(v)}`);
        return undefined;
    }
    return v;
}

export function readString(v: unknown, path: string, pr: Problems): string | undefined {
    if (typeof v !== "string") {
        pr.error(path, `expected a string, got ${typeName(v)}`);
        return undefined;
    }
    if (!checkSingleLine(v, path, pr)) return undefined;
    if (v.trim() === "") {
        pr.error(path, "must not be empty");
        return undefined;
    }
    if (v !== v.trim()) {
        pr.error(path, "has leading or trailing spaces");
        return undefined;
    }
    return v;
}

/** Booleans; "true"/"false" strings too (what `pulumi config set --path` may store). */
export function readBool(v: unknown, path: string, pr: Problems, fallback: boolean): boolean {
    if (v === undefined) return fallback;
    if (typeof v === "boolean") return v;
    if (v === "true" || v === "false") return v === "true";
    pr.error(path, `expected true or false, got ${typeName(v)}`);
    return fallback;
}

/** Integers in [min, max]; decimal strings too (what `pulumi config set --path` may store). */
export function readInt(
    v: unknown,
    path: string,
    pr: Problems,
    min: number,
    max: number,
    what = "a whole number",
): number | undefined {
    let n: number | undefined;
    if (typeof v === "number") n = v;
    else if (typeof v === "string" && /^[0-9]+$/.test(v)) n = Number(v);
    if (typeof v === "string" && /^[-+]?0[0-9]/.test(v)) {
        // A leading zero means octal to some readers (Pulumi's Go YAML reader takes an unquoted 022 as 18).
        pr.error(
            path,
            `"${v}" is written with a leading zero: Pulumi's YAML reader takes such a number as octal, other readers as decimal; write it without the zero`,
        );
        return undefined;
    }
    if (n === undefined || !Number.isInteger(n)) {
        pr.error(path, `expected ${what}, got ${typeName(v)}`);
        return undefined;
    }
    if (n < min || n > max) {
        pr.error(path, `${n} is out of range (${min}-${max})`);
        return undefined;
    }
    return n;
}

export function readPort(v: unknown, path: string, pr: Problems): number | undefined {
    return readInt(
        v,
        path,
        pr,
        LIMITS.port.min,
        LIMITS.port.max,
        `a port number (${LIMITS.port.min}-${LIMITS.port.max})`,
    );
}

export function readEnum<T extends string>(
    v: unknown,
    path: string,
    pr: Problems,
    allowed: readonly T[],
): T | undefined {
    if (typeof v !== "string") {
        pr.error(path, `expected one of ${allowed.join(", ")}; got ${typeName(v)}`);
        return undefined;
    }
    if (!(allowed as readonly string[]).includes(v)) {
        pr.error(path, `"${v}" is not one of ${allowed.join(", ")}${didYouMean(v, allowed)}`);
        return undefined;
    }
    return v as T;
}

export function readIp(v: unknown, path: string, pr: Problems): string | undefined {
    const s = readString(v, path, pr);
    if (s === undefined) return undefined;
    // A node's IPv4 address in IPv4-mapped IPv6 form would be a peer's rule source that never matches its packets.
    const mapped = mappedIPv4Problem(s);
    if (mapped) {
        pr.error(path, mapped);
        return undefined;
    }
    if (parseIp(s)) return s;
    if (s.includes("/")) pr.error(path, `"${s}" is a network: a node address is one IPv4 or IPv6 address`);
    else if (s.startsWith("[")) pr.error(path, `"${s}": write IPv6 addresses without brackets here`);
    else if (isHostname(s))
        pr.error(
            path,
            `"${s}" is a host name: node addresses must be literal IPv4 or IPv6 addresses (firewall rules never depend on DNS)`,
        );
    else pr.error(path, `"${s}" is not a valid IPv4 or IPv6 address`);
    return undefined;
}

/**
 * An IPv4-mapped IPv6 source/destination range (::ffff:a.b.c.d/n) in a firewall rule: nftables matches IPv4
 * packets by their IPv4 addresses only, so such a rule would look like it opens (or covers) IPv4 hosts while it
 * matches nothing, and every check by address would have to guess. Refused with the IPv4 form to write instead.
 */
export function mappedIPv4Problem(text: string): string | undefined {
    const c = parseCidr(text);
    if (!c.ok || c.cidr.family !== 6 || c.cidr.prefix < 96 || c.cidr.base >> 32n !== 0xffffn) return undefined;
    const v4 = c.cidr.base & 0xffffffffn;
    const quad = [24n, 16n, 8n, 0n].map((sh) => String((v4 >> sh) & 0xffn)).join(".");
    return `"${text}" is an IPv4-mapped IPv6 ${c.cidr.prefix === 128 ? "address" : "range"}: nftables matches IPv4 traffic by its IPv4 form only; write ${quad}${c.cidr.prefix === 128 ? "" : `/${c.cidr.prefix - 96}`}`;
}

/** A list of CIDRs/addresses (bare addresses mean one host). Duplicates warn. */
export function readCidrList(v: unknown, path: string, pr: Problems): string[] | undefined {
    const list = readList(v, path, pr);
    if (!list) return undefined;
    const out: string[] = [];
    const seen = new Map<string, number>();
    let ok = true;
    list.forEach((item, i) => {
        const s = readString(item, at(path, i), pr);
        if (s === undefined) {
            ok = false;
            return;
        }
        const parsed = parseCidr(s);
        if (!parsed.ok) {
            pr.error(at(path, i), parsed.error);
            ok = false;
            return;
        }
        const mapped = mappedIPv4Problem(s);
        if (mapped) {
            pr.error(at(path, i), mapped);
            ok = false;
            return;
        }
        const canonical = parsed.cidr.text;
        if (seen.has(canonical)) pr.warn(at(path, i), `"${s}" is listed twice (also [${seen.get(canonical)}])`);
        else seen.set(canonical, i);
        out.push(s);
    });
    return ok ? out : undefined;
}

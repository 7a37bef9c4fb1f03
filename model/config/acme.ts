// pinhole:certificates.acme: the ACME CA of the nodes in acme mode (docs/certificates.md, ACME).
import { AcmeSettings } from "../types";
import { isIp } from "../net";
import { ACME_CHALLENGES, ACME_KEYS, CONFIG_KEY_RE } from "./keys";
import { Problems, dot, readCidrList, readEnum, readMap, readString } from "./read";

const EMAIL_RE =
    /^[A-Za-z0-9._%+-]+@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)+$/;

/** The directory's host as written in the URL, without IPv6 brackets. */
export function directoryHost(url: string): string {
    return new URL(url).hostname.replace(/^\[(.*)\]$/, "$1");
}

function readConfigKeyName(v: unknown, path: string, pr: Problems): string | undefined {
    const key = readString(v, path, pr);
    if (key === undefined) return undefined;
    const bare = key.replace(/^pinhole:/, "");
    if (!CONFIG_KEY_RE.test(bare)) {
        pr.error(path, `"${key}" is not a config key name`);
        return undefined;
    }
    return bare;
}

function readDirectoryUrl(v: unknown, path: string, pr: Problems): string | undefined {
    const text = readString(v, path, pr);
    if (text === undefined) return undefined;
    let url: URL;
    try {
        url = new URL(text);
    } catch {
        pr.error(
            path,
            `"${text}" is not a URL (the CA's ACME directory, e.g. https://acme-v02.api.letsencrypt.org/directory)`,
        );
        return undefined;
    }
    if (url.protocol !== "https:") {
        pr.error(path, `"${text}" is not an https:// URL: ACME directories are served over HTTPS (RFC 8555 §6.1)`);
        return undefined;
    }
    if (url.username || url.password) {
        pr.error(path, "must not carry credentials (ACME accounts are keys, not passwords)");
        return undefined;
    }
    if (url.search || url.hash) {
        pr.error(path, "must not carry a query or fragment");
        return undefined;
    }
    return url.href;
}

/** certificates.acme, or undefined (with errors) when it does not hold together. */
export function readAcme(v: unknown, path: string, pr: Problems): AcmeSettings | undefined {
    const m = readMap(v, path, pr, ACME_KEYS);
    if (!m) return undefined;
    const before = pr.errors.length;
    if (m.directoryUrl === undefined)
        pr.error(dot(path, "directoryUrl"), "missing: the CA's ACME directory URL (https://...)");
    const directoryUrl =
        m.directoryUrl === undefined ? undefined : readDirectoryUrl(m.directoryUrl, dot(path, "directoryUrl"), pr);
    let email: string | undefined;
    if (m.email !== undefined) {
        email = readString(m.email, dot(path, "email"), pr);
        if (email !== undefined && !EMAIL_RE.test(email)) {
            pr.error(
                dot(path, "email"),
                `"${email}" is not an e-mail address (the account's contact, sent as mailto:)`,
            );
            email = undefined;
        }
    }
    const accountKeyConfigKey =
        m.accountKeyConfigKey === undefined
            ? undefined
            : readConfigKeyName(m.accountKeyConfigKey, dot(path, "accountKeyConfigKey"), pr);
    const directoryCaConfigKey =
        m.directoryCaConfigKey === undefined
            ? undefined
            : readConfigKeyName(m.directoryCaConfigKey, dot(path, "directoryCaConfigKey"), pr);
    const challenge =
        m.challenge === undefined ? "http-01" : readEnum(m.challenge, dot(path, "challenge"), pr, ACME_CHALLENGES);
    let validationFrom: string[] | undefined;
    if (m.validationFrom !== undefined) {
        validationFrom = readCidrList(m.validationFrom, dot(path, "validationFrom"), pr);
        if (validationFrom && validationFrom.length === 0)
            pr.error(dot(path, "validationFrom"), "is empty: the CA could not reach any node's port 80 for HTTP-01");
    } else if (directoryUrl) {
        const host = directoryHost(directoryUrl);
        if (isIp(host)) validationFrom = [host];
        else
            pr.error(
                dot(path, "validationFrom"),
                `missing: the directory is named by host (${host}), so pinhole cannot tell where the CA's HTTP-01 validation comes from; list its addresses (80/tcp is opened from them), or 0.0.0.0/0 and ::/0 for a public CA`,
            );
    }
    if (pr.errors.length !== before || !directoryUrl || !challenge || !validationFrom) return undefined;
    return {
        directoryUrl,
        ...(email ? { email } : {}),
        ...(accountKeyConfigKey ? { accountKeyConfigKey } : {}),
        ...(directoryCaConfigKey ? { directoryCaConfigKey } : {}),
        challenge,
        validationFrom,
    };
}

// One escaping (or strict-grammar) function per target that text reaches on a node. Renderers and the
// provider's scripts use only these, so safety does not depend on the validator having caught everything:
// each function is safe for ANY input (it keeps a whitelist, or refuses), and the validator separately
// refuses control characters with the config path (model/config/read.ts).
//
//   nftString(text)        a double-quoted nftables string (comment "..."): whitelist, length-capped
//   nftCommentLine(text)   a "# ..." line of the ruleset file: one line whatever the input
//   nftIdentifier(name)    a set/chain name: strict grammar, throws otherwise
//   nftAddress(text)       a set element: an address or CIDR by the strict parser, throws otherwise
//   shellQuote(value)      one word for a POSIX shell (every value in an SSH script)
//   nginxServerName(name)  a server_name token: strict host-name grammar, throws otherwise
//   nginxCommentLine(text) a "# ..." line of an nginx config
//   childPath(dir, name)   a file inside one of pinhole's directories: no traversal, throws otherwise
//   runToken(token)        the per-run part of a run file's name: [A-Za-z0-9]{1,64}, throws otherwise

import { parseCidr } from "../model/net";

/** nft's comment limit (NFT_USERDATA_MAXLEN is 256 bytes; comments are capped at 128 by nft). */
export const NFT_COMMENT_MAX = 128;

// Printable ASCII minus the characters with meaning to a shell, nft or nginx parser (quotes, backslash,
// braces, semicolon, dollar, hash, backtick): what a reason needs to read well, nothing that can end a token.
const SAFE_TEXT_CHAR = /[A-Za-z0-9 _.,:/()+=@'[\]<>*!?%&~^|-]/;

/** Every character outside the whitelist becomes "?" (control characters, quotes, non-ASCII, ...). */
export function safeText(text: string): string {
    let out = "";
    for (const ch of text) out += SAFE_TEXT_CHAR.test(ch) ? ch : "?";
    return out;
}

/** A double-quoted nftables string. Never contains `"` or a line break, at most `max` bytes inside the quotes. */
export function nftString(text: string, max = NFT_COMMENT_MAX - 8): string {
    const clean = safeText(text);
    return `"${clean.length > max ? clean.slice(0, max - 3) + "..." : clean}"`;
}

/** A comment line of an nftables file: "# " + the text, always exactly one line. */
export function nftCommentLine(text: string): string {
    return `# ${safeText(text)}`.trimEnd();
}

const NFT_IDENTIFIER = /^[A-Za-z][A-Za-z0-9_]{0,30}$/;

/** An nftables set/chain/table name. Throws on anything else: names are built by pinhole, so this is a bug guard. */
export function nftIdentifier(name: string): string {
    if (!NFT_IDENTIFIER.test(name))
        throw new Error(`internal error: ${JSON.stringify(name)} is not a valid nftables identifier`);
    return name;
}

/** An nftables set element: an IPv4/IPv6 address or CIDR (model/net's strict grammar). Throws on anything else. */
export function nftAddress(text: string): string {
    if (!parseCidr(text).ok) throw new Error(`internal error: ${JSON.stringify(text)} is not an address or CIDR`);
    return text;
}

/** One word for a POSIX shell, always single-quoted (nothing inside is special). NUL cannot be passed at all. */
export function shellQuote(value: string): string {
    if (value.includes("\0")) throw new Error("internal error: a NUL byte cannot be passed to a shell");
    return `'${value.replace(/'/g, `'\\''`)}'`;
}

const HOST_LABEL = /^[A-Za-z0-9_]([A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?$/;

/** An nginx server_name entry: a host name (labels of letters, digits, "-", "_"), or "_". Throws otherwise. */
export function nginxServerName(name: string): string {
    const labels = name.replace(/\.$/, "").split(".");
    if (name !== "_" && (name.length > 253 || !labels.every((l) => HOST_LABEL.test(l)))) {
        throw new Error(`${JSON.stringify(name)} is not a host name nginx can serve (server_name)`);
    }
    return name;
}

/** A comment line of an nginx config: "# " + the text, always exactly one line, no directive. */
export function nginxCommentLine(text: string): string {
    return `# ${safeText(text)}`.trimEnd();
}

const FILE_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

/** `dir/name` for a name pinhole builds: one path component, no "..", no slash. Throws otherwise. */
export function childPath(dir: string, name: string): string {
    if (!FILE_NAME.test(name) || name.includes(".."))
        throw new Error(`${JSON.stringify(name)} is not a safe file name under ${dir}`);
    return `${dir.replace(/\/+$/, "")}/${name}`;
}

/** The per-run token in run-file names (`firewall.<token>.nft`): letters and digits only, never empty. */
export function runToken(token: string): string {
    if (!/^[A-Za-z0-9]{1,64}$/.test(token))
        throw new Error(`${JSON.stringify(token)} is not a safe file name under a run directory (run token)`);
    return token;
}

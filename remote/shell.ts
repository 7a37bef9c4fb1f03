// What every on-node script shares: pinhole's directories on the node, the script prelude, and how a payload
// reaches a file. Quoting a word for the shell is render/escape.ts's shellQuote (text escaped for where it goes).

/** pinhole's state on the node (persisted rulesets, owner markers, saved originals). */
export const STATE_DIR = "/etc/pinhole";
/** pinhole's run files (apply tokens, staged payloads): tmpfs, emptied by a boot. */
export const RUN_DIR = "/run/pinhole";

/**
 * The first lines of every script: fail on any error or unset variable, private files, a fixed PATH, and a clear
 * exit when `tool` is missing (`exitCode`, mapped to a message by the provider).
 */
export function scriptPrelude(tool: string, pkg: string, exitCode: number): string {
    return `set -eu
umask 077
PATH=/usr/sbin:/usr/bin:/sbin:/bin
command -v ${tool} >/dev/null 2>&1 || { echo "${tool} not found on this node (install the ${pkg} package)" >&2; exit ${exitCode}; }
`;
}

/** Writes `content` to `target` (a shell word) from a base64 heredoc: the payload never meets the shell's parser. */
export function base64Heredoc(target: string, content: string): string {
    const b64 = Buffer.from(content, "utf8")
        .toString("base64")
        .replace(/(.{76})/g, "$1\n");
    return `base64 -d > ${target} <<'PINHOLE_PAYLOAD'\n${b64}\nPINHOLE_PAYLOAD\n`;
}

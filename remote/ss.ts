// The one parser of `ss` output (iproute2, on every Linux node): listening sockets for verify's listen audit and
// for `npm run narrow`, established TCP sockets for narrow. Pure.
import type { Listener } from "../model/listening";

/** The command verify and narrow run on a node: listening TCP and UDP sockets, numeric, no header. Read-only. */
export const LISTENING_COMMAND = "ss -Hlntu";

/** "10.0.0.1:22", "[::]:8443", "*:161", "127.0.0.53%lo:53" → address and port ("*" is "0.0.0.0"). */
export function splitHostPort(s: string): { address: string; port: number } | undefined {
    const i = s.lastIndexOf(":");
    if (i < 0) return undefined;
    const port = Number(s.slice(i + 1));
    let address = s
        .slice(0, i)
        .replace(/^\[|\]$/g, "")
        .replace(/%.*$/, "");
    if (address === "*") address = "0.0.0.0";
    return Number.isInteger(port) ? { address, port } : undefined;
}

/** `ss -Hlntu` lines: "tcp LISTEN 0 128 10.0.0.1:22 0.0.0.0:*" / "udp UNCONN 0 0 *:161 *:*". */
export function parseListening(text: string): Listener[] {
    const out: Listener[] = [];
    for (const line of text.split("\n")) {
        const f = line.trim().split(/\s+/);
        if (f.length < 5 || (f[0] !== "tcp" && f[0] !== "udp")) continue;
        const hp = splitHostPort(f[4]);
        if (hp) out.push({ protocol: f[0], port: hp.port, address: hp.address });
    }
    return out;
}

// nft inside a lab namespace, and the stand-in for another firewall manager that the proof and rollout tests load.
import { execFileSync } from "child_process";

/** `nft <args>` in namespace `ns` (stdin from `input` when given); throws with nft's message on failure. */
export function nft(ns: string, args: string[], input?: string): string {
    return execFileSync("ip", ["netns", "exec", ns, "nft", ...args], {
        encoding: "utf8",
        input,
        stdio: [input === undefined ? "ignore" : "pipe", "pipe", "pipe"],
    });
}

/** Another manager's table: drops MongoDB's port on the input hook, as a foreign firewall would. */
export const FOREIGN_MONGODB_DROP = `table inet othermgr {
    chain input {
        type filter hook input priority 10; policy accept;
        tcp dport 27017 drop comment "another firewall manager"
    }
}
`;

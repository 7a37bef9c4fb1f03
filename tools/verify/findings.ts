// What verify found: one Finding per check and node (pass, fail, or a pass worth reading).
import { describeProbe, ProbeResultRow } from "../../model/probes";

export type CheckKind = "state" | "ssh" | "firewall" | "certificate" | "probe";

export interface Finding {
    node: string;
    check: CheckKind;
    ok: boolean;
    /** Only for ok findings: worth reading (an expiry notice, a required port nobody listens on). */
    warning?: boolean;
    message: string;
}

export const ok = (node: string, check: CheckKind, message: string, warning = false): Finding => ({
    node,
    check,
    ok: true,
    ...(warning ? { warning } : {}),
    message,
});

export const fail = (node: string, check: CheckKind, message: string): Finding => ({ node, check, ok: false, message });

/** A finding per failed probe and per passed probe worth reading (model/probes.ts describeProbe). */
export function probeFindings(rows: ProbeResultRow[]): Finding[] {
    return rows.flatMap((r) => {
        const d = describeProbe(r);
        return d ? [d.ok ? ok(r.from, "probe", d.message, d.warning) : fail(r.from, "probe", d.message)] : [];
    });
}

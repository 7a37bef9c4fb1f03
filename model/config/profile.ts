// Stack config for the firewall profile: `pinhole:firewall.profile` and `pinhole:firewall.narrow`, and the
// clear errors for the keys they replaced (databasePorts, arbiterPort). Pure; the config reader calls it
// with the firewall map and merges the problems it returns.

import { ConfigError, ConfigWarning, FirewallSettings } from "../types";
import { FIREWALL_PROFILES, FirewallProfile, NARROWING_IDS, NarrowingId } from "../narrowings";
import { didYouMean } from "../suggest";

/** Keys of `pinhole:firewall` this reader owns (the config reader accepts them). */
export const PROFILE_KEYS = ["profile", "narrow", "databasePorts", "arbiterPort"] as const;

const REPLACED: Record<string, string> = {
    databasePorts:
        "27019/27020 into database nodes are now a reference opening (the default profile); " +
        "to close them set pinhole:firewall.narrow.databasePortsFromTables: true (or profile: strict)",
    arbiterPort:
        "27030 at every database-access endpoint is now the reference profile's default; " +
        "to open it only into nodes with arbiter: true set pinhole:firewall.narrow.arbiterOnArbiterNodes: true (or profile: strict)",
};

function typeName(v: unknown): string {
    return v === null ? "null" : Array.isArray(v) ? "a list" : typeof v === "object" ? "a map" : typeof v;
}

export interface ProfileSettings {
    profile: FirewallProfile;
    narrow: Partial<Record<NarrowingId, boolean>>;
}

/**
 * Reads profile and narrow from the `pinhole:firewall` map `m` (already checked to be a map). Every problem
 * comes back with its config path; settings are the defaults where a value is wrong.
 */
export function readFirewallProfile(
    m: Record<string, unknown>,
    path = "pinhole:firewall",
): { settings: ProfileSettings; errors: ConfigError[]; warnings: ConfigWarning[] } {
    const errors: ConfigError[] = [];
    const warnings: ConfigWarning[] = [];
    const settings: ProfileSettings = { profile: "reference", narrow: {} };
    for (const key of Object.keys(REPLACED)) {
        if (m[key] !== undefined)
            errors.push({
                path: `${path}.${key}`,
                message: `was replaced by the firewall profile: ${REPLACED[key]} (docs/decisions.md)`,
            });
    }
    const p = m.profile;
    if (p !== undefined) {
        if (typeof p === "string" && (FIREWALL_PROFILES as readonly string[]).includes(p))
            settings.profile = p as FirewallProfile;
        else if (typeof p === "string")
            errors.push({
                path: `${path}.profile`,
                message: `"${p}" is not one of ${FIREWALL_PROFILES.join(", ")}${didYouMean(p, FIREWALL_PROFILES)}`,
            });
        else
            errors.push({
                path: `${path}.profile`,
                message: `expected one of ${FIREWALL_PROFILES.join(", ")}; got ${typeName(p)}`,
            });
    }
    const n = m.narrow;
    if (n !== undefined) {
        if (n === null || typeof n !== "object" || Array.isArray(n)) {
            errors.push({
                path: `${path}.narrow`,
                message: `expected a map of narrowing: true|false (${NARROWING_IDS.join(", ")}); got ${typeName(n)}`,
            });
        } else {
            for (const [id, on] of Object.entries(n as Record<string, unknown>)) {
                const at = `${path}.narrow.${id}`;
                if (!(NARROWING_IDS as readonly string[]).includes(id)) {
                    errors.push({
                        path: at,
                        message: `unknown narrowing${didYouMean(id, NARROWING_IDS)}; known: ${NARROWING_IDS.join(", ")}`,
                    });
                } else if (typeof on !== "boolean") {
                    errors.push({
                        path: at,
                        message: `expected true (narrow) or false (keep the reference opening); got ${typeName(on)}`,
                    });
                } else {
                    if (on === (settings.profile === "strict"))
                        warnings.push({ path: at, message: `${on} is what profile ${settings.profile} does anyway` });
                    settings.narrow[id as NarrowingId] = on;
                }
            }
        }
    }
    return { settings, errors, warnings };
}

/** The profile fields of FirewallSettings for a settings object (for the config reader). */
export function profileFields(s: ProfileSettings): Pick<FirewallSettings, "profile" | "narrow"> {
    return { profile: s.profile, narrow: { ...s.narrow } };
}

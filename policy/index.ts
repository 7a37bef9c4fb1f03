// pinhole's CrossGuard policy pack: `npm run pulumi -- preview --policy-pack policy` (docs/operations.md "Policy pack").
// Every rule is mandatory by default; `--policy-pack-config <file>` can set one to advisory (a warning) or disabled.
import { EnforcementLevel, PolicyPack, ResourceValidationPolicy } from "@pulumi/policy";
import {
    certificateInNoticeWindow,
    databaseReachableFromClients,
    DEFAULT_PRODUCTION_STACKS,
    egressNotDenied,
    legacyTls,
    stackOfUrn,
    worldReachableManagement,
} from "./rules";

const FIREWALL = "pinhole:node:Firewall";
const WEB_SERVER = "pinhole:node:WebServer";
const mandatory: EnforcementLevel = "mandatory";

/** A rule over one string property of one resource type; unknown values (not yet computed at preview) pass. */
function rule(
    name: string,
    description: string,
    type: string,
    prop: string,
    check: (value: string, args: { urn: string; config: Record<string, unknown> }) => string[],
    configSchema?: ResourceValidationPolicy["configSchema"],
): ResourceValidationPolicy {
    return {
        name,
        description,
        enforcementLevel: mandatory,
        configSchema,
        validateResource: (args, report) => {
            if (args.type !== type) return;
            let value: unknown;
            try {
                value = args.props[prop];
            } catch {
                return; // not known yet (computed during the update): checked on the next preview
            }
            if (typeof value !== "string" || value === "") return;
            for (const v of check(value, { urn: args.urn, config: args.getConfig<Record<string, unknown>>() }))
                report(`${args.props.node ?? args.name}: ${v}`);
        },
    };
}

new PolicyPack("pinhole", {
    policies: [
        rule(
            "no-ssh-snmp-from-world",
            "SSH (22/tcp) and SNMP (161, 162/udp) are never reachable from 0.0.0.0/0 or ::/0.",
            FIREWALL,
            "ruleset",
            (r) => worldReachableManagement(r),
        ),
        rule(
            "databases-not-from-clients",
            "Database ports (27017-27020, 27030) never accept client networks or the world.",
            FIREWALL,
            "ruleset",
            (r) => databaseReachableFromClients(r),
        ),
        rule("tls-1.2-or-newer", "nginx front ends serve TLS 1.2 and 1.3 only.", WEB_SERVER, "siteConfig", (s) =>
            legacyTls(s),
        ),
        rule(
            "certificate-outside-notice-window",
            "A web certificate is not deployed inside its notice window (noticeDays before expiry).",
            WEB_SERVER,
            "certificatePem",
            (pem, a) => certificateInNoticeWindow(pem, Number(a.config.noticeDays ?? 30)),
            { properties: { noticeDays: { type: "integer", minimum: 0, default: 30 } } },
        ),
        rule(
            "egress-deny-on-production",
            "Production stacks filter egress (pinhole:firewall.egress = deny).",
            FIREWALL,
            "ruleset",
            (r, a) => {
                const pattern = new RegExp(String(a.config.productionStacks ?? DEFAULT_PRODUCTION_STACKS));
                return pattern.test(stackOfUrn(a.urn)) ? egressNotDenied(r) : [];
            },
            { properties: { productionStacks: { type: "string", default: DEFAULT_PRODUCTION_STACKS } } },
        ),
    ],
});

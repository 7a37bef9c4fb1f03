// The TLS settings pinhole owns on every web node: one named, versioned profile (docs/certificates.md
// "TLS profile"). Pure data and the nginx lines rendered from it; both front-end modes use it (whole
// site: inside pinhole's server block; certificate only: pinhole's http-level drop-in).

export interface TlsProfile {
    /** "mozilla-intermediate-5.7": what docs, comments and outputs call it. */
    id: string;
    protocols: string;
    /** TLS 1.2 suites (OpenSSL names); TLS 1.3 suites are OpenSSL's defaults, all AEAD. */
    ciphers: string;
    ecdhCurve?: string;
    preferServerCiphers: boolean;
    sessionTimeout: string;
    sessionTickets: boolean;
}

/**
 * Mozilla Server Side TLS "intermediate", guideline version 5.7: TLS 1.2 and 1.3, ECDHE/DHE with AES-GCM or
 * ChaCha20-Poly1305 only (no CBC, SHA-1 MACs, CAMELLIA, ARIA, CCM/CCM8, RSA key exchange), client's choice.
 * The DHE suites stay inactive: pinhole ships no ssl_dhparam (nginx then offers no DHE at all).
 */
export const MOZILLA_INTERMEDIATE_5_7: TlsProfile = {
    id: "mozilla-intermediate-5.7",
    protocols: "TLSv1.2 TLSv1.3",
    ciphers: [
        "ECDHE-ECDSA-AES128-GCM-SHA256",
        "ECDHE-RSA-AES128-GCM-SHA256",
        "ECDHE-ECDSA-AES256-GCM-SHA384",
        "ECDHE-RSA-AES256-GCM-SHA384",
        "ECDHE-ECDSA-CHACHA20-POLY1305",
        "ECDHE-RSA-CHACHA20-POLY1305",
        "DHE-RSA-AES128-GCM-SHA256",
        "DHE-RSA-AES256-GCM-SHA384",
        "DHE-RSA-CHACHA20-POLY1305",
    ].join(":"),
    ecdhCurve: "X25519:prime256v1:secp384r1",
    preferServerCiphers: false,
    sessionTimeout: "1d",
    sessionTickets: false,
};

/**
 * The reference's `web sslv3 on`: SSLv3 (where OpenSSL still has it), TLS 1.0 and 1.1 back on. OpenSSL 3 offers
 * TLS 1.0/1.1 only at security level 0, hence the cipher string. Only for clients that cannot do better.
 */
export const LEGACY_SSLV3_ON: TlsProfile = {
    id: "legacy-sslv3-on",
    protocols: "SSLv3 TLSv1 TLSv1.1 TLSv1.2 TLSv1.3",
    ciphers: "DEFAULT:@SECLEVEL=0",
    preferServerCiphers: true,
    sessionTimeout: "1d",
    sessionTickets: false,
};

export const tlsProfileFor = (legacyProtocols: boolean): TlsProfile =>
    legacyProtocols ? LEGACY_SSLV3_ON : MOZILLA_INTERMEDIATE_5_7;

/** The nginx directives of a profile, as [name, value] (a session cache of its own name on top). */
export function tlsDirectives(p: TlsProfile, sessionCache = "shared:pinhole_tls:10m"): [string, string][] {
    return [
        ["ssl_protocols", p.protocols],
        ["ssl_ciphers", p.ciphers],
        ...(p.ecdhCurve ? [["ssl_ecdh_curve", p.ecdhCurve] as [string, string]] : []),
        ["ssl_prefer_server_ciphers", p.preferServerCiphers ? "on" : "off"],
        ["ssl_session_cache", sessionCache],
        ["ssl_session_timeout", p.sessionTimeout],
        ["ssl_session_tickets", p.sessionTickets ? "on" : "off"],
    ];
}

/** Directive names pinhole's TLS settings own: set anywhere else at the same level, they would clash or win. */
export const TLS_DIRECTIVE_NAMES: readonly string[] = [
    "ssl_protocols",
    "ssl_ciphers",
    "ssl_ecdh_curve",
    "ssl_prefer_server_ciphers",
    "ssl_session_cache",
    "ssl_session_timeout",
    "ssl_session_tickets",
];

/** Of those, the ones that decide what a scanner sees: a server block setting them itself escapes the profile. */
export const TLS_DECISIVE: readonly string[] = ["ssl_protocols", "ssl_ciphers"];

export function renderTlsLines(p: TlsProfile, indent = ""): string[] {
    return tlsDirectives(p).map(([k, v]) => `${indent}${k} ${v};`);
}

/** pinhole's http-level drop-in of the certificate-only front end: the profile for every server block of the platform. */
export function renderTlsDropIn(node: string, legacyProtocols: boolean): string {
    const p = tlsProfileFor(legacyProtocols);
    return [
        `# Managed by pinhole (pinhole:node:WebServer, certificate-only) for node ${node}; \`pulumi up\` rewrites it, \`pulumi destroy\` removes it.`,
        `# TLS profile ${p.id} for every server block of this nginx (http level; docs/certificates.md "TLS profile").`,
        ...renderTlsLines(p),
        "",
    ].join("\n");
}

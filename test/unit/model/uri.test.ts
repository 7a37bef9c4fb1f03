import { expect } from "chai";
import { parseNetworkUri, redactSecretsInText, redactUriText } from "../../../model/uri";
import { NetworkUri } from "../../../model/types";

// Good URIs: every syntax of the reference's "Network URI specification", with default ports.
const GOOD: { uri: string; want: Partial<NetworkUri> }[] = [
    {
        uri: "ftp://user@files.example.com",
        want: {
            scheme: "ftp",
            user: "user",
            host: "files.example.com",
            port: 21,
            portExplicit: false,
            hasSecret: false,
            redacted: "ftp://user@files.example.com",
        },
    },
    {
        uri: "ftp://user:s3cret@files.example.com:2121/pub/packs",
        want: {
            scheme: "ftp",
            user: "user",
            port: 2121,
            path: "/pub/packs",
            hasSecret: true,
            redacted: "ftp://user:***@files.example.com:2121/pub/packs",
        },
    },
    {
        uri: "http://user:s3cret@10.0.0.1/path",
        want: { scheme: "http", host: "10.0.0.1", port: 80, path: "/path", redacted: "http://user:***@10.0.0.1/path" },
    },
    {
        uri: "https://10.40.0.20:9443/notify",
        want: {
            scheme: "https",
            host: "10.40.0.20",
            port: 9443,
            portExplicit: true,
            path: "/notify",
            hasSecret: false,
        },
    },
    { uri: "https://api.example.com/hook?token=abc", want: { scheme: "https", port: 443, path: "/hook?token=abc" } },
    { uri: "HTTPS://Api.Example.COM/x", want: { scheme: "https", host: "api.example.com" } },
    {
        uri: "https://[2001:db8::1]:8443/x",
        want: { host: "2001:db8::1", port: 8443, redacted: "https://[2001:db8::1]:8443/x" },
    },
    {
        uri: "file:///var/backups",
        want: {
            scheme: "file",
            path: "/var/backups",
            port: undefined,
            host: undefined,
            redacted: "file:///var/backups",
        },
    },
    { uri: "file:///opt/media/pack.tar.gz", want: { scheme: "file", path: "/opt/media/pack.tar.gz" } },
    {
        uri: "sftp://backup@backup.example.com/srv/backups",
        want: { scheme: "sftp", user: "backup", port: 22, path: "/srv/backups", hasSecret: false },
    },
    {
        uri: "sftp://backup:pa%2Fss@10.20.5.4:2222",
        want: { port: 2222, hasSecret: true, redacted: "sftp://backup:***@10.20.5.4:2222" },
    },
    {
        uri: "scp://10.20.5.4:/srv/backups",
        want: {
            scheme: "scp",
            host: "10.20.5.4",
            port: 22,
            user: undefined,
            path: "/srv/backups",
            redacted: "scp://10.20.5.4:/srv/backups",
        },
    },
    {
        uri: "scp://backup@10.20.5.4:2200:/srv/backups",
        want: {
            user: "backup",
            port: 2200,
            portExplicit: true,
            path: "/srv/backups",
            redacted: "scp://backup@10.20.5.4:2200:/srv/backups",
        },
    },
    { uri: "scp://backup@[fd00::5]:", want: { host: "fd00::5", port: 22, path: undefined } },
    {
        uri: "mailto:ops@example.com",
        want: {
            scheme: "mailto",
            user: "ops",
            host: "example.com",
            port: undefined,
            redacted: "mailto:ops@example.com",
        },
    },
    {
        uri: "snmp://public@10.30.0.16",
        want: {
            scheme: "snmp",
            snmpVersion: "v2c",
            user: undefined,
            host: "10.30.0.16",
            port: 162,
            hasSecret: true,
            redacted: "snmp://***@10.30.0.16",
        },
    },
    { uri: "snmp://public@10.30.0.16:1162", want: { port: 1162, redacted: "snmp://***@10.30.0.16:1162" } },
    {
        uri: "snmp://monitor:authpass1:privpass1@traps.example.com",
        want: {
            snmpVersion: "v3",
            user: "monitor",
            hasSecret: true,
            port: 162,
            redacted: "snmp://monitor:***:***@traps.example.com",
        },
    },
    {
        uri: "snmp://monitor:SHA:longenough@[2001:db8::16]:162",
        want: { snmpVersion: "v3", host: "2001:db8::16", port: 162 },
    },
];

// Bad URIs: what is wrong, said plainly; `secret` must never appear in the message.
const BAD: { uri: unknown; error: string; secret?: string }[] = [
    { uri: "", error: "empty URI" },
    { uri: 42, error: "expected a URI string" },
    { uri: "files.example.com/pub", error: "missing scheme" },
    { uri: "gopher://host", error: 'unknown scheme "gopher"' },
    { uri: "htps://host", error: 'did you mean "https"' },
    { uri: "https://host name/x", error: "whitespace" },
    { uri: "https:/host", error: 'expected "//"' },
    { uri: "https://", error: "missing host" },
    { uri: "https://host:99999/x", error: "out of range" },
    { uri: "https://host:0/x", error: "out of range" },
    { uri: "https://host:/x", error: "empty port" },
    { uri: "https://host:abc/x", error: "not a number" },
    { uri: "https://2001:db8::1/x", error: "IPv6 addresses go in brackets: [2001:db8::1]" },
    { uri: "https://[2001:db8::zz]/x", error: "is not an IPv6 address" },
    { uri: "https://[2001:db8::1/x", error: 'missing "]"' },
    { uri: "https://10.0.0.300/x", error: "not a valid IPv4 address" },
    { uri: "https://-bad-.example.com/x", error: "not a valid host name" },
    { uri: "https://host/x#frag", error: "fragments" },
    { uri: "https://host/a b", error: "whitespace" },
    { uri: "https://host/a|b", error: "must be percent-encoded" },
    { uri: "ftp://host/x?y=1", error: "only http(s) URIs may have a query" },
    { uri: "ftp://user:s3cr3tpw@host:notaport/x", error: "port is not a number", secret: "s3cr3tpw" },
    { uri: "ftp://user:hunter2/x", error: 'forget the "@"', secret: "hunter2" },
    { uri: "ftp://user:654321/x", error: "port", secret: "654321" },
    { uri: "ftp://us er:pw@host", error: "whitespace", secret: "pw@" },
    { uri: "ftp://:s3cr3tpw@host", error: "empty user", secret: "s3cr3tpw" },
    { uri: "ftp://user:s3c ret@host", error: "whitespace", secret: "s3c" },
    { uri: "ftp://user:s3c|ret@host", error: "password has characters", secret: "s3c|ret" },
    { uri: "file://host/var/x", error: "three slashes" },
    { uri: "file://", error: "three slashes" },
    { uri: "file:///", error: "missing path" },
    { uri: "file:/var/x", error: '"file://"' },
    { uri: "sftp://backup.example.com/srv", error: "missing user" },
    { uri: "scp://backup@host/srv/backups", error: 'must end with ":"' },
    { uri: "scp://backup:t0ps3cret@host:/srv", error: "take no password", secret: "t0ps3cret" },
    { uri: "mailto:ops", error: "missing @host" },
    { uri: "mailto://ops@example.com", error: 'no "//"' },
    { uri: "mailto:@example.com", error: "missing user" },
    { uri: "mailto:ops@example.com?subject=x", error: "headers" },
    { uri: "snmp://10.30.0.16", error: "missing credentials" },
    {
        uri: "snmp://user:onlyauthsecret@10.30.0.16",
        error: "v3 needs at least auth and password",
        secret: "onlyauthsecret",
    },
    { uri: "snmp://user:authsecret:pw7x@10.30.0.16", error: "shorter than 8", secret: "pw7x" },
    { uri: "snmp://user::privpassword@10.30.0.16", error: "auth secret is empty", secret: "privpassword" },
    { uri: "snmp://user:a:b:c@10.30.0.16", error: "too many" },
    { uri: "snmp://@10.30.0.16", error: "empty user" },
];

describe("model/uri: network URIs", () => {
    describe("accepts every syntax of the reference", () => {
        for (const { uri, want } of GOOD) {
            it(uri, () => {
                const r = parseNetworkUri(uri);
                if (!r.ok) throw new Error(r.error);
                for (const [k, v] of Object.entries(want))
                    expect((r.uri as unknown as Record<string, unknown>)[k], k).to.deep.equal(v);
            });
        }
    });

    describe("rejects malformed URIs with a message that says what is wrong", () => {
        for (const { uri, error, secret } of BAD) {
            it(`${JSON.stringify(uri)} → ${error}`, () => {
                const r = parseNetworkUri(uri);
                expect(r.ok, "should be rejected").to.equal(false);
                if (r.ok) return;
                expect(r.error).to.contain(error);
                if (secret) expect(r.error).not.to.contain(secret);
            });
        }
    });

    it("restricts schemes when asked, naming the accepted ones", () => {
        const r = parseNetworkUri("ftp://u@backup.example.com/x", ["sftp", "scp"]);
        expect(r.ok).to.equal(false);
        if (!r.ok) expect(r.error).to.contain('scheme "ftp" is not accepted here (expected sftp, scp)');
    });

    it("never keeps a password, community or v3 secret in a printable field", () => {
        const secrets = ["hunter22", "public-community", "authphrase", "privphrase"];
        const uris = [
            "sftp://u:hunter22@h/x",
            "snmp://public-community@h",
            "snmp://u:authphrase:privphrase@h",
            "ftp://u:hunter22@h:21/x",
        ];
        for (const u of uris) {
            const r = parseNetworkUri(u);
            if (!r.ok) throw new Error(r.error);
            const printable = JSON.stringify(r.uri);
            for (const s of secrets) expect(printable, u).not.to.contain(s);
        }
    });

    it("redactSecretsInText hides credentials of every URI inside a longer message", () => {
        expect(redactSecretsInText('got "sftp://u:pw1@h/x" and snmp://comm@h2 and https://h3/x')).to.equal(
            'got "sftp://u:***@h/x" and snmp://***@h2 and https://h3/x',
        );
        expect(redactSecretsInText("snmp://u:a:b@h")).to.equal("snmp://u:***@h");
    });

    it("redactUriText hides credentials in any string, valid or not", () => {
        expect(redactUriText("sftp://u:hunter22@h/x")).to.equal("sftp://u:***@h/x");
        expect(redactUriText("snmp://public@h")).to.equal("snmp://***@h");
        expect(redactUriText("snmp://u:a:b@h")).to.equal("snmp://u:***@h");
        expect(redactUriText("https://h/x")).to.equal("https://h/x");
        expect(redactUriText("not a uri")).to.equal("not a uri");
    });
});

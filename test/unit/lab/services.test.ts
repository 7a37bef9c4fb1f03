// The lab's real services (lab/services.ts): which ports they take from labnet, and their config files.
import { expect } from "chai";
import { buildPlan, EXTERNAL_SERVICES } from "../../../lab";
import { bootScript } from "../../../lab/render";
import {
    backupSshdConfig,
    chronyConf,
    chronyQueryArgs,
    labnetPorts,
    ldapEntries,
    nodeLabnetUdp,
    notifyNginxConf,
    parseNotifications,
    REAL_SERVICES,
    slapdConf,
    slapdUrls,
    snmpdArgs,
    snmptrapdArgs,
    trapSources,
} from "../../../lab/services";

const dual = { address: "10.77.50.17", address6: "fd77::50:17" };
const v4 = { address: "10.77.50.17" };

describe("lab services: ports", () => {
    it("every real service runs on an external host that serves its ports", () => {
        for (const s of REAL_SERVICES) {
            const host = EXTERNAL_SERVICES.find((e) => e.vantage === s.vantage);
            expect(host, s.vantage).to.not.equal(undefined);
            for (const p of s.ports) expect(host!.ports, `${s.vantage} ${p.port}/${p.protocol}`).to.deep.include(p);
        }
    });

    const cases: [string, boolean, string[]][] = [
        ["ntp", true, ["8080/tcp"]],
        ["ntp", false, ["123/udp", "8080/tcp"]],
        ["ldap", true, ["389/udp", "636/udp", "8080/tcp"]],
        ["backup", true, ["8080/tcp"]],
        ["snmp", true, ["8080/tcp"]],
        ["notify", true, ["8080/tcp"]],
        ["ucm", true, ["8443/tcp", "8080/tcp"]],
    ];
    for (const [vantage, services, want] of cases) {
        it(`labnet on ${vantage} with services ${services ? "on" : "off"}: ${want.join(", ")}`, () => {
            const v = buildPlan({ model: "unified", services }).vantages.find((x) => x.name === vantage)!;
            const got = labnetPorts(v.vantage, v.ports, services).map((p) => `${p.port}/${p.protocol}`);
            expect(got).to.deep.equal(want);
        });
    }

    it("a node's labnet leaves 161/udp to snmpd only with services on", () => {
        expect(nodeLabnetUdp([22, 123, 161, 162], true)).to.deep.equal([22, 123, 162]);
        expect(nodeLabnetUdp([22, 123, 161, 162], false)).to.deep.equal([22, 123, 161, 162]);
    });

    it("the plan says services only when asked (an existing lab's plan is unchanged)", () => {
        expect(buildPlan({ model: "modular" })).to.not.have.property("services");
        expect(buildPlan({ model: "modular", services: true }).services).to.equal(true);
    });

    it("a node's boot script starts snmpd and keeps 161/udp from labnet with services on", () => {
        const plan = buildPlan({ model: "modular", services: true });
        const node = plan.nodes[0];
        const on = bootScript(node, "/work/x/.lab", true);
        const off = bootScript(node, "/work/x/.lab", false);
        expect(on).to.match(/\/usr\/sbin\/snmpd .*'udp:161,udp6:161'/);
        expect(on).to.match(/--udp 22,123,162,/);
        expect(off).to.not.match(/snmpd/);
        expect(off).to.match(/--udp 22,123,161,162,/);
    });
});

describe("lab services: config files", () => {
    const table: [string, () => string, RegExp[], RegExp[]][] = [
        [
            "chrony, dual-stack",
            () => chronyConf(dual, "/d"),
            [/^bindaddress 10\.77\.50\.17$/m, /^bindaddress fd77::50:17$/m, /^local stratum 8$/m, /^allow all$/m],
            [/^server /m],
        ],
        ["chrony, IPv4", () => chronyConf(v4, "/d"), [/^pidfile \/d\/chronyd\.pid$/m], [/fd77/]],
        [
            "slapd",
            () => slapdConf("/d"),
            [/^suffix "dc=lab,dc=pinhole,dc=test"$/m, /^TLSCertificateFile \/d\/tls\.crt$/m, /^directory \/d\/db$/m],
            [/rootpw/],
        ],
        ["ldap entries", ldapEntries, [/^dn: uid=operator,ou=people,dc=lab,dc=pinhole,dc=test$/m], []],
        [
            "backup sshd",
            () => backupSshdConfig({ address: "10.77.50.18", address6: "fd77::50:18" }, "/d"),
            [
                /^ListenAddress 10\.77\.50\.18:22$/m,
                /^ListenAddress \[fd77::50:18\]:22$/m,
                /^ForceCommand internal-sftp -d \/srv\/backups$/m,
                /^AllowUsers backup$/m,
                /^PasswordAuthentication no$/m,
            ],
            [/PermitRootLogin yes/],
        ],
        [
            "notify nginx",
            () => notifyNginxConf({ address: "10.77.50.20", address6: "fd77::50:20" }, "/d"),
            [/listen 10\.77\.50\.20:9443 ssl;/, /listen \[fd77::50:20\]:9443 ssl;/, /\$request_body/],
            [/listen 9443/],
        ],
    ];
    for (const [name, render, want, never] of table) {
        it(name, () => {
            const text = render();
            for (const re of want) expect(text, String(re)).to.match(re);
            for (const re of never) expect(text, String(re)).to.not.match(re);
        });
    }

    it("listener addresses per family", () => {
        expect(slapdUrls(dual)).to.equal(
            "ldap://10.77.50.17/ ldaps://10.77.50.17/ ldap://[fd77::50:17]/ ldaps://[fd77::50:17]/",
        );
        expect(snmptrapdArgs(dual, "/d").at(-1)).to.equal(
            "udp:10.77.50.17:162,tcp:10.77.50.17:162,udp6:[fd77::50:17]:162,tcp6:[fd77::50:17]:162",
        );
        expect(snmpdArgs("/c", false).at(-1)).to.equal("udp:161");
        expect(chronyQueryArgs("10.77.50.17", "/p").at(-1)).to.equal("server 10.77.50.17 iburst maxsamples 1");
    });
});

describe("lab services: reading their logs", () => {
    it("trap sources, IPv4 and IPv6", () => {
        const log = [
            "NET-SNMP version 5.9.3",
            "2026-12-02 20:12:36 <UNKNOWN> [UDP: [10.77.1.11]:49824->[10.77.50.19]:162]:",
            'iso.3.6.1.2.1.1.5.0 = STRING: "app-1"',
            "2026-12-02 20:12:36 <UNKNOWN> [UDP/IPv6: [fd77::1:11]:42682]:",
            "2026-12-02 20:12:37 <UNKNOWN> [TCP: [10.77.1.12]:40000->[10.77.50.19]:162]:",
        ].join("\n");
        expect(trapSources(log)).to.deep.equal(["10.77.1.11", "fd77::1:11", "10.77.1.12"]);
        expect(trapSources("")).to.deep.equal([]);
    });

    it("notifications", () => {
        const got = parseNotifications('10.77.1.201 POST /notify {\\"a\\":1}\nfd77::1:201 POST /x \n\n');
        expect(got).to.deep.equal([
            { source: "10.77.1.201", method: "POST", uri: "/notify", body: '{\\"a\\":1}' },
            { source: "fd77::1:201", method: "POST", uri: "/x", body: "" },
        ]);
    });
});

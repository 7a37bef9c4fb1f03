// render/nginx.ts: the site config of a node's HTTPS front end (string tests) and the `web weight list`.
import { expect } from "chai";
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { NodeSpec } from "../../../model/types";
import { MOZILLA_INTERMEDIATE_5_7, renderTlsDropIn } from "../../../render/tls-profile";
import {
    CERT_PATH,
    KEY_PATH,
    LEGACY_CIPHERS,
    renderNginxSite,
    UPSTREAM_NAME,
    upstreamLine,
    upstreamServers,
} from "../../../render/nginx";

const ssh = { host: "h", port: 22, user: "root", hostKey: "ssh-ed25519 AAAA", sudo: false };
const n = (name: string, role: NodeSpec["role"], address: string, extra: Partial<NodeSpec> = {}): NodeSpec => ({
    name,
    role,
    site: "dc1",
    address,
    fqdn: `${name}.dc.example.com`,
    arbiter: false,
    ssh,
    ...extra,
});

const proxy = n("proxy-1", "webproxy", "10.20.1.201");
const nodes: NodeSpec[] = [
    proxy,
    n("app-2", "application", "10.20.1.12", { webWeight: 1 }),
    n("app-1", "application", "10.20.1.11", { webWeight: 3 }),
    n("app-3", "application", "10.20.2.13", { site: "dc2", advertisedAddress: "198.51.100.13", webWeight: 0 }),
    n("db-1", "database", "10.20.1.101"),
];

describe("nginx site rendering (render/nginx.ts)", () => {
    it("web weight list: application/unified nodes by name, NAT-aware, default weight 1", () => {
        const ups = upstreamServers(proxy, [...nodes, n("app-4", "application", "10.20.1.14")]);
        expect(ups).to.deep.equal([
            { node: "app-1", address: "10.20.1.11", port: 443, weight: 3, explicit: true },
            { node: "app-2", address: "10.20.1.12", port: 443, weight: 1, explicit: true },
            { node: "app-3", address: "198.51.100.13", port: 443, weight: 0, explicit: true },
            { node: "app-4", address: "10.20.1.14", port: 443, weight: 1, explicit: false },
        ]);
        // A proxy at the other site sees app-3 at its own (internal) address.
        const p2 = n("proxy-2", "webproxy", "10.20.2.201", { site: "dc2" });
        expect(upstreamServers(p2, nodes).find((u) => u.node === "app-3")!.address).to.equal("10.20.2.13");
    });

    it("renders a proxy: weighted upstream, weight 0 as backup, TLS 1.2+ default server, redirect on 80", () => {
        const { config, warnings } = renderNginxSite({
            node: "proxy-1",
            fqdn: proxy.fqdn,
            role: "webproxy",
            addresses: [proxy.address],
            legacyProtocols: false,
            upstreams: upstreamServers(proxy, nodes),
        });
        expect(warnings).to.deep.equal([]);
        expect(config).to
            .equal(`# Managed by pinhole (pinhole:node:WebServer) for node proxy-1 (webproxy); \`pulumi up\` rewrites it.
# TLS profile mozilla-intermediate-5.7: TLS 1.2 and 1.3 only (SSLv3, TLS 1.0 and 1.1 refused)

# web weight list: app-1=3, app-2=1, app-3=backup
upstream pinhole_application {
    server 10.20.1.11:443 weight=3 max_fails=1 fail_timeout=10s; # app-1
    server 10.20.1.12:443 weight=1 max_fails=1 fail_timeout=10s; # app-2
    server 198.51.100.13:443 backup max_fails=1 fail_timeout=10s; # app-3
}

server {
    listen 80 default_server;
    server_name _;
    return 301 https://$host$request_uri;
}

server {
    listen 443 ssl default_server;
    server_name proxy-1.dc.example.com proxy-1;
    ssl_certificate ${CERT_PATH};
    ssl_certificate_key ${KEY_PATH};
    ssl_protocols TLSv1.2 TLSv1.3;
    ssl_ciphers ${MOZILLA_INTERMEDIATE_5_7.ciphers};
    ssl_ecdh_curve X25519:prime256v1:secp384r1;
    ssl_prefer_server_ciphers off;
    ssl_session_cache shared:pinhole_tls:10m;
    ssl_session_timeout 1d;
    ssl_session_tickets off;
    location / {
        proxy_pass https://pinhole_application;
        proxy_http_version 1.1;
        proxy_set_header Host $host;
        proxy_set_header X-Real-IP $remote_addr;
        proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
        proxy_set_header X-Forwarded-Proto $scheme;
        proxy_next_upstream error timeout http_502 http_503;
        proxy_connect_timeout 5s;
    }
}
`);
    });

    it("legacy protocols (`web sslv3 on`) re-enable SSLv3/TLS 1.0/1.1 with a security level that lets OpenSSL 3 offer them", () => {
        const { config } = renderNginxSite({
            node: "app-1",
            fqdn: "app-1.x",
            role: "application",
            addresses: ["10.0.0.1"],
            legacyProtocols: true,
        });
        expect(config).to.contain("ssl_protocols SSLv3 TLSv1 TLSv1.1 TLSv1.2 TLSv1.3;");
        expect(config).to.contain(`ssl_ciphers ${LEGACY_CIPHERS};`);
        expect(config).to.contain("legacy protocols ENABLED");
    });

    it("application-serving nodes proxy to the local application; no upstream block", () => {
        for (const role of ["application", "unified", "standalone"] as const) {
            const { config } = renderNginxSite({
                node: "a",
                fqdn: "a.x",
                role,
                addresses: ["10.0.0.1"],
                legacyProtocols: false,
            });
            expect(config).to.not.contain("upstream ");
            expect(config).to.contain("proxy_pass http://127.0.0.1:8080;");
        }
        const custom = renderNginxSite({
            node: "a",
            fqdn: "a.x",
            role: "unified",
            addresses: ["10.0.0.1"],
            legacyProtocols: false,
            applicationBackend: "http://127.0.0.1:9000/app",
        });
        expect(custom.config).to.contain("proxy_pass http://127.0.0.1:9000/app;");
        expect(() =>
            renderNginxSite({
                node: "a",
                fqdn: "a.x",
                role: "unified",
                addresses: [],
                legacyProtocols: false,
                applicationBackend: "http://x; evil",
            }),
        ).to.throw(/not an http\(s\):\/\/host:port URL/);
    });

    it("IPv6 nodes listen on [::] too; IPv6 upstreams are bracketed", () => {
        const { config } = renderNginxSite({
            node: "a",
            fqdn: "a.x",
            role: "application",
            addresses: ["2001:db8::1"],
            legacyProtocols: false,
        });
        expect(config).to.contain("listen [::]:443 ssl default_server;");
        expect(
            upstreamLine({ node: "b", address: "2001:db8::2", port: 443, weight: 2, explicit: true }, false),
        ).to.equal("server [2001:db8::2]:443 weight=2 max_fails=1 fail_timeout=10s; # b");
    });

    it("all-zero weights are used as equals (nginx needs a primary server), with a warning", () => {
        const all0 = nodes.map((x) => (x.role === "application" ? { ...x, webWeight: 0 } : x));
        const { config, warnings } = renderNginxSite({
            node: "proxy-1",
            fqdn: proxy.fqdn,
            role: "webproxy",
            addresses: [],
            legacyProtocols: false,
            upstreams: upstreamServers(proxy, all0),
        });
        expect(config).to.not.contain(" backup");
        expect(config.match(/weight=1 /g)).to.have.length(3);
        expect(warnings[0]).to.match(/every upstream has webWeight 0/);
    });

    it("a proxy without upstreams is an error", () => {
        expect(() =>
            renderNginxSite({
                node: "p",
                fqdn: "p.x",
                role: "webproxy",
                addresses: [],
                legacyProtocols: false,
                upstreams: [],
            }),
        ).to.throw(/at least one application\/unified upstream/);
    });

    it("is deterministic: node order does not change the text", () => {
        const a = renderNginxSite({
            node: "proxy-1",
            fqdn: proxy.fqdn,
            role: "webproxy",
            addresses: [],
            legacyProtocols: false,
            upstreams: upstreamServers(proxy, nodes),
        }).config;
        const b = renderNginxSite({
            node: "proxy-1",
            fqdn: proxy.fqdn,
            role: "webproxy",
            addresses: [],
            legacyProtocols: false,
            upstreams: upstreamServers(proxy, [...nodes].reverse()),
        }).config;
        expect(a).to.equal(b);
    });

    it("passes `nginx -t` (when nginx is installed)", function () {
        const nginx = spawnSync("sh", ["-c", "command -v nginx"], { encoding: "utf8" }).stdout.trim();
        if (!nginx) this.skip();
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "pinhole-nginx-"));
        try {
            const selfSigned = spawnSync(
                "openssl",
                [
                    "req",
                    "-x509",
                    "-newkey",
                    "ec",
                    "-pkeyopt",
                    "ec_paramgen_curve:prime256v1",
                    "-nodes",
                    "-keyout",
                    `${dir}/k`,
                    "-out",
                    `${dir}/c`,
                    "-days",
                    "1",
                    "-subj",
                    "/CN=t",
                ],
                { encoding: "utf8" },
            );
            expect(selfSigned.status, selfSigned.stderr).to.equal(0);
            for (const legacy of [false, true]) {
                const site = renderNginxSite({
                    node: "proxy-1",
                    fqdn: proxy.fqdn,
                    role: "webproxy",
                    addresses: [],
                    legacyProtocols: legacy,
                    upstreams: upstreamServers(proxy, nodes),
                })
                    .config.replace(CERT_PATH, `${dir}/c`)
                    .replace(KEY_PATH, `${dir}/k`)
                    .replace(/listen (80|443)/g, "listen 127.0.0.1:1$1");
                fs.writeFileSync(`${dir}/site.conf`, site);
                fs.writeFileSync(
                    `${dir}/nginx.conf`,
                    `pid ${dir}/nginx.pid;\nerror_log ${dir}/error.log;\nevents {}\nhttp {\n  access_log off;\n  client_body_temp_path ${dir}/body;\n  proxy_temp_path ${dir}/proxy;\n  ssl_protocols TLSv1.2 TLSv1.3;\n  include ${dir}/site.conf;\n}\n`,
                );
                const r = spawnSync(nginx, ["-t", "-q", "-p", dir, "-c", `${dir}/nginx.conf`], { encoding: "utf8" });
                expect(r.status, r.stderr).to.equal(0);
            }
        } finally {
            fs.rmSync(dir, { recursive: true, force: true });
        }
    });

    it("names the upstream", () => {
        expect(UPSTREAM_NAME).to.match(/^[a-z_]+$/);
    });

    it("TLS profile mozilla-intermediate-5.7: TLS 1.2/1.3, AEAD suites only (no CBC, SHA-1 MACs, CAMELLIA, ARIA, CCM), client's order", () => {
        const suites = MOZILLA_INTERMEDIATE_5_7.ciphers.split(":");
        expect(suites).to.have.length(9);
        for (const c of suites)
            expect(c).to.match(/^(ECDHE|DHE)-(ECDSA|RSA)-(AES(128|256)-GCM-SHA(256|384)|CHACHA20-POLY1305)$/);
        const dropIn = renderTlsDropIn("proxy-1", false);
        expect(dropIn).to.contain("ssl_protocols TLSv1.2 TLSv1.3;\n");
        expect(dropIn).to.contain("ssl_prefer_server_ciphers off;");
        expect(dropIn).to.contain("mozilla-intermediate-5.7");
        expect(renderTlsDropIn("proxy-1", true)).to.contain("ssl_protocols SSLv3 TLSv1 TLSv1.1 TLSv1.2 TLSv1.3;");
    });
});

// render/nginx-conf.ts + render/nginx-platform.ts: reading a platform's `nginx -T` and planning the
// certificate-only front end (paths found, TLS take-over, weights on the named upstream's server lines).
import { expect } from "chai";
import { parseNginxDump, parseNginxFile, walkNginxConfig } from "../../../render/nginx-conf";
import { analyseNginx, planPlatformFrontEnd, WeightTarget } from "../../../render/nginx-platform";

const NGINX_CONF = `user www-data;
events { worker_connections 256; }
http {
    include /etc/nginx/mime.types;
    ssl_protocols TLSv1 TLSv1.1 TLSv1.2 TLSv1.3; # Dropping SSLv3
    ssl_prefer_server_ciphers on;
    include /etc/nginx/conf.d/*.conf;
    include /etc/nginx/sites-enabled/*;
}`;
const UPSTREAMS = `upstream platform_app {
    server 10.0.0.11:443 max_fails=2 fail_timeout=5s;
    server 10.0.0.12:443 weight=4;
    server app-3.example.com:443;   # remote site
}`;
const SITE = `server {
    listen 443 ssl default_server;
    server_name proxy-1.example.com "proxy-1";
    ssl_certificate /etc/nginx/ssl/server.crt;
    ssl_certificate_key /etc/nginx/ssl/server.key;
    location = /health { return 200 "ok\\n"; }
    location / { proxy_pass https://platform_app; }
}
server { listen 80; return 301 https://$host$request_uri; }`;
const dumpOf = (files: Record<string, string>) =>
    Object.entries(files)
        .map(([f, c]) => `# configuration file ${f}:\n${c}\n`)
        .join("");
const FILES = {
    "/etc/nginx/nginx.conf": NGINX_CONF,
    "/etc/nginx/mime.types": "types { text/html html; }",
    "/etc/nginx/conf.d/platform-upstreams.conf": UPSTREAMS,
    "/etc/nginx/conf.d/pinhole-tls.conf": "ssl_protocols TLSv1.2 TLSv1.3;",
    "/etc/nginx/sites-enabled/platform": SITE,
};
const weights: WeightTarget[] = [
    { node: "app-1", hosts: ["10.0.0.11", "app-1", "app-1.example.com"], weight: 3 },
    { node: "app-2", hosts: ["10.0.0.12", "app-2"] },
    { node: "app-3", hosts: ["10.9.0.13", "app-3", "app-3.example.com"], weight: 0 },
];
const plan = (files: Record<string, string> = FILES, extra = {}) =>
    planPlatformFrontEnd({
        node: "proxy-1",
        dump: parseNginxDump(dumpOf(files)),
        ownFiles: ["/etc/nginx/conf.d/pinhole-tls.conf"],
        tlsPath: "/etc/nginx/conf.d/pinhole-tls.conf",
        weights,
        ...extra,
    });

describe("platform nginx: reading nginx -T (render/nginx-conf.ts)", () => {
    it("splits the dump into files, keeping each file's text", () => {
        const d = parseNginxDump("nginx: the configuration file ok\n" + dumpOf(FILES));
        expect(d.main).to.equal("/etc/nginx/nginx.conf");
        expect(d.files.get("/etc/nginx/conf.d/platform-upstreams.conf")).to.equal(UPSTREAMS);
        expect(() => parseNginxDump("syntax is ok")).to.throw(/not an `nginx -T` dump/);
    });
    it("parses quotes, comments, nested blocks and line numbers; refuses unbalanced braces", () => {
        const ds = parseNginxFile(SITE, "site");
        expect(ds.map((d) => d.name)).to.deep.equal(["server", "server"]);
        expect(ds[0].block!.find((d) => d.name === "server_name")!.args).to.deep.equal([
            "proxy-1.example.com",
            "proxy-1",
        ]);
        expect(ds[0].block!.find((d) => d.name === "ssl_certificate")!.line).to.equal(4);
        expect(() => parseNginxFile("http { server {", "f")).to.throw(/f: unexpected end of file/);
        expect(() => parseNginxFile("a b; }", "f")).to.throw(/f:1: unexpected "}"/);
    });
    it("follows includes (globs, sorted) and gives each directive its context", () => {
        const all = walkNginxConfig(parseNginxDump(dumpOf(FILES)));
        const up = all.find((d) => d.name === "upstream")!;
        expect(up.context).to.deep.equal(["http"]);
        expect(up.file).to.equal("/etc/nginx/conf.d/platform-upstreams.conf");
        expect(all.find((d) => d.name === "location")!.context).to.deep.equal(["http", "server"]);
    });
});

describe("platform nginx: the certificate-only plan (render/nginx-platform.ts)", () => {
    it("finds the certificate and key the HTTPS servers use, the upstreams and the http-level TLS settings", () => {
        const a = analyseNginx(parseNginxDump(dumpOf(FILES)));
        expect(a.sslServers).to.have.length(1);
        expect(a.sslServers[0]).to.include({ file: "/etc/nginx/sites-enabled/platform", line: 1 });
        expect(a.sslServers[0].certificates).to.deep.equal(["/etc/nginx/ssl/server.crt"]);
        expect(a.upstreams.map((u) => [u.name, u.servers.map((s) => s.target)])).to.deep.equal([
            ["platform_app", ["10.0.0.11:443", "10.0.0.12:443", "app-3.example.com:443"]],
        ]);
        expect(a.httpTls.map((d) => `${d.name}@${d.file}:${d.line}`)).to.include(
            "ssl_protocols@/etc/nginx/nginx.conf:5",
        );
    });
    it("changes only the weighted server lines and comments out the clashing http-level TLS lines", () => {
        const p = plan();
        expect(p.problems).to.deep.equal([]);
        expect(p).to.include({
            certificatePath: "/etc/nginx/ssl/server.crt",
            keyPath: "/etc/nginx/ssl/server.key",
            upstream: "platform_app",
        });
        expect(Object.keys(p.patched).sort()).to.deep.equal([
            "/etc/nginx/conf.d/platform-upstreams.conf",
            "/etc/nginx/nginx.conf",
        ]);
        const up = p.patched["/etc/nginx/conf.d/platform-upstreams.conf"].split("\n");
        expect(up[1]).to.equal("    server 10.0.0.11:443 weight=3 max_fails=2 fail_timeout=5s;");
        expect(up[2]).to.equal("    server 10.0.0.12:443 weight=4;"); // app-2: no webWeight, the platform's line stays
        expect(up[3]).to.equal("    server app-3.example.com:443 backup;   # remote site");
        const conf = p.patched["/etc/nginx/nginx.conf"].split("\n");
        expect(conf[4]).to.match(
            /^#pinhole# {5}ssl_protocols TLSv1 TLSv1.1 TLSv1.2 TLSv1.3; # Dropping SSLv3 {2}# pinhole:/,
        );
        expect(conf[5]).to.match(/^#pinhole# {5}ssl_prefer_server_ciphers on;/);
        expect(conf.length).to.equal(NGINX_CONF.split("\n").length);
        // Everything else byte for byte.
        NGINX_CONF.split("\n").forEach((l, n) => {
            if (n !== 4 && n !== 5) expect(conf[n]).to.equal(l);
        });
        expect(p.weightList).to.deep.equal([
            { server: "10.0.0.11:443", node: "app-1", weight: 3, backup: false, source: "user" },
            { server: "10.0.0.12:443", node: "app-2", weight: 4, backup: false, source: "default" },
            { server: "app-3.example.com:443", node: "app-3", weight: 0, backup: true, source: "user" },
        ]);
    });
    it("plans the same from the originals every time (pinhole's own drop-in is not the platform's)", () => {
        expect(plan()).to.deep.equal(plan());
        const withoutDropIn = { ...FILES } as Record<string, string>;
        delete withoutDropIn["/etc/nginx/conf.d/pinhole-tls.conf"];
        expect(plan(withoutDropIn)).to.deep.equal(plan());
    });
    it("problems name the file and line: several certificates, a server that sets its own protocols, a missing upstream, a crowded line", () => {
        const two = {
            ...FILES,
            "/etc/nginx/sites-enabled/other": `server { listen 8443 ssl; ssl_certificate /etc/ssl/b.crt; ssl_certificate_key /etc/ssl/b.key; ssl_protocols TLSv1.2; }`,
        };
        const p = plan(two);
        expect(p.problems.join("\n")).to.match(
            /several certificate files \(\/etc\/nginx\/ssl\/server\.crt, \/etc\/ssl\/b\.crt\)/,
        );
        expect(p.problems.join("\n")).to.contain(
            "the server at /etc/nginx/sites-enabled/other:1 sets ssl_protocols itself (/etc/nginx/sites-enabled/other:1)",
        );
        expect(plan(FILES, { upstream: "nope" }).problems.join()).to.contain(
            `nginx has no upstream "nope" (it has: platform_app)`,
        );
        const crowded = {
            ...FILES,
            "/etc/nginx/nginx.conf": NGINX_CONF.replace(
                "ssl_prefer_server_ciphers on;",
                "ssl_prefer_server_ciphers on; sendfile on;",
            ),
        };
        expect(plan(crowded).problems.join()).to.contain(
            `/etc/nginx/nginx.conf:6: "ssl_prefer_server_ciphers" shares its line`,
        );
        const none = { "/etc/nginx/nginx.conf": "events {}\nhttp { server { listen 80; } }" };
        expect(plan(none).problems.join()).to.contain(
            "nginx has no HTTPS server (listen ... ssl) with ssl_certificate",
        );
        expect(plan(none).problems.join()).to.contain(
            "nginx does not include /etc/nginx/conf.d/pinhole-tls.conf in its http block",
        );
        // Configured paths win (a warning when no server uses them).
        const cfg = plan(two, { certificatePath: "/etc/ssl/b.crt", keyPath: "/etc/ssl/b.key" });
        expect(cfg.certificatePath).to.equal("/etc/ssl/b.crt");
        expect(cfg.problems.join()).to.not.contain("several");
    });
});

// The lab's platform stand-in: a realistic nginx configuration that pinhole did NOT write, so tests can
// show that the certificate-only front end leaves the platform's own front end working and its files
// untouched. Per node, by role:
//   webproxy                  an upstream of the application/unified nodes (own file, conf.d/platform-upstreams.conf)
//                             and a site (sites-enabled/platform) with several locations proxying to it over 443
//   application/unified/standalone
//                             a site on 443 proxying to the application stand-in, and the application stand-in
//                             itself on 127.0.0.1:8081 (conf.d/platform-app.conf) answering "app <node>"
// The lab's own default server (conf.d/default.conf) is put aside while the stand-in is installed and put back
// by removePlatform. Pure renderers + two SSH steps (the node's nginx is reachable only from inside it).
import { runScript, SshConnectionInput } from "../remote/ssh";
import { LabNodeStatus, LabStatus } from "./index";
import * as fs from "fs";
import { hostPart, isIpv6 } from "./shapes";

export const PLATFORM_APP_PORT = 8081;
export const PLATFORM_UPSTREAM = "platform_app";
/** The platform's files (path → content), for tests that compare them byte for byte. */
export type PlatformFiles = Record<string, string>;
const LAB_DEFAULT = "/etc/nginx/conf.d/default.conf";
const LAB_DEFAULT_ASIDE = "/etc/nginx/lab-default.conf.platform-aside";

const seenFrom = (from: LabNodeStatus, n: LabNodeStatus) =>
    from.site !== n.site && n.advertisedAddress ? n.advertisedAddress : n.address;
const serves = (n: LabNodeStatus) => n.role === "application" || n.role === "unified";

/** The node's listen lines for a port: IPv4, and [::] too where the node has IPv6 (so its IPv6 openings meet nginx). */
const listen = (n: LabNodeStatus, port: string) =>
    `    listen ${port};` + (n.address6 || isIpv6(n.address) ? `\n    listen [::]:${port};` : "");

const TLS_SERVER = (n: LabNodeStatus) => `${listen(n, "443 ssl default_server")}
    server_name ${n.fqdn} ${n.name};
    ssl_certificate /etc/nginx/ssl/server.crt;
    ssl_certificate_key /etc/nginx/ssl/server.key;
    access_log /var/log/nginx/platform-access.log;
    location = /health {
        default_type text/plain;
        return 200 "ok ${n.name}\\n";
    }`;

const PROXY_HEADERS = `        proxy_set_header Host $host;
        proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
        proxy_set_header X-Forwarded-Proto $scheme;`;

export function platformFiles(n: LabNodeStatus, all: LabNodeStatus[]): PlatformFiles {
    if (n.role === "webproxy") return proxyFiles(n, all);
    if (n.role === "database") return {};
    return appFiles(n);
}

/** Port 80: ACME's challenges from the platform's own directory, everything else redirected to HTTPS. */
function redirectServer(n: LabNodeStatus): string {
    return `server {
${listen(n, "80 default_server")}
    server_name _;
    location /.well-known/acme-challenge/ {
        root /var/www/platform-acme;
    }
    location / {
        return 301 https://$host$request_uri;
    }
}
`;
}

/** A web proxy: the platform's upstream of application nodes and its front end. */
function proxyFiles(n: LabNodeStatus, all: LabNodeStatus[]): PlatformFiles {
    const redirect = redirectServer(n);
    const apps = all.filter(serves).sort((a, b) => a.name.localeCompare(b.name));
    return {
        "/etc/nginx/conf.d/platform-upstreams.conf": `# platform: application nodes behind this web proxy (written by the platform, not pinhole)
upstream ${PLATFORM_UPSTREAM} {
${apps.map((a) => `    server ${hostPart(seenFrom(n, a))}:443 max_fails=1 fail_timeout=10s;`).join("\n")}
}
`,
        "/etc/nginx/sites-enabled/platform": `# platform: web proxy front end of ${n.name}
${redirect}
server {
${TLS_SERVER(n)}
    location /api/ {
        proxy_pass https://${PLATFORM_UPSTREAM};
        proxy_next_upstream error timeout http_502 http_503;
        proxy_connect_timeout 3s;
${PROXY_HEADERS}
    }
    location / {
        proxy_pass https://${PLATFORM_UPSTREAM};
        proxy_next_upstream error timeout http_502 http_503;
        proxy_connect_timeout 3s;
${PROXY_HEADERS}
    }
}
`,
    };
}

/** An application node: the application stand-in on its own port and the front end before it. */
function appFiles(n: LabNodeStatus): PlatformFiles {
    const redirect = redirectServer(n);
    return {
        "/etc/nginx/conf.d/platform-app.conf": `# platform: application stand-in of ${n.name} on its own port
server {
    listen 127.0.0.1:${PLATFORM_APP_PORT};
    location / {
        default_type text/plain;
        return 200 "app ${n.name}\\n";
    }
}
`,
        "/etc/nginx/sites-enabled/platform": `# platform: front end of the application on ${n.name}
${redirect}
server {
${TLS_SERVER(n)}
    location /static/ {
        default_type text/plain;
        return 200 "static ${n.name}\\n";
    }
    location / {
        proxy_pass http://127.0.0.1:${PLATFORM_APP_PORT};
${PROXY_HEADERS}
    }
}
`,
    };
}

export function labConnection(lab: LabStatus, n: LabNodeStatus): SshConnectionInput {
    return {
        host: n.sshHost,
        port: n.sshPort,
        user: n.sshUser,
        hostKey: n.hostKey,
        sudo: n.sudo,
        privateKey: fs.readFileSync(lab.sshKey, "utf8"),
        node: n.name,
    };
}

const b64 = (s: string) => Buffer.from(s, "utf8").toString("base64");

/** Installs the stand-in on every web node (idempotent), `nginx -t`, reload. Returns each node's platform files. */
export async function installPlatform(lab: LabStatus): Promise<Record<string, PlatformFiles>> {
    const out: Record<string, PlatformFiles> = {};
    await Promise.all(
        lab.nodes
            .filter((n) => n.role !== "database")
            .map(async (n) => {
                const files = platformFiles(n, lab.nodes);
                out[n.name] = files;
                const script = `set -eu
if [ -e ${LAB_DEFAULT} ]; then mv -f ${LAB_DEFAULT} ${LAB_DEFAULT_ASIDE}; fi
mkdir -p /etc/nginx/sites-enabled /var/www/platform-acme
${Object.entries(files)
    .map(([p, c]) => `echo ${b64(c)} | base64 -d > ${p}; chmod 0644 ${p}`)
    .join("\n")}
nginx -t 2>&1 | tail -2 >&2
nginx -s reload 2>/dev/null || nginx
`;
                const r = await runScript(labConnection(lab, n), script, { timeoutMs: 30_000 });
                if (r.code !== 0) throw new Error(`platform stand-in on ${n.name}: exit ${r.code}: ${r.stderr}`);
            }),
    );
    return out;
}

/** Removes the stand-in and puts the lab's default server back. */
export async function removePlatform(lab: LabStatus): Promise<void> {
    await Promise.all(
        lab.nodes
            .filter((n) => n.role !== "database")
            .map(async (n) => {
                const paths = Object.keys(platformFiles(n, lab.nodes));
                const script = `set -eu
rm -f ${paths.join(" ")}
if [ -e ${LAB_DEFAULT_ASIDE} ]; then mv -f ${LAB_DEFAULT_ASIDE} ${LAB_DEFAULT}; fi
nginx -t 2>/dev/null && { nginx -s reload 2>/dev/null || nginx; }
`;
                await runScript(labConnection(lab, n), script, { timeoutMs: 30_000 });
            }),
    );
}

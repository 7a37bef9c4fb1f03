// Shell scripts run on a node (POSIX sh, as root) to install, inspect and remove pinhole's nginx front
// end: the certificate bundle, its key and the site config. Pure string builders, unit-tested;
// provider/webserver.ts runs them over SSH (script and payloads on stdin: nothing in argv or logs).
//
// Install, in ONE session:
//   stage the new files in a private run dir → keep copies of the current ones → move the node's
//   original front-end files aside (kept in /etc/pinhole/web/original until delete) → put the new files
//   in place (key 0600) → `nginx -t` → reload (or start) → check that nginx now serves the new
//   certificate (openssl s_client on 127.0.0.1:443, by fingerprint). Any failure puts the previous files
//   back (and reloads when nginx had been reloaded), and the script exits with a code from EXIT.
// Delete restores the original files, unless another resource owns the front end now (owner marker).
import { CERT_PATH, KEY_PATH, NGINX_DIR, SITE_PATH } from "../render/nginx";
import { childPath, runToken, shellQuote } from "../render/escape";
import { base64Heredoc, RUN_DIR, scriptPrelude, STATE_DIR } from "./shell";

export const WEB_STATE_DIR = `${STATE_DIR}/web`;
export const WEB_ORIGINALS_DIR = `${WEB_STATE_DIR}/original`;
export const WEB_OWNER_FILE = `${WEB_STATE_DIR}/owner`;
export const WEB_RUN_DIR = RUN_DIR;

export const WEB_EXIT = {
    noNginx: 30,
    configRejected: 31,
    notServed: 32,
    restoreFailed: 33,
} as const;

/** A file written from a base64 heredoc (remote/shell.ts). */
export const payload = base64Heredoc;

export const PRELUDE = scriptPrelude("nginx", "nginx", WEB_EXIT.noNginx);

/** Shell helpers shared by the scripts. */
export const HELPERS = `saved_name() { printf '%s' "$1" | sed 's|/|%|g'; }
# nginx -s reload is asynchronous: the old workers go on accepting with the old configuration until they
# have seen the signal (seconds on a loaded node: a CA's validation once got the old default server). So a
# reload returns only when every worker that accepted before it has stopped accepting (at most 30 s).
nginx_master() {
  f=$(nginx -T 2>/dev/null | sed -n 's/^[[:space:]]*pid[[:space:]]\\{1,\\}\\([^;[:space:]]*\\);.*/\\1/p' | head -n 1)
  cat "\${f:-/run/nginx.pid}" 2>/dev/null || true
}
# the workers of master $1 that still accept (not "is shutting down")
nginx_accepting_workers() {
  [ -n "$1" ] || return 0
  for d in /proc/[0-9]*; do
    read -r _ _ _ pp _ 2>/dev/null < "$d/stat" || continue
    [ "$pp" = "$1" ] || continue
    case "$(tr '\\000' ' ' 2>/dev/null < "$d/cmdline")" in
      "nginx: worker process is shutting down"*) ;;
      "nginx: worker process"*) echo "\${d#/proc/}" ;;
    esac
  done
}
# waits until none of the workers $2 of master $1 accepts any more
wait_old_workers() {
  n=0
  while [ $n -lt 150 ]; do
    now=" $(nginx_accepting_workers "$1" | tr '\\n' ' ') "; still=""
    for w in $2; do case "$now" in *" $w "*) still=1 ;; esac; done
    [ -z "$still" ] && return 0
    n=$((n + 1)); sleep 0.2
  done
  echo "nginx: old workers still accepting 30 s after the reload" >&2
}
reload_nginx() {
  master=$(nginx_master)
  old_workers=$(nginx_accepting_workers "$master" | tr '\\n' ' ')
  if nginx -s reload 2>/dev/null; then wait_old_workers "$master" "$old_workers"; echo "nginx=reloaded"; return 0; fi
  if [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; then systemctl restart nginx && { echo "nginx=restarted"; return 0; }; fi
  nginx && echo "nginx=started"
}
served_fingerprint() {
  command -v openssl >/dev/null 2>&1 || { echo "no-openssl"; return 0; }
  timeout 5 openssl s_client -connect 127.0.0.1:443 -servername "$1" </dev/null 2>/dev/null | openssl x509 -noout -fingerprint -sha256 2>/dev/null | cut -d= -f2
}
`;

/**
 * The tail every install shares (whole-site and certificate-only), as one shell function:
 * `commit_nginx FQDN FINGERPRINT TRIES SECONDS` runs `nginx -t`, reloads (or starts) nginx and, when TRIES > 0,
 * waits up to SECONDS (TRIES checks 0.2 s apart) until nginx serves FINGERPRINT for FQDN on 127.0.0.1:443.
 * On a failure it calls the caller's `restore` (puts the previous files back), reloads again when nginx had
 * been reloaded, says why on stderr and exits with the WEB_EXIT code; on success `got` is what nginx serves.
 * Uses the caller's staging dir `$W` (removed on failure).
 */
export const COMMIT_NGINX = `commit_nginx() {
  if ! nginx -t 2> "$W/test.err"; then
    restore
    echo "nginx -t rejected the new configuration; the previous files are back in place and nginx still serves them:" >&2
    grep -v 'PRIVATE KEY' "$W/test.err" >&2 || true
    rm -rf "$W"; exit ${WEB_EXIT.configRejected}
  fi
  if ! reload_nginx; then
    restore
    reload_nginx >/dev/null 2>&1 || true
    echo "nginx could not be reloaded or started with the new configuration; the previous files are back in place" >&2
    rm -rf "$W"; exit ${WEB_EXIT.notServed}
  fi
  got=""
  [ "$3" -gt 0 ] || return 0
  i=0
  while [ $i -lt "$3" ]; do
    got="$(served_fingerprint "$1")"
    if [ "$got" = "$2" ] || [ "$got" = no-openssl ]; then return 0; fi
    i=$((i + 1)); sleep 0.2
  done
  restore
  reload_nginx >/dev/null 2>&1 || true
  echo "nginx did not serve the new certificate on 127.0.0.1:443 within $4s (it serves \${got:-nothing}); the previous files are back in place" >&2
  tail -n 5 /var/log/nginx/error.log 2>/dev/null >&2 || true
  rm -rf "$W"; exit ${WEB_EXIT.notServed}
}
`;

/** The call of COMMIT_NGINX for an install (TRIES 0 when verifySeconds is 0: no serving check). */
export function commitNginx(fqdn: string, fingerprint: string, verifySeconds: number): string {
    const tries = verifySeconds > 0 ? Math.max(1, Math.round(verifySeconds * 5)) : 0;
    return `commit_nginx ${shellQuote(fqdn)} ${shellQuote(fingerprint)} ${tries} ${shellQuote(String(verifySeconds))}`;
}

/** Where the whole-site files go (certificates.nginx.*; default render/nginx.ts CERT_PATH, KEY_PATH, SITE_PATH). */
export interface SitePaths {
    certificate: string;
    key: string;
    site: string;
}
export const DEFAULT_SITE_PATHS: SitePaths = { certificate: CERT_PATH, key: KEY_PATH, site: SITE_PATH };
const dirOf = (p: string) => p.replace(/\/[^/]*$/, "") || "/";

export interface InstallScriptArgs {
    paths?: SitePaths;
    /** Unique per run (staging dir name). */
    token: string;
    /** Resource id written to the owner marker. */
    owner: string;
    /** Certificate file: server certificate first, then the chain. */
    certificatePem: string;
    /** Private key (secret): only ever inside the base64 payload on stdin. */
    keyPem: string;
    siteConfig: string;
    /** Original front-end files moved aside while pinhole owns the front end. */
    replaces: string[];
    /** SNI name for the serving check. */
    fqdn: string;
    /** SHA-256 fingerprint of the leaf ("AB:CD:..."): nginx must serve it after the reload. */
    fingerprint: string;
    /** Seconds to wait for nginx to serve the new certificate (0: don't check). */
    verifySeconds: number;
}

export function installScript(a: InstallScriptArgs): string {
    const W = childPath(WEB_RUN_DIR, `web.${runToken(a.token)}`);
    const P = a.paths ?? DEFAULT_SITE_PATHS;
    const files: [string, string][] = [
        ["cert", shellQuote(P.certificate)],
        ["key", shellQuote(P.key)],
        ["site", shellQuote(P.site)],
    ];
    return `${PRELUDE}${HELPERS}${COMMIT_NGINX}
W=${W}
mkdir -p ${WEB_RUN_DIR} ${WEB_ORIGINALS_DIR} ${[...new Set([dirOf(P.certificate), dirOf(P.key), dirOf(P.site)])].map((f) => shellQuote(f)).join(" ")}
chmod 700 ${WEB_STATE_DIR} ${WEB_ORIGINALS_DIR}
${P.certificate === CERT_PATH ? `chmod 755 ${NGINX_DIR}` : ""}
rm -rf "$W"; mkdir -m 700 "$W"
${payload(`"$W/cert"`, a.certificatePem)}${payload(`"$W/key"`, a.keyPem)}${payload(`"$W/site"`, a.siteConfig)}
# The current files, to put back if anything below fails.
${files.map(([n, p]) => `if [ -e ${p} ]; then cp -p ${p} "$W/prev.${n}"; fi`).join("\n")}
: > "$W/moved"
restore() {
${files.map(([n, p]) => `  if [ -e "$W/prev.${n}" ]; then mv -f "$W/prev.${n}" ${p}; else rm -f ${p}; fi`).join("\n")}
  while IFS= read -r f; do
    [ -n "$f" ] || continue
    s="${WEB_ORIGINALS_DIR}/$(saved_name "$f")"
    mv -f "$s" "$f"
    if [ -e "$W/orig.$(saved_name "$f")" ] || [ -L "$W/orig.$(saved_name "$f")" ]; then mv -f "$W/orig.$(saved_name "$f")" "$s"; fi
  done < "$W/moved"
}
# Take over the node's own front end: its files are kept aside (first copy wins unless it reappeared).
for f in ${a.replaces.map((f) => shellQuote(f)).join(" ")}; do
  if [ -e "$f" ] || [ -L "$f" ]; then
    s="${WEB_ORIGINALS_DIR}/$(saved_name "$f")"
    if [ -e "$s" ] || [ -L "$s" ]; then mv -f "$s" "$W/orig.$(saved_name "$f")"; fi
    mv -f "$f" "$s"
    echo "$f" >> "$W/moved"
    echo "took-over=$f"
  fi
done
install -m 0644 -o root -g root "$W/cert" ${shellQuote(P.certificate + ".new")} && mv -f ${shellQuote(P.certificate + ".new")} ${shellQuote(P.certificate)}
install -m 0600 -o root -g root "$W/key" ${shellQuote(P.key + ".new")} && mv -f ${shellQuote(P.key + ".new")} ${shellQuote(P.key)}
install -m 0644 -o root -g root "$W/site" ${shellQuote(P.site + ".new")} && mv -f ${shellQuote(P.site + ".new")} ${shellQuote(P.site)}
${commitNginx(a.fqdn, a.fingerprint, a.verifySeconds)}
printf '%s\\n' ${shellQuote(a.owner)} > ${WEB_OWNER_FILE}
rm -rf "$W"
echo "served=$got"
echo "originals=$(ls -A ${WEB_ORIGINALS_DIR} | sed 's|%|/|g' | tr '\\n' ' ')"
echo installed
`;
}

/**
 * Prints the owner, the SHA-256 of each installed file, the certificate nginx serves, the saved originals.
 * `extra` (verify on a certificate-only node): the owner marker to read, and more files to hash (`file=<sha> <path>`).
 */
export function inspectScript(
    fqdn: string,
    P: SitePaths = DEFAULT_SITE_PATHS,
    extra: { ownerFile?: string; files?: string[] } = {},
): string {
    return `${PRELUDE}${HELPERS}
echo "owner=$(cat ${shellQuote(extra.ownerFile ?? WEB_OWNER_FILE)} 2>/dev/null || true)"
${(extra.files ?? []).map((f) => `if [ -f ${shellQuote(f)} ]; then printf 'file=%s %s\\n' "$(sha256sum < ${shellQuote(f)} | cut -c1-64)" ${shellQuote(f)}; else printf 'file=absent %s\\n' ${shellQuote(f)}; fi`).join("\n")}
for pair in ${shellQuote(`cert:${P.certificate}`)} ${shellQuote(`key:${P.key}`)} ${shellQuote(`site:${P.site}`)}; do
  n="\${pair%%:*}"; p="\${pair#*:}"
  if [ -f "$p" ]; then echo "sha.$n=$(sha256sum < "$p" | cut -c1-64)"; else echo "sha.$n=absent"; fi
done
echo "keymode=$(stat -c %a ${shellQuote(P.key)} 2>/dev/null || echo absent)"
echo "served=$(served_fingerprint ${shellQuote(fqdn)})"
echo "originals=$(ls -A ${WEB_ORIGINALS_DIR} 2>/dev/null | sed 's|%|/|g' | tr '\\n' ' ')"
`;
}

/** Removes pinhole's files and puts the original front end back, unless another resource owns it now. */
export function removeScript(owner: string, P: SitePaths = DEFAULT_SITE_PATHS): string {
    return `${PRELUDE}${HELPERS}
current="$(cat ${WEB_OWNER_FILE} 2>/dev/null || true)"
if [ -n "$current" ] && [ "$current" != ${shellQuote(owner)} ]; then
  echo "left in place: the web front end on this node now belongs to $current"; exit 0
fi
rm -f ${shellQuote(P.certificate)} ${shellQuote(P.key)} ${shellQuote(P.site)}
rmdir ${NGINX_DIR} 2>/dev/null || true
if [ -d ${WEB_ORIGINALS_DIR} ]; then
  for s in ${WEB_ORIGINALS_DIR}/* ${WEB_ORIGINALS_DIR}/.[!.]*; do
    [ -e "$s" ] || [ -L "$s" ] || continue
    f="$(basename "$s" | sed 's|%|/|g')"
    if [ -e "$f" ] || [ -L "$f" ]; then echo "kept=$f (a newer file is in place)"; rm -f "$s"; else mkdir -p "$(dirname "$f")"; mv -f "$s" "$f"; echo "restored=$f"; fi
  done
fi
rm -f ${WEB_OWNER_FILE}
rmdir ${WEB_ORIGINALS_DIR} ${WEB_STATE_DIR} 2>/dev/null || true
err="$(mktemp)"
if ! nginx -t 2>"$err"; then
  echo "the original nginx configuration is back but nginx -t rejects it:" >&2; cat "$err" >&2; rm -f "$err"
  exit ${WEB_EXIT.restoreFailed}
fi
rm -f "$err"
reload_nginx
echo removed
`;
}

/**
 * Prints the installed certificate and key, base64 on one line each ("absent" when missing): an import of a
 * node whose certificate pinhole cannot derive (its own modes) records them as they are. Read-only.
 */
export function installedFilesScript(P: SitePaths = DEFAULT_SITE_PATHS): string {
    return `${PRELUDE}
for pair in ${shellQuote(`cert:${P.certificate}`)} ${shellQuote(`key:${P.key}`)}; do
  n="\${pair%%:*}"; p="\${pair#*:}"
  if [ -f "$p" ]; then echo "b64.$n=$(base64 -w0 < "$p")"; else echo "b64.$n=absent"; fi
done
`;
}

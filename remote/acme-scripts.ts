// Shell scripts (POSIX sh, as root) that answer ACME HTTP-01 from a node's nginx: the key authorizations go
// into pinhole's webroot and a drop-in server on port 80 (server_name = the order's names) serves
// /.well-known/acme-challenge/ from it; after the order both go again. Pure string builders; provider/acme.ts
// runs them over SSH (payloads on stdin). The drop-in sorts first in conf.d (00-pinhole-acme.conf: before the node's default.conf and
// pinhole-web.conf), so nginx picks it for these names on 80 whichever front end owns the node.
// (Tokens are checked against TOKEN_RE, base64url only, before they name a file.)
import { shellQuote } from "../render/escape";
import { base64Heredoc } from "./shell";
import { HELPERS, PRELUDE, WEB_EXIT } from "./webserver-scripts";

export const ACME_WEBROOT = "/var/lib/pinhole/acme-challenge";
export const ACME_DROP_IN = "/etc/nginx/conf.d/00-pinhole-acme.conf";
export const ACME_EXIT = { configRejected: WEB_EXIT.configRejected, notServed: WEB_EXIT.notServed } as const;

const TOKEN_RE = /^[A-Za-z0-9_-]{1,128}$/;
const KEY_AUTH_RE = /^[A-Za-z0-9_-]{1,128}\.[A-Za-z0-9_-]{43}$/;
const NAME_RE = /^[A-Za-z0-9](?:[A-Za-z0-9.-]{0,251}[A-Za-z0-9])?$/;

export interface Challenge {
    token: string;
    keyAuthorization: string;
}

/** The port-80 server that serves the webroot for the order's names (and nothing else: 404 outside it). */
export function renderAcmeServer(names: string[], ipv6: boolean): string {
    for (const n of names)
        if (!NAME_RE.test(n)) throw new Error(`not a DNS name for nginx's server_name: ${JSON.stringify(n)}`);
    return `# pinhole: ACME HTTP-01 challenge answers while an order is open (provider/acme.ts); removed afterwards.
server {
    listen 80;
${ipv6 ? "    listen [::]:80;\n" : ""}    server_name ${names.join(" ")};
    location ^~ /.well-known/acme-challenge/ {
        alias ${ACME_WEBROOT}/;
        default_type text/plain;
        try_files $uri =404;
    }
    location / {
        return 404;
    }
}
`;
}

/** Writes the key authorizations and the drop-in, `nginx -t`, reload; undoes both on a failure. */
export function putChallengeScript(challenges: Challenge[], names: string[], ipv6: boolean): string {
    for (const c of challenges) {
        if (!TOKEN_RE.test(c.token))
            throw new Error(`ACME challenge token is not base64url: ${JSON.stringify(c.token)}`);
        if (!KEY_AUTH_RE.test(c.keyAuthorization) || !c.keyAuthorization.startsWith(`${c.token}.`))
            throw new Error("ACME key authorization is not <token>.<thumbprint>");
    }
    const files = challenges.map((c) => shellQuote(`${ACME_WEBROOT}/${c.token}`));
    return `${PRELUDE}${HELPERS}
mkdir -p ${ACME_WEBROOT}
chmod 755 /var/lib/pinhole ${ACME_WEBROOT}
${challenges.map((c, i) => `printf '%s' ${shellQuote(c.keyAuthorization)} > ${files[i]}\nchmod 644 ${files[i]}`).join("\n")}
${base64Heredoc(`${ACME_DROP_IN}.new`, renderAcmeServer(names, ipv6))}chmod 644 ${ACME_DROP_IN}.new
mv -f ${ACME_DROP_IN}.new ${ACME_DROP_IN}
undo() { rm -f ${ACME_DROP_IN} ${files.join(" ")}; }
if ! nginx -t 2>/tmp/pinhole-acme-test.$$; then
  undo
  echo "nginx -t rejected pinhole's ACME challenge server; nothing changed:" >&2
  cat /tmp/pinhole-acme-test.$$ >&2; rm -f /tmp/pinhole-acme-test.$$
  exit ${ACME_EXIT.configRejected}
fi
rm -f /tmp/pinhole-acme-test.$$
if ! reload_nginx; then
  undo; reload_nginx >/dev/null 2>&1 || true
  echo "nginx could not be reloaded with pinhole's ACME challenge server" >&2
  exit ${ACME_EXIT.notServed}
fi
${waitUntilServedScript(challenges, names[0])}
echo "challenge=ready"
`;
}

/** How long nginx gets, after the reload, to serve the answer on every address it listens on (a reload is
 * asynchronous and slow on a loaded node; the CA must not fetch before it serves the answer). */
export const CHALLENGE_SERVE_SECONDS = 30;

/** Waits until every challenge is served on 127.0.0.1 and on each of the node's global addresses (the CA
 * fetches from one of them: under load the old workers kept answering with the default server). An address
 * where nothing accepts on port 80 (curl exit 7) is not one nginx serves, so it is skipped; the loopback is
 * not. On timeout: undo (the caller's `undo`), reload, a clear error, exit notServed. No curl: wait 1 s. */
export function waitUntilServedScript(
    challenges: Challenge[],
    host: string,
    seconds = CHALLENGE_SERVE_SECONDS,
): string {
    if (!NAME_RE.test(host)) throw new Error(`not a DNS name for the Host header: ${JSON.stringify(host)}`);
    const checks = challenges
        .map(
            (
                c,
            ) => `    rc=0; got="$(curl -s -m 2 -H ${shellQuote(`Host: ${host}`)} "http://$a/.well-known/acme-challenge/${c.token}")" || rc=$?
    if [ "$got" != ${shellQuote(c.keyAuthorization)} ]; then
      if [ "$a" != 127.0.0.1 ] && [ $rc -eq 7 ]; then continue; fi
      left="$left $a"; seen="$a: $(printf '%s' "$got" | tr -c '[:print:]' ' ' | cut -c1-120)"; continue
    fi`,
        )
        .join("\n");
    return `if command -v curl >/dev/null 2>&1; then
  addrs=127.0.0.1
  for a in $(hostname -I 2>/dev/null); do
    case "$a" in fe80:*|127.*|::1) ;; *:*) addrs="$addrs [$a]" ;; *) addrs="$addrs $a" ;; esac
  done
  pending="$addrs"; seen=""; deadline=$(( $(date +%s) + ${seconds} ))
  while :; do
    left=""
    for a in $pending; do
${checks}
    done
    pending="$left"
    [ -z "$pending" ] && break
    if [ "$(date +%s)" -ge $deadline ]; then
      undo; reload_nginx >/dev/null 2>&1 || true
      echo "nginx did not serve pinhole's ACME challenge answer on$pending within ${seconds} s of the reload (last seen: $seen); nothing changed, the CA was not asked to validate" >&2
      [ -r /var/log/nginx/error.log ] && tail -n 3 /var/log/nginx/error.log >&2
      exit ${ACME_EXIT.notServed}
    fi
    sleep 0.2
  done
else
  sleep 1
fi
`;
}

/** Removes the drop-in and the given tokens' files (every file of the webroot when none are given), reloads. */
export function removeChallengeScript(tokens: string[]): string {
    for (const t of tokens)
        if (!TOKEN_RE.test(t)) throw new Error(`ACME challenge token is not base64url: ${JSON.stringify(t)}`);
    const files = tokens.length ? tokens.map((t) => shellQuote(`${ACME_WEBROOT}/${t}`)).join(" ") : `${ACME_WEBROOT}/*`;
    return `${PRELUDE}${HELPERS}
if [ -e ${ACME_DROP_IN} ]; then
  rm -f ${ACME_DROP_IN} ${files}
  nginx -t 2>/dev/null && reload_nginx >/dev/null
fi
rm -f ${files}
echo "challenge=removed"
`;
}

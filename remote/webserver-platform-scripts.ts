// Shell scripts (POSIX sh, as root) of the certificate-only front end: pinhole installs the bundle and key
// at the paths the platform's nginx uses, its TLS drop-in, and the platform files it patches (the http-level
// TLS lines it takes over, the weighted upstream's server lines). Pure string builders, unit-tested;
// provider/webserver-platform.ts runs them over SSH with every payload on stdin.
//
// Every file pinhole writes is recorded in a manifest on its first write: `kept <path>` (the platform's
// file, copied aside with its owner and mode) or `created <path>` (did not exist). Delete puts each kept
// file back byte for byte and removes the created ones, so the node has exactly the files it had before.
import { childPath, runToken, shellQuote as sq } from "../render/escape";
import {
    COMMIT_NGINX,
    commitNginx,
    HELPERS,
    payload,
    PRELUDE,
    WEB_EXIT,
    WEB_RUN_DIR,
    WEB_STATE_DIR,
} from "./webserver-scripts";

export const PLATFORM_STATE_DIR = `${WEB_STATE_DIR}/platform`;
export const PLATFORM_ORIGINALS_DIR = `${PLATFORM_STATE_DIR}/original`;
export const PLATFORM_MANIFEST = `${PLATFORM_STATE_DIR}/manifest`;
export const PLATFORM_OWNER = `${PLATFORM_STATE_DIR}/owner`;

/** How a file is written: certificate 0644, key 0600 (root), platform file with its own owner and mode, pinhole's own 0644. */
export type PlatformFileKind = "certificate" | "key" | "platform" | "own";
export interface PlatformFile {
    path: string;
    content: string;
    kind: PlatformFileKind;
}

/** Paths go into the script quoted and into the manifest one a line: refuse anything else before that. */
export function checkNodePath(p: string): string | undefined {
    if (!/^\/[A-Za-z0-9._+@%=:,/-]+$/.test(p) || p.includes("/../") || p.endsWith("/.."))
        return `"${p}" is not an absolute path of plain characters`;
    if (p.startsWith(`${WEB_STATE_DIR}/`)) return `"${p}" is inside pinhole's own state directory`;
    return undefined;
}

/** Prints the node's `nginx -T` (base64), the originals pinhole keeps aside and its manifest, so plans start from the platform's files. */
export function discoverScript(): string {
    return `${PRELUDE}${HELPERS}
err="$(mktemp)"; dump="$(mktemp)"
if ! nginx -T > "$dump" 2> "$err"; then
  echo "nginx -T fails on this node, so its configuration cannot be read:" >&2; grep -v 'PRIVATE KEY' "$err" >&2 || true
  rm -f "$err" "$dump"; exit ${WEB_EXIT.configRejected}
fi
echo "dump=$(base64 -w0 < "$dump")"
echo "owner=$(cat ${PLATFORM_OWNER} 2>/dev/null || true)"
if [ -f ${PLATFORM_MANIFEST} ]; then
  while IFS=' ' read -r kind f; do
    [ -n "$f" ] || continue
    p64="$(printf '%s' "$f" | base64 -w0)"
    if [ "$kind" = kept ]; then
      # Only nginx configuration files (never the kept certificate or key): the ones the dump lists.
      if grep -qxF "# configuration file $f:" "$dump"; then echo "kept=$p64:$(base64 -w0 < "${PLATFORM_ORIGINALS_DIR}/$(saved_name "$f")")"; else echo "kept=$p64:"; fi
    else
      echo "created=$p64"
    fi
  done < ${PLATFORM_MANIFEST}
fi
rm -f "$err" "$dump"
`;
}

export interface PlatformInstallArgs {
    token: string;
    owner: string;
    files: PlatformFile[];
    fqdn: string;
    /** Leaf fingerprint ("AB:CD:..."): nginx must serve it after the reload, else everything goes back. */
    fingerprint: string;
    verifySeconds: number;
}

function writeFile(f: PlatformFile, i: number): string {
    const P = sq(f.path);
    const mk = `mkdir -p "$(dirname ${P})"`;
    if (f.kind === "certificate")
        return `${mk}; install -m 0644 -o root -g root "$W/f${i}" ${P}.pinhole-new && mv -f ${P}.pinhole-new ${P}`;
    if (f.kind === "key")
        return `${mk}; install -m 0600 -o root -g root "$W/f${i}" ${P}.pinhole-new && mv -f ${P}.pinhole-new ${P}`;
    if (f.kind === "own")
        return `${mk}; install -m 0644 -o root -g root "$W/f${i}" ${P}.pinhole-new && mv -f ${P}.pinhole-new ${P}`;
    // A platform file keeps its owner and mode.
    return `cp "$W/f${i}" ${P}.pinhole-new && chown --reference=${P} ${P}.pinhole-new && chmod --reference=${P} ${P}.pinhole-new && mv -f ${P}.pinhole-new ${P}`;
}

export function platformInstallScript(a: PlatformInstallArgs): string {
    const W = childPath(WEB_RUN_DIR, `webp.${runToken(a.token)}`);
    const each = (fn: (f: PlatformFile, i: number) => string) => a.files.map(fn).join("\n");
    return `${PRELUDE}${HELPERS}${COMMIT_NGINX}
W=${W}
mkdir -p ${WEB_RUN_DIR} ${PLATFORM_ORIGINALS_DIR}
chmod 700 ${WEB_STATE_DIR} ${PLATFORM_STATE_DIR} ${PLATFORM_ORIGINALS_DIR}
touch ${PLATFORM_MANIFEST}
rm -rf "$W"; mkdir -m 700 "$W"
${a.files.map((f, i) => payload(`"$W/f${i}"`, f.content)).join("")}
# First write of a path: the platform's file is kept aside (owner, mode, bytes), or noted as created.
remember() {
  if grep -qxF "kept $1" ${PLATFORM_MANIFEST} || grep -qxF "created $1" ${PLATFORM_MANIFEST}; then return 0; fi
  if [ -e "$1" ]; then cp -p "$1" "${PLATFORM_ORIGINALS_DIR}/$(saved_name "$1")"; echo "kept $1" >> ${PLATFORM_MANIFEST}; echo "kept-aside=$1"
  else echo "created $1" >> ${PLATFORM_MANIFEST}; fi
}
${each((f) => `remember ${sq(f.path)}`)}
# The current files, to put back if anything below fails.
${each((f, i) => `if [ -e ${sq(f.path)} ]; then cp -p ${sq(f.path)} "$W/prev${i}"; fi`)}
restore() {
${each((f, i) => `  if [ -e "$W/prev${i}" ]; then mv -f "$W/prev${i}" ${sq(f.path)}; else rm -f ${sq(f.path)}; fi`)}
}
${each(writeFile)}
${commitNginx(a.fqdn, a.fingerprint, a.verifySeconds)}
printf '%s\\n' ${sq(a.owner)} > ${PLATFORM_OWNER}
rm -rf "$W"
echo "served=$got"
${each((f) => `echo "sha=$(sha256sum < ${sq(f.path)} | cut -c1-64) ${f.path}"`)}
echo installed
`;
}

/** SHA-256 of each file pinhole wrote (manifest order) and the served certificate: what refresh compares. */
export function platformInspectScript(fqdn: string): string {
    return `${PRELUDE}${HELPERS}
echo "owner=$(cat ${PLATFORM_OWNER} 2>/dev/null || true)"
if [ -f ${PLATFORM_MANIFEST} ]; then
  while IFS=' ' read -r kind f; do
    [ -n "$f" ] || continue
    if [ -f "$f" ]; then echo "sha=$(sha256sum < "$f" | cut -c1-64) $f"; else echo "sha=absent $f"; fi
  done < ${PLATFORM_MANIFEST}
fi
echo "served=$(served_fingerprint ${sq(fqdn)})"
`;
}

/** Puts every kept file back (bytes, owner, mode), removes the created ones, then `nginx -t` and reload. */
export function platformRemoveScript(owner: string): string {
    return `${PRELUDE}${HELPERS}
current="$(cat ${PLATFORM_OWNER} 2>/dev/null || true)"
if [ -n "$current" ] && [ "$current" != ${sq(owner)} ]; then
  echo "left in place: the web front end on this node now belongs to $current"; exit 0
fi
if [ -f ${PLATFORM_MANIFEST} ]; then
  while IFS=' ' read -r kind f; do
    [ -n "$f" ] || continue
    if [ "$kind" = kept ]; then mv -f "${PLATFORM_ORIGINALS_DIR}/$(saved_name "$f")" "$f" && echo "restored=$f"
    else rm -f "$f" && echo "removed=$f"; fi
  done < ${PLATFORM_MANIFEST}
fi
rm -rf ${PLATFORM_STATE_DIR}
rmdir ${WEB_STATE_DIR} 2>/dev/null || true
err="$(mktemp)"
if ! nginx -t 2>"$err"; then
  echo "the platform's original nginx files are back but nginx -t rejects them:" >&2; cat "$err" >&2; rm -f "$err"
  exit ${WEB_EXIT.restoreFailed}
fi
rm -f "$err"
reload_nginx
echo removed
`;
}

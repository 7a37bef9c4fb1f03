// pinhole:certificates frontEnd, nginx and subject (stack level and certificates.nodes.<n>): how much of a
// node's nginx pinhole manages, its paths and names, and the subject fields of the certificates pinhole issues.
import { CertificateSubjectFields, FrontEndMode, NginxSettings } from "../types";
import { FRONT_ENDS, NGINX_KEYS, SUBJECT_KEYS } from "./keys";
import { Problems, dot, readEnum, readList, readMap, readString } from "./read";

/** Paths go into nginx files and shell scripts: plain characters only. */
const NODE_PATH_RE = /^\/[A-Za-z0-9._+@%=:,/-]+$/;
/** A `..` (or `.`) component, anywhere: a path says where it is, never climbs. */
const DOT_SEGMENT = /(^|\/)\.\.?(\/|$)/;
const nodePathProblem = (s: string) =>
    !NODE_PATH_RE.test(s)
        ? `"${s}" is not an absolute path of plain characters (letters, digits, . _ - + @ % = : ,)`
        : DOT_SEGMENT.test(s)
          ? `"${s}" has a "." or ".." component: write the path without them`
          : /\/\/|\/$/.test(s)
            ? `"${s}" has an empty component or a trailing "/": name a file`
            : undefined;

/** frontEnd, nginx and subject of certificates (stack) or certificates.nodes.<n> (node). */
export function readFrontEnd(
    m: Record<string, unknown>,
    path: string,
    pr: Problems,
    into: { frontEnd?: FrontEndMode; nginx?: NginxSettings; subject?: CertificateSubjectFields },
): void {
    if (m.frontEnd !== undefined)
        into.frontEnd = readEnum(m.frontEnd, dot(path, "frontEnd"), pr, FRONT_ENDS) ?? into.frontEnd;
    if (m.nginx !== undefined) into.nginx = readNginx(m.nginx, dot(path, "nginx"), pr);
    if (m.subject !== undefined) into.subject = readSubject(m.subject, dot(path, "subject"), pr);
}

/** certificates[.nodes.<n>].nginx: paths, names, upstream, backend, and files it replaces. */
function readNginx(value: unknown, npath: string, pr: Problems): NginxSettings {
    const n = readMap(value, npath, pr, NGINX_KEYS);
    const out: NginxSettings = {};
    const path1 = (k: "certificatePath" | "keyPath" | "tlsPath" | "sitePath", v: unknown) => {
        const s = readString(v, dot(npath, k), pr);
        const problem = s === undefined ? undefined : nodePathProblem(s);
        if (problem) pr.error(dot(npath, k), problem);
        else if (s !== undefined) out[k] = s;
    };
    for (const k of ["certificatePath", "keyPath", "tlsPath", "sitePath"] as const)
        if (n?.[k] !== undefined) path1(k, n[k]);
    if (n?.upstream !== undefined) {
        const u = readString(n.upstream, dot(npath, "upstream"), pr);
        if (u !== undefined && !/^[A-Za-z0-9_.-]{1,64}$/.test(u))
            pr.error(dot(npath, "upstream"), `"${u}" is not an nginx upstream name`);
        else if (u !== undefined) out.upstream = u;
    }
    if (n?.applicationBackend !== undefined) {
        const b = readString(n.applicationBackend, dot(npath, "applicationBackend"), pr);
        if (b !== undefined && !/^https?:\/\/[A-Za-z0-9.:[\]_-]+(\/[A-Za-z0-9._~/-]*)?$/.test(b))
            pr.error(dot(npath, "applicationBackend"), `"${b}" is not an http(s)://host:port URL`);
        else if (b !== undefined) out.applicationBackend = b;
    }
    if (n?.serverNames !== undefined) {
        const names = (readList(n.serverNames, dot(npath, "serverNames"), pr) ?? []).map((x, i) =>
            readString(x, `${dot(npath, "serverNames")}[${i}]`, pr),
        );
        names.forEach((x, i) => {
            if (x !== undefined && !/^(\*\.)?[A-Za-z0-9.-]{1,253}$|^_$/.test(x))
                pr.error(`${dot(npath, "serverNames")}[${i}]`, `"${x}" is not a server name`);
        });
        out.serverNames = names.filter((x): x is string => x !== undefined);
    }
    if (n?.replaces !== undefined) {
        const list = (readList(n.replaces, dot(npath, "replaces"), pr) ?? []).map((x, i) =>
            readString(x, `${dot(npath, "replaces")}[${i}]`, pr),
        );
        list.forEach((x, i) => {
            const problem = x === undefined ? undefined : nodePathProblem(x);
            if (problem) pr.error(`${dot(npath, "replaces")}[${i}]`, problem);
        });
        out.replaces = list.filter((x): x is string => x !== undefined);
    }
    return out;
}

/** certificates[.nodes.<n>].subject: the subject fields of the certificates pinhole issues. */
function readSubject(value: unknown, spath: string, pr: Problems): CertificateSubjectFields {
    const sm = readMap(value, spath, pr, SUBJECT_KEYS);
    const out: CertificateSubjectFields = {};
    for (const k of SUBJECT_KEYS as (keyof CertificateSubjectFields)[]) {
        if (sm?.[k] === undefined) continue;
        const v = readString(sm[k], dot(spath, k), pr);
        if (v === undefined) continue;
        if (v.length > 64 || /[\u0000-\u001f\u007f]/.test(v)) {
            pr.error(dot(spath, k), "must be at most 64 characters, without control characters");
            continue;
        }
        if (k === "country" && !/^[A-Z]{2}$/.test(v)) {
            pr.error(dot(spath, k), `"${v}" is not a two-letter country code (e.g. CH, DE, US)`);
            continue;
        }
        if (k === "email" && !/^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(v)) {
            pr.error(dot(spath, k), `"${v}" is not an e-mail address`);
            continue;
        }
        out[k] = v;
    }
    return out;
}

// Reading an nginx configuration pinhole did not write: the `nginx -T` dump of a node, parsed into the
// directives that matter to the certificate-only front end (which certificate the HTTPS servers use,
// which TLS settings are set where, which upstreams exist). Pure: no I/O, no Pulumi.
//
// `nginx -T` prints every file nginx loaded, each after a line "# configuration file <path>:". The
// files are parsed on their own and then walked from the main file, following `include` (globs, in
// nginx's sorted order), so every directive knows its context (main, http, server, upstream...).

export interface NginxDirective {
    name: string;
    args: string[];
    file: string;
    /** 1-based line where the directive starts / ends (the `;` or the block's `{`). */
    line: number;
    endLine: number;
    /** Block directives (http, server, upstream, location...): their children. */
    block?: NginxDirective[];
}

export interface NginxDump {
    /** The main configuration file (the first one in the dump). */
    main: string;
    files: Map<string, string>;
}

/** Splits `nginx -T` output into files (path → content). */
export function parseNginxDump(text: string): NginxDump {
    const files = new Map<string, string>();
    const re = /^# configuration file (.+):\r?$/gm;
    const marks: { path: string; start: number; headerStart: number }[] = [];
    for (let m = re.exec(text); m; m = re.exec(text))
        marks.push({ path: m[1], start: m.index + m[0].length + 1, headerStart: m.index });
    marks.forEach((k, i) => {
        const end = i + 1 < marks.length ? marks[i + 1].headerStart : text.length;
        // nginx -T adds one newline after each file's content.
        files.set(k.path, text.slice(Math.min(k.start, end), end).replace(/\n$/, ""));
    });
    if (marks.length === 0) throw new Error('not an `nginx -T` dump: no "# configuration file" line');
    return { main: marks[0].path, files };
}

interface Token {
    text: string;
    line: number;
    kind: "word" | "{" | "}" | ";";
}

function tokenize(src: string, file: string): Token[] {
    const out: Token[] = [];
    let line = 1;
    let i = 0;
    while (i < src.length) {
        const c = src[i];
        if (c === "\n") {
            line++;
            i++;
            continue;
        }
        if (/\s/.test(c)) {
            i++;
            continue;
        }
        if (c === "#") {
            while (i < src.length && src[i] !== "\n") i++;
            continue;
        }
        if (c === "{" || c === "}" || c === ";") {
            out.push({ text: c, line, kind: c });
            i++;
            continue;
        }
        const start = line;
        let word = "";
        if (c === '"' || c === "'") {
            i++;
            while (i < src.length && src[i] !== c) {
                if (src[i] === "\\" && i + 1 < src.length) {
                    word += src[i + 1];
                    i += 2;
                    continue;
                }
                if (src[i] === "\n") line++;
                word += src[i++];
            }
            if (i >= src.length) throw new Error(`${file}:${start}: unterminated quoted string`);
            i++;
        } else {
            while (i < src.length && !/[\s{};]/.test(src[i])) {
                if (src[i] === "\\" && i + 1 < src.length) {
                    word += src[i] + src[i + 1];
                    i += 2;
                    continue;
                }
                word += src[i++];
            }
        }
        out.push({ text: word, line: start, kind: "word" });
    }
    return out;
}

/** The directives of one file, nested by block. Throws on unbalanced braces (nginx -t would have refused it). */
export function parseNginxFile(src: string, file: string): NginxDirective[] {
    const toks = tokenize(src, file);
    let i = 0;
    const parseBlock = (closing: boolean): NginxDirective[] => {
        const list: NginxDirective[] = [];
        while (i < toks.length) {
            const t = toks[i];
            if (t.kind === "}") {
                if (!closing) throw new Error(`${file}:${t.line}: unexpected "}"`);
                i++;
                return list;
            }
            if (t.kind !== "word") throw new Error(`${file}:${t.line}: unexpected "${t.text}"`);
            const d: NginxDirective = { name: t.text, args: [], file, line: t.line, endLine: t.line };
            i++;
            while (i < toks.length && toks[i].kind === "word") d.args.push(toks[i++].text);
            const end = toks[i];
            if (!end) throw new Error(`${file}:${t.line}: "${t.text}" is not terminated by ";" or "{"`);
            d.endLine = end.line;
            i++;
            if (end.kind === "{") d.block = parseBlock(true);
            list.push(d);
        }
        if (closing) throw new Error(`${file}: unexpected end of file, expecting "}"`);
        return list;
    };
    return parseBlock(false);
}

function globToRegExp(pattern: string): RegExp {
    const esc = pattern
        .replace(/[.+^${}()|\\]/g, "\\$&")
        .replace(/\*/g, "[^/]*")
        .replace(/\?/g, "[^/]")
        .replace(/\[!/g, "[^");
    return new RegExp(`^${esc}$`);
}

export interface ContextDirective extends NginxDirective {
    /** Enclosing block names, outermost first: [] (main), ["http"], ["http", "server"], ... */
    context: string[];
    /** The enclosing directive (server, upstream...), if any. */
    parent?: ContextDirective;
}

/**
 * Every directive nginx loads, in load order, with its context: the main file walked with its includes
 * expanded (relative to the main file's directory, matched against the files in the dump).
 */
export function walkNginxConfig(dump: NginxDump): ContextDirective[] {
    // (include directives are listed too, before the directives they bring in)
    const parsed = new Map<string, NginxDirective[]>();
    const parse = (f: string) => {
        if (!parsed.has(f)) parsed.set(f, parseNginxFile(dump.files.get(f) ?? "", f));
        return parsed.get(f)!;
    };
    const prefix = dump.main.replace(/\/[^/]*$/, "");
    const out: ContextDirective[] = [];
    const seen: string[] = [];
    const walk = (list: NginxDirective[], context: string[], parent: ContextDirective | undefined) => {
        for (const d of list) {
            if (d.name === "include" && d.args[0]) {
                out.push({ ...d, context, parent });
                const pat = d.args[0].startsWith("/") ? d.args[0] : `${prefix}/${d.args[0]}`;
                const re = globToRegExp(pat);
                const matches = [...dump.files.keys()].filter((f) => re.test(f)).sort();
                for (const f of matches) {
                    if (seen.includes(f)) throw new Error(`${d.file}:${d.line}: include loop through ${f}`);
                    seen.push(f);
                    walk(parse(f), context, parent);
                    seen.pop();
                }
                continue;
            }
            const c: ContextDirective = { ...d, context, parent };
            out.push(c);
            if (d.block) walk(d.block, [...context, d.name], c);
        }
    };
    walk(parse(dump.main), [], undefined);
    return out;
}

/** Whether a file at `path` would be read at http level (an `include` glob in the http block matches it). */
export function includedAtHttp(dump: NginxDump, path: string): boolean {
    const prefix = dump.main.replace(/\/[^/]*$/, "");
    return walkNginxConfig(dump).some(
        (d) =>
            d.name === "include" &&
            d.context.length === 1 &&
            d.context[0] === "http" &&
            globToRegExp(d.args[0].startsWith("/") ? d.args[0] : `${prefix}/${d.args[0]}`).test(path),
    );
}

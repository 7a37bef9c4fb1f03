// Lengths of files and functions for the house rules (test/unit/project/house-rules.test.ts), with the TypeScript
// compiler's parser.
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import * as ts from "typescript";

export interface Measured {
    file: string;
    name: string;
    line: number;
    lines: number;
}

/** Tracked .ts/.js/.mjs sources outside test/ (the tree as git sees it, so stray local files do not count). */
export function sources(root: string): string[] {
    return execFileSync("git", ["-C", root, "ls-files"], { encoding: "utf8" })
        .split("\n")
        .filter((f) => /\.(ts|js|mjs)$/.test(f) && !f.startsWith("test/") && fs.existsSync(path.join(root, f)));
}

export function fileLines(text: string): number {
    if (text === "") return 0;
    return text.split("\n").length - (text.endsWith("\n") ? 1 : 0);
}

/** A function's name for the report: its own name, the variable or property it is assigned to, else "<arrow>". */
function ownName(node: ts.FunctionLikeDeclaration, sf: ts.SourceFile): string {
    if (ts.isConstructorDeclaration(node)) return "constructor";
    if (node.name) return node.name.getText(sf);
    const parent = node.parent;
    if ((ts.isVariableDeclaration(parent) || ts.isPropertyAssignment(parent)) && parent.name) {
        return parent.name.getText(sf);
    }
    return ts.isArrowFunction(node) ? "<arrow>" : "<function>";
}

/** Every function with a body (declarations, methods, constructors, accessors, arrows, expressions) and its length. */
export function measureFunctions(file: string, text: string): Measured[] {
    const sf = ts.createSourceFile(file, text, ts.ScriptTarget.ES2022, true);
    const found: Measured[] = [];
    const lineOf = (pos: number) => sf.getLineAndCharacterOfPosition(pos).line;
    const visit = (node: ts.Node, scope: string[]) => {
        let inner = scope;
        if (ts.isClassLike(node) && node.name) inner = [...scope, node.name.text];
        if (ts.isFunctionLike(node) && "body" in node && node.body) {
            inner = [...scope, ownName(node as ts.FunctionLikeDeclaration, sf)];
            const first = lineOf(node.getStart(sf));
            found.push({ file, name: inner.join("."), line: first + 1, lines: lineOf(node.getEnd()) - first + 1 });
        }
        ts.forEachChild(node, (child) => visit(child, inner));
    };
    visit(sf, []);
    return found;
}

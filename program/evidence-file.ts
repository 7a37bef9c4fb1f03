// Where `npm run narrow` keeps a stack's last evidence (.pinhole/evidence/<stack>.json, git-ignored), read
// back by the Pulumi program to warn at preview about narrowings that close a port something listens on.
import * as fs from "fs";
import * as path from "path";
import type { Evidence } from "../tools/narrow/narrow";
import { projectRoot } from "../tools/common/project-root";

export const EVIDENCE_DIR = path.join(projectRoot(), ".pinhole", "evidence");
export const evidenceFile = (stack: string, dir = EVIDENCE_DIR) =>
    path.join(dir, `${stack.replace(/[^A-Za-z0-9._-]/g, "_")}.json`);

export function writeEvidence(ev: Evidence, dir = EVIDENCE_DIR): string {
    fs.mkdirSync(dir, { recursive: true });
    const file = evidenceFile(ev.stack, dir);
    fs.writeFileSync(file, JSON.stringify(ev, null, 1) + "\n");
    return file;
}

/** The last evidence of a stack, or undefined when `npm run narrow` never ran here (or the file is unreadable). */
export function readEvidence(stack: string, dir = EVIDENCE_DIR): Evidence | undefined {
    try {
        const ev = JSON.parse(fs.readFileSync(evidenceFile(stack, dir), "utf8")) as Evidence;
        return Array.isArray(ev?.nodes) ? ev : undefined;
    } catch {
        return undefined;
    }
}

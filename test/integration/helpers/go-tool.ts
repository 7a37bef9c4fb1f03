// The test servers built from pinned Go modules by toolchain/go-tool.sh (pebble for acme.test, gofakes3 for
// team-backend.test): built once into the toolchain cache, the binary's path returned.
import { spawnSync } from "child_process";
import * as path from "path";
import { PROJECT_ROOT } from "../../../tools/common/pulumi-env";

/** Builds (or finds in the cache) the tool pinned in toolchain/<dir>/go.mod; throws with go's output on a failure. */
export function goTool(dir: string, pkg: string): string {
    const r = spawnSync("bash", [path.join(PROJECT_ROOT, "toolchain", "go-tool.sh"), dir, pkg], { encoding: "utf8" });
    if (r.status !== 0) throw new Error(`toolchain/go-tool.sh ${dir} ${pkg} failed (exit ${r.status}):\n${r.stderr}`);
    return r.stdout.trim().split("\n").pop()!;
}

export const pebbleBinary = () => goTool("pebble", "github.com/letsencrypt/pebble/v2/cmd/pebble");
export const s3ServerBinary = () => goTool("s3", "github.com/johannesboyne/gofakes3/cmd/gofakes3");

// Fixed costs of one run, each measured alone (the bench prints them after the first size).
import { spawn, spawnSync } from "child_process";
import * as path from "path";
import { runScript, SshConnectionInput } from "../../remote/ssh";
import { PROJECT_ROOT, pulumiDir } from "../common/pulumi-env";

/** Fixed costs, each measured alone: CLI start, provider plugin start (compiled), program modules (compiled), one SSH session. */
export async function micro(
    env: Record<string, string>,
    conn: SshConnectionInput | undefined,
): Promise<Record<string, number>> {
    const out: Record<string, number> = {};
    const med = async (k: string, n: number, fn: () => Promise<void> | void) => {
        const v: number[] = [];
        for (let i = 0; i < n; i++) {
            const t = Date.now();
            await fn();
            v.push(Date.now() - t);
        }
        out[k] = v.sort((a, b) => a - b)[Math.floor(v.length / 2)];
    };
    await med("pulumi CLI start (pulumi version)", 3, () => {
        spawnSync(path.join(pulumiDir(), "pulumi"), ["version"], { env: { ...process.env, ...env } });
    });
    await med(
        "provider plugin start (compiled, until it serves)",
        3,
        () =>
            new Promise<void>((resolve) => {
                const p = spawn(
                    path.join(PROJECT_ROOT, "provider", "bin", "pulumi-resource-pinhole"),
                    ["127.0.0.1:1"],
                    { stdio: ["ignore", "pipe", "ignore"] },
                );
                p.stdout.once("data", () => {
                    p.kill("SIGKILL");
                    resolve();
                });
                p.on("exit", () => resolve());
            }),
    );
    await med("program modules load (compiled: @pulumi/pulumi, components, model)", 3, () => {
        spawnSync(
            process.execPath,
            [
                "-e",
                "require('../../scripts/dist/components/cluster'); require('../../scripts/dist/model/config'); require('../../scripts/dist/model/matrix')",
            ],
            { cwd: PROJECT_ROOT },
        );
    });
    if (conn)
        await med("one SSH session to a node (handshake + true)", 5, async () => {
            await runScript(conn, "true\n");
        });
    return out;
}

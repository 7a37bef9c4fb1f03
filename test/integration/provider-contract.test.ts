// The provider contract with the real engine on the unified lab: a stack created by the code before the
// contract (its default provider's state full of stack config) upgrades with only its provider's state
// rewritten by the provider change (nothing replaced);
// the provider's state holds none of the program's stack config; `preview --diff` after a hand-made change (with or without refresh) shows that node's
// changed rules in detail; an SSH key rotation updates state without touching any ruleset or nginx.
import { expect } from "chai";
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as yaml from "js-yaml";
import { EngineEvent, LocalWorkspace, Stack } from "@pulumi/pulumi/automation";
import { labDown, labUp, LabStatus } from "../../lab";
import { AUTHORIZED_KEYS } from "../../lab/state";
import { normaliseListing } from "../../render/nftables";
import { OWNER_FILE } from "../../remote/firewall-scripts";
import { runScript } from "../../remote/ssh";
import { specOf } from "../../provider/schema";
import { PROJECT_ROOT, usePulumiEnv } from "../../tools/common/pulumi-env";

const log = (m: string) => process.stderr.write(`      · ${m}\n`);
/** The last commit of main before the provider contract (the default provider then held the stack config). */
const PRE_CONTRACT = "f5a8d6d1e2e7ea54bbeaa4ae3cd07df381f96d25";
const quiet = { onOutput: () => undefined };

interface ExportedResource {
    urn: string;
    type: string;
    inputs?: Record<string, unknown>;
    outputs?: Record<string, unknown>;
}
async function exported(stack: Stack): Promise<ExportedResource[]> {
    const d = await stack.exportStack();
    return (d.deployment as { resources: ExportedResource[] }).resources;
}

function nodeOf(lab: LabStatus, name: string) {
    const n = lab.nodes.find((x) => x.name === name);
    if (!n) throw new Error(`lab has no node ${name}`);
    return n;
}

function liveTable(lab: LabStatus, node: string): string {
    return normaliseListing(
        execFileSync(
            "ip",
            ["netns", "exec", nodeOf(lab, node).netns, "nft", "-s", "list", "table", "inet", "pinhole"],
            { encoding: "utf8" },
        ),
    );
}

/** nginx's worker processes on a node: a reload replaces them. */
function nginxWorkers(lab: LabStatus, node: string): string {
    const ns = nodeOf(lab, node).netns;
    const pids = execFileSync("ip", ["netns", "pids", ns], { encoding: "utf8" }).split(/\s+/).filter(Boolean);
    return pids
        .filter((p) => {
            try {
                return /nginx: worker process/.test(fs.readFileSync(`/proc/${p}/cmdline`, "utf8").replace(/\0/g, " "));
            } catch {
                return false;
            }
        })
        .sort()
        .join(",");
}

const touched = (events: EngineEvent[], type: string) =>
    events
        .filter((e) => e.resourcePreEvent?.metadata.type === type && e.resourcePreEvent.metadata.op !== "same")
        .map((e) => `${e.resourcePreEvent!.metadata.urn.split("::").pop()}:${e.resourcePreEvent!.metadata.op}`)
        .sort();

describe("provider contract on the lab (real engine)", function () {
    this.timeout(1_800_000);
    let env: Record<string, string>;
    let lab: LabStatus;
    let stack: Stack;

    let oldCheckout: string | undefined;

    before(async () => {
        env = usePulumiEnv();
        // IPv4 only: the old checkouts this test runs predate the dual-stack lab
        lab = await labUp({ model: "unified", nodes: 3, ipv6: false, log, stack: "test-contract" });
        stack = await LocalWorkspace.selectStack({ stackName: lab.stack!, workDir: PROJECT_ROOT }, { envVars: env });
    });
    let originalKeys: string | undefined;
    after(async () => {
        await stack?.destroy({ continueOnError: true, ...quiet }).catch(() => undefined);
        if (originalKeys !== undefined) fs.writeFileSync(AUTHORIZED_KEYS, originalKeys);
        if (oldCheckout)
            execFileSync("git", ["-C", PROJECT_ROOT, "worktree", "remove", "--force", oldCheckout], {
                stdio: "ignore",
            });
        await labDown({ log: () => undefined });
    });

    it("a stack created before the contract upgrades: the provider's state is rewritten, no resource is replaced or changed by it, then previews no changes", async function () {
        try {
            execFileSync("git", ["-C", PROJECT_ROOT, "cat-file", "-e", `${PRE_CONTRACT}^{commit}`], {
                stdio: "ignore",
            });
        } catch {
            this.skip(); // a shallow clone without the commit (the test needs the code as it was)
        }
        // The code as it was, on the same backend and stack config: its provider took the whole stack config.
        oldCheckout = fs.mkdtempSync(path.join(os.tmpdir(), "pinhole-pre-contract-"));
        fs.rmdirSync(oldCheckout);
        execFileSync("git", ["-C", PROJECT_ROOT, "worktree", "add", "--detach", oldCheckout, PRE_CONTRACT], {
            stdio: "ignore",
        });
        fs.symlinkSync(path.join(PROJECT_ROOT, "node_modules"), path.join(oldCheckout, "node_modules"));
        // The old validator refuses keys added since; the one the lab writes, certificates.frontEnd: whole-site,
        // is what the old code always did.
        const file = yaml.load(fs.readFileSync(lab.stackFile!, "utf8")) as {
            config: Record<string, Record<string, unknown>>;
        };
        expect(file.config["pinhole:certificates"]?.frontEnd).to.equal("whole-site");
        delete file.config["pinhole:certificates"].frontEnd;
        fs.writeFileSync(path.join(oldCheckout, "stacks", path.basename(lab.stackFile!)), yaml.dump(file));
        const oldStack = await LocalWorkspace.selectStack(
            { stackName: lab.stack!, workDir: oldCheckout },
            { envVars: env },
        );
        let oldOut = "";
        const oldUp = await oldStack
            .up({
                onOutput: (o) => {
                    oldOut += o;
                },
            })
            .catch((e: Error) => {
                throw new Error(
                    `the pre-contract code's up failed: ${e.message}\n--- its output:\n${oldOut.split("\n").slice(-60).join("\n")}`,
                );
            });
        expect(oldUp.summary.result).to.equal("succeeded");
        const oldProvider = (await exported(stack)).find((r) => r.type === "pulumi:providers:pinhole")!;
        expect(Object.keys(oldProvider.inputs ?? {})).to.include.members(["nodes", "networks", "sshPrivateKey"]);
        const appliedAt = async () =>
            new Map(
                (await exported(stack))
                    .filter((r) => /pinhole:node:/.test(r.type))
                    .map((r) => [r.urn, r.outputs?.appliedAt]),
            );
        const before = await appliedAt();

        const events: EngineEvent[] = [];
        await stack.preview({ onEvent: (e) => events.push(e) });
        const steps = events.filter((e) => e.resourcePreEvent).map((e) => e.resourcePreEvent!.metadata);
        // The provider's own state is rewritten (its stack config dropped): an update, never a replacement.
        expect(steps.filter((m) => m.type === "pulumi:providers:pinhole").map((m) => m.op)).to.deep.equal(["update"]);
        // The model changed since that commit (rules, TLS profile, new component parents), so resources may be
        // updated, but only where an input of theirs changed: nothing is replaced or deleted, and no update
        // names a property that is not an input (e.g. frontEnd, absent from the old state, is its default).
        const custom = steps.filter((m) => specOf(m.type));
        // The proof after apply (on by default) came after that commit: its Proof is created, not upgraded.
        const proof = (m: { type: string; op: string }) => m.type === "pinhole:node:Proof" && m.op === "create";
        expect(
            custom.filter((m) => !["same", "update"].includes(m.op) && !proof(m)).map((m) => `${m.urn}:${m.op}`),
        ).to.deep.equal([]);
        expect(
            steps
                .filter(
                    (m) =>
                        !specOf(m.type) && m.type !== "pulumi:providers:pinhole" && !["same", "create"].includes(m.op),
                )
                .map((m) => `${m.urn}:${m.op}`),
        ).to.deep.equal([]);
        for (const m of custom.filter((x) => x.op === "update")) {
            const inputs = Object.keys(specOf(m.type)!.inputs);
            const keys = [...new Set(Object.keys(m.detailedDiff ?? {}).map((k) => k.split(/[.[]/)[0]))];
            expect(keys, m.urn).to.not.deep.equal([]);
            expect(
                keys.filter((k) => !inputs.includes(k)),
                `${m.urn} changes`,
            ).to.deep.equal([]);
        }
        const same = custom.filter((m) => m.op === "same" && /pinhole:node:/.test(m.type)).map((m) => m.urn);
        log(
            `upgrade preview: ${custom.filter((m) => m.op === "update").length} resource(s) updated for changed inputs, ${same.length} node resource(s) unchanged`,
        );
        expect((await stack.up(quiet)).summary.result).to.equal("succeeded");
        await stack.preview({ expectNoChanges: true });
        const after = await appliedAt();
        for (const urn of same) expect(after.get(urn), `${urn} not re-applied`).to.equal(before.get(urn));
    });

    it("stack export: the provider's inputs and outputs hold nothing of the program's stack config", async () => {
        expect((await stack.up(quiet)).summary.result).to.equal("succeeded");
        const providers = (await exported(stack)).filter((r) => r.type === "pulumi:providers:pinhole");
        expect(providers).to.have.length.greaterThan(0);
        for (const p of providers) {
            expect(
                Object.keys(p.inputs ?? {}).filter((k) => k !== "version"),
                `${p.urn} inputs`,
            ).to.deep.equal([]);
            expect(
                Object.keys(p.outputs ?? {}).filter((k) => k !== "version"),
                `${p.urn} outputs`,
            ).to.deep.equal([]);
        }
        await stack.preview({ expectNoChanges: true });
    });

    it("preview --diff after a rule added by hand and refresh: that node's firewall only, with the rule", async () => {
        const node = lab.nodes[0].name;
        execFileSync("ip", [
            "netns",
            "exec",
            nodeOf(lab, node).netns,
            "nft",
            "insert",
            "rule",
            "inet",
            "pinhole",
            "input",
            "tcp",
            "dport",
            "3306",
            "accept",
        ]);
        await stack.refresh(quiet);
        const events: EngineEvent[] = [];
        let out = "";
        await stack.preview({
            diff: true,
            onEvent: (e) => events.push(e),
            onOutput: (o) => {
                out += o;
            },
        });
        expect(touched(events, "pinhole:node:Firewall")).to.deep.equal([`${node}-firewall-nft:update`]);
        const pre = events.find(
            (e) =>
                e.resourcePreEvent?.metadata.type === "pinhole:node:Firewall" &&
                e.resourcePreEvent.metadata.op === "update",
        )!;
        expect(pre.resourcePreEvent!.metadata.detailedDiff).to.deep.equal({
            drift: { diffKind: "delete", inputDiff: false },
        });
        expect(out).to.match(/rulesAddedOnNode/);
        expect(out).to.match(/tcp dport 3306 accept/);
        await stack.up(quiet);
        expect(liveTable(lab, node)).to.not.match(/dport 3306 accept/);
        await stack.preview({ expectNoChanges: true });
    });

    it("preview --diff after a rule added by hand, no refresh: the live check shows that node's firewall only, with the rule", async () => {
        const node = lab.nodes[2].name;
        const nft = "nft insert rule inet pinhole input tcp dport 3307 accept".split(" ");
        execFileSync("ip", ["netns", "exec", nodeOf(lab, node).netns, ...nft]);
        const events: EngineEvent[] = [];
        let out = "";
        await stack.preview({
            diff: true,
            onEvent: (e) => events.push(e),
            // --diff prints diagnostics on stderr
            onError: (o) => {
                out += o;
            },
            onOutput: (o) => {
                out += o;
            },
        });
        expect(touched(events, "pinhole:node:Firewall")).to.deep.equal([`${node}-firewall-nft:update`]);
        const warned = events.flatMap((e) =>
            e.diagnosticEvent?.urn?.endsWith(`::${node}-firewall-nft`) ? [e.diagnosticEvent.message] : [],
        );
        expect(warned.join("\n"), out.slice(-3000)).to.match(
            /live table .*\n\s+rules added on the node:\n\s+tcp dport 3307 accept/,
        );
        expect(out).to.contain("tcp dport 3307 accept");
        await stack.up(quiet);
        expect(liveTable(lab, node)).to.not.match(/dport 3307 accept/);
        await stack.preview({ expectNoChanges: true });
    });

    it("pulumi import of a hand-configured node's firewall by its node name, then preview shows no changes", async () => {
        const node = lab.nodes[1].name;
        const fw = (await exported(stack)).find(
            (r) => r.type === "pinhole:node:Firewall" && r.outputs?.node === node,
        )! as ExportedResource & { parent: string };
        const ruleset = String(fw.inputs!.ruleset); // the state keeps it among the inputs only
        const cli = (args: string[]) =>
            execFileSync("pulumi", [...args, "--stack", lab.stack!, "--cwd", PROJECT_ROOT], {
                env: { ...process.env, ...env },
                encoding: "utf8",
                stdio: ["ignore", "pipe", "pipe"],
            });
        // The Proof depends on every Firewall (state delete refuses to leave it dangling) and would run again after
        // the import: this case runs without it; the next case's up creates it again.
        await stack.setConfig("pinhole:proof.enabled", { value: "false" }, true);
        expect((await stack.up(quiet)).summary.result).to.equal("succeeded");
        // The node leaves pinhole's state and gets the same rules by hand (no owner marker): a hand-configured node.
        cli(["state", "delete", fw.urn, "--yes"]);
        const n = nodeOf(lab, node);
        const r = await runScript(
            {
                host: n.sshHost,
                port: n.sshPort,
                user: n.sshUser,
                hostKey: n.hostKey,
                sudo: n.sudo,
                privateKey: fs.readFileSync(lab.sshKey, "utf8"),
                node,
            },
            `rm -f ${OWNER_FILE}\nnft delete table inet pinhole\nnft -f - <<'EOF'\n${ruleset}\nEOF\n`,
        );
        expect(r.code, r.stderr).to.equal(0);
        const handMade = liveTable(lab, node);

        let refused = "";
        try {
            cli([
                "import",
                "pinhole:node:Firewall",
                `${node}-firewall-nft`,
                "no-such-node",
                "--parent",
                `parent=${fw.parent}`,
                "--yes",
                "--generate-code=false",
            ]);
        } catch (e) {
            const x = e as { stdout?: string; stderr?: string };
            refused = `${x.stdout ?? ""}\n${x.stderr ?? ""}`;
        }
        expect(refused).to.match(/has no node "no-such-node" \(the import ID is the node's name: one of /);
        expect(refused).to.not.match(/\n\s+at /); // an expected failure: no stack trace

        cli([
            "import",
            "pinhole:node:Firewall",
            `${node}-firewall-nft`,
            node,
            "--parent",
            `parent=${fw.parent}`,
            "--yes",
            "--generate-code=false",
        ]);
        const imported = (await exported(stack)).find(
            (x) => x.type === "pinhole:node:Firewall" && x.outputs?.node === node,
        )!;
        expect(imported.urn).to.equal(fw.urn);
        expect(imported.outputs!.drift).to.deep.equal({ rulesAddedOnNode: [], rulesMissingOnNode: [] });
        await stack.preview({ expectNoChanges: true });
        expect(liveTable(lab, node)).to.equal(handMade);
        // The default (on) again; the whole key, not `pinhole:proof: {}`: the next run's old checkout refuses the key.
        await stack.removeConfig("pinhole:proof");
    });

    it("SSH key rotation: previews as a privateKey change, applies without touching any ruleset or nginx", async () => {
        const tables = Object.fromEntries(lab.nodes.map((n) => [n.name, liveTable(lab, n.name)]));
        const workers = Object.fromEntries(lab.nodes.map((n) => [n.name, nginxWorkers(lab, n.name)]));
        const appliedAt = (rs: ExportedResource[]) =>
            rs
                .filter((r) => /pinhole:node:(Firewall|WebServer)/.test(r.type))
                .map((r) => `${r.urn}=${r.outputs?.appliedAt}`)
                .sort();
        const before = appliedAt(await exported(stack));
        originalKeys = fs.readFileSync(AUTHORIZED_KEYS, "utf8");
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "pinhole-rotate-"));
        try {
            const keyFile = path.join(dir, "key");
            execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", "pinhole-rotated", "-f", keyFile]);
            const pub = fs.readFileSync(`${keyFile}.pub`, "utf8").trim();
            // Rotation: the nodes accept the new key, the stack switches to it, the old one is removed from the nodes.
            fs.writeFileSync(AUTHORIZED_KEYS, `${originalKeys.trimEnd()}\n${pub}\n`);
            await stack.setConfig("pinhole:sshPrivateKey", { value: fs.readFileSync(keyFile, "utf8"), secret: true });
            fs.writeFileSync(AUTHORIZED_KEYS, `${pub}\n`);

            const events: EngineEvent[] = [];
            await stack.preview({ onEvent: (e) => events.push(e) });
            const updates = events.filter(
                (e) => e.resourcePreEvent && /pinhole:node:(Firewall|WebServer)/.test(e.resourcePreEvent.metadata.type),
            );
            expect(updates.length).to.be.greaterThan(lab.nodes.length - 1);
            for (const e of updates) {
                expect(e.resourcePreEvent!.metadata.op, e.resourcePreEvent!.metadata.urn).to.equal("update");
                expect(e.resourcePreEvent!.metadata.detailedDiff, e.resourcePreEvent!.metadata.urn).to.deep.equal({
                    privateKey: { diffKind: "update", inputDiff: false },
                });
            }
            const up = await stack.up(quiet);
            expect(up.summary.result).to.equal("succeeded");
            for (const n of lab.nodes) {
                expect(liveTable(lab, n.name), `${n.name} table`).to.equal(tables[n.name]);
                expect(nginxWorkers(lab, n.name), `${n.name} nginx workers`).to.equal(workers[n.name]);
            }
            expect(appliedAt(await exported(stack))).to.deep.equal(before);
            await stack.preview({ expectNoChanges: true });
        } finally {
            // Both keys until the stack is destroyed (its state holds the new one); after() restores the file.
            if (fs.existsSync(`${path.join(dir, "key")}.pub`))
                fs.writeFileSync(
                    AUTHORIZED_KEYS,
                    `${originalKeys.trimEnd()}\n${fs.readFileSync(`${path.join(dir, "key")}.pub`, "utf8")}`,
                );
            fs.rmSync(dir, { recursive: true, force: true });
        }
    });
});

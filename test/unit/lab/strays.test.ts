import { expect } from "chai";
import {
    bootFailureHint,
    checkoutOf,
    classifyContainer,
    inotifyShortage,
    INOTIFY_PER_BOOTED_NODE,
    isContainerInit,
    isStrayProcess,
    ProcView,
    StrayFacts,
    strayContainers,
    SweepContext,
} from "../../../lab/strays";

// The sweeper: pid namespace "P0" (depth 1), root network namespace "N0", in checkout /w/a.
const ctx: SweepContext = {
    self: { pidNs: "P0", depth: 1, net: "N0" },
    labNetns: new Map([
        ["N1", "phlab-app-1"],
        ["N2", "phlab-db-1"],
    ]),
    kept: new Set(["N2"]),
    labDir: "/w/a/.lab",
};
const SYSTEMD = "/usr/lib/systemd/systemd";
const nspawnArgv = (checkout: string, node: string) => [
    "systemd-nspawn",
    "--quiet",
    "--boot",
    `--directory=${checkout}/.lab/nodes/${node}/boot/root`,
    `--network-namespace-path=/run/netns/phlab-${node}`,
];
const p = (pid: number, o: Partial<ProcView>): ProcView => ({
    pid,
    ppid: 1,
    argv: ["sleep", "1"],
    net: "N0",
    pidNs: "P0",
    nsPid: [pid],
    ...o,
});

// supervisors (sh …/supervise.sh) and nspawns in our pid namespace, root network namespace
const procs: ProcView[] = [
    p(1, { argv: ["/sbin/init"], nsPid: [1] }),
    p(10, { argv: ["/bin/sh", "/w/b/.lab/nodes/app-1/boot/supervise.sh"] }),
    p(11, { ppid: 10, argv: nspawnArgv("/w/b", "app-1") }),
    p(20, { argv: ["/bin/sh", "/w/a/.lab/nodes/db-1/boot/supervise.sh"] }),
    p(21, { ppid: 20, argv: nspawnArgv("/w/a", "db-1") }),
    p(30, { argv: ["/bin/sh", "/w/c/.lab/nodes/proxy-1/boot/supervise.sh"] }),
    p(31, { ppid: 30, argv: nspawnArgv("/w/c", "proxy-1") }),
    // a sandbox (pid namespace PS) running its own booted lab: nspawn inside it
    p(40, { argv: ["bash", "scripts/lab-sandbox.sh"], pidNs: "PS", nsPid: [40, 1], net: "NS" }),
    p(41, { ppid: 40, argv: nspawnArgv("/w/d", "app-1"), pidNs: "PS", nsPid: [41, 5], net: "NS" }),
];
const init = (pid: number, o: Partial<ProcView>): ProcView => p(pid, { argv: [SYSTEMD], nsPid: [pid, 1], ...o });

const cases: { name: string; proc: ProcView; kind: string; stop?: number[]; netns?: string; checkout?: string }[] = [
    {
        name: "the machine's own init (our pid namespace)",
        proc: p(1, { argv: ["/sbin/init"], nsPid: [1] }),
        kind: "host",
    },
    {
        name: "systemd in our pid namespace that is not pid 1 of a child namespace",
        proc: p(7, { argv: [SYSTEMD], nsPid: [7] }),
        kind: "host",
    },
    {
        name: "a user's systemd --user",
        proc: p(8, { argv: [SYSTEMD, "--user"], pidNs: "PX", nsPid: [8, 1] }),
        kind: "none",
    },
    {
        name: "not an init at all",
        proc: p(9, { argv: ["nginx"], pidNs: "PX", nsPid: [9, 1], net: "N1" }),
        kind: "none",
    },
    {
        name: "systemd that is not its namespace's pid 1",
        proc: p(12, { argv: [SYSTEMD], pidNs: "PX", nsPid: [12, 4], net: "N1" }),
        kind: "none",
    },
    {
        name: "another checkout's container in a listed lab namespace: stray, supervisor first",
        proc: init(100, { ppid: 11, pidNs: "P1", net: "N1" }),
        kind: "stray",
        stop: [10, 11, 100],
        netns: "phlab-app-1",
        checkout: "/w/b",
    },
    {
        name: "our own container in a namespace the up keeps: tracked",
        proc: init(101, { ppid: 21, pidNs: "P2", net: "N2" }),
        kind: "tracked",
    },
    {
        name: "a container of a deleted namespace (killed run), known by its nspawn's arguments",
        proc: init(102, { ppid: 31, pidNs: "P3", net: "N9" }),
        kind: "stray",
        stop: [30, 31, 102],
        netns: "phlab-proxy-1",
        checkout: "/w/c",
    },
    {
        name: "an orphaned container (nspawn gone) in a deleted namespace with a lab address",
        proc: init(103, { ppid: 1, pidNs: "P4", net: "N8", labAddress: true }),
        kind: "stray",
        stop: [103],
    },
    {
        name: "an orphaned container with nothing of the lab: unrelated",
        proc: init(104, { ppid: 1, pidNs: "P5", net: "N7" }),
        kind: "unrelated",
    },
    {
        name: "a container in our own network namespace: unrelated",
        proc: init(105, { ppid: 1, pidNs: "P6", net: "N0", labAddress: true }),
        kind: "unrelated",
    },
    {
        name: "a sandbox's container (pid namespace nested in the sandbox's): foreign",
        proc: init(106, { ppid: 41, pidNs: "P7", nsPid: [106, 9, 1], net: "N1" }),
        kind: "foreign",
    },
    {
        name: "a container started from another pid namespace: foreign",
        proc: init(107, { ppid: 41, pidNs: "P8", net: "N1" }),
        kind: "foreign",
    },
    {
        name: "our container in a listed namespace the up does not keep: stray",
        proc: init(108, { ppid: 21, pidNs: "P9", net: "N1" }),
        kind: "stray",
        stop: [20, 21, 108],
        netns: "phlab-app-1",
        checkout: "/w/a",
    },
];

describe("lab stray booted containers (pure classification)", () => {
    const byPid = new Map([...procs, ...cases.map((c) => c.proc)].map((x) => [x.pid, x]));
    for (const c of cases) {
        it(c.name, () => {
            const v = classifyContainer(c.proc, byPid, ctx);
            expect(v.kind).to.equal(c.kind);
            if (v.kind === "stray") {
                expect(v.stop).to.deep.equal(c.stop);
                expect(v.netns).to.equal(c.netns);
                expect(v.checkout).to.equal(c.checkout);
                expect(v.why).to.be.a("string").and.not.equal("");
            }
        });
    }

    it("strayContainers lists only the strays, in /proc order", () => {
        const all = [...procs, ...cases.map((c) => c.proc)];
        expect(strayContainers(all, ctx).map((s) => s.pid)).to.deep.equal([100, 102, 103, 108]);
    });

    it("isContainerInit: exactly the init's path, pid 1 of a child pid namespace", () => {
        expect(isContainerInit(init(1, {}))).to.equal(true);
        expect(isContainerInit(p(1, { argv: [SYSTEMD], nsPid: [1] }))).to.equal(false);
        expect(isContainerInit(p(1, { argv: [SYSTEMD, "--system"], nsPid: [5, 1] }))).to.equal(false);
    });

    it("checkoutOf: the directory before /.lab/nodes/", () => {
        expect(checkoutOf("/work/wt/x/.lab/nodes/app-1/boot/root")).to.equal("/work/wt/x");
        expect(checkoutOf("/var/lib/machines/x")).to.equal(undefined);
        expect(checkoutOf(undefined)).to.equal(undefined);
    });
});

describe("lab stray processes (pure)", () => {
    const f = (o: Partial<StrayFacts>): StrayFacts => ({
        ownPidNs: false,
        childPidNs: false,
        sandboxPidNs: false,
        refersToLab: false,
        labAddress: false,
        ...o,
    });
    const table: [string, StrayFacts, boolean, boolean][] = [
        ["our pid namespace, runs from .lab/", f({ ownPidNs: true, refersToLab: true }), false, true],
        ["our pid namespace, lab address", f({ ownPidNs: true, labAddress: true }), false, true],
        ["our pid namespace, nothing of the lab", f({ ownPidNs: true }), false, false],
        [
            "a node's pid namespace (deleted netns): its sshd with a lab address",
            f({ childPidNs: true, labAddress: true }),
            false,
            true,
        ],
        ["a node's pid namespace: nginx mounting .lab/nodes/", f({ childPidNs: true, refersToLab: true }), false, true],
        [
            "a sandbox's own processes, seen from the host",
            f({ childPidNs: true, sandboxPidNs: true, labAddress: true }),
            false,
            false,
        ],
        [
            "a sandbox's nodes, seen from inside it",
            f({ childPidNs: true, sandboxPidNs: true, labAddress: true }),
            true,
            true,
        ],
        [
            "nested deeper (a sandbox's nodes seen from the host)",
            f({ labAddress: true, refersToLab: true }),
            false,
            false,
        ],
    ];
    for (const [name, facts, inside, want] of table)
        it(`${name}: ${want ? "stray" : "left alone"}`, () => expect(isStrayProcess(facts, inside)).to.equal(want));
});

describe("lab inotify check (pure)", () => {
    const base = { limit: 128, strays: 0, sandbox: false };
    it("enough free instances: no message", () => {
        expect(inotifyShortage({ ...base, free: 8 * INOTIFY_PER_BOOTED_NODE, nodes: 8 })).to.equal(undefined);
    });
    it("short: names the limit, the need, the symptom and the fix", () => {
        const m = inotifyShortage({ ...base, free: 3, nodes: 8 })!;
        expect(m).to.contain("fs.inotify.max_user_instances = 128");
        expect(m).to.contain(`need about ${8 * INOTIFY_PER_BOOTED_NODE}`);
        expect(m).to.contain("Failed to create inotify object");
        expect(m).to.contain("sysctl -w fs.inotify.max_user_instances=512");
    });
    it("inside the sandbox: says the strays may be on the host, and how to stop them there", () => {
        const m = inotifyShortage({ ...base, free: 0, nodes: 2, sandbox: true })!;
        expect(m).to.contain("scripts/lab-sandbox.sh").and.contain("npm run lab -- down");
    });
    it("after a sweep: says the strays were stopped and it is still short", () => {
        expect(inotifyShortage({ ...base, free: 0, nodes: 2, strays: 3 })).to.contain("3 stray booted lab containers");
    });
});

describe("lab booted node's console (pure)", () => {
    it("systemd out of inotify instances: explains the cause and the fix", () => {
        const h = bootFailureHint(
            "systemd 252 running in system mode\nFailed to create inotify object: Too many open files\n",
        );
        expect(h).to.contain("fs.inotify.max_user_instances").and.contain("npm run lab -- down");
    });
    it("any other failure: no hint", () => {
        expect(bootFailureHint("Failed to mount /proc: Permission denied")).to.equal(undefined);
    });
});

// Every command's usage text, in one light module (it loads nothing heavy: tools/common/help-gate.ts prints these for
// --help before an entry point loads the engine SDK, the lab or SSH; nothing is set up, nothing is written).
import { LAB_MODELS } from "../../lab/shapes";

export const START_MODELS = ["standalone", "unified", "modular", "multisite"] as const;
export type StartModel = (typeof START_MODELS)[number];

export const START_USAGE = `usage: npm start [-- --model <${START_MODELS.join("|")}>] [--verbose] [--parallel N] [--no-probes] [--backend URL]
  set-up, bring up the local lab (default: modular), pulumi up its stack (lab-<model>), verify it live, summarise.
  --backend URL the state backend for this run, as PULUMI_BACKEND_URL (default: the local file backend .pulumi/state),
                e.g. s3://pinhole-state?endpoint=http://127.0.0.1:9000&use_path_style=true&region=us-east-1
  --verbose     stream the engine's own output instead of one line per resource
  --parallel N  caps the engine's resource parallelism (default: PULUMI_PARALLEL, 256 in scripts/env.sh: every ready step)
  --no-probes   verify tables and certificates only`;

export const MATRIX_USAGE =
    "usage: npm run matrix -- --stack <name> [--json] [--dir <stacks dir, default <project>/stacks>]";

export const VERIFY_USAGE = `usage: npm run verify -- --stack <name> [--json] [--verbose] [--no-probes] [--forbidden N] [--probe-timeout S]
                         [--ssh-key FILE] [--concurrency N] [--dir <stacks dir>] [--drops [--since TIME]]
  --ssh-key FILE   use this private key instead of the stack's secret pinhole:sshPrivateKey (also: PINHOLE_SSH_KEY_FILE)
  --drops          also list per node the top dropped peer/port pairs of its drop log (journalctl -k, else dmesg)
  --since TIME     since when: 2026-12-03T06:00Z (UTC unless an offset is given) or an age: 90s, 30m, 2h, 1d (default 1h)
  exit 0 = everything matches, 1 = mismatch (listed by node and rule), 2 = config/stack problem`;

export const NARROW_USAGE = `usage: npm run narrow -- --stack <name> [--window S] [--json] [--ssh-key FILE]
  --window S      seconds of traffic to watch on every node (default 30)
  --ssh-key FILE  use this private key instead of the stack's secret pinhole:sshPrivateKey (also: PINHOLE_SSH_KEY_FILE)`;

export const BENCH_USAGE =
    "usage: npm run bench -- [--sizes 6,12,24,48,96] [--json FILE] [--parallel N] [--sudo] [--keep-lab] [--no-ansible]";

export const LAB_USAGE = `usage: npm run lab -- <command> [options]

  up --model <${LAB_MODELS.join("|")}> [--nodes N] [--sudo-user [NODE,...|none]] [--ipv4-only|--ipv6|--ipv6-only] [--boot] [--services] [--no-secret] [--force]
        create (or repair) the lab; a lab of another model (or tier) is replaced. Writes stacks/Pulumi.lab-<model>.yaml.
        dual-stack by default: every node, vantage and external host has an IPv4 and an IPv6 address (fd77::/48, docs/lab.md)
        --ipv4-only: IPv4 addresses only; --ipv6: dual-stack on the booted tier too (--boot alone is IPv4 only)
        --ipv6-only: the nodes have IPv6 addresses only (SSH and the stack use them); vantages, external hosts and
        the provisioning host stay dual-stack. Not for multisite (IPv4 NAT), with --boot or with --ipv4-only
        --boot: the booted tier, each node a systemd-nspawn container booting systemd (docs/lab.md)
        --services: real services (chrony, slapd, sftp, snmptrapd, an HTTPS receiver) on the external hosts, snmpd on nodes
        --sudo-user: which nodes log in as the unprivileged user "pinhole" with sudo (default: the last
        unified/application node; standalone: none unless --sudo-user is given)
  status [--json]              nodes and vantages, addresses, pinned host keys, running or not
  probe [--json] [--from A,B] [--to C,D] [--self] [--tcp-timeout MS] [--udp-timeout MS]
        measure reachability: open / filtered / refused, from every node, vantage and the provisioning host
  reboot <node> [--force]      kill the node, flush its nftables, boot it (persisted firewall first)
  down [--purge] [--force]     remove everything (--purge: also the lab keypair, host keys, build cache in .lab/)
  bench [--model M] [--sizes 6,24,48] [--boot]
        time up/down and measure memory per node (--boot: the booted tier, plus a reboot of one node and disk per node)

  A process that brought the lab up (a test run) holds it until it calls down or exits; up/down/reboot from
  any other process wait for it (--force takes the lab anyway). Use \`npm run -s lab -- ... --json\` to pipe JSON.
`;

/** Entry point (path from the project root, no extension) → its usage. */
export const USAGE_BY_ENTRY: Readonly<Record<string, string>> = {
    "tools/start/main": START_USAGE,
    "tools/matrix/main": MATRIX_USAGE,
    "tools/verify/main": VERIFY_USAGE,
    "tools/narrow/main": NARROW_USAGE,
    "tools/bench/main": BENCH_USAGE,
    "lab/cli": LAB_USAGE,
};

/** Does this command line ask for help (anywhere: `npm run verify -- --stack x --help` too)? */
export function wantsHelp(argv: readonly string[]): boolean {
    return argv.includes("--help") || argv.includes("-h");
}

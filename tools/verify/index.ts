// `npm run verify` (main.ts is its command line): proves the live cluster matches the stack. The parts:
//   state.ts              the stack's state joined with what the config implies (before connecting anywhere)
//   firewall-check.ts     live nftables table vs the applied one (render/nft-listing.ts parses both)
//   certificate-check.ts  installed web certificate, key, site files and what nginx serves vs the state
//   findings.ts           one finding per check and node; probe results as findings (model/probes.ts judges)
//   report.ts             counts, probe matrix, text and JSON
//   run.ts                the I/O: Automation API, SSH (remote/), probes from every node (remote/probes.ts)
export * from "./state";
export * from "./firewall-check";
export * from "./certificate-check";
export * from "./findings";
export * from "./report";
export * from "./run";
export * from "./line-diff";
export { FORBIDDEN_CANDIDATES, judgeProbe, probePlan, udpExternalTargets } from "../../model/probes";
export type { ProbeOutcome, ProbeResultRow, ProbeTarget } from "../../model/probes";
export { parseProbeOutput, probeScript } from "../../remote/probe-script";
export { parseTable } from "../../render/nft-listing";
export type { ParsedChain, ParsedSet, ParsedTable } from "../../render/nft-listing";

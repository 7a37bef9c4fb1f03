// The deployment-model engine in one import: config → model → policy → matrix. Pure TypeScript, no Pulumi.
export * from "./types";
export * from "./net";
export * from "./uri";
export * from "./catalog";
export * from "./roles";
export * from "./policy";
export * from "./network-flows";
export * from "./external-flows";
export * from "./narrowings";
export * from "./service-list";
export * from "./reachability";
export * from "./config";
export * from "./matrix";

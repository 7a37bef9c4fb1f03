// Stack config → validated ClusterModel, or every problem at once, each with its config path.
// Schema: docs/stack-config.md. Nothing downstream ever sees a model that did not pass here. No I/O in model/:
// reading a stack (file or `pulumi config`) lives in tools/common/stack-file.ts.
//
//   parseClusterConfig(raw, opts)     raw = values keyed WITHOUT "pinhole:" (model, nodes, networks, ...)
//   stackConfigToRaw(configMap)       the `config:` map of a Pulumi.<stack>.yaml ("pinhole:"-prefixed keys)
//   parseStackConfig(configMap, opts) stackConfigToRaw + parseClusterConfig
export * from "./keys";
export { SecretRef, isSecretRef } from "./read";
export * from "./hostkey";
export * from "./parse";
export * from "./stack";
export * from "./format";

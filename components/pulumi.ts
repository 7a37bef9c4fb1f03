// The parts of the Pulumi SDK the program uses, from the SDK's own modules. The package's index also loads its
// automation API, whose closure serialisation loads the TypeScript compiler: 200-450 ms of every `pulumi` command
// for nothing the program does. The classes are the index's own (the same modules), so nothing else changes.
export * from "@pulumi/pulumi/config";
export * from "@pulumi/pulumi/errors";
export * from "@pulumi/pulumi/metadata";
export * from "@pulumi/pulumi/output";
export * from "@pulumi/pulumi/resource";
export * as log from "@pulumi/pulumi/log";
export { allConfig } from "@pulumi/pulumi/runtime/config";

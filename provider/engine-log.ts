// Warnings the provider shows on a resource through the engine (pulumirpc.Engine/Log, the address the engine
// passes the plugin as its first argument), e.g. a certificate's expiry notice while a preview plans its
// renewal (the program cannot show it then: the certificate it would read is the unknown new one).
// Without an engine address (tests, a plugin started by hand) the warning goes to stderr.
import * as grpc from "@grpc/grpc-js";
import * as engrpc from "@pulumi/pulumi/proto/engine_grpc_pb";
import * as engproto from "@pulumi/pulumi/proto/engine_pb";

/** The engine's address among the plugin's arguments ("127.0.0.1:PORT"; flags such as --logtostderr skipped). */
export function engineAddress(argv: readonly string[]): string | undefined {
    return argv.find((a) => /^(\[[0-9a-fA-F:]+\]|[A-Za-z0-9.-]+):\d{1,5}$/.test(a));
}

export type EngineLog = (urn: string, message: string) => Promise<void>;

/** A warning logger on the engine at `address` (stderr when there is none or the engine does not answer). */
export function engineWarn(
    address: string | undefined,
    fallback: (m: string) => void = (m) => process.stderr.write(`${m}\n`),
): EngineLog {
    let client: engrpc.EngineClient | undefined;
    return (urn, message) =>
        new Promise<void>((resolve) => {
            if (!address) {
                fallback(`warning: ${message}`);
                resolve();
                return;
            }
            client ??= new engrpc.EngineClient(address, grpc.credentials.createInsecure());
            const req = new engproto.LogRequest()
                .setSeverity(engproto.LogSeverity.WARNING)
                .setMessage(message)
                .setUrn(urn);
            client.log(req, new grpc.Metadata(), { deadline: Date.now() + 10_000 }, (err) => {
                if (err) fallback(`warning: ${message} (engine log failed: ${err.message})`);
                resolve();
            });
        });
}

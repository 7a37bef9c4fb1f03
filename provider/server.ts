// The provider's gRPC server, in place of @pulumi/pulumi/provider's: that one drops detailed diffs,
// implements neither CheckConfig nor DiffConfig (so the engine stores the project's whole `pinhole:*`
// stack config as the default provider's inputs) and prints stack traces for expected failures.
// This one speaks the same protocol through the SDK's own gRPC stubs.
import * as fs from "fs";
import * as grpc from "@grpc/grpc-js";
import { Empty } from "google-protobuf/google/protobuf/empty_pb";
import { Struct } from "google-protobuf/google/protobuf/struct_pb";
import * as plugproto from "@pulumi/pulumi/proto/plugin_pb";
import * as provproto from "@pulumi/pulumi/proto/provider_pb";
import * as provrpc from "@pulumi/pulumi/proto/provider_grpc_pb";
import { DiffResult, Handler, PropertyDiffKind, typeOfUrn, Values } from "./framework";
import { ProviderError } from "./errors";
import { EngineLog, engineWarn } from "./engine-log";

const Kind = provproto.PropertyDiff.Kind;
const KINDS: Record<PropertyDiffKind, provproto.PropertyDiff.Kind> = {
    add: Kind.ADD,
    "add-replace": Kind.ADD_REPLACE,
    delete: Kind.DELETE,
    "delete-replace": Kind.DELETE_REPLACE,
    update: Kind.UPDATE,
    "update-replace": Kind.UPDATE_REPLACE,
};

/** Provider configuration keys the engine manages itself; every other key offered is the program's. */
const ENGINE_CONFIG_KEYS = ["version", "pluginDownloadURL"];

export interface ProviderDefinition {
    version: string;
    /** The package schema (JSON text) GetSchema serves. */
    schema: string;
    handlers: Record<string, Handler>;
    log?: (message: string) => void;
    /** Shows a DiffResult's warnings on the resource (provider/engine-log.ts); default: stderr. */
    warn?: EngineLog;
}

type Callback<T> = (err: grpc.ServiceError | null, value?: T) => void;

/** An error for the engine: expected failures as their message, bugs with their stack on the plugin's stderr. */
export function toServiceError(e: unknown, where: string, log: (m: string) => void): grpc.ServiceError {
    const message = e instanceof Error ? e.message : String(e);
    if (!(e instanceof ProviderError))
        log(`pinhole provider: unexpected failure in ${where}: ${e instanceof Error ? e.stack : message}`);
    const err = new Error(message) as grpc.ServiceError;
    err.code = grpc.status.UNKNOWN;
    err.details = message;
    err.metadata = new grpc.Metadata();
    return err;
}

/**
 * `inputDiff`: properties whose old value the CLI must take from the old inputs (the schema's input-only ones,
 * absent from the outputs): without it `preview --diff` would show them as added, not as the lines that changed.
 */
export function diffResponse(d: DiffResult, inputDiff: readonly string[] = []): provproto.DiffResponse {
    const resp = new provproto.DiffResponse();
    resp.setChanges(
        d.changes ? provproto.DiffResponse.DiffChanges.DIFF_SOME : provproto.DiffResponse.DiffChanges.DIFF_NONE,
    );
    resp.setReplacesList(d.replaces);
    resp.setDeletebeforereplace(!!d.deleteBeforeReplace);
    resp.setDiffsList([...new Set(Object.keys(d.detailedDiff).map((p) => p.split(/[.[]/)[0]))].sort());
    resp.setHasdetaileddiff(true);
    const map = resp.getDetaileddiffMap();
    for (const [path, kind] of Object.entries(d.detailedDiff)) {
        const pd = new provproto.PropertyDiff();
        pd.setKind(KINDS[kind]);
        pd.setInputdiff(inputDiff.includes(path.split(/[.[]/)[0]));
        map.set(path, pd);
    }
    return resp;
}

const toJs = (s: Struct | undefined): Values => (s ? (s.toJavaScript() as Values) : {});
/** An old state for diff and update: its outputs over its inputs (input-only properties are in the inputs alone). */
const priorOf = (req: { getOlds(): Struct | undefined; getOldInputs(): Struct | undefined }): Values => ({
    ...toJs(req.getOldInputs()),
    ...toJs(req.getOlds()),
});
const toStruct = (v: Values): Struct => Struct.fromJavaScript(JSON.parse(JSON.stringify(v)));

/** Runs one call; failures go back as gRPC errors (message only for expected ones). */
function unaryWith(log: (m: string) => void) {
    const timing = rpcTimingLog(process.env.PINHOLE_RPC_LOG);
    return <Req, Res>(name: string, fn: (req: Req) => Promise<Res>) =>
        (call: grpc.ServerUnaryCall<Req, Res>, cb: Callback<Res>) => {
            const started = Date.now();
            const done = () => timing?.(name, call.request, started);
            fn(call.request).then(
                (res) => {
                    done();
                    cb(null, res);
                },
                (e) => {
                    done();
                    cb(toServiceError(e, name, log));
                },
            );
        };
}

/**
 * PINHOLE_RPC_LOG=FILE: one line per call the engine made (`{"call", "type", "startMs", "ms"}`: the resource's type
 * from its URN, nothing of its inputs), to see where a command's time went in the provider (docs/operations.md).
 */
export function rpcTimingLog(file: string | undefined) {
    if (!file) return undefined;
    return (call: string, req: unknown, started: number) => {
        const urn = (req as { getUrn?: () => string }).getUrn?.();
        const line = { call, type: urn ? typeOfUrn(urn) : undefined, startMs: started, ms: Date.now() - started };
        try {
            fs.appendFileSync(file, `${JSON.stringify(line)}\n`);
        } catch {
            /* a diagnostic must never fail (or hang) the call it times */
        }
    };
}
type Unary = ReturnType<typeof unaryWith>;

/** The handler of a resource's type, found by its URN; an unknown type fails with the types this version knows. */
function handlerLookup(def: ProviderDefinition): (urn: string) => Handler {
    return (urn) => {
        const h = def.handlers[typeOfUrn(urn)];
        if (!h)
            throw new ProviderError(
                `pinhole provider ${def.version} has no resource type ${typeOfUrn(urn)} (known: ${Object.keys(def.handlers).join(", ")})`,
            );
        return h;
    };
}

// The project and this package are both named pinhole, so the engine offers the program's stack
// config as this provider's configuration. The provider takes none: it keeps only the engine's keys,
// so nothing of the stack config reaches the provider's state.
async function checkConfig(req: provproto.CheckRequest): Promise<provproto.CheckResponse> {
    const news = toJs(req.getNews());
    const kept = Object.fromEntries(Object.entries(news).filter(([k]) => ENGINE_CONFIG_KEYS.includes(k)));
    return new provproto.CheckResponse().setInputs(toStruct(kept));
}

async function diffConfig(req: provproto.DiffRequest): Promise<provproto.DiffResponse> {
    // Old states (before CheckConfig kept only the engine's keys) hold the stack config: dropping it is a change.
    const olds = { ...toJs(req.getOlds()), ...toJs(req.getOldInputs()) };
    const news = toJs(req.getNews());
    const detailedDiff: Record<string, PropertyDiffKind> = {};
    for (const k of new Set([...Object.keys(olds), ...Object.keys(news)])) {
        if (JSON.stringify(olds[k]) === JSON.stringify(news[k])) continue;
        detailedDiff[k] = news[k] === undefined ? "delete" : olds[k] === undefined ? "add" : "update";
    }
    // Never a replacement: the provider has no state of its own, its resources carry their connections.
    return diffResponse({ changes: Object.keys(detailedDiff).length > 0, replaces: [], detailedDiff });
}

/** The calls about the provider itself: its version, its schema and its (engine-only) configuration. */
function pluginCalls(def: ProviderDefinition, unary: Unary) {
    return {
        getPluginInfo: unary("GetPluginInfo", async () => new plugproto.PluginInfo().setVersion(def.version)),
        getSchema: unary("GetSchema", async (req: provproto.GetSchemaRequest) => {
            if (req.getVersion() !== 0) throw new ProviderError(`unsupported schema version ${req.getVersion()}`);
            return new provproto.GetSchemaResponse().setSchema(def.schema);
        }),
        checkConfig: unary("CheckConfig", checkConfig),
        diffConfig: unary("DiffConfig", diffConfig),
        configure: unary("Configure", async () =>
            new provproto.ConfigureResponse()
                .setAcceptsecrets(true)
                .setAcceptresources(false)
                .setSupportspreview(false),
        ),
    };
}

/** The calls on resources, each passed to the handler of the resource's type (warnings shown on the resource). */
function resourceCalls(handlerFor: (urn: string) => Handler, warn: EngineLog, unary: Unary) {
    return {
        check: unary("Check", async (req: provproto.CheckRequest) => {
            const res = await handlerFor(req.getUrn()).check(toJs(req.getNews()), toJs(req.getOlds()));
            const resp = new provproto.CheckResponse().setInputs(toStruct(res.inputs));
            resp.setFailuresList(
                res.failures.map((f) => new provproto.CheckFailure().setProperty(f.property).setReason(f.reason)),
            );
            return resp;
        }),
        diff: unary("Diff", async (req: provproto.DiffRequest) => {
            const h = handlerFor(req.getUrn());
            const d = await h.diff(priorOf(req), toJs(req.getNews()));
            for (const w of d.warnings ?? []) await warn(req.getUrn(), w);
            return diffResponse(d, h.spec.inputOnly);
        }),
        create: unary("Create", async (req: provproto.CreateRequest) => {
            const res = await handlerFor(req.getUrn()).create(toJs(req.getProperties()));
            return new provproto.CreateResponse().setId(res.id).setProperties(toStruct(res.outs));
        }),
        read: unary("Read", async (req: provproto.ReadRequest) => {
            const res = await handlerFor(req.getUrn()).read(req.getId(), toJs(req.getProperties()), req.getUrn());
            for (const w of res.warnings ?? []) await warn(req.getUrn(), w);
            const resp = new provproto.ReadResponse().setId(res.id).setProperties(toStruct(res.props));
            if (res.inputs) resp.setInputs(toStruct(res.inputs));
            return resp;
        }),
        update: unary("Update", async (req: provproto.UpdateRequest) => {
            const res = await handlerFor(req.getUrn()).update(req.getId(), priorOf(req), toJs(req.getNews()));
            return new provproto.UpdateResponse().setProperties(toStruct(res.outs));
        }),
        delete: unary("Delete", async (req: provproto.DeleteRequest) => {
            await handlerFor(req.getUrn()).delete(req.getId(), toJs(req.getProperties()));
            return new Empty();
        }),
    };
}

export function providerService(def: ProviderDefinition): grpc.UntypedServiceImplementation {
    const log = def.log ?? ((m: string) => process.stderr.write(`${m}\n`));
    const warn = def.warn ?? engineWarn(undefined, log);
    const unary = unaryWith(log);
    return {
        ...pluginCalls(def, unary),
        ...resourceCalls(handlerLookup(def), warn, unary),
        cancel: unary("Cancel", async () => new Empty()),
        attach: unary("Attach", async () => new Empty()),
    };
}

/** Serves the provider on a local port and prints the port (the plugin handshake the engine expects). */
export async function serve(def: ProviderDefinition): Promise<grpc.Server> {
    const server = new grpc.Server({ "grpc.max_receive_message_length": 400 * 1024 * 1024 });
    server.addService(provrpc.ResourceProviderService, providerService(def));
    const port = await new Promise<number>((resolve, reject) =>
        server.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (err, p) =>
            err ? reject(err) : resolve(p),
        ),
    );
    process.stdout.write(`${port}\n`);
    return server;
}

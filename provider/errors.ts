// Expected provider failures: the operator can act on them, so the engine shows their message as is
// (no stack trace) on the resource that failed. Anything else is a bug and is logged with its stack.
export class ProviderError extends Error {
    constructor(message: string) {
        super(message);
        this.name = new.target.name;
    }
}

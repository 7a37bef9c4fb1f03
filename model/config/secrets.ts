// pinhole:sshPrivateKey: present (when required), and never quoted in a message.
import { ParseOptions } from "./parse";
import { Problems, isSecretRef, root } from "./read";

export function readSshPrivateKey(v: unknown, opts: ParseOptions, pr: Problems): void {
    const path = root("sshPrivateKey");
    if (v === undefined) {
        const stackFlag = opts.stack ? ` --stack ${opts.stack}` : "";
        if (opts.requireSecrets)
            pr.error(
                path,
                `missing: set it with \`pulumi config set${stackFlag} --secret sshPrivateKey < <private key file>\``,
            );
        return;
    }
    if (isSecretRef(v)) return;
    // Never quote the value: it is a private key.
    if (typeof v !== "string") pr.error(path, "expected the private key text (a secret string)");
    else if (!/-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(v))
        pr.error(path, "does not look like a PEM/OpenSSH private key (no -----BEGIN ... PRIVATE KEY----- line)");
}

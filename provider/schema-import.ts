// The "Import" text of the importable resource types (provider/schema.ts): how `pulumi import` takes an
// existing node over. It is in the schema's descriptions and docs/provider.md (markdown).

export const FIREWALL_IMPORT = [
    "By the node's name (the connection, ruleset and key come from the stack's config, as the program derives them):",
    "",
    "```sh",
    "npm run pulumi -- import pinhole:node:Firewall <node>-firewall-nft <node> \\",
    "  --parent parent=<URN of the node's pinhole:firewall:NodeFirewall> --stack <stack> --generate-code=false",
    "```",
    "",
    "The live table is compared with the stack's ruleset (listed in a scratch network namespace on the node): when they match, `preview` shows no changes; otherwise the difference is recorded as `drift` and the next `up` applies the stack's ruleset. An ID that names no node of the stack is refused with the stack's node names. Nothing on the node is changed by the import.",
].join("\n");

export const WEB_SERVER_IMPORT = [
    "By the node's name (the connection, site config, paths and the rest come from the stack's config, derived as the program derives them: components/web-server-inputs.ts):",
    "",
    "```sh",
    "npm run pulumi -- import pinhole:node:WebServer <node>-web-server <node> \\",
    "  --parent parent=<URN of the node's pinhole:web:WebFrontEnd> --stack <stack> --generate-code=false",
    "```",
    "",
    "What the import records depends on the node's certificate mode. Nothing on the node is changed by it.",
    "",
    "- **external** (whole-site): the bundle and key are the stack's secret config (`certificateConfigKey`, `keyConfigKey`); the node's installed certificate, key and site files and the certificate nginx serves are compared with them: when they match, `preview` shows no changes; otherwise the import records the difference as drift (`liveCertificateSha256`, `liveKeySha256`, `liveSiteSha256`, `liveServedFingerprint`) and the next `up` installs the stack's files.",
    "- **self-signed, internal-ca, csr** (whole-site): the certificate and key are made by the stack's own `pinhole:tls` resources and cannot be derived from the config, so the node's installed certificate and key are recorded as they are (the key as a secret), with a warning naming the node; the next `up` installs the stack's certificate and key (an update of this resource, nginx reloads) unless the node already serves them.",
    "- **certificate-only** front ends are refused: pinhole's install keeps the platform's own certificate, key and upstream lines aside to give them back on destroy, and an import has nothing kept to give back; `pulumi up` without an import takes the node over that way.",
    "",
    "An ID that names no node of the stack, a database node, or a node without pinhole's files at the configured paths is refused with the reason. After an import the front end is the stack's: destroy removes the files at those paths (and restores originals kept aside, if any).",
].join("\n");

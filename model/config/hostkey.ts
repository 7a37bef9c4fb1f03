// OpenSSH host keys pinned in ssh.hostKey.

// ---------------------------------------------------------------------------------------------------------
// OpenSSH host keys: "<type> <base64 blob> [comment]", the blob starting with the same type name.

export const HOST_KEY_TYPES = [
    "ssh-ed25519",
    "ecdsa-sha2-nistp256",
    "ecdsa-sha2-nistp384",
    "ecdsa-sha2-nistp521",
    "ssh-rsa",
    "sk-ssh-ed25519@openssh.com",
    "sk-ecdsa-sha2-nistp256@openssh.com",
];

/** undefined when the key is a well-formed OpenSSH public key, else what is wrong. */
export function checkHostKey(text: string): string | undefined {
    const fields = text.trim().split(/\s+/);
    if (fields.length >= 2 && !HOST_KEY_TYPES.includes(fields[0]) && HOST_KEY_TYPES.includes(fields[1])) {
        return `looks like a known_hosts line: drop the leading "${fields[0]}" and keep "${fields[1]} AAAA..."`;
    }
    if (fields[0] === "ssh-dss")
        return "ssh-dss (DSA) host keys are refused by current OpenSSH; pin the node's ed25519 key (ssh-keyscan -t ed25519 <host>)";
    if (!HOST_KEY_TYPES.includes(fields[0])) {
        return `not an OpenSSH public key: expected "<type> <base64>" with type one of ${HOST_KEY_TYPES.slice(0, 5).join(", ")} (e.g. the output of ssh-keyscan -t ed25519 <host> without the host name)`;
    }
    if (fields.length < 2) return `"${fields[0]}" has no key data after the type`;
    const b64 = fields[1];
    if (!/^[A-Za-z0-9+/]+={0,2}$/.test(b64) || b64.length % 4 !== 0) return "the key data is not valid base64";
    const blob = Buffer.from(b64, "base64");
    if (blob.length < 4) return "the key data is too short";
    const typeLength = blob.readUInt32BE(0);
    const embedded = blob.subarray(4, 4 + typeLength).toString("latin1");
    if (typeLength > blob.length - 4 || embedded !== fields[0]) {
        return `the key data is not a ${fields[0]} key (it says "${embedded.replace(/[^\x20-\x7e]/g, "?").slice(0, 40)}")`;
    }
    if (fields[0] === "ssh-ed25519" && blob.length !== 4 + 11 + 4 + 32)
        return "an ssh-ed25519 key holds 32 bytes of key data; this one does not (truncated copy?)";
    return undefined;
}

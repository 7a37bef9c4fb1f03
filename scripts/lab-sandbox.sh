#!/usr/bin/env bash
# Runs a command against a private copy of the lab: its own network, mount and pid namespaces, a private
# /run/netns and /run/pinhole-lab (so the lab's namespaces, lock and lease are its own), a private /etc (so
# is the lab's user account), loopback up. Two checkouts (or a developer and
# CI) can then run integration tests at once without tearing down each other's lab.
#   scripts/lab-sandbox.sh npx mocha -r ts-node/register/transpile-only --timeout 900000 test/integration/x.test.ts
# Needs root (unshare). Nothing it starts outlives the command: the pid namespace ends with it.
set -euo pipefail
if [[ $# -eq 0 || "$1" == "--help" || "$1" == "-h" ]]; then
    sed -n '2,7p' "$0" | sed 's/^# \{0,1\}//'
    exit 0
fi
if [[ "${PINHOLE_LAB_SANDBOX:-}" != "inside" ]]; then
    [[ $EUID -eq 0 ]] || { echo "lab-sandbox: needs root (network and mount namespaces)" >&2; exit 1; }
    exec unshare --net --mount --pid --fork --mount-proc --propagation private \
        env PINHOLE_LAB_SANDBOX=inside "$0" "$@"
fi
# private copies of the two machine-wide places the lab uses: ip netns's handles and the lab's lock and lease
for d in /run/netns /run/pinhole-lab; do
    mkdir -p "$d"
    mount -t tmpfs -o mode=755 tmpfs "$d"
done
# a private /etc (overlay): the lab creates and removes a machine-wide user account ("pinhole") and its sudo
# rule; without this, one copy's `down` deletes the user another copy's nodes log in as
etc_rw=$(mktemp -d /tmp/lab-sandbox-etc.XXXXXX)
mkdir -p "$etc_rw/upper" "$etc_rw/work"
mount -t overlay overlay -o "lowerdir=/etc,upperdir=$etc_rw/upper,workdir=$etc_rw/work" /etc
ip link set lo up
set +e
"$@"
rc=$?
umount /etc && rm -rf "$etc_rw"
exit $rc

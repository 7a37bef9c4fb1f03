# Sourced by the project's scripts: the Pulumi environment of this project.
# Local file backend and passphrase secrets by default; every value can be overridden from outside
# (e.g. PULUMI_BACKEND_URL=s3://bucket/pinhole, PULUMI_CONFIG_PASSPHRASE_FILE=/secure/path).
PINHOLE_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export PINHOLE_ROOT
if [[ -f "$PINHOLE_ROOT/.pulumi/toolchain.env" ]]; then
  # shellcheck disable=SC1091
  . "$PINHOLE_ROOT/.pulumi/toolchain.env"
fi
if [[ -n "${PINHOLE_PULUMI_DIR:-}" ]]; then
  export PATH="$PINHOLE_PULUMI_DIR:$PATH"
fi
# The project's Node.js (toolchain/node.sh) first, so the engine's language host and plugins run on it.
if [[ -n "${PINHOLE_NODE_BIN_DIR:-}" ]]; then
  export PATH="$PINHOLE_NODE_BIN_DIR:$PATH"
fi
export PULUMI_HOME="${PULUMI_HOME:-$PINHOLE_ROOT/.pulumi/home}"
export PULUMI_BACKEND_URL="${PULUMI_BACKEND_URL:-file://$PINHOLE_ROOT/.pulumi/state}"
export PULUMI_SKIP_UPDATE_CHECK=true
# Engine parallelism: every step that is ready runs (so all nodes at once, bounded by the cluster's size)
# instead of the engine's 4 x CPUs; `--parallel N` or PULUMI_PARALLEL=N caps it (docs/operations.md).
export PULUMI_PARALLEL="${PULUMI_PARALLEL:-256}"
# The engine's step generator calls the providers' Diff one resource after another unless this is on; a Firewall's
# Diff reads its node (the live check), so without it preview and a no-op up read the nodes one by one.
export PULUMI_PARALLEL_DIFF="${PULUMI_PARALLEL_DIFF:-true}"
# Node >= 22 keeps compiled module code here: the program, the provider and the CLI's Node steps start faster.
export NODE_COMPILE_CACHE="${NODE_COMPILE_CACHE:-$PINHOLE_ROOT/.pulumi/node-compile-cache}"
export PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION=true
if [[ -z "${PULUMI_CONFIG_PASSPHRASE:-}" && -z "${PULUMI_CONFIG_PASSPHRASE_FILE:-}" ]]; then
  export PULUMI_CONFIG_PASSPHRASE_FILE="$PINHOLE_ROOT/.pulumi/passphrase"
fi

#!/usr/bin/env bash
# The warden container's command: derives this node's id and advertised address from the
# pod's name, then runs `warden serve`. Every other setting comes from the WARDEN_*
# variables of the chart's ConfigMap (docs/configuration.md).
set -euo pipefail

pod="${POD_NAME:?POD_NAME must be set (from the downward API: metadata.name)}"
ordinal="${pod##*-}"
case "$ordinal" in
  '' | *[!0-9]*)
    echo "node: cannot read an ordinal from the pod name $pod" >&2
    exit 1
    ;;
esac
keys="${WARDEN_KEYS_DIR:-/etc/warden/keys}"

# Node ids start at 1: Warden refuses node id 0.
export WARDEN_NODE_ID=$((10#$ordinal + 1))
# The stable name the headless Service gives this pod: peers reach the node by it (the
# headless Service publishes it before the pod is ready, so a new node can be added).
export WARDEN_ADVERTISE="$pod.${WARDEN_PEER_DOMAIN:?WARDEN_PEER_DOMAIN must be set}:${WARDEN_GRPC_PORT:-7400}"
# Only node 1 starts the cluster, so only it is given the bootstrap token.
if [ -f "$keys/bootstrap-token" ]; then
  export WARDEN_BOOTSTRAP_TOKEN_FILE="$keys/bootstrap-token"
fi
unset WARDEN_PEER_DOMAIN WARDEN_GRPC_PORT WARDEN_KEYS_DIR
exec "${WARDEN_BIN:-warden}" serve "$@"

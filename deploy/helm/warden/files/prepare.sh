#!/usr/bin/env bash
# Init container of every Warden pod: puts this node's secret files where `warden serve`
# accepts them, and lays out its persistent volume.
#
# A node refuses a key file that its group or others may read (mode 0600 or stricter),
# but Kubernetes mounts Secret files owned by root and, with the pod's fsGroup, group
# readable (0440), whatever defaultMode says. So the files are copied into an in-memory
# emptyDir owned by this (non-root) user with mode 0600. Only this node's certificate and
# key are copied: the warden container never sees the other nodes' keys.
#
# Node ids are the pod's ordinal + 1 (Warden refuses node id 0).
set -euo pipefail

src="${WARDEN_SRC_DIR:-/etc/warden/src}"
keys="${WARDEN_KEYS_DIR:-/etc/warden/keys}"
membership_keys="${WARDEN_MEMBERSHIP_KEYS_DIR:-/etc/warden/membership-keys}"
data_root="${WARDEN_DATA_ROOT:-/mnt/data}"
audit_mode="${WARDEN_AUDIT_KEY_MODE:-generate}"
membership="${WARDEN_MEMBERSHIP_ENABLED:-true}"
warden="${WARDEN_BIN:-warden}"

say() { printf 'prepare: %s\n' "$*" >&2; }
fail() {
  say "error: $*"
  exit 1
}

pod="${POD_NAME:?POD_NAME must be set (from the downward API: metadata.name)}"
ordinal="${pod##*-}"
case "$ordinal" in
  '' | *[!0-9]*) fail "cannot read an ordinal from the pod name $pod" ;;
esac
id=$((10#$ordinal + 1))
say "pod $pod is node $id"

# copy SOURCE DEST MODE: a new file, written whole, then renamed into place.
copy() {
  local from="$1" to="$2" mode="$3"
  [ -r "$from" ] || fail "$from is missing or unreadable"
  (umask 077 && cat "$from" > "$to.new")
  chmod "$mode" "$to.new"
  mv -f "$to.new" "$to"
}

# The cluster's CA: from the node's own cert-manager Secret (ca-<id>.pem) or the one
# shared Secret (ca.pem).
if [ -f "$src/tls/ca-$id.pem" ]; then
  ca="$src/tls/ca-$id.pem"
else
  ca="$src/tls/ca.pem"
fi
[ -f "$ca" ] || fail "the TLS Secret has no ca.pem (the cluster's CA, from \`warden cert ca\`)"
for file in "node-$id.pem" "node-$id.key"; do
  [ -f "$src/tls/$file" ] || fail "the TLS Secret has no $file: issue it with \`warden cert node --node-id $id ...\` (see the chart's README) and add it to the Secret"
done
copy "$ca" "$keys/ca.pem" 0644
copy "$src/tls/node-$id.pem" "$keys/node.pem" 0644
copy "$src/tls/node-$id.key" "$keys/node.key" 0600
copy "$src/master-key/master-key" "$keys/master-key" 0600

# The bootstrap token goes only to the node that starts the cluster (node 1). Its Secret
# is optional: it may be deleted once the cluster is initialized. But node 1 starting for
# the first time (no data yet) without it could never start the cluster: stop here, and be
# retried by the kubelet until the Secret exists.
rm -f "$keys/bootstrap-token"
if [ "$id" = 1 ] && [ -f "$src/bootstrap/bootstrap-token" ]; then
  copy "$src/bootstrap/bootstrap-token" "$keys/bootstrap-token" 0600
elif [ "$id" = 1 ] && [ ! -d "$data_root/node/data" ] && [ "${WARDEN_BOOTSTRAP_REQUIRED:-true}" = true ]; then
  fail "node 1 has no data yet and no bootstrap token: create the Secret ${WARDEN_BOOTSTRAP_SECRET:-named in bootstrapToken.existingSecret} (\`warden bootstrap-token FILE\`)"
fi

# The persistent volume: node/ is the warden container's (its data directory and, when
# generated, its audit signing key), membership/ the membership sidecar's (the admin
# token it keeps). Neither container mounts the other's.
mkdir -p "$data_root/node" "$data_root/membership"
chmod 0700 "$data_root/node" "$data_root/membership"

case "$audit_mode" in
  generate)
    # Made once, before the node first starts, so that its public key enters the log
    # when the node starts the cluster or is added. Kept outside the data directory.
    mkdir -p "$data_root/node/audit"
    chmod 0700 "$data_root/node/audit"
    if [ ! -f "$data_root/node/audit/audit.key" ]; then
      say "generating this node's audit signing key"
      "$warden" audit keygen --out "$data_root/node/audit/audit.key" >&2
    fi
    ;;
  existingSecret)
    [ -f "$src/audit/audit-$id.key" ] \
      || fail "the audit Secret has no audit-$id.key: make it with \`warden audit keygen --out audit-$id.key\` and add it"
    copy "$src/audit/audit-$id.key" "$keys/audit.key" 0600
    ;;
  none) ;;
  *) fail "unknown audit key mode $audit_mode" ;;
esac

if [ "$membership" = true ]; then
  copy "$ca" "$membership_keys/ca.pem" 0644
  rm -f "$membership_keys/bootstrap-token"
  if [ "$id" = 1 ] && [ -f "$src/bootstrap/bootstrap-token" ]; then
    copy "$src/bootstrap/bootstrap-token" "$membership_keys/bootstrap-token" 0600
  fi
fi
say "ready"

#!/usr/bin/env bash
# The `init` service of deploy/compose.yaml, run once per `docker compose up`: makes what
# the cluster needs and is not in the log, once (a file that exists is kept, so a second
# `up` changes nothing), and hands each container only its own files.
#
#   /var/lib/warden-pki   (volume pki, this service's only): the CA and its key, every
#                         node's certificate and audit signing key, the master key and
#                         the bootstrap token
#   /mnt/keys-N           (volume keys-N, node N's /etc/warden/keys): ca.pem, node.pem,
#                         node.key, master-key, audit.key, and for node 1 bootstrap-token
#   /mnt/membership       (volume membership): ca.pem and bootstrap-token, for the
#                         membership service, which starts the cluster on node 1
#
# It runs as root, only to give the fresh volumes to user 10001 (the image's user, which
# runs every other service); every file it leaves is that user's, the private ones mode
# 0600, as a node requires. Node certificates name node-N.warden (the node's identity,
# which `warden cert node` adds), warden-N (the Compose service name peers dial), and
# localhost and 127.0.0.1 (the ports published on the host).
set -euo pipefail

nodes="${WARDEN_COMPOSE_NODES:-3}"
pki=/var/lib/warden-pki
owner=10001:10001

say() { printf 'init: %s\n' "$*" >&2; }

# install_file SOURCE DEST MODE: written whole under a temporary name, then renamed.
install_file() {
  cat "$1" > "$2.new"
  chmod "$3" "$2.new"
  chown "$owner" "$2.new"
  mv -f "$2.new" "$2"
}

umask 077
if [ ! -f "$pki/ca.pem" ] || [ ! -f "$pki/ca.key" ]; then
  # Made in a fresh directory and moved in, so a stopped run leaves no half of a CA.
  rm -rf "$pki/ca.new"
  warden cert ca --dir "$pki/ca.new" --name "warden compose CA" > /dev/null
  mv -f "$pki/ca.new/ca.key" "$pki/ca.key"
  mv -f "$pki/ca.new/ca.pem" "$pki/ca.pem"
  rm -rf "$pki/ca.new"
  say "created the cluster's CA"
fi
if [ ! -f "$pki/master-key" ]; then
  warden keygen --out "$pki/master-key" > /dev/null
  say "created the master key"
fi
if [ ! -f "$pki/bootstrap-token" ]; then
  warden bootstrap-token "$pki/bootstrap-token" > /dev/null
  say "created the bootstrap token"
fi

for ((id = 1; id <= nodes; id++)); do
  if [ ! -f "$pki/node-$id.pem" ] || [ ! -f "$pki/node-$id.key" ]; then
    rm -rf "$pki/node.new"
    warden cert node --ca-dir "$pki" --node-id "$id" --out "$pki/node.new" \
      --host "warden-$id" --host localhost --host 127.0.0.1 > /dev/null
    mv -f "$pki/node.new/node-$id.key" "$pki/node-$id.key"
    mv -f "$pki/node.new/node-$id.pem" "$pki/node-$id.pem"
    rm -rf "$pki/node.new"
    say "issued node $id's certificate (node-$id.warden, warden-$id, localhost, 127.0.0.1)"
  fi
  if [ ! -f "$pki/audit-$id.key" ]; then
    warden audit keygen --out "$pki/audit-$id.key.new" > /dev/null
    mv -f "$pki/audit-$id.key.new" "$pki/audit-$id.key"
    say "created node $id's audit signing key"
  fi

  keys="/mnt/keys-$id"
  [ -d "$keys" ] || {
    say "error: $keys is not mounted (the keys-$id volume)"
    exit 1
  }
  chown "$owner" "$keys"
  chmod 0700 "$keys"
  install_file "$pki/ca.pem" "$keys/ca.pem" 0644
  install_file "$pki/node-$id.pem" "$keys/node.pem" 0644
  install_file "$pki/node-$id.key" "$keys/node.key" 0600
  install_file "$pki/master-key" "$keys/master-key" 0600
  install_file "$pki/audit-$id.key" "$keys/audit.key" 0600
  # Only node 1 starts the cluster, so only it is given the bootstrap token.
  if [ "$id" = 1 ]; then
    install_file "$pki/bootstrap-token" "$keys/bootstrap-token" 0600
  fi
done

chown "$owner" /mnt/membership
chmod 0700 /mnt/membership
install_file "$pki/ca.pem" /mnt/membership/ca.pem 0644
install_file "$pki/bootstrap-token" /mnt/membership/bootstrap-token 0600
say "every node has its files"

#!/usr/bin/env bash
# The `membership` service of deploy/compose.yaml: forms the cluster and keeps every node
# a voter, as the Helm chart's sidecar does (deploy/helm/warden/files/membership.sh, whose
# approach this follows; the nodes here are Compose services warden-1..N, reached by name).
#
#   1. Once node 1 answers /healthz, `cluster init` on node 1 with the bootstrap token,
#      unless this service holds an admin token already (kept in its volume, so a second
#      `docker compose up` does not try again) or another node says it is a member (then
#      the cluster exists, and node 1 lost its volume: starting a second one would split
#      it).
#   2. Every round, `cluster status`; each node that is not a member is added (once it
#      answers /healthz) and promoted; a learner is promoted.
#   3. Once every node is a voter it writes $state/settled (the service's health check:
#      the cluster is formed) and looks again every $settled_interval seconds; it never
#      removes a node.
#
# It stays up so that `docker compose exec membership cat ...` hands out the admin token.
set -uo pipefail

nodes="${WARDEN_COMPOSE_NODES:-3}"
state="${WARDEN_MEMBERSHIP_STATE_DIR:-/var/lib/warden-membership}"
principal="${WARDEN_MEMBERSHIP_PRINCIPAL:-user/admin}"
interval="${WARDEN_MEMBERSHIP_INTERVAL:-2}"
settled_interval="${WARDEN_MEMBERSHIP_SETTLED_INTERVAL:-30}"
grpc_port=7400
http_port=9400

log() { printf '%s membership: %s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$*"; }

# bash as PID 1 ignores SIGTERM unless trapped; sleeping in the background lets the trap
# run at once.
sleeper=""
trap 'log "stopping"; [ -z "$sleeper" ] || kill "$sleeper" 2> /dev/null; exit 0' TERM INT
pause() {
  sleep "$1" &
  sleeper=$!
  wait "$sleeper"
  sleeper=""
}

host() { printf 'warden-%s' "$1"; }
all_endpoints() {
  local id list=""
  for ((id = 1; id <= nodes; id++)); do list="$list${list:+,}$(host "$id"):$grpc_port"; done
  printf '%s' "$list"
}
# Any node takes any call (wardenctl skips one that is down); `cluster init` only node 1.
ctl_on() {
  local at="$1"
  shift
  wardenctl --endpoints "$at" --ca "$state/ca.pem" "$@"
}
ctl() { ctl_on "$(all_endpoints)" --token-file "$state/admin.token" "$@"; }

# The answer to GET http://HOST:PORT/PATH (status line, headers, body), empty when nothing
# answers within 5 s.
http_get() {
  # shellcheck disable=SC2016 # the inner script expands its own arguments
  timeout 5 bash -c '
    exec 3<>"/dev/tcp/$1/$2" || exit 1
    printf "GET %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n" "$3" "$1" >&3
    cat <&3' _ "$1" "$2" "$3" 2> /dev/null
}
http_status() {
  http_get "$@" | { IFS=" " read -r _ code _ && printf '%s' "$code"; }
}

initialize() {
  if [ ! -f "$state/bootstrap-token" ]; then
    log "no admin token and no bootstrap token in $state: did the init service run?"
    return 1
  fi
  if [ "$(http_status "$(host 1)" "$http_port" /healthz)" != 200 ]; then
    log "node 1 does not answer /healthz yet"
    return 1
  fi
  local id body out
  for ((id = 2; id <= nodes; id++)); do
    body=$(http_get "$(host "$id")" "$http_port" /readyz | tr -d ' \r\n')
    if [[ "$body" == *'"member":true'* ]]; then
      log "error: node $id is a member of a cluster, but this service holds no admin token ($state/admin.token): not starting another cluster on node 1"
      return 1
    fi
  done
  rm -f "$state/admin.token.new"
  if out=$(ctl_on "$(host 1):$grpc_port" cluster init --bootstrap-token-file "$state/bootstrap-token" \
    --admin "$principal" --token-out "$state/admin.token.new" 2>&1); then
    mv -f "$state/admin.token.new" "$state/admin.token"
    log "started the cluster on node 1; the token of its first admin, $principal, is in $state/admin.token"
    return 0
  fi
  case "$out" in
    *"already initialized"*)
      log "error: the cluster is already initialized but $state/admin.token is gone; put a cluster admin's token there"
      ;;
    *) log "cluster init failed, will retry: $out" ;;
  esac
  return 1
}

# "ID ROLE" for every member, from `wardenctl --output json cluster status`.
members() {
  tr -d ' \t\r\n' | sed -n 's/.*"members":\[\(.*\)}\].*/\1}/p' | sed 's/},{/}\n{/g' \
    | while IFS= read -r member || [ -n "$member" ]; do
      id=$(sed -n 's/.*"node_id":\([0-9][0-9]*\).*/\1/p' <<< "$member")
      role=$(sed -n 's/.*"role":"\([a-z_]*\)".*/\1/p' <<< "$member")
      [ -n "$id" ] && printf '%s %s\n' "$id" "$role"
    done
}

promote() {
  local out
  if out=$(ctl cluster promote "$1" 2>&1); then
    log "$out"
    return 0
  fi
  case "$out" in
    *"already a voter"*) return 0 ;;
    *) log "promoting node $1 failed, will retry: $out" ;;
  esac
  return 1
}

add() {
  local id="$1" out
  # A node that is not up would be refused, and the refusal audited: wait for it.
  if [ "$(http_status "$(host "$id")" "$http_port" /healthz)" != 200 ]; then
    log "node $id does not answer /healthz yet"
    return 1
  fi
  if out=$(ctl --timeout 5m cluster add-node "$id" "$(host "$id"):$grpc_port" 2>&1); then
    log "$out"
  else
    case "$out" in
      *"already a member"*) ;;
      *)
        log "adding node $id failed, will retry: $out"
        return 1
        ;;
    esac
  fi
  promote "$id"
}

# One round; true when every node is a voter.
reconcile() {
  local status roles id role done=true
  if ! status=$(ctl --output json cluster status 2>&1); then
    log "cluster status failed, will retry: $status"
    return 1
  fi
  roles=$(members <<< "$status")
  for ((id = 1; id <= nodes; id++)); do
    role=$(awk -v id="$id" '$1 == id { print $2 }' <<< "$roles")
    case "$role" in
      voter) ;;
      learner) promote "$id" || done=false ;;
      '') add "$id" || done=false ;;
      *)
        log "node $id has the unknown role $role"
        done=false
        ;;
    esac
  done
  $done
}

rm -f "$state/settled"
log "managing the membership of nodes 1..$nodes"
was_settled=false
while :; do
  if [ -s "$state/admin.token" ] || initialize; then
    if reconcile; then
      if [ "$was_settled" = false ]; then
        log "every node is a voter"
        was_settled=true
        : > "$state/settled"
      fi
      pause "$settled_interval"
      continue
    fi
  fi
  # The health check stays passing through a passing failure (a leader election, a node
  # killed on purpose): it says the cluster was formed.
  was_settled=false
  pause "$interval"
done

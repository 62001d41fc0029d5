#!/usr/bin/env bash
# The membership sidecar. In pod 0 it starts the cluster on node 1 once (`wardenctl cluster
# init` with the bootstrap token, keeping the first admin's token on its own part of the
# pod's volume), then keeps adding (`cluster add-node`) and promoting (`cluster promote`)
# the nodes of pods 1..replicas-1 that are not voters yet. In the other pods it idles.
#
# Idempotent across restarts: every round first reads `cluster status` (a read, which the
# audit chain does not record) and changes only what is missing, so a restarted pod or
# sidecar repeats nothing. A node is added only once its HTTP listener answers /healthz,
# and a refused change is retried with a growing delay, since every refusal is audited.
# It never removes a node: scaling down is done by hand (see the chart's README).
set -uo pipefail

pod="${POD_NAME:?POD_NAME must be set (from the downward API: metadata.name)}"
ordinal="${pod##*-}"
sts="${pod%-*}"
peer_domain="${WARDEN_PEER_DOMAIN:?WARDEN_PEER_DOMAIN must be set}"
grpc_port="${WARDEN_GRPC_PORT:-7400}"
http_port="${WARDEN_HTTP_PORT:-9400}"
state="${WARDEN_MEMBERSHIP_STATE_DIR:-/var/lib/warden-membership}"
keys="${WARDEN_MEMBERSHIP_KEYS_DIR:-/etc/warden/membership-keys}"
replicas_file="${WARDEN_MEMBERSHIP_REPLICAS_FILE:-/etc/warden/membership/replicas}"
provided_token="${WARDEN_MEMBERSHIP_TOKEN_FILE:-}"
principal="${WARDEN_MEMBERSHIP_PRINCIPAL:-service/warden-membership}"
checkpoint_interval="${WARDEN_MEMBERSHIP_CHECKPOINT_INTERVAL:-1000}"
interval="${WARDEN_MEMBERSHIP_INTERVAL:-10}"
settled_interval="${WARDEN_MEMBERSHIP_SETTLED_INTERVAL:-60}"
add_timeout="${WARDEN_MEMBERSHIP_ADD_TIMEOUT:-5m}"
max_backoff="${WARDEN_MEMBERSHIP_MAX_BACKOFF:-300}"
wardenctl="${WARDENCTL_BIN:-wardenctl}"

log() { printf '%s membership: %s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$*"; }

# bash as PID 1 ignores SIGTERM unless trapped; sleeping in the background lets the trap
# run at once (and end the sleep).
sleeper=""
trap 'log "stopping"; [ -z "$sleeper" ] || kill "$sleeper" 2> /dev/null; exit 0' TERM INT
pause() {
  sleep "$1" &
  sleeper=$!
  wait "$sleeper"
  sleeper=""
}

if [ "$ordinal" != 0 ]; then
  log "pod $pod is node $((10#$ordinal + 1)); pod $sts-0 adds and promotes the nodes: nothing to do here"
  while :; do pause 3600; done
fi

endpoint="$pod.$peer_domain:$grpc_port"
# Membership calls go to node 1 first, then to any ready node through the client Service
# (node 1 may itself be the node to add again); `cluster init` only to node 1.
endpoints="$endpoint${WARDEN_CLIENT_SERVICE:+,$WARDEN_CLIENT_SERVICE:$grpc_port}"
ctl_on() {
  local at="$1"
  shift
  "$wardenctl" --endpoints "$at" --ca "$keys/ca.pem" "$@"
}
ctl() { ctl_on "$endpoints" "$@"; }

# The answer to GET http://HOST:PORT/PATH (status line, headers, body), empty when nothing
# answers within 5 s.
http_get() {
  # shellcheck disable=SC2016 # the inner script expands its own arguments
  timeout 5 bash -c '
    exec 3<>"/dev/tcp/$1/$2" || exit 1
    printf "GET %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n" "$3" "$1" >&3
    cat <&3' _ "$1" "$2" "$3" 2>/dev/null
}
# Its status code.
http_status() {
  http_get "$@" | { IFS=" " read -r _ code _ && printf '%s' "$code"; }
}

# The replica count, from the ConfigMap mounted at $replicas_file.
replicas() {
  local count
  count=$(cat "$replicas_file" 2>/dev/null || true)
  case "$count" in
    '' | *[!0-9]*)
      log "cannot read the replica count from $replicas_file"
      return 1
      ;;
  esac
  printf '%s' "$count"
}

# The token this sidecar acts with: the one a Secret provides (membership.existingTokenSecret),
# else the one `cluster init` gave it.
token_file() {
  if [ -n "$provided_token" ]; then
    [ -s "$provided_token" ] && printf '%s' "$provided_token"
    return
  fi
  # A token written by an init whose rename did not happen (the container stopped).
  if [ ! -s "$state/admin.token" ] && [ -s "$state/admin.token.new" ]; then
    mv -f "$state/admin.token.new" "$state/admin.token"
  fi
  [ -s "$state/admin.token" ] && printf '%s' "$state/admin.token"
}

initialize() {
  if [ -n "$provided_token" ]; then
    log "waiting for the token Secret named in membership.existingTokenSecret ($provided_token is empty)"
    return 1
  fi
  if [ ! -f "$keys/bootstrap-token" ]; then
    log "no admin token and no bootstrap token: mount the bootstrap token (bootstrapToken.existingSecret) to start the cluster, or give a cluster admin's token (membership.existingTokenSecret)"
    return 1
  fi
  # Node 1 without a token may be one whose volume was lost, in a cluster that lives on in
  # the other nodes: starting a second cluster there would split it. Any other node that
  # says it is a member (/readyz) means the cluster exists.
  local replicas index body out
  replicas=$(replicas) || return 1
  for ((index = 1; index < replicas; index++)); do
    body=$(http_get "$sts-$index.$peer_domain" "$http_port" /readyz | tr -d ' \r\n')
    if [[ "$body" == *'"member":true'* ]]; then
      log "error: node $((index + 1)) is a member of a cluster, but this sidecar holds no admin token: not starting another cluster on node 1. If node 1 lost its volume, remove it (wardenctl cluster remove-node 1) and give the sidecar a cluster admin's token (membership.existingTokenSecret) to add it again"
      return 1
    fi
  done
  rm -f "$state/admin.token.new"
  if out=$(ctl_on "$endpoint" cluster init --bootstrap-token-file "$keys/bootstrap-token" --admin "$principal" \
    --checkpoint-interval "$checkpoint_interval" --token-out "$state/admin.token.new" 2>&1); then
    mv -f "$state/admin.token.new" "$state/admin.token"
    log "started the cluster on node 1; the token of its first admin, $principal, is in $state/admin.token"
    return 0
  fi
  case "$out" in
    *"already initialized"*)
      log "error: the cluster is already initialized but this sidecar holds no admin token ($state/admin.token is gone); put a cluster admin's token in a Secret and name it in membership.existingTokenSecret"
      ;;
    *) log "cluster init failed, will retry: $out" ;;
  esac
  return 1
}

# "ID ROLE" for every member, from `wardenctl --output json cluster status`.
members() {
  # Compact, cut to the members array, one member per line (the last one too: `read`
  # drops a last line without a newline).
  tr -d ' \t\r\n' | sed -n 's/.*"members":\[\(.*\)}\].*/\1}/p' | sed 's/},{/}\n{/g' \
    | while IFS= read -r member || [ -n "$member" ]; do
      id=$(sed -n 's/.*"node_id":\([0-9][0-9]*\).*/\1/p' <<< "$member")
      role=$(sed -n 's/.*"role":"\([a-z_]*\)".*/\1/p' <<< "$member")
      [ -n "$id" ] && printf '%s %s\n' "$id" "$role"
    done
}

# Per node: when to try again after a refusal, and how long the next wait is.
declare -A next_try=() backoff=()
due() { [ "$(date +%s)" -ge "${next_try[$1]:-0}" ]; }
refused() {
  local wait="${backoff[$1]:-$interval}"
  next_try[$1]=$(($(date +%s) + wait))
  wait=$((wait * 2))
  [ "$wait" -gt "$max_backoff" ] && wait="$max_backoff"
  backoff[$1]="$wait"
}
settled() {
  unset "next_try[$1]" "backoff[$1]"
}
declare -A warned=()

promote() {
  local id="$1" token="$2" out
  if out=$(ctl --token-file "$token" cluster promote "$id" 2>&1); then
    log "$out"
    settled "$id"
    return 0
  fi
  case "$out" in
    *"already a voter"*) settled "$id" ;;
    *)
      log "promoting node $id failed, will retry: $out"
      refused "$id"
      ;;
  esac
  return 1
}

add() {
  local id="$1" host="$2" token="$3" out
  # A node that is not up would be refused, and the refusal audited: wait for it.
  if [ "$(http_status "$host" "$http_port" /healthz)" != 200 ]; then
    log "node $id ($host) does not answer /healthz yet"
    return 1
  fi
  if out=$(ctl --token-file "$token" --timeout "$add_timeout" cluster add-node "$id" "$host:$grpc_port" 2>&1); then
    log "$out"
  else
    case "$out" in
      *"already a member"*) ;;
      *)
        log "adding node $id failed, will retry: $out"
        refused "$id"
        return 1
        ;;
    esac
  fi
  promote "$id" "$token"
}

# One round; true when every node of pods 0..replicas-1 is a voter.
reconcile() {
  local token="$1" status roles replicas done=true
  if ! status=$(ctl --token-file "$token" --output json cluster status 2>&1); then
    log "cluster status failed, will retry: $status"
    return 1
  fi
  roles=$(members <<< "$status")
  replicas=$(replicas) || return 1
  local index id host role
  # From 0: node 1 too, when it was removed to be added again with a new volume.
  for ((index = 0; index < replicas; index++)); do
    id=$((index + 1))
    host="$sts-$index.$peer_domain"
    role=$(awk -v id="$id" '$1 == id { print $2 }' <<< "$roles")
    case "$role" in
      voter) continue ;;
      learner)
        done=false
        due "$id" && promote "$id" "$token"
        ;;
      '')
        done=false
        due "$id" && add "$id" "$host" "$token"
        ;;
      *)
        done=false
        log "node $id has the unknown role $role"
        ;;
    esac
  done
  while read -r id role; do
    if [ -n "$id" ] && [ "$id" -gt "$replicas" ] && [ -z "${warned[$id]:-}" ]; then
      warned[$id]=1
      log "warning: node $id is still a $role but the StatefulSet has $replicas replicas; if its pod is gone for good, remove it: wardenctl cluster remove-node $id"
    fi
  done <<< "$roles"
  $done
}

log "pod $pod manages the membership of $sts (node 1 at $endpoint)"
until [ "$(http_status localhost "$http_port" /healthz)" = 200 ]; do pause 2; done
was_settled=false
while :; do
  token=$(token_file)
  if [ -z "$token" ] && initialize; then
    token=$(token_file)
  fi
  if [ -n "$token" ] && reconcile "$token"; then
    if [ "$was_settled" = false ]; then
      log "every node is a voter"
      was_settled=true
    fi
    pause "$settled_interval"
    continue
  fi
  was_settled=false
  pause "$interval"
done

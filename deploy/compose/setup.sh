#!/usr/bin/env bash
# The `setup` service of deploy/compose.yaml, run once the membership service has formed
# the cluster: the governed task of `warden demo` (node/src/bin/warden/demo/governance.rs),
# with no API key. It makes, in workspace `demo`:
#   - provider `model`: the `model` service, the scripted model (a test double speaking
#     the OpenAI wire protocol) following deploy/compose/scripted-model.json;
#   - catalog entry and MCP server `ledger`: the bundled ledger server, which each node
#     starts over stdio, confined to /var/lib/warden/ledger on that node's volume;
#   - agent `clerk`, granted the ledger's get, append and put;
#   - the demo's policy: the ledger is allowed, appending a shell deletion is denied, and
#     a write under payroll/ waits for one approver;
#   - user/approver, holding the approver role there (token in $state/approver.token);
#   - then it submits the governed task as the first admin, under a fixed idempotency key.
# Each step is skipped or repeated harmlessly on a later `up`: the same task comes back.
set -euo pipefail

nodes="${WARDEN_COMPOSE_NODES:-3}"
state="${WARDEN_MEMBERSHIP_STATE_DIR:-/var/lib/warden-membership}"
workspace=demo
ledger_dir=/var/lib/warden/ledger

say() { printf 'setup: %s\n' "$*" >&2; }

endpoints=""
for ((id = 1; id <= nodes; id++)); do endpoints="$endpoints${endpoints:+,}warden-$id:7400"; done
ctl() { wardenctl --endpoints "$endpoints" --ca "$state/ca.pem" --token-file "$state/admin.token" "$@"; }
# Runs a create that may find its object there already.
create() {
  local out
  if out=$(ctl "$@" 2>&1); then
    return 0
  fi
  case "$out" in
    *ALREADY_EXISTS*) return 0 ;;
    *)
      printf '%s\n' "$out" >&2
      return 1
      ;;
  esac
}

create workspace create "$workspace"
ctl provider put "$workspace" model --kind openai --base-url http://model:8080/v1 --model scripted > /dev/null
say "workspace $workspace, provider model (the scripted model at http://model:8080/v1)"

ctl catalog put ledger --executable /usr/local/bin/warden-ledger-tools \
  --allow-arg "--ledger=$ledger_dir/[A-Za-z0-9._-]+" --write-path "$ledger_dir" \
  --description "the bundled ledger mcp server" > /dev/null
if ! ctl --output json mcp list "$workspace" | tr -d ' \n' | grep -q '"name":"ledger"'; then
  ctl --timeout 30s mcp register "$workspace" ledger --catalog ledger --arg "--ledger=$ledger_dir/$workspace.jsonl" > /dev/null
fi
say "catalog entry and MCP server ledger (writing $ledger_dir/$workspace.jsonl on each node)"

create agent create "$workspace" clerk --provider model --instructions "Keep the ledger." \
  --tool ledger/get:retry-safe --tool ledger/append --tool ledger/put:retry-safe --max-steps 12
if ! ctl --output json policy get "$workspace" 2> /dev/null | grep -q '"rules"'; then
  ctl policy set "$workspace" /opt/warden/compose/policy.json --expected-version 0 > /dev/null
fi
say "agent clerk, policy: allow-ledger, no-rm (deny), payroll-needs-approval"

if [ ! -s "$state/approver.token" ]; then
  rm -f "$state/approver.token.new"
  ctl token create user/approver --description "the compose demo's approver" --out "$state/approver.token.new" > /dev/null
  mv -f "$state/approver.token.new" "$state/approver.token"
fi
ctl role set user/approver approver --workspace "$workspace" > /dev/null
say "user/approver holds the approver role (token in $state/approver.token)"

# On a later `up` the key finds the task: wardenctl notes that on stderr, left out here.
task=$(ctl task submit "$workspace" --agent clerk --key compose-governed-1 "pay alice" 2> >(grep -v '^note: ' >&2))
status=$(ctl --output json task get "$workspace" "$task" | sed -n 's/^ *"status": "\([a-z_]*\)".*/\1/p')
say "the governed task is $task, ${status:-unknown} (a new one waits for user/approver: see the README's Docker Compose section)"

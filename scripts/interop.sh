#!/usr/bin/env bash
# interop.sh checks bizmcp against MCP software we do not write: it starts
# the real server (`bizmcp serve --conformance`) on a fresh database, runs
# the official conformance suite against /conformance/mcp (same middleware as
# /mcp, no authentication), then drives the authenticated /mcp endpoint with
# the MCP Inspector CLI: list the tools, call one, check its figures.
#
# Needs DATABASE_URL pointing at a PostgreSQL superuser connection of a
# disposable cluster (`make test` passes its own); REDIS_URL is optional.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

node_version=22.23.3
inspector_version=2.12.0
tools="$root/.tools"
node_bin="$tools/node_modules/node/bin"
log() { echo "interop.sh: $*" >&2; }

: "${DATABASE_URL:?DATABASE_URL must name a disposable PostgreSQL (make test sets it)}"

# Node 22 and the suite come with conformance.sh; the Inspector is added here.
if [ ! -f "$tools/node_modules/@modelcontextprotocol/inspector/package.json" ] ||
	! grep -q "\"version\": \"$inspector_version\"" "$tools/node_modules/@modelcontextprotocol/inspector/package.json"; then
	scripts/conformance.sh --install-only
	log "installing @modelcontextprotocol/inspector@$inspector_version into .tools/"
	(cd "$tools" && PATH="$node_bin:$PATH" npm install --no-audit --no-fund --save-exact --loglevel=error \
		"node@$node_version" "@modelcontextprotocol/inspector@$inspector_version")
fi
export PATH="$node_bin:$PATH"

workdir=$(mktemp -d)
server_pid=""
db="interop_$$"
admin_url=$DATABASE_URL
cleanup() {
	if [ -n "$server_pid" ]; then
		kill "$server_pid" 2>/dev/null || true
		wait "$server_pid" 2>/dev/null || true
	fi
	psql "$admin_url" -qc "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1 || true
	rm -rf "$workdir"
}
trap cleanup EXIT

psql "$admin_url" -qc "CREATE DATABASE $db" >/dev/null
export DATABASE_URL=$(printf '%s' "$admin_url" | sed -E "s#/[^/?]+(\?|$)#/$db\1#")
export SECRET_KEY=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')
export REDIS_PREFIX="interop:$$:"
export LOG_FORMAT=json HTTP_ADDR=127.0.0.1:0

go build -buildvcs=auto -o "$workdir/bizmcp" ./cmd/bizmcp
"$workdir/bizmcp" serve --conformance >"$workdir/server.log" 2>&1 &
server_pid=$!
port=""
for _ in $(seq 300); do
	port=$(sed -n 's/.*"msg":"http server listening","addr":"127.0.0.1:\([0-9]*\)".*/\1/p' "$workdir/server.log")
	[ -n "$port" ] && break
	kill -0 "$server_pid" 2>/dev/null || break
	sleep 0.1
done
if [ -z "$port" ]; then
	cat "$workdir/server.log" >&2
	log "bizmcp did not start"
	exit 1
fi
log "bizmcp serving on port $port"

echo "=== MCP conformance suite (2025-11-25 and 2026-07-28) against /conformance/mcp ==="
scripts/conformance.sh "http://localhost:$port/conformance/mcp"

echo "=== MCP Inspector CLI $inspector_version against /mcp ==="
key=$("$workdir/bizmcp" keys create --name inspector --scopes read,write 2>/dev/null | tail -n 1)
inspect() {
	(cd "$workdir" && MCP_CATALOG_PATH="$workdir/catalog.json" timeout 60 "$tools/node_modules/.bin/inspector" --cli \
		"http://localhost:$port/mcp" --transport http --header "Authorization: Bearer $key" "$@")
}
inspect --method tools/list >"$workdir/tools.json"
node -e '
const r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
const names = r.tools.map(t => t.name).sort();
const want = ["cancel_task","create_task","customer_segmenter","data_analyzer","financial_analyzer","get_task","list_agents","list_tasks","llm_processor","report_generator","sales_forecaster","send_agent_message"];
if (JSON.stringify(names) !== JSON.stringify(want)) { console.error("tools/list:", names); process.exit(1); }
console.log("tools/list: " + names.join(", "));
' "$workdir/tools.json"

inspect --method tools/call --tool-name sales_forecaster --tool-arg 'series=[10,12,14,16,18]' 'horizon=2' >"$workdir/call.json"
node -e '
const r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
const f = r.structuredContent && r.structuredContent.forecasts;
if (r.isError || !f || Math.abs(f[0].value - 20) > 1e-9 || Math.abs(f[1].value - 22) > 1e-9) {
  console.error("tools/call sales_forecaster:", JSON.stringify(r)); process.exit(1);
}
console.log("tools/call sales_forecaster: forecasts " + f.map(p => p.value).join(", ") + " (expected 20, 22)");
' "$workdir/call.json"

if inspect --method tools/list --header "Authorization: Bearer bmcp_not_a_key" >"$workdir/unauth.out" 2>&1; then
	log "the Inspector listed tools with a bogus key"
	exit 1
fi
echo "tools/list with a bogus key: refused"

echo "=== a 2026-07-28 client (stateless: no initialize, no session) against /mcp ==="
# Written by hand, as a client of the new revision sends it, so that what is
# checked is the wire: the version in the header and in _meta, Mcp-Method and
# Mcp-Name, and no Mcp-Session-Id in any answer.
rpc2026() { # method name params-json
	curl -sS -D "$workdir/headers" -X POST "http://localhost:$port/mcp" \
		-H "Authorization: Bearer $key" -H 'Content-Type: application/json' \
		-H 'Accept: application/json, text/event-stream' \
		-H 'Mcp-Protocol-Version: 2026-07-28' -H "Mcp-Method: $1" ${2:+-H "Mcp-Name: $2"} \
		--data "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"$1\",\"params\":$3}"
	if grep -qi '^mcp-session-id:' "$workdir/headers"; then
		log "a 2026-07-28 answer carried a session id"
		exit 1
	fi
}
meta='"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":{}}'
rpc2026 server/discover "" "{$meta}" >"$workdir/discover.out"
rpc2026 tools/call sales_forecaster "{\"name\":\"sales_forecaster\",\"arguments\":{\"series\":[10,12,14,16,18],\"horizon\":2},$meta}" >"$workdir/call2026.out"
node -e '
const fs = require("fs");
// An answer is JSON, or an SSE stream whose data lines carry the message.
const msg = f => { const t = fs.readFileSync(f, "utf8"); const d = t.split("\n").filter(l => l.startsWith("data:")).map(l => l.slice(5)).filter(Boolean);
  return JSON.parse(d.length ? d[d.length - 1] : t); };
const disc = msg(process.argv[1]).result, call = msg(process.argv[2]).result;
if (!disc || !disc.supportedVersions.includes("2026-07-28") || !disc.supportedVersions.includes("2025-11-25")) { console.error("server/discover:", JSON.stringify(disc)); process.exit(1); }
const f = call && call.structuredContent && call.structuredContent.forecasts;
if (!f || Math.abs(f[0].value - 20) > 1e-9) { console.error("tools/call (2026):", JSON.stringify(call)); process.exit(1); }
console.log("server/discover: " + disc.supportedVersions.join(", ") + "; tools/call sales_forecaster (2026): forecasts " + f.map(p => p.value).join(", "));
' "$workdir/discover.out" "$workdir/call2026.out"

# MCP Tasks: a task-augmented create_task answers with a handle, and a listen
# on it hears the task to its end as notifications/tasks, then ends.
tmeta='"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":{"extensions":{"io.modelcontextprotocol/tasks":{}}}}'
rpc2026 tools/call create_task "{\"name\":\"create_task\",\"arguments\":{\"title\":\"interop\",\"domain\":\"sales\",\"input_data\":{\"series\":[10,12,14,16,18],\"horizon\":1}},$tmeta}" >"$workdir/task.out"
handle=$(node -e '
const t = require("fs").readFileSync(process.argv[1], "utf8"); const d = t.split("\n").filter(l => l.startsWith("data:")).map(l => l.slice(5)).filter(Boolean);
const r = JSON.parse(d.length ? d[d.length - 1] : t).result;
if (!r || r.resultType !== "task" || !r.taskId) { console.error("create_task (task-augmented):", JSON.stringify(r)); process.exit(1); }
console.log(r.taskId);
' "$workdir/task.out")
timeout 90 curl -sS -N -X POST "http://localhost:$port/mcp" \
	-H "Authorization: Bearer $key" -H 'Content-Type: application/json' -H 'Accept: application/json, text/event-stream' \
	-H 'Mcp-Protocol-Version: 2026-07-28' -H 'Mcp-Method: subscriptions/listen' \
	--data "{\"jsonrpc\":\"2.0\",\"id\":\"listen\",\"method\":\"subscriptions/listen\",\"params\":{\"notifications\":{\"taskIds\":[\"$handle\"]},$tmeta}}" >"$workdir/listen.out"
node -e '
const msgs = require("fs").readFileSync(process.argv[1], "utf8").split("\n").filter(l => l.startsWith("data:")).map(l => JSON.parse(l.slice(5)));
const fail = m => { console.error("subscriptions/listen:", m, JSON.stringify(msgs)); process.exit(1); };
if (msgs[0]?.method !== "notifications/subscriptions/acknowledged" || !msgs[0].params.notifications.taskIds?.includes(process.argv[2])) fail("no acknowledgement naming the task");
const states = msgs.filter(m => m.method === "notifications/tasks").map(m => m.params);
const last = states[states.length - 1];
if (!last || last.status !== "completed" || !last.result) fail("no completed notification with its result");
if (msgs[msgs.length - 1].id !== "listen" || !msgs[msgs.length - 1].result) fail("the listen did not end with its result");
console.log("create_task as an MCP task, then subscriptions/listen: " + states.map(s => s.status).join(" -> "));
' "$workdir/listen.out" "$handle"
echo "interop: PASS"

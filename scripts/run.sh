#!/usr/bin/env bash
# run.sh is `make run`: local PostgreSQL and Redis (unless DATABASE_URL and
# REDIS_URL are given), a .env with a generated SECRET_KEY on first run, the
# schema migrated, a first admin API key printed once, then the server.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

if [ ! -f .env ]; then
	secret=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')
	(umask 077 && cat >.env <<ENV
# Written by \`make run\` on $(date -u +%Y-%m-%dT%H:%M:%SZ). Keep it secret; see the README for every variable.
SECRET_KEY=$secret
ENV
	)
	echo "run.sh: wrote .env with a generated SECRET_KEY"
fi

if [ -z "${DATABASE_URL:-}" ]; then
	scripts/services.sh start dev "${BIZMCP_DEV_PG_PORT:-55432}" "${BIZMCP_DEV_REDIS_PORT:-56379}"
	export DATABASE_URL="postgres://postgres@127.0.0.1:${BIZMCP_DEV_PG_PORT:-55432}/bizmcp?sslmode=disable"
	if [ -z "${REDIS_URL:-}" ]; then
		export REDIS_URL="redis://127.0.0.1:${BIZMCP_DEV_REDIS_PORT:-56379}/0"
	fi
	echo "run.sh: local PostgreSQL and Redis under .data/dev (stop them with \`make services-stop\`)"
fi

go build -buildvcs=auto -o bin/bizmcp ./cmd/bizmcp
bin/bizmcp migrate up
created=$(bin/bizmcp keys create --if-no-keys --name "first admin" --scopes admin)
if [ -n "$created" ]; then
	key=$(printf '%s\n' "$created" | tail -n 1)
	cat <<MSG

  ================================================================
  First admin API key (shown once; store it now):

    $key

  Dashboard: open http://localhost:8080 and sign in with it.
  REST:      curl -H "Authorization: Bearer $key" http://localhost:8080/api/v1/admin/keys
  ================================================================

MSG
fi
echo "run.sh: serving the dashboard at http://localhost:8080 (sign in with an admin key; Ctrl-C stops)"
exec bin/bizmcp serve

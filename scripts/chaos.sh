#!/usr/bin/env bash
# chaos.sh runs bizmcp's fault and soak drills (cmd/chaos) against bin/bizmcp
# and their own PostgreSQL and Redis under .data/chaos, stopped at the end.
#
#   scripts/chaos.sh            the full drills (a 30-minute soak)
#   scripts/chaos.sh -short     the CI version (about 4 minutes)
#   scripts/chaos.sh -drills kill -tasks 2000    any cmd/chaos flags
#
# The ports are the drills' own (CHAOS_PG_PORT, CHAOS_REDIS_PORT), so the
# development and test services are never touched.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
pg_port=${CHAOS_PG_PORT:-55533}
redis_port=${CHAOS_REDIS_PORT:-56480}

go build -buildvcs=auto -o bin/bizmcp ./cmd/bizmcp
go build -o bin/chaos ./cmd/chaos
scripts/services.sh start chaos "$pg_port" "$redis_port"
trap 'scripts/services.sh stop chaos' EXIT
bin/chaos -pg-port "$pg_port" -redis-port "$redis_port" -data .data/chaos "$@"

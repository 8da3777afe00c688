#!/usr/bin/env bash
# services.sh manages the project-local PostgreSQL cluster and Redis server that
# `make run` and `make test` use, so a fresh machine needs nothing but Go.
#
#   scripts/services.sh start NAME PG_PORT REDIS_PORT   start (and create on first use) .data/NAME
#   scripts/services.sh stop  NAME                      stop what start started, by PID
#   scripts/services.sh with  NAME PG_PORT REDIS_PORT -- CMD...
#                                                       start, run CMD with DATABASE_URL/REDIS_URL
#                                                       exported, stop what was started here
#
# Only loopback is listened on. PostgreSQL trusts local loopback connections:
# it is a development cluster inside the checkout, never a production server.
# initdb refuses to run as root, so as root the cluster belongs to the
# `postgres` system user (created by the Debian package).
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)

die() { echo "services.sh: $*" >&2; exit 1; }

pg_bindir() {
	local d
	if command -v pg_config >/dev/null 2>&1; then
		d=$(pg_config --bindir)
		[ -x "$d/initdb" ] && { echo "$d"; return; }
	fi
	for d in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
		[ -x "$d/initdb" ] && { echo "$d"; return; }
	done
	return 1
}

ensure_packages() {
	local missing=()
	pg_bindir >/dev/null || missing+=(postgresql)
	command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
	[ ${#missing[@]} -eq 0 ] && return
	if [ "$(id -u)" -ne 0 ] || [ "${BIZMCP_NO_INSTALL:-}" = 1 ]; then
		die "missing ${missing[*]}: install them (sudo apt-get install -y ${missing[*]}) or set DATABASE_URL and REDIS_URL"
	fi
	echo "services.sh: installing ${missing[*]} from Debian packages" >&2
	DEBIAN_FRONTEND=noninteractive apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
}

# as_pg runs a PostgreSQL server program as the cluster's owner.
as_pg() {
	if [ "$(id -u)" -eq 0 ]; then
		runuser -u postgres -- "$@"
	else
		"$@"
	fi
}

start() {
	local name=$1 pg_port=$2 redis_port=$3
	local dir="$root/.data/$name"
	ensure_packages
	local bin
	bin=$(pg_bindir) || die "PostgreSQL binaries not found"
	mkdir -p "$dir"
	local pgdata="$dir/pg"
	if [ ! -f "$pgdata/PG_VERSION" ]; then
		mkdir -p "$pgdata"
		[ "$(id -u)" -eq 0 ] && chown postgres: "$pgdata"
		chmod 700 "$pgdata"
		as_pg "$bin/initdb" -D "$pgdata" -U postgres --auth=trust --encoding=UTF8 --no-locale >/dev/null
	fi
	if ! as_pg "$bin/pg_ctl" -D "$pgdata" status >/dev/null 2>&1; then
		# fsync off only for the throwaway test cluster: it makes per-test databases cheap.
		local extra=""
		[ "$name" = test ] && extra="-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
		as_pg "$bin/pg_ctl" -D "$pgdata" -l "$pgdata/server.log" -w -t 60 \
			-o "-p $pg_port -c listen_addresses=127.0.0.1 -k $pgdata -c max_connections=300 $extra" start >/dev/null ||
			{ tail -20 "$pgdata/server.log" >&2; die "PostgreSQL did not start on port $pg_port"; }
		touch "$dir/pg.started-here"
	fi
	if ! "$bin/psql" -h 127.0.0.1 -p "$pg_port" -U postgres -Atqc "select 1 from pg_database where datname='bizmcp'" postgres | grep -q 1; then
		"$bin/createdb" -h 127.0.0.1 -p "$pg_port" -U postgres bizmcp
	fi
	if ! redis-cli -p "$redis_port" ping >/dev/null 2>&1; then
		redis-server --port "$redis_port" --bind 127.0.0.1 --dir "$dir" --daemonize yes \
			--pidfile "$dir/redis.pid" --logfile "$dir/redis.log" --save "" --appendonly no >/dev/null
		for _ in $(seq 50); do redis-cli -p "$redis_port" ping >/dev/null 2>&1 && break; sleep 0.1; done
		redis-cli -p "$redis_port" ping >/dev/null 2>&1 || die "Redis did not start on port $redis_port"
		touch "$dir/redis.started-here"
	fi
}

stop() {
	local name=$1
	local dir="$root/.data/$name"
	local bin
	bin=$(pg_bindir) || true
	if [ -f "$dir/pg.started-here" ] && [ -n "$bin" ]; then
		as_pg "$bin/pg_ctl" -D "$dir/pg" -m fast -w stop >/dev/null 2>&1 || true
		rm -f "$dir/pg.started-here"
	fi
	if [ -f "$dir/redis.started-here" ] && [ -f "$dir/redis.pid" ]; then
		kill "$(cat "$dir/redis.pid")" 2>/dev/null || true
		rm -f "$dir/redis.started-here"
	fi
}

case "${1:-}" in
start)
	[ $# -eq 4 ] || die "usage: start NAME PG_PORT REDIS_PORT"
	start "$2" "$3" "$4"
	;;
stop)
	[ $# -eq 2 ] || die "usage: stop NAME"
	stop "$2"
	;;
with)
	[ $# -ge 6 ] && [ "$5" = -- ] || die "usage: with NAME PG_PORT REDIS_PORT -- CMD..."
	name=$2 pg_port=$3 redis_port=$4
	shift 5
	already=0
	[ -f "$root/.data/$name/pg.started-here" ] && already=1
	start "$name" "$pg_port" "$redis_port"
	[ $already -eq 1 ] || trap 'stop "$name"' EXIT
	export DATABASE_URL="postgres://postgres@127.0.0.1:$pg_port/bizmcp?sslmode=disable"
	export REDIS_URL="redis://127.0.0.1:$redis_port/0"
	"$@"
	;;
*)
	die "usage: services.sh start|stop|with ..."
	;;
esac

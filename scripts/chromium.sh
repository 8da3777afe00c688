#!/usr/bin/env bash
# chromium.sh makes sure Debian's chromium is there for the browser tests
# (internal/browsertest): it installs the package when it is missing and
# installing is allowed (root, BIZMCP_NO_INSTALL unset), as services.sh does
# for PostgreSQL and Redis. Otherwise the browser tests skip, unless
# BIZMCP_REQUIRE_BROWSER is set (CI), in which case this fails at once.
set -euo pipefail

path=${CHROMIUM:-/usr/bin/chromium}
[ -x "$path" ] && exit 0
if [ "$(id -u)" -ne 0 ] || [ "${BIZMCP_NO_INSTALL:-}" = 1 ]; then
	msg="$path is missing: install it (sudo apt-get install -y chromium) or set CHROMIUM to a Chromium binary"
	if [ -n "${BIZMCP_REQUIRE_BROWSER:-}" ]; then
		echo "chromium.sh: $msg (BIZMCP_REQUIRE_BROWSER is set)" >&2
		exit 1
	fi
	echo "chromium.sh: $msg; the browser tests will skip" >&2
	exit 0
fi
echo "chromium.sh: installing chromium from Debian packages" >&2
DEBIAN_FRONTEND=noninteractive apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null

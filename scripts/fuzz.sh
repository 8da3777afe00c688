#!/usr/bin/env bash
# Runs every fuzz target of the module (each `func FuzzXxx` in a test file),
# one after the other, for FUZZTIME each. Targets are found in the source, so
# a new one is run without being listed here.
#
#   FUZZTIME      time per target (default 10s: the short run of `make test`;
#                 `make fuzz` uses 10m)
#   FUZZPARALLEL  fuzzing processes per target (default 1: the short run
#                 shares the machine with the rest of the tests)
#   FUZZ_ONLY     a regular expression: run only the targets it matches
#   FUZZTIMEOUT   go test -timeout per target (default: 5m for a run given
#                 in seconds, none for longer runs; go test's own default of
#                 10m would end a 10m run as a failure)
#
# The REST and tool targets need PostgreSQL and Redis (BIZMCP_TEST_*), as
# the other tests do. A failing input is saved by `go test` under the
# package's testdata/fuzz/<target>/, where it stays a regression test: commit
# it with its fix. Each target's last progress line is printed, and all of it
# on failure.
#
# Go 1.26's fuzzing coordinator can fail a target at the end of -fuzztime
# with a bare "context deadline exceeded" and no failing input: a race in
# internal/fuzz (go.dev/issue/75804, fixed in Go 1.27), more likely on a
# loaded machine. Such a failure, and only such (the message as the target's
# whole failure, and no new input under testdata/fuzz/<target>/), is run
# again once; any other failure, or the same one twice, fails.
set -euo pipefail
cd "$(dirname "$0")/.."

GO=${GO:-go}
FUZZTIME=${FUZZTIME:-10s}
FUZZPARALLEL=${FUZZPARALLEL:-1}
FUZZ_ONLY=${FUZZ_ONLY:-.}
if [[ $FUZZTIME =~ ^[0-9]+s$ ]]; then
	FUZZTIMEOUT=${FUZZTIMEOUT:-5m}
else
	FUZZTIMEOUT=${FUZZTIMEOUT:-0}
fi
logdir=$(mktemp -d)
trap 'rm -rf "$logdir"' EXIT

targets=()
while IFS= read -r file; do
	while IFS= read -r name; do
		targets+=("./$(dirname "$file") $name")
	done < <(sed -n 's/^func \(Fuzz[A-Za-z0-9_]*\)(.*/\1/p' "$file")
done < <(git ls-files --cached --others --exclude-standard -- '*_test.go' | sort)

# inputs lists the files of a target's saved failing inputs.
inputs() {
	local dir="$1/testdata/fuzz/$2"
	[[ -d $dir ]] && find "$dir" -type f | sort || true
}

# run_target fuzzes one target into its log, once more after the
# coordinator's race (above).
run_target() {
	local pkg=$1 name=$2 log=$3 before
	fuzz_once() {
		"$GO" test -run '^$' -fuzz "^${name}\$" -fuzztime "$FUZZTIME" -timeout "$FUZZTIMEOUT" -parallel "$FUZZPARALLEL" "$pkg" >"$log" 2>&1
	}
	before=$(inputs "$pkg" "$name")
	fuzz_once && return 0
	if [[ $(inputs "$pkg" "$name") == "$before" ]] &&
		grep -A1 -- "^--- FAIL: $name " "$log" | tail -1 | grep -qx '    context deadline exceeded'; then
		echo "      $name: Go's coordinator race at the deadline (go.dev/issue/75804), no failing input: once more"
		fuzz_once && return 0
	fi
	return 1
}

failed=0
ran=0
start=$SECONDS
for target in "${targets[@]}"; do
	read -r pkg name <<<"$target"
	[[ $name =~ $FUZZ_ONLY ]] || continue
	ran=$((ran + 1))
	log="$logdir/$name.log"
	if run_target "$pkg" "$name" "$log"; then
		last=$(grep '^fuzz: elapsed' "$log" | tail -1 || true)
		printf 'ok    %-28s %-26s %s\n' "$name" "$pkg" "${last#fuzz: }"
	else
		failed=$((failed + 1))
		printf 'FAIL  %-28s %s\n' "$name" "$pkg"
		cat "$log"
	fi
done
echo "fuzz: $ran targets, $failed failed, ${FUZZTIME} each, $((SECONDS - start))s"
[[ $ran -gt 0 ]] || { echo "fuzz: no target matches FUZZ_ONLY=$FUZZ_ONLY"; exit 1; }
[[ $failed -eq 0 ]]

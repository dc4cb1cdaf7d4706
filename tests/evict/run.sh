#!/bin/sh
# run.sh: builds the eviction simulator against src/store_evict.c (the code the
# store runs) and replays the Zipf traces behind the hit ratios quoted in
# docs/store.md. Extra arguments go to every sim run (e.g. -s 2 for another
# seed). Usage: tests/evict/run.sh [sim options]
set -eu

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT INT TERM

${CC:-cc} -std=c17 -D_GNU_SOURCE -O2 -I"$top/src" "$top/src/store_evict.c" \
    "$here/sim.c" -lm -o "$tmp/sim"

for alpha in 0.8 0.9 1.0; do
	for percent in 1 10 30; do
		"$tmp/sim" -a "$alpha" -c "$percent" "$@"
		echo
	done
done

#!/usr/bin/env bash
# A/B of offx builds on a noisy machine: the same 20-session backfill (12,000 symbols, file://,
# a fresh SQLite file each run) with each binary in turn, ROUNDS times, so drift in the host's
# speed hits every binary alike. Prints each binary's wall times, sorted (compare the best and
# the median, not one run).
#
#   cp target/release/offx /tmp/offx.before    # build, copy; change, build again
#   bench/ab.sh /tmp/offx.before target/release/offx
#   ROUNDS=10 bench/ab.sh A B C
set -euo pipefail
cd "$(dirname "$0")/.."
[ $# -ge 1 ] || { echo "usage: bench/ab.sh OFFX_BINARY..." >&2; exit 2; }

FROM=2024-01-02
TO=2024-01-30
ROUNDS=${ROUNDS:-6}
WORK=${BENCH_DIR:-target/bench-anchors}
MIRROR=$WORK/mirror-12000-$FROM-$TO
if [ ! -d "$MIRROR" ]; then
  cargo build -q --release -p offx-synth
  target/release/offx-synth --out "$MIRROR" --from "$FROM" --to "$TO" --symbols 12000 >/dev/null
fi
MIRROR=$(cd "$MIRROR" && pwd)
DB=$WORK/ab.sqlite

export OFFX_CACHE_DIR=off OFFX_LOG=warn
declare -A times
for _ in $(seq "$ROUNDS"); do
  for i in $(seq $#); do
    bin=${!i}
    rm -f "$DB" "$DB-wal" "$DB-shm"
    t0=$(date +%s.%N)
    "$bin" --base-url "file://$MIRROR" backfill --from "$FROM" --to "$TO" \
      --store "sqlite:$DB" --format json >/dev/null
    t1=$(date +%s.%N)
    times[$i]="${times[$i]:-} $(python3 -c "print(f'{$t1 - $t0:.2f}')")"
  done
done
for i in $(seq $#); do
  sorted=$(tr ' ' '\n' <<<"${times[$i]}" | grep . | sort -n | tr '\n' ' ')
  printf '%-40s %s\n' "${!i}" "$sorted"
done

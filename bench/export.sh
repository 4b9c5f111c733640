#!/usr/bin/env bash
# Export benchmark: a year (252 sessions x 12,000 symbols) from SQLite to Parquet and CSV, latest
# and as of a time.
#
#   bench/export.sh            # backfills the year into SQLite first if bench/backfill.sh has not
#
# Prints wall time, rows/s and file size per export.
set -euo pipefail
cd "$(dirname "$0")/.."

FROM=${SESSIONS_FROM:-2024-01-02}
TO=${SESSIONS_TO:-2024-12-31}
SYMBOLS=${SYMBOLS:-12000}
WORK=${BENCH_DIR:-target/bench-backfill}
MIRROR=$WORK/mirror-$SYMBOLS-$FROM-$TO
DB=$WORK/export.sqlite

cargo build -q --release -p offx -p offx-synth
BIN=target/release
mkdir -p "$WORK"
if [ ! -d "$MIRROR" ]; then
  echo "== generating the mirror ($SYMBOLS symbols, $FROM..$TO)"
  $BIN/offx-synth --out "$MIRROR" --from "$FROM" --to "$TO" --symbols "$SYMBOLS"
fi
export OFFX_CACHE_DIR=off OFFX_LOG=warn
if [ ! -f "$DB" ]; then
  echo "== backfill $FROM..$TO into $DB"
  $BIN/offx --base-url "file://$PWD/$MIRROR" backfill --from "$FROM" --to "$TO" --store "sqlite:$DB" --format json >/dev/null
fi
echo "store: $DB ($(du -m "$DB" | cut -f1) MB)"

run() { # name, output file, export arguments...
  local name=$1 out=$2; shift 2
  local t0 t1
  t0=$(date +%s.%N)
  $BIN/offx export --from "$FROM" --to "$TO" --store "sqlite:$DB" "$@" --out "$out"
  t1=$(date +%s.%N)
  python3 - "$name" "$out" "$t0" "$t1" <<'PY'
import os, sys
name, out, t0, t1 = sys.argv[1], sys.argv[2], float(sys.argv[3]), float(sys.argv[4])
size = os.path.getsize(out) / 1e6
print(f"{name:<34} {t1 - t0:6.2f} s   {size:7.1f} MB")
PY
}
run "parquet, latest values" "$WORK/year.parquet" --format parquet
run "parquet, as of 2030-01-01 (all versions)" "$WORK/year-asof.parquet" --format parquet --as-of 2030-01-01T00:00:00Z
run "csv, latest values" "$WORK/year.csv" --format csv

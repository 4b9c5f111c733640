#!/usr/bin/env bash
# Backfill benchmarks on a full-size synthetic mirror (issue: backfill years of history fast).
#
#   bench/backfill.sh            # 252 sessions of 2024, 12,000 symbols
#   SESSIONS_TO=2024-03-28 bench/backfill.sh   # a shorter range
#
# Measures, from file:// and from a local HTTP server that answers like FINRA's CDN:
# one session end to end, a 252-session backfill into SQLite and into PostgreSQL, peak RSS
# (GNU time), HTTP requests made, and prints sessions/s, rows/s, MB/s.
set -euo pipefail
cd "$(dirname "$0")/.."

FROM=${SESSIONS_FROM:-2024-01-02}
TO=${SESSIONS_TO:-2024-12-31}
SYMBOLS=${SYMBOLS:-12000}
WORK=${BENCH_DIR:-target/bench-backfill}
PG=${BENCH_PG:-postgres://postgres@127.0.0.1:5432/test}
MIRROR=$WORK/mirror-$SYMBOLS-$FROM-$TO

cargo build -q --release -p offx -p offx-synth -p offx-bench --bins
BIN=target/release
mkdir -p "$WORK"
if [ ! -d "$MIRROR" ]; then
  echo "== generating the mirror ($SYMBOLS symbols, $FROM..$TO)"
  $BIN/offx-synth --out "$MIRROR" --from "$FROM" --to "$TO" --symbols "$SYMBOLS"
fi
MB=$(du -sm "$MIRROR" | cut -f1)
echo "mirror: $MIRROR ($MB MB)"

export OFFX_CACHE_DIR=off FINRA_HTTP_RETRIES=0 OFFX_LOG=warn
run() { # name, command...; prints wall seconds and peak RSS
  local name=$1; shift
  local out; out=$(mktemp)
  /usr/bin/time -f "%e %M" -o "$out.time" "$@" >"$out" 2>"$out.err" || { cat "$out.err"; exit 1; }
  read -r secs rss_kb <"$out.time"
  printf '%-46s %7.2f s   peak RSS %6.1f MB\n' "$name" "$secs" "$(awk "BEGIN{print $rss_kb/1024}")"
  LAST_SECS=$secs
  LAST_OUT=$out
}
summary() { # sessions/s, rows/s, MB/s from the backfill's JSON summary
  python3 - "$LAST_OUT" "$MB" <<'PY'
import json, sys
doc = json.load(open(sys.argv[1])); mb = float(sys.argv[2]); s = doc["elapsed_seconds"]
print(f"    {doc['sessions_stored']} sessions, {doc['rows_written']} rows in {s:.2f} s engine time: "
      f"{doc['sessions_stored']/s:.1f} sessions/s, {doc['rows_written']/s:,.0f} rows/s, {mb/s:.1f} MB/s of FINRA files")
PY
}

FIRST_SESSION=$(ls "$MIRROR/regsho/daily" | awk '!found && /^CNMS/ { print substr($0, 10, 4) "-" substr($0, 14, 2) "-" substr($0, 16, 2); found = 1 }')
echo "== one session ($FIRST_SESSION, no store)"
run "enrich, file://" $BIN/offx --base-url "file://$PWD/$MIRROR" enrich --date "$FIRST_SESSION" --no-store --format csv

echo "== backfill into SQLite, file://"
rm -f "$WORK/bench.sqlite"*
run "backfill -> SQLite, file://" $BIN/offx --base-url "file://$PWD/$MIRROR" backfill --from "$FROM" --to "$TO" --store "sqlite:$WORK/bench.sqlite" --format json
summary

echo "== backfill into PostgreSQL, file://"
psql -q "$PG" -c "DROP SCHEMA IF EXISTS offx_bench CASCADE; CREATE SCHEMA offx_bench;" >/dev/null
run "backfill -> PostgreSQL, file://" $BIN/offx --base-url "file://$PWD/$MIRROR" backfill --from "$FROM" --to "$TO" --store "$PG?options=-csearch_path%3Doffx_bench" --format json
summary
psql -q "$PG" -c "DROP SCHEMA offx_bench CASCADE;" >/dev/null

echo "== backfill into SQLite over HTTP (127.0.0.1, FINRA's answers), requests counted"
$BIN/finra-cdn "$MIRROR" >"$WORK/cdn.url" 2>"$WORK/cdn.log" &
CDN=$!
for _ in $(seq 50); do [ -s "$WORK/cdn.url" ] && break; sleep 0.1; done
rm -f "$WORK/bench.sqlite"*
run "backfill -> SQLite, http" $BIN/offx --base-url "$(cat "$WORK/cdn.url")" backfill --from "$FROM" --to "$TO" --store "sqlite:$WORK/bench.sqlite" --format json
summary
kill -TERM $CDN; wait $CDN || true
echo "    HTTP $(cat "$WORK/cdn.log")"

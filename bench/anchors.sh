#!/usr/bin/env bash
# offx side by side with the scripts a user writes instead (../shared/bench: requests + pandas,
# requests + polars), in one run, against the same local HTTP server answering like FINRA's CDN.
#
#   bench/anchors.sh                          # 20 sessions (2024-01-02..2024-01-30), 12,000 symbols
#   SESSIONS_TO=2024-03-28 bench/anchors.sh   # a longer range
#   RUNS=5 bench/anchors.sh                   # best of 5 for each (default 3)
#
# Each writes a fresh SQLite file. offx does its whole job (daily_features, the provenance ledger,
# feature versions, regsho_daily, ats_weekly); the anchors write daily_features only. Wall times
# are the best of RUNS; the ratios are what the README's benchmark table reports.
set -euo pipefail
cd "$(dirname "$0")/.."

FROM=${SESSIONS_FROM:-2024-01-02}
TO=${SESSIONS_TO:-2024-01-30}
SYMBOLS=${SYMBOLS:-12000}
RUNS=${RUNS:-3}
WORK=${BENCH_DIR:-target/bench-anchors}
ANCHORS=${ANCHORS:-../shared/bench}
MIRROR=$WORK/mirror-$SYMBOLS-$FROM-$TO
VENV=$WORK/venv

cargo build -q --release -p offx -p offx-synth -p offx-bench --bins
BIN=target/release
mkdir -p "$WORK"
[ -d "$MIRROR" ] || $BIN/offx-synth --out "$MIRROR" --from "$FROM" --to "$TO" --symbols "$SYMBOLS" >/dev/null
if [ ! -x "$VENV/bin/python" ]; then
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q --disable-pip-version-check requests pandas polars
fi

$BIN/finra-cdn "$MIRROR" >"$WORK/cdn.url" 2>"$WORK/cdn.log" &
CDN=$!
trap 'kill -TERM $CDN 2>/dev/null || true' EXIT
for _ in $(seq 50); do [ -s "$WORK/cdn.url" ] && break; sleep 0.1; done
URL=$(cat "$WORK/cdn.url")

export OFFX_CACHE_DIR=off FINRA_HTTP_RETRIES=0 OFFX_LOG=warn
best() { # name, command...: best wall time of RUNS, each on a fresh database
  local name=$1; shift
  local best_s=""
  for _ in $(seq "$RUNS"); do
    rm -f "$WORK/run.sqlite"*
    local t0 t1
    t0=$(date +%s.%N)
    "$@" >"$WORK/$name.out" 2>"$WORK/$name.err" || { cat "$WORK/$name.err"; exit 1; }
    t1=$(date +%s.%N)
    best_s=$(python3 -c "t = $t1 - $t0; b = '$best_s'; print(min(t, float(b)) if b else t)")
  done
  rows=$(python3 -c "import sqlite3; print(sqlite3.connect('$WORK/run.sqlite').execute('select count(*) from daily_features').fetchone()[0])")
  printf '%-8s %7.2f s  %8d rows  %9.0f rows/s\n' "$name" "$best_s" "$rows" "$(python3 -c "print($rows / $best_s)")"
  eval "${name}_s=$best_s"
}

echo "mirror: $MIRROR ($(du -sm "$MIRROR" | cut -f1) MB), server $URL, best of $RUNS"
best offx $BIN/offx --base-url "$URL" backfill --from "$FROM" --to "$TO" --store "sqlite:$WORK/run.sqlite" --format json
best pandas "$VENV/bin/python" "$ANCHORS/pandas_anchor.py" "$URL" "$FROM" "$TO" "$WORK/run.sqlite"
best polars "$VENV/bin/python" "$ANCHORS/polars_anchor.py" "$URL" "$FROM" "$TO" "$WORK/run.sqlite"
python3 -c "print(f'offx is {$pandas_s / $offx_s:.1f}x the pandas script, {$polars_s / $offx_s:.1f}x the polars script')"

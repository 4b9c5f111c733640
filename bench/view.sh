#!/usr/bin/env bash
# Timing of `offx top` and `offx report` over a stored year of 12,000 symbols (issue: let people
# look; aim under 1 s each), and of `offx chart` for one symbol over the year.
#
#   bench/view.sh                       # 252 sessions of 2024, 12,000 symbols, SQLite
#   SYMBOLS=3000 bench/view.sh          # smaller
set -euo pipefail
cd "$(dirname "$0")/.."

FROM=${SESSIONS_FROM:-2024-01-02}
TO=${SESSIONS_TO:-2024-12-31}
SYMBOLS=${SYMBOLS:-12000}
WORK=${BENCH_DIR:-target/bench-backfill}
MIRROR=$WORK/mirror-$SYMBOLS-$FROM-$TO
DB=$WORK/view-$SYMBOLS-$FROM-$TO.sqlite

cargo build -q --release -p offx -p offx-synth
BIN=target/release
mkdir -p "$WORK"
if [ ! -d "$MIRROR" ]; then
  echo "== generating the mirror ($SYMBOLS symbols, $FROM..$TO)"
  $BIN/offx-synth --out "$MIRROR" --from "$FROM" --to "$TO" --symbols "$SYMBOLS"
fi
export OFFX_CACHE_DIR=off OFFX_LOG=warn FINRA_BASE_URL="file://$PWD/$MIRROR"
if [ ! -f "$DB" ]; then
  echo "== backfill into $DB"
  $BIN/offx backfill --from "$FROM" --to "$TO" --store "sqlite:$DB" --format json >/dev/null
fi
time_it() { # name, command...
  local name=$1; shift
  local start end
  start=$(date +%s.%N)
  "$@" >/dev/null
  end=$(date +%s.%N)
  printf "%-60s %6.2f s\n" "$name" "$(python3 -c "print($end - $start)")"
}
SYMBOL=$(sqlite3 "$DB" "SELECT symbol FROM daily_features WHERE trade_date = '$TO' ORDER BY symbol LIMIT 1" 2>/dev/null || echo AAPL)
time_it "offx top --by short-vol-share (one day of $SYMBOLS)" \
  $BIN/offx top --date "$TO" --store "sqlite:$DB"
time_it "offx top --by short-vol-z --min-total-volume 1000000" \
  $BIN/offx top --date "$TO" --by short-vol-z --min-total-volume 1000000 --store "sqlite:$DB"
time_it "offx report --min-total-volume 1000000 (lists of 10, ~30 charts)" \
  $BIN/offx report --date "$TO" --min-total-volume 1000000 --store "sqlite:$DB" --out "$WORK/report.html"
time_it "offx chart $SYMBOL over the year (SVG)" \
  $BIN/offx chart "$SYMBOL" --from "$FROM" --to "$TO" --store "sqlite:$DB" --out "$WORK/chart.svg"
ls -la "$WORK/report.html" "$WORK/chart.svg"

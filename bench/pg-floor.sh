#!/usr/bin/env bash
# The PostgreSQL floor under `bench/backfill.sh`'s year: how long the server alone takes to store
# a year's rows (252 sessions x 12,000 symbols) in offx's own tables (migrations 001, 003, 006),
# one transaction per session, with no client at all: each session's rows are made on the server
# by generate_series, so nothing is parsed, sent or converted.
#
#   bench/pg-floor.sh                       # postgres://postgres@127.0.0.1:5432/test
#   SESSIONS=20 bench/pg-floor.sh           # a shorter range
#
# Three layers, each in a fresh schema: daily_features only (what the pandas and polars scripts
# store); plus regsho_daily (the exact volumes behind the short columns); plus feature_versions
# (one version per part of every row: point in time).
set -euo pipefail
cd "$(dirname "$0")/.."

PG=${BENCH_PG:-postgres://postgres@127.0.0.1:5432/test}
SESSIONS=${SESSIONS:-252}
SYMBOLS=${SYMBOLS:-12000}
SCHEMA=offx_pg_floor

# One session's statements for a layer: $1 = layer, $2 = day number.
session() {
  local day=$2
  local date="DATE '2024-01-01' + $day"
  local at="TIMESTAMPTZ '2024-01-02 01:00:00+00' + interval '1 day' * $day"
  local sym="'S' || lpad(i::text, 5, '0')"
  echo "BEGIN;"
  echo "INSERT INTO daily_features (symbol, trade_date, short_vol_share, short_exempt_share, ats_share_of_total)
        SELECT $sym, $date, (i % 997) / 997.0, (i % 997) / 9970.0, (i % 997) / 1994.0
        FROM generate_series(0, $SYMBOLS - 1) AS i;"
  if [ "$1" -ge 2 ]; then
    echo "INSERT INTO regsho_daily (trade_date, symbol, available_at, short_volume, short_exempt_volume, total_volume, facilities)
          SELECT $date, $sym, $at, 1234, 12, i * 31 + 1000, 'CNMS'
          FROM generate_series(0, $SYMBOLS - 1) AS i;"
  fi
  if [ "$1" -ge 3 ]; then
    echo "INSERT INTO feature_versions (symbol, trade_date, part, available_at, short_vol_share, short_exempt_share, ats_share_of_total)
          SELECT $sym, $date, p, $at,
                 CASE WHEN p = 'short' THEN (i % 997) / 997.0 END,
                 CASE WHEN p = 'short' THEN (i % 997) / 9970.0 END,
                 CASE WHEN p = 'ats' THEN (i % 997) / 1994.0 END
          FROM generate_series(0, $SYMBOLS - 1) AS i, (VALUES ('short'), ('ats')) AS parts(p)
          ORDER BY 1, 3;"
  fi
  echo "COMMIT;"
}

echo "PostgreSQL floor: $SESSIONS sessions x $SYMBOLS symbols, one transaction per session"
for layer in 1 2 3; do
  script=$(mktemp)
  {
    echo "SET client_min_messages = warning;"
    echo "DROP SCHEMA IF EXISTS $SCHEMA CASCADE; CREATE SCHEMA $SCHEMA; SET search_path = $SCHEMA;"
    cat migrations/001_daily_features.sql migrations/003_provenance.sql migrations/006_regsho_daily.sql
  } >"$script"
  psql -q -X -v ON_ERROR_STOP=1 "$PG" -f "$script" >/dev/null
  {
    echo "SET search_path = $SCHEMA;"
    for day in $(seq 0 $((SESSIONS - 1))); do session "$layer" "$day"; done
  } >"$script"
  t0=$(date +%s.%N)
  psql -q -X -v ON_ERROR_STOP=1 "$PG" -f "$script" >/dev/null
  t1=$(date +%s.%N)
  rows=$(( SESSIONS * SYMBOLS * (layer == 1 ? 1 : layer == 2 ? 2 : 4) ))
  what=("daily_features" "+ regsho_daily" "+ feature_versions")
  python3 -c "t = $t1 - $t0; print(f'{\"${what[$((layer - 1))]}\":<20} {$rows:>10,} rows {t:7.2f} s {$rows / t:>10,.0f} rows/s')"
  rm -f "$script"
done
psql -q -X "$PG" -c "SET client_min_messages = warning; DROP SCHEMA $SCHEMA CASCADE" >/dev/null

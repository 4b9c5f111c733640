-- 001: the daily_features table, one row per (symbol, trade_date).
--
-- Idempotent: `offx db init --store URL` (and every PostgreSQL store at start-up) runs it again
-- and again. The three feature columns are ratios in [0, 1]; null means "nothing to compute" or
-- "not published yet". The table may carry other columns (a seed's, an app's): offx never touches
-- them, it writes only symbol, trade_date and the three features.
--
-- `symbol` is text compared byte for byte under the database's default (deterministic)
-- collation: CPK and CpK are two symbols, BRK/B keeps its slash.
--
-- The key is the pair (symbol, trade_date), stored date-major: PRIMARY KEY (trade_date, symbol).
-- A session writes 12,000 rows of one date; under a symbol-major key they land in 12,000 index
-- pages spread over the whole table, under a date-major key side by side at its end (a year's
-- backfill into PostgreSQL: see the README's benchmarks). `ON CONFLICT (symbol, trade_date)`
-- matches either order: PostgreSQL infers the unique index from its set of columns. A table
-- created before (or by a seed) with PRIMARY KEY (symbol, trade_date) keeps it and keeps working.

CREATE TABLE IF NOT EXISTS daily_features (
    symbol             text             NOT NULL,
    trade_date         date             NOT NULL,
    short_vol_share    double precision,
    short_exempt_share double precision,
    ats_share_of_total double precision,
    CONSTRAINT daily_features_pkey PRIMARY KEY (trade_date, symbol),
    CONSTRAINT daily_features_short_vol_share_check CHECK (short_vol_share BETWEEN 0 AND 1),
    CONSTRAINT daily_features_short_exempt_share_check CHECK (short_exempt_share BETWEEN 0 AND 1),
    CONSTRAINT daily_features_ats_share_of_total_check CHECK (ats_share_of_total BETWEEN 0 AND 1)
);

-- A table that predates this migration (the Supabase seed's, say) gains the feature columns it
-- lacks; existing columns and rows are left as they are.
ALTER TABLE daily_features ADD COLUMN IF NOT EXISTS short_vol_share    double precision;
ALTER TABLE daily_features ADD COLUMN IF NOT EXISTS short_exempt_share double precision;
ALTER TABLE daily_features ADD COLUMN IF NOT EXISTS ats_share_of_total double precision;

-- The same [0, 1] checks on such a table, found by name (PostgreSQL's default name for a column
-- CHECK is exactly this, so a seed's inline checks count). NOT VALID: new writes are checked at
-- once, old rows are not re-read (VALIDATE CONSTRAINT when ready). NaN fails BETWEEN in
-- PostgreSQL (it sorts above every number), so it is refused too.
DO $$
DECLARE
    col text;
BEGIN
    FOREACH col IN ARRAY ARRAY['short_vol_share', 'short_exempt_share', 'ats_share_of_total'] LOOP
        IF NOT EXISTS (
            SELECT 1 FROM pg_constraint
            WHERE conrelid = 'daily_features'::regclass
              AND conname = 'daily_features_' || col || '_check'
        ) THEN
            EXECUTE format(
                'ALTER TABLE daily_features ADD CONSTRAINT %I CHECK (%I BETWEEN 0 AND 1) NOT VALID',
                'daily_features_' || col || '_check', col);
        END IF;
    END LOOP;
END
$$;

-- Discovery and reads select one trading date. A symbol-major key (a seed's) needs an index on
-- trade_date for that; a date-major key is one already, and a second index would only cost writes.
DO $$
BEGIN
    IF NOT EXISTS (
        SELECT 1 FROM pg_index i
        JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0]
        WHERE i.indrelid = 'daily_features'::regclass AND a.attname = 'trade_date'
    ) THEN
        CREATE INDEX daily_features_trade_date_idx ON daily_features (trade_date);
    END IF;
END
$$;

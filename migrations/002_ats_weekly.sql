-- 002: the ats_weekly table, one row per (symbol, week_start): the FINRA OTC Transparency numbers
-- behind daily_features.ats_share_of_total.
--
-- Idempotent, like 001: `offx db init --store URL` (and every PostgreSQL store at start-up) runs it
-- again and again.
--
-- `symbol` is the Reg SHO spelling (`BRK/B`), the key of daily_features, after offx's mapping of
-- FINRA's ATS spelling (`BRK.B`). For every session of the week:
--     ats_share_of_total = ats_shares / (ats_shares + otc_shares)
-- where a null side (no ATS_W_SMBL or no OTC_W_SMBL row that week) counts as 0.
-- Shares are exact decimals (`numeric`, up to six decimals as FINRA writes them), never floats.
-- `last_update_date` is FINRA's `lastUpdateDate` (later than `initial_published_date` when FINRA
-- revised the week); `offx catch-up` compares it with FINRA's to find revised weeks.
-- `source` says which carrier the numbers came from: FINRA's Query API or the weekly ZIP mirror.

CREATE TABLE IF NOT EXISTS ats_weekly (
    symbol                 text    NOT NULL,
    week_start             date    NOT NULL,
    tier                   text    NOT NULL,
    ats_shares             numeric CONSTRAINT ats_weekly_ats_shares_check CHECK (ats_shares >= 0),
    otc_shares             numeric CONSTRAINT ats_weekly_otc_shares_check CHECK (otc_shares >= 0),
    last_update_date       date,
    initial_published_date date,
    source                 text    NOT NULL
                           CONSTRAINT ats_weekly_source_check CHECK (source IN ('api', 'zip')),
    CONSTRAINT ats_weekly_pkey PRIMARY KEY (week_start, symbol)
);

-- The key is (symbol, week_start), stored week-major like daily_features' date-major key: a week's
-- 12,000 rows land side by side at the end of the index instead of in pages spread over a
-- symbol-major one, and catch-up and reads select one week. `ON CONFLICT (symbol, week_start)`
-- matches either order. A table created before with PRIMARY KEY (symbol, week_start) keeps it,
-- and has (or gains) an index on week_start for those reads; a week-major key is one already.
DO $$
BEGIN
    IF NOT EXISTS (
        SELECT 1 FROM pg_index i
        JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0]
        WHERE i.indrelid = 'ats_weekly'::regclass AND a.attname = 'week_start'
    ) THEN
        CREATE INDEX ats_weekly_week_start_idx ON ats_weekly (week_start);
    END IF;
END
$$;

-- 006: regsho_daily, the Reg SHO volumes behind short_vol_share and short_exempt_share, one row per
-- (trade_date, symbol) and version.
--
-- Idempotent, like 001-005: `offx db init --store URL` (and every PostgreSQL store at start-up)
-- runs it again and again. Supabase REST projects apply it in the SQL editor.
--
-- A ratio without its denominator cannot be filtered by liquidity or re-weighted; ats_weekly keeps
-- the ATS side, this keeps the short side. Volumes are exact decimals (`numeric`, up to six
-- decimals as FINRA's CNMS files write them since 2026), summed over `facilities`, the day's Reg
-- SHO files (`CNMS,FORF`). Point in time as feature_versions: `available_at` is when FINRA had
-- published the day's files; a re-posted file adds a version, the old one stays.
CREATE TABLE IF NOT EXISTS regsho_daily (
    trade_date          date        NOT NULL,
    symbol              text        NOT NULL,
    available_at        timestamptz NOT NULL,
    short_volume        numeric     NOT NULL
                        CONSTRAINT regsho_daily_short_volume_check CHECK (short_volume >= 0),
    short_exempt_volume numeric,
    total_volume        numeric     NOT NULL
                        CONSTRAINT regsho_daily_total_volume_check CHECK (total_volume >= 0),
    facilities          text        NOT NULL,
    CONSTRAINT regsho_daily_pkey PRIMARY KEY (trade_date, symbol, available_at)
);

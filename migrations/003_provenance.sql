-- 003: point in time. The finra_files ledger (one row per distinct version of a FINRA source) and
-- feature_versions (every version of every stored value, with when it became knowable).
--
-- Idempotent, like 001 and 002: `offx db init --store URL` (and every PostgreSQL store at start-up)
-- runs it again and again. Supabase REST projects apply it in the SQL editor.
--
-- finra_files: a Reg SHO file, a weekly ZIP, or one Query API week x tier (`weeklySummary
-- 2024-04-01 T1`), by the sha256 of its bytes (for the API: of the rows used). `published_at` is
-- FINRA's publication time: the HTTP Last-Modified header, else the API's lastUpdateDate (end of
-- that New York day), else a mirror file's modification time, else when offx first fetched it
-- (`published_from` says which). A re-posted file with other bytes is a new row; the old stays.
CREATE TABLE IF NOT EXISTS finra_files (
    dataset        text        NOT NULL,
    name           text        NOT NULL,
    sha256         text        NOT NULL,
    url            text        NOT NULL,
    bytes          bigint      NOT NULL,
    rows           bigint      NOT NULL,
    published_at   timestamptz NOT NULL,
    published_from text        NOT NULL,
    first_seen_at  timestamptz NOT NULL DEFAULT now(),
    last_seen_at   timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT finra_files_pkey PRIMARY KEY (dataset, name, sha256)
);

-- feature_versions: one row per (symbol, trade_date, part, available_at). `part` 'short' holds
-- short_vol_share and short_exempt_share (available when the day's last Reg SHO file was
-- published), 'ats' holds ats_share_of_total (available when the ATS week was published). An
-- as-of export takes, per cell, the latest version available at or before that time.
-- daily_features keeps the latest values (its meaning unchanged).
CREATE TABLE IF NOT EXISTS feature_versions (
    symbol             text             NOT NULL,
    trade_date         date             NOT NULL,
    part               text             NOT NULL
                       CONSTRAINT feature_versions_part_check CHECK (part IN ('short', 'ats')),
    available_at       timestamptz      NOT NULL,
    short_vol_share    double precision,
    short_exempt_share double precision,
    ats_share_of_total double precision,
    CONSTRAINT feature_versions_pkey PRIMARY KEY (trade_date, symbol, part, available_at)
);

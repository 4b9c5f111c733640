-- 005: short_interest, FINRA's consolidated short interest (open short positions) per symbol and
-- settlement date, every version FINRA published.
--
-- Idempotent, like 001-004: `offx db init --store URL` (and every PostgreSQL store at start-up)
-- runs it again and again. Supabase REST projects apply it in the SQL editor.
--
-- `symbol` is the Reg SHO spelling (the key of daily_features: `BRK/B`), mapped from FINRA's
-- `symbolCode` (`BRKB`), which `finra_symbol` keeps. Quantities are share counts, exact integers.
-- `days_to_cover` is as FINRA wrote it; FINRA caps it at 999.99, and `days_to_cover_capped` says
-- when a value is that cap rather than a measurement (never average it).
--
-- Point in time: a row belongs to one version of its settlement (`sha256`, the `finra_files`
-- ledger row of dataset 'short_interest' named `source`), published at `published_at`. A revision
-- is a new version beside the old, never an update of it; an export joins, for each trade date,
-- the latest settlement *published* by that date's close.
CREATE TABLE IF NOT EXISTS short_interest (
    settlement_date      date             NOT NULL,
    symbol               text             NOT NULL,
    sha256               text             NOT NULL,
    finra_symbol         text             NOT NULL,
    issue_name           text             NOT NULL,
    market_class         text             NOT NULL,
    current_short        bigint           NOT NULL,
    previous_short       bigint,
    change_previous      bigint,
    change_percent       double precision,
    average_daily_volume bigint,
    days_to_cover        double precision,
    days_to_cover_capped boolean          NOT NULL,
    stock_split          text,
    revision             text,
    published_at         timestamptz      NOT NULL,
    source               text             NOT NULL,
    CONSTRAINT short_interest_pkey PRIMARY KEY (settlement_date, sha256, symbol),
    CONSTRAINT short_interest_current_short_check CHECK (current_short >= 0)
);

-- `offx short-interest --symbols AAPL` reads one symbol across settlements.
CREATE INDEX IF NOT EXISTS short_interest_symbol_idx ON short_interest (symbol, settlement_date);

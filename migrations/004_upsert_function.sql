-- 004: one trading date's daily_features rows in one transaction over Supabase REST.
--
-- PostgREST runs each request in a transaction, but a date's 12,000 rows go in batches of 1,000:
-- a failure half-way would leave half a date. The REST store therefore sends the whole date to
-- this function (POST /rest/v1/rpc/offx_upsert_daily_features), which PostgREST calls in one
-- transaction: all of the date or none of it. Without the function the store falls back to
-- batches and says so.
--
-- p_rows: a JSON array of {"symbol", "short_vol_share", "short_exempt_share",
-- "ats_share_of_total"}. A feature key that is absent means "pending: keep the stored value"; a
-- key with null writes null. Idempotent: `offx db init` (and every PostgreSQL store at start-up)
-- runs it again and again.
CREATE OR REPLACE FUNCTION offx_upsert_daily_features(p_trade_date date, p_rows jsonb)
RETURNS integer
LANGUAGE sql
AS $$
    WITH sent AS (
        SELECT r ->> 'symbol' AS symbol,
               (r ->> 'short_vol_share')::double precision    AS short_vol_share,
               (r ->> 'short_exempt_share')::double precision AS short_exempt_share,
               (r ->> 'ats_share_of_total')::double precision AS ats_share_of_total,
               r ? 'short_vol_share'    AS has_short_vol_share,
               r ? 'short_exempt_share' AS has_short_exempt_share,
               r ? 'ats_share_of_total' AS has_ats_share_of_total
        FROM jsonb_array_elements(p_rows) AS r
    ), merged AS (
        INSERT INTO daily_features AS d
            (symbol, trade_date, short_vol_share, short_exempt_share, ats_share_of_total)
        SELECT s.symbol, p_trade_date,
               CASE WHEN s.has_short_vol_share    THEN s.short_vol_share    ELSE cur.short_vol_share    END,
               CASE WHEN s.has_short_exempt_share THEN s.short_exempt_share ELSE cur.short_exempt_share END,
               CASE WHEN s.has_ats_share_of_total THEN s.ats_share_of_total ELSE cur.ats_share_of_total END
        FROM sent s
        LEFT JOIN daily_features cur ON cur.symbol = s.symbol AND cur.trade_date = p_trade_date
        ON CONFLICT (symbol, trade_date) DO UPDATE SET
            short_vol_share    = EXCLUDED.short_vol_share,
            short_exempt_share = EXCLUDED.short_exempt_share,
            ats_share_of_total = EXCLUDED.ats_share_of_total
        RETURNING 1
    )
    SELECT count(*)::integer FROM merged
$$;

//! Supabase store over REST (PostgREST): `supabase:` or `https://<ref>.supabase.co`, the key from
//! the environment.
//!
//! - Discovery and reads page through `GET /rest/v1/daily_features?select=...&trade_date=eq.D`
//!   with `order=symbol.asc&limit=N&offset=M`, so a date with more rows than the server's
//!   `max-rows` (1,000 on Supabase) is seen whole. Pages are sorted again here, bytewise.
//! - An upsert POSTs `?on_conflict=symbol,trade_date&columns=...` with
//!   `Prefer: resolution=merge-duplicates,return=minimal`: PostgREST turns that into
//!   `INSERT ... ON CONFLICT (symbol, trade_date) DO UPDATE SET <the columns sent>`. A pending cell
//!   must keep the stored value, so it is not sent at all; and since PostgREST wants the same keys
//!   in every object of a bulk insert, rows are grouped by which cells are pending and each group
//!   is sent with only its other columns. A row inserted without a column gets NULL there.
//! - `ats_weekly` the same way at `/rest/v1/ats_weekly`: upserts POST every column
//!   (`?on_conflict=symbol,week_start`), shares as JSON strings holding the exact decimal; reads
//!   page through `?week_start=eq.W&order=symbol.asc`; the latest `last_update_date` of a week is
//!   one `GET ?select=last_update_date&week_start=eq.W&order=last_update_date.desc.nullslast
//!   &limit=1`. `init` checks that both tables are there (REST cannot create them).
//!
//! # What "all or nothing" means here
//!
//! Each POST is one transaction on the server, but a date bigger than one batch (or with mixed
//! pending cells) takes several POSTs, and REST offers no transaction across them. If batch 3 of
//! 12 fails for good (after retries), batches 1 and 2 stay written; the error says how many
//! batches and rows were committed. Re-running the date is safe: the upsert is idempotent, and a
//! pending cell never erases anything. Where a date must land atomically, use the PostgreSQL store
//! with Supabase's connection string (`SUPABASE_DB_URL`).
//!
//! PostgREST with `return=minimal` does not say which rows were new, so the summary counts rows
//! sent, not inserted and updated (both stay 0).

mod credentials;
mod errors;
mod history;
mod regsho_daily;
mod rest;
mod settings;
mod short_interest;
mod wire;

use std::collections::BTreeMap;
use std::fmt;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::Arc;
use std::time::Instant;

use async_trait::async_trait;
use bytes::Bytes;
use chrono::{DateTime, NaiveDate, Utc};
use url::Url;

pub(super) use self::credentials::choice;
pub use self::credentials::{ApiKey, SupabaseCredentials, KEY_VARS, URL_VARS};
use self::errors::{advice, kind_of};
pub use self::rest::PostgrestError;
use self::rest::{Failure, Rest};
pub use self::settings::SupabaseSettings;
use self::wire::{batches, raw_volume, AtsStored, AtsWire, LastUpdate, Stored, SymbolOnly, Wire};
use super::{
    check_ats_rows, check_rows, redact_url, AtsWeeklyRow, Discovery, FeatureVersion, LedgerRow,
    SessionCommit, ShortInterestRow, SourceVersion, Store, StoreError, StoredRow, StoredVolumes,
    UpsertSummary, WeekWrite,
};
use crate::features::FeatureRow;
use crate::parse::ats::Carrier;

const FEATURES: [&str; 3] = [
    "short_vol_share",
    "short_exempt_share",
    "ats_share_of_total",
];

/// Migration 004's function, under the project URL.
const UPSERT_FUNCTION_PATH: &str = "/rest/v1/rpc/offx_upsert_daily_features";
const RPC_UNKNOWN: u8 = 0;
const RPC_PRESENT: u8 = 1;
const RPC_ABSENT: u8 = 2;

/// The `ats_weekly` table, under the project URL.
const ATS_WEEKLY_PATH: &str = "/rest/v1/ats_weekly";
/// Every column of `ats_weekly`: each upsert sends them all.
const ATS_WEEKLY_COLUMNS: &str = "symbol,week_start,tier,ats_shares,otc_shares,last_update_date,\
                                  initial_published_date,source";

/// `daily_features` behind a Supabase project's REST API.
pub struct SupabaseStore {
    project: String,
    /// `/rest/v1/daily_features`.
    rest: Rest,
    /// `/rest/v1/ats_weekly`, the same client.
    ats_rest: Rest,
    /// `finra_files` and `feature_versions` (migration 003).
    files_rest: Rest,
    versions_rest: Rest,
    /// `short_interest` (migration 005).
    short_interest_rest: Rest,
    /// `regsho_daily` (migration 006).
    volumes_rest: Rest,
    /// Set once the project was found without `regsho_daily` (said once, then skipped).
    volumes_missing: Arc<std::sync::atomic::AtomicBool>,
    /// `offx_upsert_daily_features` (migration 004): a date in one transaction.
    rpc_rest: Rest,
    /// Whether that function exists: unknown until the first call; once absent, batches.
    rpc: Arc<AtomicU8>,
    settings: SupabaseSettings,
}

impl fmt::Debug for SupabaseStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SupabaseStore")
            .field("project", &self.project)
            .field("key", &"***")
            .field("settings", &self.settings)
            .finish()
    }
}

impl SupabaseStore {
    /// A store at `project_url` (`https://<ref>.supabase.co`, or any PostgREST served under
    /// `/rest/v1`).
    pub fn new(
        project_url: &str,
        key: ApiKey,
        settings: SupabaseSettings,
    ) -> Result<SupabaseStore, StoreError> {
        let project = redact_url(project_url.trim().trim_end_matches('/'));
        let fail = |m: String| StoreError::new(&project, m);
        let mut table = Url::parse(project_url.trim())
            .map_err(|e| fail(format!("not a valid project URL: {e}")))?;
        if !matches!(table.scheme(), "http" | "https") || table.cannot_be_a_base() {
            return Err(fail("the project URL must start with https://".into()));
        }
        let base = table.path().trim_end_matches('/').to_string();
        let base = base.strip_suffix("/rest/v1").unwrap_or(&base).to_string();
        table.set_query(None);
        let at = |path: &str| {
            let mut url = table.clone();
            url.set_path(&format!("{base}{path}"));
            url
        };
        let rest = Rest::new(at("/rest/v1/daily_features"), key, &settings)
            .map_err(|m| fail(m.to_string()))?;
        Ok(SupabaseStore {
            project,
            ats_rest: rest.with_table(at(ATS_WEEKLY_PATH)),
            files_rest: rest.with_table(at(history::FILES_PATH)),
            versions_rest: rest.with_table(at(history::VERSIONS_PATH)),
            short_interest_rest: rest.with_table(at(short_interest::PATH)),
            volumes_rest: rest.with_table(at(regsho_daily::PATH)),
            volumes_missing: Arc::new(std::sync::atomic::AtomicBool::new(false)),
            rpc_rest: rest.with_table(at(UPSERT_FUNCTION_PATH)),
            rpc: Arc::new(AtomicU8::new(RPC_UNKNOWN)),
            rest,
            settings,
        })
    }

    /// The `open()` forms: `supabase:[?params]` (project URL from `SUPABASE_URL` or
    /// `NEXT_PUBLIC_SUPABASE_URL`) or `https://<ref>.supabase.co[?params]`; the key from
    /// `SUPABASE_SERVICE_ROLE_KEY`, else the anon keys. Says in a log line which variables it used.
    pub fn from_url(
        url: &str,
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Result<SupabaseStore, StoreError> {
        let (project, url_var, params) = match url.strip_prefix("supabase:") {
            Some(rest) => {
                let params = rest.strip_prefix('?').unwrap_or(rest).to_string();
                let (url_var, project) =
                    credentials::project(&lookup).map_err(|m| StoreError::new("supabase:", m))?;
                (project, Some(url_var), params)
            }
            None => {
                let (project, params) = url.split_once('?').unwrap_or((url, ""));
                (project.to_string(), None, params.to_string())
            }
        };
        let described = redact_url(&project);
        let mut settings = SupabaseSettings::default();
        // The same cap as FINRA's downloads unless the URL says otherwise.
        if let Some(cap) =
            lookup(crate::config::ENV_MAX_BODY_BYTES).filter(|v| !v.trim().is_empty())
        {
            settings.set("max_body_bytes", &cap).map_err(|m| {
                StoreError::new(
                    &described,
                    format!("{}: {m}", crate::config::ENV_MAX_BODY_BYTES),
                )
            })?;
        }
        for (name, value) in url::form_urlencoded::parse(params.as_bytes()) {
            settings
                .set(&name, &value)
                .map_err(|m| StoreError::new(&described, m))?;
        }
        let (key_var, key) =
            credentials::key(&lookup).map_err(|m| StoreError::new(&described, m))?;
        let from = match url_var {
            Some(url_var) => format!("{url_var} + {key_var}"),
            None => key_var.to_string(),
        };
        tracing::info!("Supabase REST store {described} (credentials from {from})");
        if key_var != KEY_VARS[0] {
            tracing::warn!(
                "using {key_var}, not {}: writes work only where row-level security lets that \
                 role write daily_features",
                KEY_VARS[0]
            );
        }
        SupabaseStore::new(&project, key, settings)
    }

    /// The whole date through `offx_upsert_daily_features` (migration 004), one transaction.
    /// `None` when the project lacks the function (said once; the caller sends batches).
    async fn upsert_in_one_call(
        &self,
        trade_date: NaiveDate,
        rows: &[FeatureRow],
        started: Instant,
    ) -> Result<Option<UpsertSummary>, StoreError> {
        if self.rpc.load(Ordering::Relaxed) == RPC_ABSENT {
            return Ok(None);
        }
        let wire: Vec<Wire<'_>> = rows.iter().map(|r| Wire::of(r, trade_date)).collect();
        let body = serde_json::to_vec(&serde_json::json!({
            "p_trade_date": trade_date,
            "p_rows": wire,
        }))
        .map_err(|e| StoreError::new(&self.project, format!("cannot encode rows as JSON: {e}")))?;
        match self.rpc_rest.call(Bytes::from(body)).await {
            Ok(()) => {
                self.rpc.store(RPC_PRESENT, Ordering::Relaxed);
                Ok(Some(UpsertSummary {
                    rows: rows.len(),
                    inserted: 0,
                    updated: 0,
                    batches: 1,
                    elapsed: started.elapsed(),
                    week_recorded: false,
                }))
            }
            // PostgREST answers 404 (PGRST202) for a function it does not know.
            Err(failure) if failure.status.map(|s| s.as_u16()) == Some(404) => {
                if self.rpc.swap(RPC_ABSENT, Ordering::Relaxed) != RPC_ABSENT {
                    tracing::warn!(
                        "{}: no function offx_upsert_daily_features, so each date goes in \
                         batches of {} rows, atomic per batch only; apply \
                         migrations/004_upsert_function.sql for one transaction per date",
                        self.project,
                        self.settings.batch_size
                    );
                }
                Ok(None)
            }
            Err(failure) => Err(self.error(
                &format!("upsert of {trade_date} rolled back, nothing written"),
                &failure,
            )),
        }
    }

    /// The date in batches of `batch_size` rows, each its own transaction.
    async fn upsert_in_batches(
        &self,
        trade_date: NaiveDate,
        rows: &[FeatureRow],
        started: Instant,
    ) -> Result<UpsertSummary, StoreError> {
        let batches = batches(rows, self.settings.batch_size);
        let total = batches.len();
        let mut sent = 0;
        for (i, (columns, batch)) in batches.iter().enumerate() {
            let wire: Vec<Wire<'_>> = batch.iter().map(|r| Wire::of(r, trade_date)).collect();
            let body = serde_json::to_vec(&wire).map_err(|e| {
                StoreError::new(&self.project, format!("cannot encode rows as JSON: {e}"))
            })?;
            let query = [
                ("on_conflict", "symbol,trade_date".to_string()),
                ("columns", columns.clone()),
            ];
            if let Err(failure) = self.rest.upsert(&query, Bytes::from(body)).await {
                let doing = format!(
                    "upsert of {trade_date} stopped at batch {} of {total}; {i} batch(es), \
                     {sent} row(s) were committed and stay (REST has no transaction across \
                     batches; re-running the date is safe)",
                    i + 1
                );
                return Err(self.error(&doing, &failure));
            }
            sent += batch.len();
        }
        let summary = UpsertSummary {
            rows: sent,
            inserted: 0,
            updated: 0,
            batches: total,
            elapsed: started.elapsed(),
            week_recorded: false,
        };
        tracing::info!(
            "sent {} rows of {trade_date} to {} in {} batch(es), {:.0} ms (PostgREST with \
             return=minimal does not say which rows were new)",
            summary.rows,
            self.project,
            summary.batches,
            summary.elapsed.as_secs_f64() * 1e3
        );
        Ok(summary)
    }

    fn error(&self, doing: &str, failure: &Failure) -> StoreError {
        let mut message = format!("{doing}: {failure}");
        if let Some(advice) = advice(failure) {
            message.push_str("; ");
            message.push_str(advice);
        }
        StoreError::new(&self.project, message).with_kind(kind_of(failure))
    }

    /// Every row matching `filters`, page by page.
    ///
    /// A page shorter than asked ends the listing only once a full page has shown that the server
    /// does not cap pages below our size; a short first page is confirmed by one more request
    /// (empty: the end; not empty: the server's cap, which becomes the page size).
    async fn fetch_all<T: serde::de::DeserializeOwned>(
        &self,
        rest: &Rest,
        doing: &str,
        filters: &[(&str, String)],
    ) -> Result<Vec<T>, StoreError> {
        self.fetch_all_ordered(rest, doing, filters, "symbol.asc")
            .await
    }

    /// [`SupabaseStore::fetch_all`] in the given PostgREST `order`.
    async fn fetch_all_ordered<T: serde::de::DeserializeOwned>(
        &self,
        rest: &Rest,
        doing: &str,
        filters: &[(&str, String)],
        order: &str,
    ) -> Result<Vec<T>, StoreError> {
        let mut all = Vec::new();
        let mut limit = self.settings.page_size;
        let mut full_seen = false;
        loop {
            let mut query = filters.to_vec();
            query.push(("order", order.into()));
            query.push(("limit", limit.to_string()));
            query.push(("offset", all.len().to_string()));
            let page: Vec<T> = rest.get(&query).await.map_err(|f| self.error(doing, &f))?;
            let n = page.len();
            all.extend(page);
            if n == 0 || (n < limit && full_seen) {
                return Ok(all);
            }
            if n < limit {
                limit = n;
            }
            full_seen = true;
        }
    }
}

const MISSING_FILTER: &str =
    "(short_vol_share.is.null,short_exempt_share.is.null,ats_share_of_total.is.null)";

#[async_trait]
impl Store for SupabaseStore {
    fn describe(&self) -> String {
        self.project.clone()
    }

    /// REST cannot run DDL: this checks that the table and its columns are there, and says how to
    /// create them if not.
    async fn init(&self) -> Result<(), StoreError> {
        let query = [
            (
                "select",
                "symbol,trade_date,short_vol_share,short_exempt_share,ats_share_of_total".into(),
            ),
            ("limit", "0".to_string()),
        ];
        self.rest
            .get::<serde_json::Value>(&query)
            .await
            .map_err(|f| self.error("checking daily_features", &f))?;
        let query = [
            ("select", ATS_WEEKLY_COLUMNS.to_string()),
            ("limit", "0".to_string()),
        ];
        self.ats_rest
            .get::<serde_json::Value>(&query)
            .await
            .map(drop)
            .map_err(|f| self.error("checking ats_weekly", &f))
    }

    async fn discover_symbols(
        &self,
        trade_date: NaiveDate,
        which: Discovery,
    ) -> Result<Vec<String>, StoreError> {
        let mut filters = vec![
            ("select", "symbol".to_string()),
            ("trade_date", format!("eq.{trade_date}")),
        ];
        if which == Discovery::MissingFeatures {
            filters.push(("or", MISSING_FILTER.into()));
        }
        let doing = format!("discovering symbols of {trade_date}");
        let rows: Vec<SymbolOnly> = self.fetch_all(&self.rest, &doing, &filters).await?;
        let mut symbols: Vec<String> = rows.into_iter().map(|r| r.symbol).collect();
        symbols.sort();
        Ok(symbols)
    }

    /// REST has no transaction across requests: the rows go in batches, then the week's record
    /// (a failure there leaves the week unrecorded, and the next session or catch-up records it).
    async fn commit(&self, commit: &SessionCommit<'_>) -> Result<UpsertSummary, StoreError> {
        let started = Instant::now();
        let (trade_date, rows) = (commit.trade_date, commit.rows);
        check_rows(&self.project, trade_date, rows)?;
        if let Some(week) = &commit.week {
            check_ats_rows(&self.project, week.week_start, week.rows)?;
        }
        let mut summary = match self.upsert_in_one_call(trade_date, rows, started).await? {
            Some(summary) => summary,
            None => self.upsert_in_batches(trade_date, rows, started).await?,
        };
        if let Some(provenance) = &commit.provenance {
            self.write_history(trade_date, rows, provenance).await?;
        }
        if let Some(week) = &commit.week {
            let recorded = !self
                .ats_weekly_last_update(&[week.week_start])
                .await?
                .is_empty();
            if week.write == WeekWrite::Replace || !recorded {
                self.upsert_ats_weekly(week.week_start, week.rows).await?;
                summary.week_recorded = true;
            }
        }
        Ok(summary)
    }

    async fn read(&self, trade_date: NaiveDate) -> Result<Vec<StoredRow>, StoreError> {
        let filters = [
            (
                "select",
                "symbol,short_vol_share,short_exempt_share,ats_share_of_total".to_string(),
            ),
            ("trade_date", format!("eq.{trade_date}")),
        ];
        let rows: Vec<Stored> = self
            .fetch_all(&self.rest, &format!("reading {trade_date}"), &filters)
            .await?;
        let mut rows: Vec<StoredRow> = rows
            .into_iter()
            .map(|r| StoredRow {
                symbol: r.symbol,
                trade_date,
                short_vol_share: r.short_vol_share,
                short_exempt_share: r.short_exempt_share,
                ats_share_of_total: r.ats_share_of_total,
            })
            .collect();
        rows.sort_by(|a, b| a.symbol.cmp(&b.symbol));
        Ok(rows)
    }

    /// One POST per `batch_size` rows, each one transaction on the server; like `upsert`, a
    /// failure after some batches leaves those written (re-running is safe).
    async fn upsert_ats_weekly(
        &self,
        week_start: NaiveDate,
        rows: &[AtsWeeklyRow],
    ) -> Result<usize, StoreError> {
        check_ats_rows(&self.project, week_start, rows)?;
        let batches: Vec<&[AtsWeeklyRow]> = rows.chunks(self.settings.batch_size.max(1)).collect();
        let total = batches.len();
        let mut sent = 0;
        for (i, batch) in batches.into_iter().enumerate() {
            let wire: Vec<AtsWire<'_>> = batch
                .iter()
                .map(|r| AtsWire {
                    symbol: &r.symbol,
                    week_start,
                    tier: &r.tier,
                    ats_shares: r.ats_shares.map(|v| v.to_string()),
                    otc_shares: r.otc_shares.map(|v| v.to_string()),
                    last_update_date: r.last_update,
                    initial_published_date: r.initial_published,
                    source: r.source.as_str(),
                })
                .collect();
            let body = serde_json::to_vec(&wire).map_err(|e| {
                StoreError::new(&self.project, format!("cannot encode rows as JSON: {e}"))
            })?;
            let query = [
                ("on_conflict", "symbol,week_start".to_string()),
                ("columns", ATS_WEEKLY_COLUMNS.to_string()),
            ];
            if let Err(failure) = self.ats_rest.upsert(&query, Bytes::from(body)).await {
                let doing = format!(
                    "ats_weekly upsert of the week of {week_start} stopped at batch {} of \
                     {total}; {i} batch(es), {sent} row(s) were committed and stay",
                    i + 1
                );
                return Err(self.error(&doing, &failure));
            }
            sent += batch.len();
        }
        Ok(sent)
    }

    async fn commit_short_interest(
        &self,
        settlement_date: NaiveDate,
        version: &SourceVersion,
        rows: &[ShortInterestRow],
    ) -> Result<usize, StoreError> {
        self.write_short_interest(settlement_date, version, rows)
            .await
    }

    async fn read_short_interest(
        &self,
        settlement_date: NaiveDate,
        sha256: &str,
        symbols: Option<&[String]>,
    ) -> Result<Vec<ShortInterestRow>, StoreError> {
        self.short_interest_rows(settlement_date, sha256, symbols)
            .await
    }

    async fn regsho_daily(
        &self,
        trade_date: NaiveDate,
        as_of: Option<DateTime<Utc>>,
    ) -> Result<Vec<StoredVolumes>, StoreError> {
        self.read_volumes(trade_date, as_of).await
    }

    async fn ledger(&self, sources: &[(String, String)]) -> Result<Vec<LedgerRow>, StoreError> {
        self.read_ledger(sources).await
    }

    async fn feature_versions(
        &self,
        trade_date: NaiveDate,
        as_of: Option<DateTime<Utc>>,
    ) -> Result<Vec<FeatureVersion>, StoreError> {
        self.read_versions(trade_date, as_of).await
    }

    async fn read_ats_weekly(
        &self,
        week_start: NaiveDate,
    ) -> Result<Vec<AtsWeeklyRow>, StoreError> {
        let doing = format!("reading ats_weekly of the week of {week_start}");
        let filters = [
            ("select", ATS_WEEKLY_COLUMNS.to_string()),
            ("week_start", format!("eq.{week_start}")),
        ];
        let stored: Vec<AtsStored> = self.fetch_all(&self.ats_rest, &doing, &filters).await?;
        let bad = |m: String| StoreError::new(&self.project, format!("{doing}: {m}"));
        let mut rows = stored
            .into_iter()
            .map(|r| {
                Ok(AtsWeeklyRow {
                    ats_shares: raw_volume(r.ats_shares.as_deref()).map_err(bad)?,
                    otc_shares: raw_volume(r.otc_shares.as_deref()).map_err(bad)?,
                    source: Carrier::parse(&r.source)
                        .ok_or_else(|| bad(format!("source {:?} is not api or zip", r.source)))?,
                    symbol: r.symbol,
                    week_start,
                    tier: r.tier,
                    last_update: r.last_update_date,
                    initial_published: r.initial_published_date,
                })
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        rows.sort_by(|a, b| a.symbol.cmp(&b.symbol));
        Ok(rows)
    }

    /// One small GET per week: its row with the latest `last_update_date` (nulls last), if any.
    async fn ats_weekly_last_update(
        &self,
        weeks: &[NaiveDate],
    ) -> Result<BTreeMap<NaiveDate, Option<NaiveDate>>, StoreError> {
        let mut found = BTreeMap::new();
        for &week in weeks {
            let query = [
                ("select", "last_update_date".to_string()),
                ("week_start", format!("eq.{week}")),
                ("order", "last_update_date.desc.nullslast".to_string()),
                ("limit", "1".to_string()),
            ];
            let latest: Vec<LastUpdate> = self.ats_rest.get(&query).await.map_err(|f| {
                self.error(&format!("reading ats_weekly of the week of {week}"), &f)
            })?;
            if let Some(row) = latest.into_iter().next() {
                found.insert(week, row.last_update_date);
            }
        }
        Ok(found)
    }
}

#[cfg(test)]
mod tests;

//! In-memory store: the default when nothing is configured, and a reference for the contract.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Instant;

use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, Utc};

use super::{
    check_ats_rows, check_rows, merged, versions_of, AtsWeeklyRow, Discovery, FeatureVersion,
    LedgerRow, Part, SessionCommit, ShortInterestRow, SourceVersion, Store, StoreError, StoredRow,
    StoredVolumes, UpsertSummary, WeekWrite,
};
use crate::store::short_interest::check_short_interest;

type Rows = BTreeMap<(NaiveDate, String), StoredRow>;
type AtsRows = BTreeMap<(NaiveDate, String), AtsWeeklyRow>;
/// `feature_versions` by (trade_date, symbol, part, available_at).
type Versions = BTreeMap<(NaiveDate, String, Part, DateTime<Utc>), FeatureVersion>;
/// `finra_files` by (dataset, name, sha256).
type Ledger = BTreeMap<(String, String, String), LedgerRow>;
/// `regsho_daily` by (trade_date, symbol, available_at).
type Volumes = BTreeMap<(NaiveDate, String, DateTime<Utc>), StoredVolumes>;
/// `short_interest` by (settlement_date, sha256, symbol).
type ShortInterest = BTreeMap<(NaiveDate, String, String), ShortInterestRow>;

/// Everything in memory, gone when the process ends (Python's default with nothing configured).
#[derive(Debug, Default)]
pub struct MemoryStore {
    rows: Mutex<Rows>,
    /// `ats_weekly`, by (week_start, symbol).
    ats_weekly: Mutex<AtsRows>,
    /// `feature_versions` and the `finra_files` ledger.
    history: Mutex<(Versions, Ledger)>,
    /// `short_interest`.
    short_interest: Mutex<ShortInterest>,
    /// `regsho_daily`.
    volumes: Mutex<Volumes>,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> Result<std::sync::MutexGuard<'_, Rows>, StoreError> {
        self.rows
            .lock()
            .map_err(|_| StoreError::new("memory:", "a previous writer panicked"))
    }

    fn lock_history(&self) -> Result<std::sync::MutexGuard<'_, (Versions, Ledger)>, StoreError> {
        self.history
            .lock()
            .map_err(|_| StoreError::new("memory:", "a previous writer panicked"))
    }

    fn lock_ats(&self) -> Result<std::sync::MutexGuard<'_, AtsRows>, StoreError> {
        self.ats_weekly
            .lock()
            .map_err(|_| StoreError::new("memory:", "a previous writer panicked"))
    }
}

/// Adds a ledger row, or marks a known one seen again.
fn record_source(ledger: &mut Ledger, source: &SourceVersion, now: DateTime<Utc>) {
    let key = (
        source.dataset.clone(),
        source.name.clone(),
        source.sha256.clone(),
    );
    ledger
        .entry(key)
        .and_modify(|row| row.last_seen_at = now)
        .or_insert_with(|| LedgerRow {
            version: source.clone(),
            first_seen_at: now,
            last_seen_at: now,
        });
}

#[async_trait]
impl Store for MemoryStore {
    fn describe(&self) -> String {
        "memory:".into()
    }

    async fn init(&self) -> Result<(), StoreError> {
        Ok(())
    }

    async fn discover_symbols(
        &self,
        trade_date: NaiveDate,
        which: Discovery,
    ) -> Result<Vec<String>, StoreError> {
        let rows = self.lock()?;
        Ok(rows
            .range((trade_date, String::new())..)
            .take_while(|((d, _), _)| *d == trade_date)
            .filter(|(_, r)| {
                which == Discovery::All
                    || r.short_vol_share.is_none()
                    || r.short_exempt_share.is_none()
                    || r.ats_share_of_total.is_none()
            })
            .map(|((_, s), _)| s.clone())
            .collect())
    }

    async fn commit(&self, commit: &SessionCommit<'_>) -> Result<UpsertSummary, StoreError> {
        let started = Instant::now();
        let (trade_date, rows) = (commit.trade_date, commit.rows);
        check_rows("memory:", trade_date, rows)?;
        if let Some(week) = &commit.week {
            check_ats_rows("memory:", week.week_start, week.rows)?;
        }
        // Every lock before any write: the session, its week and its provenance land together.
        let mut stored = self.lock()?;
        let mut weeks = self.lock_ats()?;
        let mut history = self.lock_history()?;
        let mut summary = UpsertSummary {
            rows: rows.len(),
            batches: 1,
            ..UpsertSummary::default()
        };
        for row in rows {
            let key = (trade_date, row.symbol.clone());
            let old = stored.get(&key);
            if old.is_some() {
                summary.updated += 1;
            } else {
                summary.inserted += 1;
            }
            let new = StoredRow {
                symbol: row.symbol.clone(),
                trade_date,
                short_vol_share: merged(row.short_vol_share, old.and_then(|o| o.short_vol_share)),
                short_exempt_share: merged(
                    row.short_exempt_share,
                    old.and_then(|o| o.short_exempt_share),
                ),
                ats_share_of_total: merged(
                    row.ats_share_of_total,
                    old.and_then(|o| o.ats_share_of_total),
                ),
            };
            stored.insert(key, new);
        }
        if let Some(provenance) = &commit.provenance {
            let (versions, ledger) = &mut *history;
            let now = Utc::now();
            for source in provenance.sources {
                record_source(ledger, source, now);
            }
            if let Some(at) = provenance.short_available_at {
                let mut volumes = self
                    .volumes
                    .lock()
                    .map_err(|_| StoreError::new("memory:", "a previous writer panicked"))?;
                for row in provenance.volumes {
                    volumes
                        .entry((trade_date, row.symbol.clone(), at))
                        .or_insert_with(|| StoredVolumes {
                            trade_date,
                            row: row.clone(),
                            facilities: provenance.facilities.to_string(),
                            available_at: at,
                        });
                }
            }
            for v in versions_of(trade_date, rows, provenance) {
                let key = (v.trade_date, v.symbol.clone(), v.part, v.available_at);
                versions.entry(key).or_insert(v);
            }
        }
        if let Some(week) = &commit.week {
            let recorded = weeks
                .range((week.week_start, String::new())..)
                .next()
                .is_some_and(|((w, _), _)| *w == week.week_start);
            if week.write == WeekWrite::Replace || !recorded {
                summary.week_recorded = true;
                for row in week.rows {
                    weeks.insert((week.week_start, row.symbol.clone()), row.clone());
                }
            }
        }
        summary.elapsed = started.elapsed();
        Ok(summary)
    }

    async fn read(&self, trade_date: NaiveDate) -> Result<Vec<StoredRow>, StoreError> {
        let rows = self.lock()?;
        Ok(rows
            .range((trade_date, String::new())..)
            .take_while(|((d, _), _)| *d == trade_date)
            .map(|(_, r)| r.clone())
            .collect())
    }

    async fn upsert_ats_weekly(
        &self,
        week_start: NaiveDate,
        rows: &[AtsWeeklyRow],
    ) -> Result<usize, StoreError> {
        check_ats_rows("memory:", week_start, rows)?;
        let mut stored = self.lock_ats()?;
        for row in rows {
            stored.insert((week_start, row.symbol.clone()), row.clone());
        }
        Ok(rows.len())
    }

    async fn commit_short_interest(
        &self,
        settlement_date: NaiveDate,
        version: &SourceVersion,
        rows: &[ShortInterestRow],
    ) -> Result<usize, StoreError> {
        check_short_interest("memory:", settlement_date, version, rows)?;
        let mut history = self.lock_history()?;
        let mut table = self
            .short_interest
            .lock()
            .map_err(|_| StoreError::new("memory:", "a previous writer panicked"))?;
        record_source(&mut history.1, version, Utc::now());
        let mut written = 0;
        for r in rows {
            let key = (settlement_date, r.sha256.clone(), r.symbol.clone());
            if let std::collections::btree_map::Entry::Vacant(e) = table.entry(key) {
                e.insert(r.clone());
                written += 1;
            }
        }
        Ok(written)
    }

    async fn read_short_interest(
        &self,
        settlement_date: NaiveDate,
        sha256: &str,
        symbols: Option<&[String]>,
    ) -> Result<Vec<ShortInterestRow>, StoreError> {
        let table = self
            .short_interest
            .lock()
            .map_err(|_| StoreError::new("memory:", "a previous writer panicked"))?;
        let start = (settlement_date, sha256.to_string(), String::new());
        Ok(table
            .range(start..)
            .take_while(|((d, s, _), _)| *d == settlement_date && s == sha256)
            .filter(|((_, _, symbol), _)| symbols.is_none_or(|l| l.contains(symbol)))
            .map(|(_, r)| r.clone())
            .collect())
    }

    async fn regsho_daily(
        &self,
        trade_date: NaiveDate,
        as_of: Option<DateTime<Utc>>,
    ) -> Result<Vec<StoredVolumes>, StoreError> {
        let volumes = self
            .volumes
            .lock()
            .map_err(|_| StoreError::new("memory:", "a previous writer panicked"))?;
        let day = volumes
            .iter()
            .filter(|((d, _, _), _)| *d == trade_date)
            .map(|(_, v)| v.clone());
        Ok(super::latest_volumes(day, as_of))
    }

    async fn ledger(&self, sources: &[(String, String)]) -> Result<Vec<LedgerRow>, StoreError> {
        let history = self.lock_history()?;
        Ok(history
            .1
            .values()
            .filter(|row| {
                sources
                    .iter()
                    .any(|(d, n)| *d == row.version.dataset && *n == row.version.name)
            })
            .cloned()
            .collect())
    }

    async fn feature_versions(
        &self,
        trade_date: NaiveDate,
        as_of: Option<DateTime<Utc>>,
    ) -> Result<Vec<FeatureVersion>, StoreError> {
        let history = self.lock_history()?;
        Ok(history
            .0
            .values()
            .filter(|v| v.trade_date == trade_date && as_of.is_none_or(|t| v.available_at <= t))
            .cloned()
            .collect())
    }

    async fn read_ats_weekly(
        &self,
        week_start: NaiveDate,
    ) -> Result<Vec<AtsWeeklyRow>, StoreError> {
        let stored = self.lock_ats()?;
        Ok(stored
            .range((week_start, String::new())..)
            .take_while(|((w, _), _)| *w == week_start)
            .map(|(_, r)| r.clone())
            .collect())
    }
}

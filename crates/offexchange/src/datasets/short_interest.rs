//! Consolidated short interest: open short positions per symbol, twice a month.
//!
//! Short *volume* (Reg SHO) counts the shares sold short during a day; short *interest* is the
//! position still open at a settlement date, as member firms report it to FINRA (Rule 4560).
//!
//! ## Schedule
//!
//! Positions are reported as of two settlement dates a month: the 15th and the last business day,
//! each rolled back to the previous business day when it is not one ([`settlement_dates`]).
//! FINRA publishes a settlement on the seventh business day after it ([`publication_date`]),
//! sometimes revises it later. Both rules are checked against FINRA's published schedule in the
//! tests below.
//!
//! ## Carriers
//!
//! - Query API `otcMarket/consolidatedShortInterest`, one paged query per settlement (an EQUAL
//!   filter on `settlementDate`); its partitions endpoint is not used (public clients report it
//!   answering 403 for this dataset), so a settlement's first page answering 204 means "not
//!   published yet". Read when the API is the weekly source ([`crate::Settings::effective_ats_source`]).
//! - The CDN file `otcmarket/biweekly/shrt{YYYYMMDD}.csv` under `FINRA_BASE_URL` (FINRA serves it;
//!   a `file://` mirror holds the same), otherwise.
//!
//! ## Symbols
//!
//! FINRA writes class shares without a separator here (`BRKB`, where Reg SHO writes `BRK/B`):
//! [`crate::symbol::short_interest_to_regsho`] maps them onto the settlement day's Reg SHO
//! spelling, and drops a symbol that would map to two Reg SHO symbols (with a finding) rather
//! than guess.

use std::collections::HashSet;

use async_trait::async_trait;
use chrono::{Datelike, Duration, NaiveDate, Utc};

use super::starts::SHORT_INTEREST_START;
use super::{Dataset, DatasetInfo};
use crate::calendar;
use crate::engine::{Engine, EngineError, Freshness};
use crate::parse::short_interest::{self, ShortInterestFile, ShortInterestRecord};
use crate::provenance::{end_of_new_york_day, Fingerprint, PublishedFrom, SourceVersion};
use crate::report::SessionReport;
use crate::source::Fetched;
use crate::store::ShortInterestRow;
use crate::symbol::{short_interest_to_regsho, SeparatorIndex, SiSymbol};

/// What the dataset declares.
pub(crate) const INFO: DatasetInfo = DatasetInfo {
    name: "short_interest",
    description: "consolidated short interest (open short positions) per symbol, twice a month",
    carriers: &[
        "Query API otcMarket/consolidatedShortInterest (by settlementDate)",
        "{FINRA_BASE_URL}/otcmarket/biweekly/shrtYYYYMMDD.csv",
    ],
    publication: "settlement on the 15th and the last business day of each month (rolled back \
                  to a business day); published the seventh business day after; revised now \
                  and then",
    first_date: SHORT_INTEREST_START,
    columns: &[],
    tables: &["short_interest"],
    migration: "migrations/005_short_interest.sql",
};

/// Business days between a settlement and its publication.
const PUBLICATION_LAG: usize = 7;

/// The two settlement dates of a month: the 15th and the last business day, each rolled back to
/// the previous business day (an NYSE session) when it is not one.
pub fn month_settlements(year: i32, month: u32) -> [NaiveDate; 2] {
    let fifteenth = NaiveDate::from_ymd_opt(year, month, 15).unwrap_or_default();
    let next_month = if month == 12 {
        NaiveDate::from_ymd_opt(year + 1, 1, 1)
    } else {
        NaiveDate::from_ymd_opt(year, month + 1, 1)
    }
    .unwrap_or_default();
    [
        session_on_or_before(fifteenth),
        session_on_or_before(next_month - Duration::days(1)),
    ]
}

fn session_on_or_before(mut date: NaiveDate) -> NaiveDate {
    while !calendar::is_session(date) {
        date -= Duration::days(1);
    }
    date
}

/// Every settlement date from `from` to `to` (both included), in order.
pub fn settlement_dates(from: NaiveDate, to: NaiveDate) -> Vec<NaiveDate> {
    let mut out = Vec::new();
    let (mut year, mut month) = (from.year(), from.month());
    while NaiveDate::from_ymd_opt(year, month, 1).is_some_and(|first| first <= to) {
        out.extend(
            month_settlements(year, month)
                .into_iter()
                .filter(|d| (from..=to).contains(d)),
        );
        (year, month) = if month == 12 {
            (year + 1, 1)
        } else {
            (year, month + 1)
        };
    }
    out
}

/// The day FINRA publishes `settlement`: the seventh business day after it.
pub fn publication_date(settlement: NaiveDate) -> NaiveDate {
    calendar::sessions_between(
        settlement + Duration::days(1),
        settlement + Duration::days(30),
    )
    .nth(PUBLICATION_LAG - 1)
    .unwrap_or(settlement + Duration::days(11))
}

/// The settlement a day sees: the latest one due (published by schedule) on or before `date`.
pub fn due_settlement(date: NaiveDate) -> Option<NaiveDate> {
    settlement_dates(date - Duration::days(45), date)
        .into_iter()
        .rev()
        .find(|s| publication_date(*s) <= date)
        .filter(|s| *s >= SHORT_INTEREST_START)
}

/// The settlements to hold for `from..=to`: the one each day of the range sees, i.e. every
/// settlement due in the range and the one already due at `from`.
pub fn settlements_for(from: NaiveDate, to: NaiveDate) -> Vec<NaiveDate> {
    let mut out: Vec<NaiveDate> = due_settlement(from).into_iter().collect();
    out.extend(
        settlement_dates(from - Duration::days(45), to)
            .into_iter()
            .filter(|s| (from..=to).contains(&publication_date(*s)))
            .filter(|s| *s >= SHORT_INTEREST_START),
    );
    out.sort_unstable();
    out.dedup();
    out
}

/// A settlement's name in the ledger and reports, by carrier.
pub fn file_name(settlement: NaiveDate) -> String {
    format!("shrt{}.csv", settlement.format("%Y%m%d"))
}

/// `otcmarket/biweekly/shrtYYYYMMDD.csv`, relative to `FINRA_BASE_URL`.
pub fn cdn_path(settlement: NaiveDate) -> String {
    format!("otcmarket/biweekly/{}", file_name(settlement))
}

/// The API partition's name in the ledger and reports.
pub fn api_name(settlement: NaiveDate) -> String {
    format!("consolidatedShortInterest {settlement}")
}

/// One settlement, as loaded.
#[derive(Debug, Clone)]
pub struct SettlementLoad {
    /// Its rows and the version read; `None`: not published (yet).
    pub file: Option<(ShortInterestFile, SourceVersion)>,
}

/// The dataset.
pub(crate) struct ShortInterest;

#[async_trait]
impl Dataset for ShortInterest {
    type Period = NaiveDate;
    type Loaded = SettlementLoad;

    /// The latest settlement on or before `trade_date` (it may not be published yet).
    fn period(&self, trade_date: NaiveDate) -> NaiveDate {
        settlement_dates(trade_date - Duration::days(20), trade_date)
            .last()
            .copied()
            .unwrap_or(trade_date)
    }

    fn due(&self, settlement: NaiveDate) -> NaiveDate {
        publication_date(settlement)
    }

    async fn load(
        &self,
        engine: &Engine,
        settlement: NaiveDate,
        freshness: Freshness,
        report: &mut SessionReport,
    ) -> Result<SettlementLoad, EngineError> {
        if let Some(api) = engine.ats_api() {
            let name = api_name(settlement);
            let location = api.short_interest_url().to_string();
            let fetched = {
                let _slot = engine.download_slot().await;
                api.short_interest(settlement).await?
            };
            return Ok(match fetched {
                Fetched::Published((records, _pages)) => {
                    let file = short_interest::api_file(&name, settlement, records);
                    let version = api_version(&name, &location, settlement, &file.records);
                    report.published(name, location, &file.quality);
                    SettlementLoad {
                        file: Some((file, version)),
                    }
                }
                Fetched::NotPublished => {
                    report.not_published(name, location, self.awaited(settlement));
                    SettlementLoad { file: None }
                }
            });
        }
        let name = file_name(settlement);
        let path = cdn_path(settlement);
        let fetched = engine
            .fetch_file(&path, freshness, |bytes| {
                short_interest::parse_csv(&name, settlement, bytes)
            })
            .await?;
        let location = engine.locate(&path);
        Ok(match fetched {
            Fetched::Published((file, print)) => {
                let version =
                    SourceVersion::new(INFO.name, &name, &location, file.quality.rows_read, &print);
                report.published(name, location, &file.quality);
                SettlementLoad {
                    file: Some((file, version)),
                }
            }
            Fetched::NotPublished => {
                report.not_published(name, location, self.awaited(settlement));
                SettlementLoad { file: None }
            }
        })
    }
}

impl ShortInterest {
    fn awaited(&self, settlement: NaiveDate) -> String {
        format!(
            "short interest of settlement {settlement} is not published (due {})",
            self.due(settlement)
        )
    }
}

/// An API settlement as a ledger version: its rows as canonical sorted lines. The API carries
/// no publication time, so: first seen, unless first seen after the scheduled day, when the end
/// of that New York day stands for it (a backfill must not date old settlements today).
fn api_version(
    name: &str,
    location: &str,
    settlement: NaiveDate,
    records: &[ShortInterestRecord],
) -> SourceVersion {
    let opt = |v: Option<i64>| v.map(|v| v.to_string()).unwrap_or_default();
    let optf = |v: Option<f64>| v.map(|v| v.to_string()).unwrap_or_default();
    let mut lines: Vec<String> = records
        .iter()
        .map(|r| {
            format!(
                "{}|{}|{}|{}|{}|{}|{}|{}|{}|{}|{}|{}\n",
                r.symbol,
                r.issue_name,
                r.market_class,
                r.current_short,
                opt(r.previous_short),
                opt(r.change_previous),
                optf(r.change_percent),
                opt(r.average_daily_volume),
                optf(r.days_to_cover),
                r.stock_split.as_deref().unwrap_or_default(),
                r.revision.as_deref().unwrap_or_default(),
                r.settlement_date,
            )
        })
        .collect();
    lines.sort_unstable();
    let text = lines.concat();
    let scheduled = end_of_new_york_day(publication_date(settlement));
    let published = (Utc::now() > scheduled).then_some((scheduled, PublishedFrom::Schedule));
    let print = Fingerprint::of(text.as_bytes(), published);
    SourceVersion::new(INFO.name, name, location, records.len() as u64, &print)
}

/// A settlement's rows under Reg SHO spelling, stamped with their version. Symbols that would map
/// onto two Reg SHO symbols are dropped, each with a finding in `report`.
pub(crate) fn stored_rows(
    file: &ShortInterestFile,
    version: &SourceVersion,
    regsho_symbols: &HashSet<&str>,
    report: &mut SessionReport,
) -> Vec<ShortInterestRow> {
    let index = SeparatorIndex::new(regsho_symbols.iter().copied());
    let mut rows: Vec<ShortInterestRow> = Vec::with_capacity(file.records.len());
    let mut dropped: Vec<String> = Vec::new();
    for r in &file.records {
        let symbol = match short_interest_to_regsho(&r.symbol, &index) {
            SiSymbol::Same => r.symbol.clone(),
            SiSymbol::Mapped(s) => s,
            SiSymbol::Ambiguous(candidates) => {
                dropped.push(format!("{} ({})", r.symbol, candidates.join(" or ")));
                continue;
            }
        };
        rows.push(ShortInterestRow::of(symbol, r, version));
    }
    // Two FINRA symbols onto one Reg SHO symbol (BRKB and BRK.B): neither is trusted.
    rows.sort_by(|a, b| a.symbol.as_bytes().cmp(b.symbol.as_bytes()));
    let mut collided: HashSet<String> = HashSet::new();
    for pair in rows.windows(2) {
        if pair[0].symbol == pair[1].symbol {
            collided.insert(pair[0].symbol.clone());
        }
    }
    if !collided.is_empty() {
        rows.retain(|r| {
            if collided.contains(&r.symbol) {
                dropped.push(format!("{} (as {})", r.finra_symbol, r.symbol));
                false
            } else {
                true
            }
        });
    }
    if !dropped.is_empty() {
        dropped.sort();
        tracing::warn!(
            settlement = %file.settlement_date,
            "short interest: {} symbol(s) dropped, their Reg SHO spelling is ambiguous: {}",
            dropped.len(),
            dropped.join(", ")
        );
        report.coverage.push(format!(
            "short interest {}: {} symbol(s) dropped, their Reg SHO spelling is ambiguous: {}",
            file.settlement_date,
            dropped.len(),
            dropped.join(", ")
        ));
    }
    rows
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::datasets::date;

    #[test]
    fn settlements_roll_back_to_business_days() {
        // 2024-06-15 is a Saturday; 2024-03-29 Good Friday; 2023-12-31 a Sunday.
        assert_eq!(
            month_settlements(2024, 6),
            [date(2024, 6, 14), date(2024, 6, 28)]
        );
        assert_eq!(
            month_settlements(2024, 3),
            [date(2024, 3, 15), date(2024, 3, 28)]
        );
        assert_eq!(
            month_settlements(2023, 12),
            [date(2023, 12, 15), date(2023, 12, 29)]
        );
        assert_eq!(
            settlement_dates(date(2024, 1, 1), date(2024, 2, 29)),
            [
                date(2024, 1, 12),
                date(2024, 1, 31),
                date(2024, 2, 15),
                date(2024, 2, 29)
            ]
        );
    }

    #[test]
    fn publication_matches_finras_schedule() {
        // FINRA's published short interest reporting and dissemination schedules (2023, 2024,
        // 2026): settlement date -> dissemination date.
        let schedule = [
            ((2023, 12, 15), (2023, 12, 27)),
            ((2023, 12, 29), (2024, 1, 10)),
            ((2024, 1, 12), (2024, 1, 24)),
            ((2024, 1, 31), (2024, 2, 9)),
            ((2026, 1, 15), (2026, 1, 27)),
            ((2026, 3, 31), (2026, 4, 10)),
            ((2026, 5, 29), (2026, 6, 9)),
            ((2026, 6, 30), (2026, 7, 10)),
            ((2026, 7, 31), (2026, 8, 11)),
            ((2026, 8, 14), (2026, 8, 25)),
            ((2026, 8, 31), (2026, 9, 10)),
        ];
        for ((sy, sm, sd), (py, pm, pd)) in schedule {
            let settlement = date(sy, sm, sd);
            assert!(
                settlement_dates(settlement, settlement).contains(&settlement),
                "{settlement} is a settlement date"
            );
            assert_eq!(
                publication_date(settlement),
                date(py, pm, pd),
                "{settlement}"
            );
        }
    }

    #[test]
    fn a_day_sees_the_latest_settlement_due() {
        // 2024-01-31 is published 2024-02-09: until then the 2024-01-12 settlement holds.
        assert_eq!(due_settlement(date(2024, 2, 8)), Some(date(2024, 1, 12)));
        assert_eq!(due_settlement(date(2024, 2, 9)), Some(date(2024, 1, 31)));
        assert_eq!(
            settlements_for(date(2024, 2, 1), date(2024, 2, 29)),
            [date(2024, 1, 12), date(2024, 1, 31), date(2024, 2, 15)]
        );
        assert_eq!(due_settlement(date(2017, 6, 1)), None);
    }
}

//! The three features, and when each is a value, a null, or left alone.
//!
//! Every cell is one of three things ([`Feature`]): a ratio in [0, 1]; `Null` when the data say
//! there is nothing to compute (symbol absent from a published file, zero denominator, a ratio
//! outside [0, 1] from bad source data, no exempt column before 2011); or `Pending` when the file
//! that would decide it is not published yet. Both print as null, but a store never lets a
//! `Pending` cell overwrite a value it already holds: re-running a day while FINRA is missing a
//! file must not erase good data.

use std::collections::{HashMap, HashSet};

use rustc_hash::FxBuildHasher;

use chrono::NaiveDate;
use serde::Serialize;

use crate::parse::ats::{AtsSymbolWeek, AtsWeek, Carrier};
use crate::parse::regsho::RegShoFile;
use crate::provenance::SourceVersion;
use crate::quality::FileQuality;
use crate::symbol::ats_to_regsho;
use crate::volume::Volume;

/// One feature cell.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(into = "Option<f64>")]
pub enum Feature {
    /// A ratio in [0, 1].
    Value(f64),
    /// Known to be null.
    Null,
    /// Null because its source file is not published yet: never overwrites a stored value.
    Pending,
}

impl Feature {
    /// The ratio, or `None` for a null or pending cell.
    pub fn value(self) -> Option<f64> {
        match self {
            Feature::Value(v) => Some(v),
            Feature::Null | Feature::Pending => None,
        }
    }

    /// Null only because its FINRA file is not published yet.
    pub fn is_pending(self) -> bool {
        self == Feature::Pending
    }
}

impl From<Feature> for Option<f64> {
    fn from(f: Feature) -> Self {
        f.value()
    }
}

/// The output row, keyed by `(symbol, trade_date)`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FeatureRow {
    /// FINRA's Reg SHO spelling, byte for byte (`BRK/B`; `CPK` and `CpK` differ).
    pub symbol: String,
    /// The NYSE session.
    pub trade_date: NaiveDate,
    /// Short volume / total volume.
    pub short_vol_share: Feature,
    /// Short exempt volume / total volume.
    pub short_exempt_share: Feature,
    /// Weekly ATS shares / (ATS + non-ATS OTC shares), on every session of the week.
    pub ats_share_of_total: Feature,
}

/// One symbol's Reg SHO volumes for the day, summed over the files that make up the market.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DayVolumes {
    /// `ShortVolume`, summed over the market's files.
    pub short: Volume,
    /// `None` when a contributing file has no `ShortExemptVolume` column.
    pub exempt: Option<Volume>,
    /// `TotalVolume`, summed over the market's files.
    pub total: Volume,
}

/// The day's Reg SHO data, composed from one or more facility files.
#[derive(Debug, Clone, Default)]
pub struct RegShoDay {
    /// Per symbol, byte-exact spelling.
    pub volumes: HashMap<String, DayVolumes, FxBuildHasher>,
    /// At least one component file was published.
    pub published: bool,
    /// Every component file was published: a symbol absent from them has no short volume.
    pub complete: bool,
    /// The versions of the files the volumes were summed from.
    pub sources: Vec<SourceVersion>,
}

impl RegShoDay {
    /// Sums the published files per symbol. `complete` says whether any component was missing.
    pub fn combine<'a>(
        files: impl IntoIterator<Item = &'a RegShoFile>,
        complete: bool,
    ) -> RegShoDay {
        let mut day = RegShoDay {
            complete,
            ..RegShoDay::default()
        };
        for file in files {
            day.published = true;
            // A file without its record-count line cannot prove it is whole: a symbol absent
            // from it may have been cut off, so it stays pending (its stored values are kept)
            // rather than turning null.
            day.complete &= file.count_verified;
            for row in &file.rows {
                let exempt = row.exempt;
                day.volumes
                    .entry(row.symbol.clone())
                    .and_modify(|v| {
                        v.short = v.short + row.short;
                        v.total = v.total + row.total;
                        v.exempt = v.exempt.zip(exempt).map(|(a, b)| a + b);
                    })
                    .or_insert(DayVolumes {
                        short: row.short,
                        exempt,
                        total: row.total,
                    });
            }
        }
        day.complete &= day.published;
        day
    }
}

/// The week's ATS data re-keyed by Reg SHO spelling.
#[derive(Debug, Clone, Default)]
pub struct AtsDay {
    /// `(ATS shares, non-ATS OTC shares)` per Reg SHO symbol.
    pub volumes: HashMap<String, (Option<Volume>, Option<Volume>), FxBuildHasher>,
    pub published: bool,
    /// Every tier of the week is published: a symbol absent from it had no OTC trading.
    pub complete: bool,
    /// The week has `OTC_W_SMBL` rows, so totals exist.
    pub has_totals: bool,
    /// ATS symbols with no Reg SHO symbol of that spelling on the day (kept, dot mapped to slash).
    pub unmatched: Vec<String>,
}

impl AtsDay {
    pub fn not_published() -> AtsDay {
        AtsDay::default()
    }

    /// A week FINRA never published data for (before its dataset began): every cell null.
    pub fn never() -> AtsDay {
        AtsDay {
            published: true,
            complete: true,
            ..AtsDay::default()
        }
    }

    /// Maps `week` onto the day's Reg SHO symbols with [`ats_to_regsho`].
    pub fn map(
        week: &AtsWeek,
        regsho: &RegShoDay,
        complete: bool,
        quality: &mut FileQuality,
    ) -> AtsDay {
        let mapped = MappedWeek::new(week, regsho);
        let mut volumes = HashMap::with_capacity_and_hasher(mapped.symbols.len(), FxBuildHasher);
        let mut unmatched = Vec::new();
        for (key, ats_symbol, entry) in &mapped.symbols {
            if !mapped.known.contains(key.as_str()) {
                unmatched.push((*ats_symbol).clone());
            }
            volumes.insert(key.clone(), (entry.ats, entry.otc));
        }
        for (ats_symbol, key) in &mapped.collisions {
            if !mapped.known.contains(key.as_str()) {
                unmatched.push((*ats_symbol).clone());
            }
            quality.violation(
                ats_symbol,
                format!("maps onto {key}, which another ATS symbol already took"),
            );
        }
        unmatched.sort();
        AtsDay {
            volumes,
            published: true,
            complete,
            has_totals: week.otc_rows > 0,
            unmatched,
        }
    }
}

/// The week's symbols under the day's Reg SHO spelling: the one mapping both the features
/// ([`AtsDay::map`]) and the `ats_weekly` record ([`ats_weekly_rows`]) use, so they cannot drift.
struct MappedWeek<'a> {
    known: HashSet<&'a str, FxBuildHasher>,
    /// (Reg SHO key, ATS spelling, the symbol's week), exact spellings first.
    symbols: Vec<(String, &'a String, &'a AtsSymbolWeek)>,
    /// (ATS spelling, key) of symbols whose key another ATS symbol already took: left out.
    collisions: Vec<(&'a String, String)>,
}

impl<'a> MappedWeek<'a> {
    fn new(week: &'a AtsWeek, regsho: &'a RegShoDay) -> MappedWeek<'a> {
        let known: HashSet<&str, FxBuildHasher> =
            regsho.volumes.keys().map(String::as_str).collect();
        // Exact spellings first, so that an exact match always wins over a dot-to-slash one.
        let mut order: Vec<(bool, &String, &AtsSymbolWeek)> = week
            .symbols
            .iter()
            .map(|(s, w)| (!known.contains(s.as_str()), s, w))
            .collect();
        order.sort_unstable_by(|a, b| (a.0, a.1).cmp(&(b.0, b.1)));
        let mut taken = HashSet::with_capacity_and_hasher(order.len(), FxBuildHasher);
        let (mut symbols, mut collisions) = (Vec::with_capacity(order.len()), Vec::new());
        for (_, ats_symbol, entry) in order {
            let key = ats_to_regsho(ats_symbol, &known);
            if taken.contains(&key) {
                collisions.push((ats_symbol, key));
                continue;
            }
            taken.insert(key.clone());
            symbols.push((key, ats_symbol, entry));
        }
        MappedWeek {
            known,
            symbols,
            collisions,
        }
    }
}

/// One symbol's week as used for `ats_share_of_total`: the `ats_weekly` record, keyed like
/// `daily_features` by the Reg SHO spelling, so a stored ratio can be explained and re-derived
/// (`ats / (ats + otc)`, a missing side counting as 0).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AtsWeeklyRow {
    /// Reg SHO spelling (`BRK/B`), after [`ats_to_regsho`].
    pub symbol: String,
    /// FINRA's `weekStartDate`.
    pub week_start: NaiveDate,
    /// FINRA's `tierIdentifier`: `T1`, `T2` or `OTCE`.
    pub tier: String,
    /// `ATS_W_SMBL` shares, exact; `None`: no ATS row that week.
    pub ats_shares: Option<Volume>,
    /// `OTC_W_SMBL` (non-ATS) shares, exact; `None`: no such row.
    pub otc_shares: Option<Volume>,
    /// FINRA's `lastUpdateDate` of the symbol's rows (the latest).
    pub last_update: Option<NaiveDate>,
    /// FINRA's `initialPublishedDate` of the symbol's rows (the earliest).
    pub initial_published: Option<NaiveDate>,
    /// Where the week was read from: the Query API or the mirror's ZIP.
    pub source: Carrier,
}

/// The `ats_weekly` rows of `week`, mapped onto `regsho`'s spelling exactly as the features are,
/// sorted by symbol (byte order).
pub fn ats_weekly_rows(week: &AtsWeek, regsho: &RegShoDay, source: Carrier) -> Vec<AtsWeeklyRow> {
    let mut rows: Vec<AtsWeeklyRow> = MappedWeek::new(week, regsho)
        .symbols
        .into_iter()
        .map(|(symbol, _, entry)| AtsWeeklyRow {
            symbol,
            week_start: week.week_start,
            tier: entry.tier.clone(),
            ats_shares: entry.ats,
            otc_shares: entry.otc,
            last_update: entry.last_update,
            initial_published: entry.initial_published,
            source,
        })
        .collect();
    rows.sort_by(|a, b| a.symbol.cmp(&b.symbol));
    rows
}

/// Which symbols get a row.
pub enum Universe<'a> {
    /// Every symbol in the day's Reg SHO data or the week's ATS data.
    All,
    /// Exactly these (asked for, or discovered in the store); unknown ones get a row of nulls.
    Only(&'a [String]),
}

/// Computes one session's rows, sorted by symbol. Withheld ratios are reported in `quality`.
pub fn compute(
    trade_date: NaiveDate,
    regsho: &RegShoDay,
    ats: &AtsDay,
    universe: Universe<'_>,
    quality: &mut FileQuality,
) -> Vec<FeatureRow> {
    let mut symbols: Vec<&str> = match universe {
        Universe::All => regsho
            .volumes
            .keys()
            .chain(ats.volumes.keys())
            .map(String::as_str)
            .collect(),
        Universe::Only(list) => list.iter().map(String::as_str).collect(),
    };
    symbols.sort_unstable();
    symbols.dedup();
    symbols
        .into_iter()
        .map(|symbol| {
            let (svs, ses) = short_shares(symbol, regsho, quality);
            FeatureRow {
                symbol: symbol.to_string(),
                trade_date,
                short_vol_share: svs,
                short_exempt_share: ses,
                ats_share_of_total: ats_share(symbol, ats, quality),
            }
        })
        .collect()
}

fn short_shares(symbol: &str, day: &RegShoDay, quality: &mut FileQuality) -> (Feature, Feature) {
    if !day.published {
        return (Feature::Pending, Feature::Pending);
    }
    let Some(v) = day.volumes.get(symbol) else {
        let absent = if day.complete {
            Feature::Null
        } else {
            Feature::Pending
        };
        return (absent, absent);
    };
    let short = checked_ratio(
        symbol,
        "short_vol_share",
        v.short.ratio_to(v.total),
        quality,
    );
    let exempt = match v.exempt {
        Some(exempt) => checked_ratio(
            symbol,
            "short_exempt_share",
            exempt.ratio_to(v.total),
            quality,
        ),
        None => Feature::Null,
    };
    (short, exempt)
}

fn ats_share(symbol: &str, ats: &AtsDay, quality: &mut FileQuality) -> Feature {
    if !ats.published {
        return Feature::Pending;
    }
    if !ats.has_totals {
        return Feature::Null;
    }
    match ats.volumes.get(symbol) {
        // An OTC total with no ATS row: the symbol traded off-exchange but on no ATS, a true 0.
        Some(&(atsv, otc)) => {
            let ats_shares = atsv.unwrap_or(Volume::ZERO);
            let total = ats_shares + otc.unwrap_or(Volume::ZERO);
            checked_ratio(
                symbol,
                "ats_share_of_total",
                ats_shares.ratio_to(total),
                quality,
            )
        }
        None if ats.complete => Feature::Null,
        None => Feature::Pending,
    }
}

fn checked_ratio(
    symbol: &str,
    name: &str,
    ratio: Option<f64>,
    quality: &mut FileQuality,
) -> Feature {
    match ratio {
        None => Feature::Null,
        Some(r) if (0.0..=1.0).contains(&r) => Feature::Value(r),
        Some(r) => {
            quality.violation(
                symbol,
                format!("{name} would be {r:.6}, outside [0, 1]; withheld (null)"),
            );
            Feature::Null
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse::ats::{AtsSymbolWeek, AtsWeek};
    use crate::parse::regsho::ShortVolumeRow;

    fn date() -> NaiveDate {
        NaiveDate::from_ymd_opt(2024, 4, 1).unwrap()
    }

    fn file(rows: &[(&str, u64, Option<u64>, u64)]) -> RegShoFile {
        RegShoFile {
            rows: rows
                .iter()
                .map(|&(s, short, exempt, total)| ShortVolumeRow {
                    symbol: s.into(),
                    short: Volume::from_shares(short),
                    exempt: exempt.map(Volume::from_shares),
                    total: Volume::from_shares(total),
                })
                .collect(),
            has_exempt_column: true,
            quality: FileQuality::new("f"),
            count_verified: true,
        }
    }

    fn week(rows: &[(&str, Option<u64>, Option<u64>)]) -> AtsWeek {
        let symbols = rows
            .iter()
            .map(|&(s, a, o)| {
                let w = AtsSymbolWeek {
                    tier: "T1".into(),
                    ats: a.map(Volume::from_shares),
                    otc: o.map(Volume::from_shares),
                    last_update: None,
                    initial_published: None,
                };
                (s.to_string(), w)
            })
            .collect();
        AtsWeek {
            week_start: date(),
            otc_rows: rows.iter().filter(|r| r.2.is_some()).count() as u64,
            symbols,
            quality: FileQuality::new("w"),
        }
    }

    fn row<'a>(rows: &'a [FeatureRow], s: &str) -> &'a FeatureRow {
        rows.iter().find(|r| r.symbol == s).unwrap()
    }

    #[test]
    fn facility_files_are_summed_per_symbol() {
        let a = file(&[("X", 10, Some(1), 40), ("Y", 1, Some(0), 2)]);
        let b = file(&[("X", 30, Some(3), 60)]);
        let day = RegShoDay::combine([&a, &b], true);
        let mut q = FileQuality::new("features");
        let rows = compute(
            date(),
            &day,
            &AtsDay::not_published(),
            Universe::All,
            &mut q,
        );
        assert_eq!(row(&rows, "X").short_vol_share, Feature::Value(0.4));
        assert_eq!(row(&rows, "X").short_exempt_share, Feature::Value(0.04));
        assert_eq!(row(&rows, "X").ats_share_of_total, Feature::Pending);
    }

    #[test]
    fn null_rules() {
        let f = file(&[
            ("ZERO", 0, Some(0), 0),
            ("OVER", 50, Some(0), 40),
            ("OLD", 1, None, 2),
        ]);
        let day = RegShoDay::combine([&f], true);
        let mut q = FileQuality::new("features");
        let asked = ["ZERO", "OVER", "OLD", "GONE"].map(String::from);
        let rows = compute(
            date(),
            &day,
            &AtsDay::not_published(),
            Universe::Only(&asked),
            &mut q,
        );
        assert_eq!(row(&rows, "ZERO").short_vol_share, Feature::Null);
        assert_eq!(row(&rows, "OVER").short_vol_share, Feature::Null);
        assert_eq!(row(&rows, "OVER").short_exempt_share, Feature::Value(0.0));
        assert_eq!(row(&rows, "OLD").short_exempt_share, Feature::Null);
        assert_eq!(row(&rows, "GONE").short_vol_share, Feature::Null);
        assert_eq!(q.violations[0].symbol, "OVER");
    }

    #[test]
    fn absent_from_an_incomplete_day_is_pending() {
        let f = file(&[("X", 1, Some(0), 2)]);
        let day = RegShoDay::combine([&f], false);
        let asked = ["X".to_string(), "Y".to_string()];
        let rows = compute(
            date(),
            &day,
            &AtsDay::not_published(),
            Universe::Only(&asked),
            &mut FileQuality::default(),
        );
        assert_eq!(row(&rows, "X").short_vol_share, Feature::Value(0.5));
        assert_eq!(row(&rows, "Y").short_vol_share, Feature::Pending);
        let none = RegShoDay::combine([], true);
        assert!(!none.complete && !none.published);
    }

    #[test]
    fn ats_share_and_symbol_mapping() {
        let f = file(&[
            ("BRK/B", 1, Some(0), 2),
            ("CPK", 1, Some(0), 2),
            ("CpK", 1, Some(0), 2),
        ]);
        let day = RegShoDay::combine([&f], true);
        let w = week(&[
            ("BRK.B", Some(25), Some(75)),
            ("CPK", Some(1), Some(3)),
            ("CpK", None, Some(10)),
            ("NEW.WS", Some(0), Some(0)),
        ]);
        let mut q = FileQuality::new("features");
        let ats = AtsDay::map(&w, &day, true, &mut q);
        assert_eq!(ats.unmatched, vec!["NEW.WS".to_string()]);
        let rows = compute(date(), &day, &ats, Universe::All, &mut q);
        assert_eq!(row(&rows, "BRK/B").ats_share_of_total, Feature::Value(0.25));
        assert_eq!(row(&rows, "CPK").ats_share_of_total, Feature::Value(0.25));
        assert_eq!(row(&rows, "CpK").ats_share_of_total, Feature::Value(0.0));
        assert_eq!(row(&rows, "NEW/WS").ats_share_of_total, Feature::Null);
        assert_eq!(row(&rows, "NEW/WS").short_vol_share, Feature::Null);
        assert!(rows.iter().all(|r| r.symbol != "BRK.B"));
    }

    #[test]
    fn a_week_without_otc_rows_has_no_totals() {
        let day = RegShoDay::combine([&file(&[("A", 1, Some(0), 2)])], true);
        let w = week(&[("A", Some(5), None)]);
        let ats = AtsDay::map(&w, &day, true, &mut FileQuality::default());
        let rows = compute(
            date(),
            &day,
            &ats,
            Universe::All,
            &mut FileQuality::default(),
        );
        assert_eq!(rows[0].ats_share_of_total, Feature::Null);
    }

    #[test]
    fn ats_weekly_rows_use_the_features_mapping() {
        let day = RegShoDay::combine(
            [&file(&[("BRK/B", 1, Some(0), 2), ("X", 1, None, 2)])],
            true,
        );
        let mut w = week(&[
            ("BRK.B", Some(25), Some(75)),
            ("BRK/B", Some(1), Some(1)),
            ("X", None, Some(10)),
        ]);
        let updated = NaiveDate::from_ymd_opt(2024, 4, 29).unwrap();
        w.symbols.get_mut("X").unwrap().last_update = Some(updated);
        let mut q = FileQuality::new("features");
        let ats = AtsDay::map(&w, &day, true, &mut q);
        let rows = ats_weekly_rows(&w, &day, Carrier::Api);
        let keys: Vec<&str> = rows.iter().map(|r| r.symbol.as_str()).collect();
        assert_eq!(keys, ["BRK/B", "X"]);
        // The exact spelling wins in both; the dotted one is a collision, left out of both.
        assert_eq!(
            ats.volumes["BRK/B"],
            (rows[0].ats_shares, rows[0].otc_shares)
        );
        assert_eq!(rows[0].ats_shares, Some(Volume::from_shares(1)));
        assert_eq!(q.violations.len(), 1);
        assert_eq!(
            (rows[1].ats_shares, rows[1].last_update),
            (None, Some(updated))
        );
        assert_eq!(rows[1].source, Carrier::Api);
        assert_eq!(w.last_update(), Some(updated));
    }
}

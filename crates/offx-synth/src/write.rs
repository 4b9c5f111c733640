//! Writes the files.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::fs;
use std::io::Write as _;
use std::path::Path;

use anyhow::{Context, Result};
use chrono::{Datelike, NaiveDate};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use offexchange::calendar;
use offexchange::config::Facility;
use offexchange::source::{ats_zip_path, regsho_path};

use crate::symbols::Symbol;

pub struct Plan {
    pub seed: u64,
    pub symbols: Vec<Symbol>,
    pub missing: Vec<(Facility, NaiveDate)>,
    /// (symbol, date) whose rows get ShortVolume > TotalVolume, as a bad-data case.
    pub short_over_total: Vec<(String, NaiveDate)>,
}

#[derive(Default)]
pub struct Stats {
    pub sessions: usize,
    pub regsho_files: usize,
    pub ats_files: usize,
    pub short_interest_files: usize,
    pub bytes: u64,
}

/// One facility's (short, exempt, total) for a symbol, whole shares.
type Volumes = (u64, u64, u64);

const NMS: [(Facility, &str, u32); 4] = [
    // (facility, Market letter, share of volume in percent)
    (Facility::Fnqc, "B", 15),
    (Facility::Fnsq, "Q", 50),
    (Facility::Fnyx, "N", 33),
    (Facility::Fnra, "D", 2),
];

pub fn mirror(out: &Path, from: NaiveDate, to: NaiveDate, plan: &Plan) -> Result<Stats> {
    let mut stats = Stats::default();
    let mut weekly: BTreeMap<NaiveDate, BTreeMap<usize, u64>> = BTreeMap::new();
    for date in calendar::sessions_between(from, to) {
        stats.sessions += 1;
        let day = day_volumes(date, plan);
        for (i, per_facility) in day.iter().enumerate() {
            let total: u64 = per_facility.values().map(|v| v.2).sum();
            *weekly
                .entry(calendar::week_start(date))
                .or_default()
                .entry(i)
                .or_default() += total;
        }
        for facility in Facility::ALL {
            if plan.missing.contains(&(facility, date)) {
                continue;
            }
            let body = regsho_file(date, facility, &day, plan);
            stats.bytes += write(out, &regsho_path(facility, date), body.as_bytes())?;
            stats.regsho_files += 1;
        }
    }
    for (monday, totals) in weekly {
        let zip = ats_zip(monday, &totals, plan)?;
        stats.bytes += write(out, &ats_zip_path(monday), &zip)?;
        stats.ats_files += 1;
    }
    // The short interest settlements the range's sessions can see: those up to a month before.
    for settlement in offexchange::settlement_dates(from - chrono::Duration::days(31), to) {
        let body = short_interest_file(settlement, plan);
        stats.bytes += write(
            out,
            &offexchange::short_interest_path(settlement),
            body.as_bytes(),
        )?;
        stats.short_interest_files += 1;
    }
    Ok(stats)
}

/// FINRA's `shrtYYYYMMDD.csv` for one settlement: pipe-delimited, every symbol under FINRA's
/// short interest spelling (class shares without their separator: `BRKB`).
fn short_interest_file(settlement: NaiveDate, plan: &Plan) -> String {
    let mut rng = ChaCha8Rng::seed_from_u64(
        plan.seed ^ 0x5157 ^ (u64::from(settlement.num_days_from_ce() as u32) << 20),
    );
    let mut text = String::from(
        "accountingYearMonthNumber|symbolCode|issueName|issuerServicesGroupExchangeCode|\
         marketClassCode|currentShortPositionQuantity|previousShortPositionQuantity|\
         stockSplitFlag|averageDailyVolumeQuantity|daysToCoverQuantity|revisionFlag|\
         changePercent|changePreviousNumber|settlementDate\n",
    );
    let ymd = settlement.format("%Y%m%d");
    for symbol in &plan.symbols {
        let current: u64 = rng.gen_range(1_000..50_000_000);
        let previous: u64 = rng.gen_range(1_000..50_000_000);
        let volume: u64 = rng.gen_range(1..5_000_000);
        // FINRA caps days to cover at 999.99.
        let days = (current as f64 / volume as f64).min(999.99);
        let change = current as i64 - previous as i64;
        let _ = writeln!(
            text,
            "{ymd}|{}|{} Inc.|A|{}|{current}|{previous}||{volume}|{days:.2}||{:.2}|{change}|{settlement}",
            symbol.regsho.replace('/', ""),
            symbol.regsho,
            if symbol.otc { "OTC" } else { "NYSE" },
            change as f64 * 100.0 / previous as f64,
        );
    }
    text
}

/// Per symbol (by index), per facility volumes for one day. FORF carries the OTC symbols only.
fn day_volumes(date: NaiveDate, plan: &Plan) -> Vec<BTreeMap<Facility, Volumes>> {
    let mut rng =
        ChaCha8Rng::seed_from_u64(plan.seed ^ (u64::from(date.num_days_from_ce() as u32) << 20));
    plan.symbols
        .iter()
        .map(|symbol| {
            let mut out = BTreeMap::new();
            // About one symbol in twenty does not trade on a given day.
            if rng.gen_ratio(1, 20) {
                return out;
            }
            let total: u64 = if rng.gen_ratio(1, 3) {
                rng.gen_range(100..20_000)
            } else {
                rng.gen_range(20_000..8_000_000)
            };
            let short_pct = rng.gen_range(15..70);
            let over = plan
                .short_over_total
                .contains(&(symbol.regsho.clone(), date));
            if symbol.otc {
                let short = total * short_pct / 100;
                out.insert(Facility::Forf, (short, short / 100, total));
                return out;
            }
            for (facility, _, pct) in NMS {
                let t = total * u64::from(pct) / 100;
                if t == 0 || (facility == Facility::Fnra && !rng.gen_ratio(1, 10)) {
                    continue;
                }
                let short = if over {
                    t + t / 4 + 1
                } else {
                    t * short_pct / 100
                };
                let exempt = if rng.gen_ratio(1, 4) {
                    short / rng.gen_range(50..500)
                } else {
                    0
                };
                out.insert(facility, (short, exempt, t));
            }
            out
        })
        .collect()
}

fn regsho_file(
    date: NaiveDate,
    facility: Facility,
    day: &[BTreeMap<Facility, Volumes>],
    plan: &Plan,
) -> String {
    let mut text = String::from("Date|Symbol|ShortVolume|ShortExemptVolume|TotalVolume|Market\r\n");
    let ymd = date.format("%Y%m%d").to_string();
    let mut rows: Vec<(&str, Volumes, String)> = Vec::new();
    for (symbol, per_facility) in plan.symbols.iter().zip(day) {
        let row = if facility == Facility::Cnms {
            let parts: Vec<_> = NMS
                .iter()
                .filter_map(|(f, letter, _)| per_facility.get(f).map(|v| (v, *letter)))
                .collect();
            if parts.is_empty() {
                continue;
            }
            let sum = parts
                .iter()
                .fold((0, 0, 0), |a, (v, _)| (a.0 + v.0, a.1 + v.1, a.2 + v.2));
            let letters: Vec<&str> = parts.iter().map(|(_, l)| *l).collect();
            (sum, letters.join(","))
        } else {
            match per_facility.get(&facility) {
                Some(v) => {
                    let letter = NMS
                        .iter()
                        .find(|(f, ..)| *f == facility)
                        .map_or("O", |(_, l, _)| l);
                    (*v, letter.to_string())
                }
                None => continue,
            }
        };
        rows.push((symbol.regsho.as_str(), row.0, row.1));
    }
    // FINRA sorts rows by symbol (byte order).
    rows.sort_by(|a, b| a.0.cmp(b.0));
    for (symbol, (short, exempt, total), market) in &rows {
        let _ = write!(text, "{ymd}|{symbol}|{short}|{exempt}|{total}|{market}\r\n");
    }
    let _ = write!(text, "{}\r\n", rows.len());
    text
}

fn ats_zip(monday: NaiveDate, totals: &BTreeMap<usize, u64>, plan: &Plan) -> Result<Vec<u8>> {
    let mut rng = ChaCha8Rng::seed_from_u64(
        plan.seed ^ 0xA75 ^ (u64::from(monday.num_days_from_ce() as u32) << 24),
    );
    let week = monday.format("%Y-%m-%d").to_string();
    let published = (monday + chrono::Duration::days(21))
        .format("%Y-%m-%d")
        .to_string();
    let mut text = String::from(
        "weekStartDate|tierIdentifier|tierDescription|issueSymbolIdentifier|issueName|MPID|marketParticipantName|summaryTypeCode|totalWeeklyShareQuantity|totalWeeklyTradeCount|lastUpdateDate\n",
    );
    for (&i, &total) in totals {
        let symbol = &plan.symbols[i];
        let (tier, tier_name) = match (symbol.otc, symbol.tier) {
            (true, _) => ("OTCE", "OTC"),
            (false, 1) => ("T1", "NMS Tier 1"),
            _ => ("T2", "NMS Tier 2"),
        };
        let name = format!("{} Synthetic Corp", symbol.ats);
        let mut row = |mpid: &str, firm: &str, kind: &str, shares: u64| {
            let trades = shares / 180 + 1;
            let _ = writeln!(
                text,
                "{week}|{tier}|{tier_name}|{}|{name}|{mpid}|{firm}|{kind}|{shares}|{trades}|{published}",
                symbol.ats
            );
        };
        // One symbol in ten has no ATS trading at all (its share is a true 0).
        let ats = if rng.gen_ratio(1, 10) {
            0
        } else {
            total * rng.gen_range(5..45) / 100
        };
        let otc = total.saturating_sub(ats) * rng.gen_range(20..60) / 100;
        if ats > 0 {
            row("", "", "ATS_W_SMBL", ats);
            let first = ats * rng.gen_range(30..70) / 100;
            row("UBSA", "UBS ATS", "ATS_W_SMBL_FIRM", first);
            row("JPMX", "JPM-X", "ATS_W_SMBL_FIRM", ats - first);
        }
        row("", "", "OTC_W_SMBL", otc);
        row("CDRG", "Citadel Securities", "OTC_W_SMBL_FIRM", otc);
    }
    let mut buffer = std::io::Cursor::new(Vec::new());
    {
        let mut zip = zip::ZipWriter::new(&mut buffer);
        let options =
            zip::write::SimpleFileOptions::default().last_modified_time(zip::DateTime::default());
        zip.start_file(
            format!("ATS_W_Summary_{}.txt", monday.format("%Y%m%d")),
            options,
        )?;
        zip.write_all(text.as_bytes())?;
        zip.finish()?;
    }
    Ok(buffer.into_inner())
}

fn write(root: &Path, relative: &str, bytes: &[u8]) -> Result<u64> {
    let path = root.join(relative);
    if let Some(parent) = path.parent() {
        fs::create_dir_all(parent).with_context(|| format!("creating {}", parent.display()))?;
    }
    fs::write(&path, bytes).with_context(|| format!("writing {}", path.display()))?;
    Ok(bytes.len() as u64)
}

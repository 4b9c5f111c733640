//! `short_interest` over PostgREST (migration 005). Like the session's history, the ledger row
//! goes first and the rows after it, one request per batch (REST has no transaction across
//! requests); rows merge on their key, so re-sending a version changes nothing.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use super::SupabaseStore;
use crate::store::short_interest::check_short_interest;
use crate::store::{ShortInterestRow, SourceVersion, StoreError};

/// The table, under the project URL.
pub(super) const PATH: &str = "/rest/v1/short_interest";

const COLUMNS: &str = "settlement_date,symbol,sha256,finra_symbol,issue_name,market_class,\
                       current_short,previous_short,change_previous,change_percent,\
                       average_daily_volume,days_to_cover,days_to_cover_capped,stock_split,\
                       revision,published_at,source";

#[derive(Serialize, Deserialize)]
struct Wire {
    settlement_date: NaiveDate,
    symbol: String,
    sha256: String,
    finra_symbol: String,
    issue_name: String,
    market_class: String,
    current_short: i64,
    previous_short: Option<i64>,
    change_previous: Option<i64>,
    change_percent: Option<f64>,
    average_daily_volume: Option<i64>,
    days_to_cover: Option<f64>,
    days_to_cover_capped: bool,
    stock_split: Option<String>,
    revision: Option<String>,
    published_at: DateTime<Utc>,
    source: String,
}

impl SupabaseStore {
    pub(super) async fn write_short_interest(
        &self,
        settlement_date: NaiveDate,
        version: &SourceVersion,
        rows: &[ShortInterestRow],
    ) -> Result<usize, StoreError> {
        check_short_interest(&self.project, settlement_date, version, rows)?;
        self.send_ledger(std::slice::from_ref(version)).await?;
        let wire: Vec<Wire> = rows
            .iter()
            .map(|r| Wire {
                settlement_date,
                symbol: r.symbol.clone(),
                sha256: r.sha256.clone(),
                finra_symbol: r.finra_symbol.clone(),
                issue_name: r.issue_name.clone(),
                market_class: r.market_class.clone(),
                current_short: r.current_short,
                previous_short: r.previous_short,
                change_previous: r.change_previous,
                change_percent: r.change_percent,
                average_daily_volume: r.average_daily_volume,
                days_to_cover: r.days_to_cover,
                days_to_cover_capped: r.days_to_cover_capped,
                stock_split: r.stock_split.clone(),
                revision: r.revision.clone(),
                published_at: r.published_at,
                source: r.source.clone(),
            })
            .collect();
        self.send(
            &self.short_interest_rest,
            "settlement_date,sha256,symbol",
            COLUMNS,
            &wire,
            "short_interest",
        )
        .await?;
        Ok(wire.len())
    }

    pub(super) async fn short_interest_rows(
        &self,
        settlement_date: NaiveDate,
        sha256: &str,
        symbols: Option<&[String]>,
    ) -> Result<Vec<ShortInterestRow>, StoreError> {
        let mut filters = vec![
            ("select", COLUMNS.to_string()),
            ("settlement_date", format!("eq.{settlement_date}")),
            ("sha256", format!("eq.{sha256}")),
        ];
        if let Some(list) = symbols {
            filters.push(("symbol", in_list(list)));
        }
        let doing = format!("reading short_interest of {settlement_date}");
        let rows: Vec<Wire> = self
            .fetch_all_ordered(&self.short_interest_rest, &doing, &filters, "symbol.asc")
            .await?;
        let mut out: Vec<ShortInterestRow> = rows
            .into_iter()
            .map(|w| ShortInterestRow {
                symbol: w.symbol,
                finra_symbol: w.finra_symbol,
                settlement_date: w.settlement_date,
                issue_name: w.issue_name,
                market_class: w.market_class,
                current_short: w.current_short,
                previous_short: w.previous_short,
                change_previous: w.change_previous,
                change_percent: w.change_percent,
                average_daily_volume: w.average_daily_volume,
                days_to_cover: w.days_to_cover,
                days_to_cover_capped: w.days_to_cover_capped,
                stock_split: w.stock_split,
                revision: w.revision,
                sha256: w.sha256,
                published_at: w.published_at,
                source: w.source,
            })
            .collect();
        // PostgREST orders text by the database's collation; offx's order is bytewise.
        out.sort_by(|a, b| a.symbol.as_bytes().cmp(b.symbol.as_bytes()));
        Ok(out)
    }
}

/// PostgREST's `in.(...)` with every value double-quoted (symbols hold `/` and `.`; a quote or
/// backslash is escaped), so no value can end the list early.
fn in_list(values: &[String]) -> String {
    let quoted: Vec<String> = values
        .iter()
        .map(|v| format!("\"{}\"", v.replace('\\', "\\\\").replace('"', "\\\"")))
        .collect();
    format!("in.({})", quoted.join(","))
}

#[cfg(test)]
mod tests {
    #[test]
    fn in_lists_quote_every_value() {
        let list = ["BRK/B".to_string(), "A,B".to_string(), "Q\"".to_string()];
        assert_eq!(super::in_list(&list), r#"in.("BRK/B","A,B","Q\"")"#);
    }
}

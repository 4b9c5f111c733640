//! `otcMarket/consolidatedShortInterest`: one settlement's rows, page by page.
//!
//! The request: the fields the `short_interest` table keeps, an EQUAL `compareFilters` on the
//! partition field `settlementDate`, `limit` 5000. The partitions endpoint is not asked: public
//! clients report it answering 403 for this dataset, and the data endpoint answers 204 for a
//! settlement not published, which says the same.

use chrono::NaiveDate;
use serde::Serialize;
use url::Url;

use super::paging::PagedQuery;
use super::query::{CompareFilter, PAGE_LIMIT};
use super::FinraApi;
use crate::parse::short_interest::{self, ShortInterestRecord};
use crate::source::{Fetched, SourceError};

/// The dataset's data path, relative to the API base.
pub const SHORT_INTEREST_PATH: &str = "data/group/otcMarket/name/consolidatedShortInterest";

/// The fields asked for: what the `short_interest` table keeps.
pub const SHORT_INTEREST_FIELDS: [&str; 12] = [
    "symbolCode",
    "issueName",
    "settlementDate",
    "marketClassCode",
    "currentShortPositionQuantity",
    "previousShortPositionQuantity",
    "changePreviousNumber",
    "changePercent",
    "averageDailyVolumeQuantity",
    "daysToCoverQuantity",
    "stockSplitFlag",
    "revisionFlag",
];

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Body<'a> {
    fields: &'a [&'a str],
    compare_filters: [CompareFilter; 1],
    limit: u64,
    offset: u64,
}

/// The JSON body of the page at `offset` for `settlement`.
///
/// ```
/// use chrono::NaiveDate;
/// use offexchange::source::finra_api::short_interest_body;
/// let body = short_interest_body(NaiveDate::from_ymd_opt(2024, 1, 12).unwrap(), 5000);
/// assert!(body.contains(r#""compareFilters":[{"compareType":"EQUAL","fieldName":"settlementDate","fieldValue":"2024-01-12"}]"#));
/// assert!(body.ends_with(r#""limit":5000,"offset":5000}"#));
/// ```
pub fn short_interest_body(settlement: NaiveDate, offset: u64) -> String {
    serde_json::to_string(&Body {
        fields: &SHORT_INTEREST_FIELDS,
        compare_filters: [CompareFilter::equal(
            "settlementDate",
            &settlement.to_string(),
        )],
        limit: PAGE_LIMIT,
        offset,
    })
    // Plain strings and numbers always serialize.
    .unwrap_or_default()
}

impl FinraApi {
    /// The dataset's URL.
    pub fn short_interest_url(&self) -> Url {
        self.client.url_for(SHORT_INTEREST_PATH)
    }

    /// Every row of `settlement`, with the pages read. `NotPublished` when FINRA answers 204.
    pub async fn short_interest(
        &self,
        settlement: NaiveDate,
    ) -> Result<Fetched<(Vec<ShortInterestRecord>, u32)>, SourceError> {
        let url = self.short_interest_url();
        let name = format!("consolidatedShortInterest {settlement}");
        let body = |offset: u64| short_interest_body(settlement, offset);
        let parse = |page: &str, bytes: &[u8], offset: u64| {
            short_interest::parse_api_page(page, bytes, settlement, offset)
        };
        self.read_pages(&PagedQuery {
            url: &url,
            name: &name,
            limit: PAGE_LIMIT,
            body: &body,
            parse: &parse,
        })
        .await
    }
}

//! What is asked of FINRA's Query API: its paths, the fields and filters of a `weeklySummary`
//! request, and the request body.

use std::time::Duration;

use chrono::NaiveDate;
use serde::Serialize;

use crate::parse::ats_json::Pinned;

/// `weeklySummary`, relative to the API base.
pub const WEEKLY_SUMMARY_PATH: &str = "data/group/otcMarket/name/weeklySummary";
/// `weeklySummaryHistoric`: the weeks before `weeklySummary`'s rolling window, same fields.
pub const WEEKLY_SUMMARY_HISTORIC_PATH: &str = "data/group/otcMarket/name/weeklySummaryHistoric";
/// The list of published (weekStartDate, tierIdentifier) partitions, relative to the API base.
pub const PARTITIONS_PATH: &str = "partitions/group/otcMarket/name/weeklySummary";
/// FINRA's largest page (`Record-Max-Limit: 5000`).
pub const PAGE_LIMIT: u64 = 5000;
/// The tiers of a complete week, FINRA's `tierIdentifier`s.
pub const TIERS: [&str; 3] = ["T1", "T2", "OTCE"];
/// The fields asked for: what [`AtsRecord`](crate::parse::ats::AtsRecord) holds, nothing more.
pub const FIELDS: [&str; 7] = [
    "weekStartDate",
    "tierIdentifier",
    "issueSymbolIdentifier",
    "summaryTypeCode",
    "totalWeeklyShareQuantity",
    "initialPublishedDate",
    "lastUpdateDate",
];
/// The per-symbol aggregates: ATS shares and non-ATS OTC shares.
pub const SUMMARY_TYPES: [&str; 2] = ["ATS_W_SMBL", "OTC_W_SMBL"];
/// How long a fetched partitions list is reused. FINRA adds partitions about once a week (on
/// Mondays), so a backfill that runs one engine over many days asks once instead of once per
/// day, while a long-lived engine still sees a new week within minutes.
pub const PARTITIONS_TTL: Duration = Duration::from_secs(600);

/// `{"compareType": "EQUAL", "fieldName": ..., "fieldValue": ...}`
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CompareFilter {
    /// Always `EQUAL` here.
    pub compare_type: &'static str,
    /// FINRA's field name, e.g. `tierIdentifier`.
    pub field_name: String,
    /// The value the field must equal, e.g. `T1`.
    pub field_value: String,
}

impl CompareFilter {
    /// `field` EQUAL to `value`.
    pub fn equal(field: &str, value: &str) -> CompareFilter {
        CompareFilter {
            compare_type: "EQUAL",
            field_name: field.to_string(),
            field_value: value.to_string(),
        }
    }
}

/// `{"fieldName": ..., "values": [...]}`: the field is one of the values.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DomainFilter {
    /// FINRA's field name, e.g. `summaryTypeCode`.
    pub field_name: String,
    /// The values allowed, e.g. `ATS_W_SMBL` and `OTC_W_SMBL`.
    pub values: Vec<String>,
}

/// `{"fieldName": ..., "startDate": ..., "endDate": ...}`, both ends included.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DateRangeFilter {
    /// FINRA's date field, e.g. `weekStartDate`.
    pub field_name: String,
    /// First date included.
    pub start_date: NaiveDate,
    /// Last date included.
    pub end_date: NaiveDate,
}

/// A `weeklySummary` request body, without its `offset` (added per page).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct WeeklySummaryQuery {
    /// FINRA's field names to return (see [`FIELDS`]).
    pub fields: Vec<String>,
    /// `compareFilters`: EQUAL conditions.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub compare_filters: Vec<CompareFilter>,
    /// `domainFilters`: one-of conditions.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub domain_filters: Vec<DomainFilter>,
    /// `dateRangeFilters`: inclusive date ranges.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub date_range_filters: Vec<DateRangeFilter>,
    /// Rows per page, at most [`PAGE_LIMIT`].
    pub limit: u64,
    /// Which dataset is asked: its path decides the URL, not the body.
    #[serde(skip)]
    pub dataset: ApiDataset,
}

/// The two datasets holding the OTC Transparency weekly summary.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum ApiDataset {
    /// `weeklySummary`: a rolling window of recent weeks, listed in its partitions.
    #[default]
    Current,
    /// `weeklySummaryHistoric`: the older weeks. FINRA's Technical Notice "OTC Transparency API
    /// Changes" (2021-03-08): it "supports filtering on the following fields: weekStartDate,
    /// historicalWeek, historicalMonth. In addition to one of the above fields, users can also
    /// use the tierIdentifier field ...; no other fields can be included in a request filter",
    /// and returns "the same fields" as `weeklySummary`.
    Historic,
}

impl ApiDataset {
    /// FINRA's dataset name.
    pub fn name(self) -> &'static str {
        match self {
            ApiDataset::Current => "weeklySummary",
            ApiDataset::Historic => "weeklySummaryHistoric",
        }
    }

    /// Its data path, relative to the API base.
    pub fn path(self) -> &'static str {
        match self {
            ApiDataset::Current => WEEKLY_SUMMARY_PATH,
            ApiDataset::Historic => WEEKLY_SUMMARY_HISTORIC_PATH,
        }
    }
}

#[derive(Serialize)]
struct Body<'a> {
    #[serde(flatten)]
    query: &'a WeeklySummaryQuery,
    offset: u64,
}

impl WeeklySummaryQuery {
    /// The per-symbol ATS and non-ATS rows of one tier of one week.
    ///
    /// ```
    /// use chrono::NaiveDate;
    /// use offexchange::source::finra_api::WeeklySummaryQuery;
    /// let monday = NaiveDate::from_ymd_opt(2024, 4, 1).unwrap();
    /// let body = WeeklySummaryQuery::week_tier(monday, "T1").body(5000);
    /// assert!(body.contains(r#""compareFilters":[{"compareType":"EQUAL","fieldName":"tierIdentifier","fieldValue":"T1"}]"#));
    /// assert!(body.ends_with(r#""limit":5000,"offset":5000}"#));
    /// ```
    pub fn week_tier(week_start: NaiveDate, tier: &str) -> WeeklySummaryQuery {
        WeeklySummaryQuery {
            fields: FIELDS.iter().map(|f| f.to_string()).collect(),
            compare_filters: vec![CompareFilter::equal("tierIdentifier", tier)],
            domain_filters: vec![DomainFilter {
                field_name: "summaryTypeCode".into(),
                values: SUMMARY_TYPES.iter().map(|s| s.to_string()).collect(),
            }],
            date_range_filters: vec![DateRangeFilter {
                field_name: "weekStartDate".into(),
                start_date: week_start,
                end_date: week_start,
            }],
            limit: PAGE_LIMIT,
            dataset: ApiDataset::Current,
        }
    }

    /// One tier of one week from `weeklySummaryHistoric`. It accepts only a time filter and
    /// `tierIdentifier`: both EQUAL here, no `domainFilters`, so every summary type comes back
    /// (firm breakdowns too) and the per-symbol aggregates are kept locally
    /// ([`Pinned::filter_locally`]).
    ///
    /// ```
    /// use chrono::NaiveDate;
    /// use offexchange::source::finra_api::WeeklySummaryQuery;
    /// let monday = NaiveDate::from_ymd_opt(2021, 6, 7).unwrap();
    /// let body = WeeklySummaryQuery::historic_week_tier(monday, "T1").body(0);
    /// assert!(!body.contains("domainFilters"));
    /// assert!(body.contains(r#"{"compareType":"EQUAL","fieldName":"weekStartDate","fieldValue":"2021-06-07"}"#));
    /// ```
    pub fn historic_week_tier(week_start: NaiveDate, tier: &str) -> WeeklySummaryQuery {
        WeeklySummaryQuery {
            fields: FIELDS.iter().map(|f| f.to_string()).collect(),
            compare_filters: vec![
                CompareFilter::equal("weekStartDate", &week_start.to_string()),
                CompareFilter::equal("tierIdentifier", tier),
            ],
            domain_filters: Vec::new(),
            date_range_filters: Vec::new(),
            limit: PAGE_LIMIT,
            dataset: ApiDataset::Historic,
        }
    }

    /// The JSON body for the page at `offset`.
    pub fn body(&self, offset: u64) -> String {
        // Serializing plain strings, numbers and dates cannot fail.
        serde_json::to_string(&Body {
            query: self,
            offset,
        })
        .unwrap_or_default()
    }

    /// What the filters fix: rows may leave these fields out, and must not contradict them.
    pub fn pinned(&self) -> Pinned {
        let equal = |field: &str| {
            self.compare_filters
                .iter()
                .find(|f| f.compare_type == "EQUAL" && f.field_name == field)
                .map(|f| f.field_value.clone())
        };
        let week_range = self
            .date_range_filters
            .iter()
            .find(|f| f.field_name == "weekStartDate" && f.start_date == f.end_date)
            .map(|f| f.start_date);
        let summary_types = self
            .domain_filters
            .iter()
            .find(|f| f.field_name == "summaryTypeCode")
            .map(|f| f.values.clone())
            .unwrap_or_default();
        Pinned {
            week_start: equal("weekStartDate")
                .and_then(|d| crate::parse::ats::parse_week_date(&d))
                .or(week_range),
            tier: equal("tierIdentifier"),
            summary_type: equal("summaryTypeCode")
                .or_else(|| (summary_types.len() == 1).then(|| summary_types[0].clone())),
            symbol: equal("issueSymbolIdentifier"),
            // weeklySummaryHistoric cannot filter summary types: keep the aggregates here.
            filter_locally: self.dataset == ApiDataset::Historic,
            summary_types: match self.dataset {
                ApiDataset::Historic => SUMMARY_TYPES.map(String::from).to_vec(),
                ApiDataset::Current => summary_types,
            },
        }
    }

    /// A short name for messages: the tier and week when the query has them.
    pub fn describe(&self) -> String {
        let pinned = self.pinned();
        let mut name = self.dataset.name().to_string();
        if let Some(week) = pinned.week_start {
            name.push_str(&format!(" {week}"));
        }
        if let Some(tier) = pinned.tier {
            name.push_str(&format!(" {tier}"));
        }
        name
    }
}

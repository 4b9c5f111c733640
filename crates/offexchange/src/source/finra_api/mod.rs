//! FINRA's Query API for the OTC Transparency weekly summary (ATS and non-ATS volume per symbol).
//!
//! FINRA publishes no weekly ZIP on its CDN; the weekly data exists only behind
//! `POST {api}/data/group/otcMarket/name/weeklySummary`. Three steps, typed between them:
//!
//! 1. **query**: [`WeeklySummaryQuery`] is the JSON body (fields, filters, `limit`), built for one
//!    week and one tier by [`WeeklySummaryQuery::week_tier`];
//! 2. **extract**: [`FinraApi::weekly_summary`] posts it page by page through the one
//!    [`HttpClient::execute`] retry loop (timeouts, 429/5xx with backoff, jitter and `Retry-After`,
//!    the User-Agent, gzip), moving `offset` until `Record-Total` rows are read;
//! 3. **transform**: each page's JSON becomes [`AtsRecord`]s in [`crate::parse::ats_json`].
//!
//! Which tiers of a week exist comes from `GET {api}/partitions/group/otcMarket/name/weeklySummary`
//! ([`FinraApi::partitions`]); FINRA publishes Tier 1 about two weeks after the week and the other
//! tiers about four weeks after it. [`FinraApi::week`] reads a week's published tiers; an engine
//! keeps the partitions list and the last weeks read for [`PARTITIONS_TTL`] (ten minutes), since
//! every session of a week needs the same rows and a backfill asks for each of them.
//!
//! ## Request design
//!
//! One query per (week, published tier), exactly the shape of FINRA's own example: an EQUAL
//! `compareFilters` on `tierIdentifier`, a `domainFilters` on `summaryTypeCode`
//! (`ATS_W_SMBL`, `OTC_W_SMBL`: the per-symbol aggregates; firm breakdowns would double count), a
//! `dateRangeFilters` on `weekStartDate` from the Monday to the same Monday, only the fields the
//! features and the revision history need, `limit` 5000. Per tier, because a partially published
//! week is then fetched only where it is published, each query reads exactly one of FINRA's
//! (week, tier) partitions, and the tiers can be read concurrently. No `sortFields`: FINRA answers
//! 400 unless both partition keys are EQUAL-filtered, and the order does not matter here; each
//! page is checked against `Record-Total` instead (a short page or a total that moves between
//! pages is an error, never a silent gap).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use chrono::NaiveDate;
use reqwest::header::ACCEPT;
use reqwest::StatusCode;
use tokio::sync::OnceCell;
use url::Url;

use super::http::{Answer, Verdict};
use super::{Fetched, FinraHttpError, HttpClient, SourceError};
use crate::net::excerpt;
use crate::parse::ats::AtsRecord;
use crate::parse::ats_json::{self, Partitions};
use crate::source::cache::RawCache;
use crate::store::redact_url;

mod auth;
mod paging;
mod query;
mod short_interest;

pub use auth::TokenSource;
use paging::PagedQuery;
pub use short_interest::{short_interest_body, SHORT_INTEREST_FIELDS, SHORT_INTEREST_PATH};

pub use query::{
    ApiDataset, CompareFilter, DateRangeFilter, DomainFilter, WeeklySummaryQuery, FIELDS,
    PAGE_LIMIT, PARTITIONS_PATH, PARTITIONS_TTL, SUMMARY_TYPES, TIERS,
    WEEKLY_SUMMARY_HISTORIC_PATH, WEEKLY_SUMMARY_PATH,
};

/// A historic week this old is static: read once, then served from the raw-file cache for good.
const STATIC_AFTER_DAYS: i64 = 365;

/// The rows of one query, all pages read.
#[derive(Debug, Clone, PartialEq)]
pub struct QueryRows {
    /// Every row of every page, in FINRA's (unsorted) order.
    pub records: Vec<AtsRecord>,
    /// Pages requested (one per `limit` rows).
    pub pages: u32,
}

/// One tier of a week, as read.
#[derive(Debug, Clone, PartialEq)]
pub enum TierRows {
    /// Not in the partitions list: FINRA has not published this tier of the week yet.
    Unlisted,
    /// Listed, yet the query answered 204 (no rows).
    Empty,
    /// Listed and read: its rows.
    Rows(QueryRows),
    /// `weeklySummaryHistoric` has no rows for this tier of the week (final: historic weeks do
    /// not change).
    NoRows,
}

/// A week as read from the API: each of [`TIERS`], in that order.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiWeek {
    /// FINRA's `weekStartDate`: the Monday of the week.
    pub week_start: NaiveDate,
    /// Each tier of [`TIERS`] with what was read for it.
    pub tiers: Vec<(&'static str, TierRows)>,
    /// Where it was read: `weeklySummary`, or `weeklySummaryHistoric` for a week older than the
    /// first one `weeklySummary` lists.
    pub dataset: ApiDataset,
}

impl ApiWeek {
    /// The `weeklySummaryHistoric` answer for a week FINRA no longer serves at all: every
    /// tier without rows.
    pub fn is_gone(&self) -> bool {
        self.dataset == ApiDataset::Historic
            && self.tiers.iter().all(|(_, rows)| *rows == TierRows::NoRows)
    }
}

/// The Query API client for the OTC Transparency weekly summary. Cheap to clone: clones share
/// the HTTP client, the cached partitions list and the weeks read.
#[derive(Debug, Clone)]
pub struct FinraApi {
    client: HttpClient,
    partitions: Arc<tokio::sync::Mutex<Option<CachedPartitions>>>,
    weeks: Arc<Mutex<HashMap<NaiveDate, CachedWeek>>>,
    /// Where static historic weeks are kept (the engine's raw-file cache).
    cache: Option<RawCache>,
    /// With FINRA API credentials: the bearer token for every request.
    auth: Option<TokenSource>,
}

/// An answer, or FINRA's 401 to a token that must be renewed.
enum Authed<T> {
    Done(T),
    Unauthorized,
}

/// A partitions list and when it was fetched.
type CachedPartitions = (Instant, Arc<Partitions>);
/// A week being read or read, and when that began.
type CachedWeek = (Instant, Arc<OnceCell<Arc<ApiWeek>>>);

/// Weeks kept by [`FinraApi::week`]: a backfill walks forward through the dates, so the week
/// in progress and the next one are enough; a full week is a few MB.
const WEEKS_KEPT: usize = 2;

/// Before `week_start` goes into the memo: drops the oldest week if the memo is full without it.
fn make_room(weeks: &mut HashMap<NaiveDate, CachedWeek>, week_start: NaiveDate) {
    if !weeks.contains_key(&week_start) && weeks.len() >= WEEKS_KEPT {
        let oldest = weeks.iter().min_by_key(|(_, (at, _))| *at).map(|(w, _)| *w);
        if let Some(oldest) = oldest {
            weeks.remove(&oldest);
        }
    }
}

impl FinraApi {
    /// `client` is based at the API root (`https://api.finra.org`).
    pub fn new(client: HttpClient) -> FinraApi {
        FinraApi {
            client,
            partitions: Arc::new(tokio::sync::Mutex::new(None)),
            weeks: Arc::new(Mutex::new(HashMap::new())),
            cache: None,
            auth: None,
        }
    }

    /// Sends every request with a bearer token from `auth` (FINRA API credentials).
    pub fn with_auth(mut self, auth: Option<TokenSource>) -> FinraApi {
        self.auth = auth;
        self
    }

    /// [`HttpClient::execute`] with the bearer token when there are credentials: a 401 renews
    /// the token once and sends again (a token can expire or be revoked before its time).
    async fn send<T>(
        &self,
        method: &'static str,
        url: &Url,
        build: impl Fn(&reqwest::Client) -> reqwest::RequestBuilder,
        mut judge: impl FnMut(Answer) -> Verdict<T>,
    ) -> Result<T, SourceError> {
        let mut token = match &self.auth {
            Some(auth) => Some(auth.bearer().await?),
            None => None,
        };
        for round in 0..2 {
            let bearer = token.clone();
            let answer = self
                .client
                .execute(
                    method,
                    url,
                    |c| match &bearer {
                        Some(t) => build(c).bearer_auth(t),
                        None => build(c),
                    },
                    |answer| {
                        if answer.status == StatusCode::UNAUTHORIZED
                            && bearer.is_some()
                            && round == 0
                        {
                            return Verdict::Done(Authed::Unauthorized);
                        }
                        match judge(answer) {
                            Verdict::Done(value) => Verdict::Done(Authed::Done(value)),
                            Verdict::Retry(e) => Verdict::Retry(e),
                            Verdict::Fail(e) => Verdict::Fail(e),
                        }
                    },
                )
                .await?;
            match (answer, &self.auth, &bearer) {
                (Authed::Done(value), ..) => return Ok(value),
                (Authed::Unauthorized, Some(auth), Some(stale)) => {
                    tracing::debug!("FINRA answered 401: renewing the API token");
                    token = Some(auth.renew(stale).await?);
                }
                // Unauthorized is only returned with a token.
                (Authed::Unauthorized, ..) => break,
            }
        }
        Err(SourceError::Http(FinraHttpError {
            method,
            url: redact_url(url.as_str()),
            status: Some(401),
            attempts: 2,
            message: "FINRA refused a freshly issued API token (401 twice): check that the \
                      credentials in FINRA_API_CLIENT_ID / FINRA_API_CLIENT_SECRET are \
                      entitled to this dataset"
                .into(),
        }))
    }

    /// Keeps static historic weeks (older than a year) in `cache`.
    pub fn with_cache(mut self, cache: Option<RawCache>) -> FinraApi {
        self.cache = cache;
        self
    }

    /// The first week `weeklySummary` lists: older weeks are read from `weeklySummaryHistoric`.
    /// `None` when FINRA lists nothing (then no week is taken for historic).
    pub fn window_start(partitions: &Partitions) -> Option<NaiveDate> {
        partitions.earliest_week()
    }

    /// Every tier of the week that FINRA lists as published, read once and reused for
    /// [`PARTITIONS_TTL`]: each session of a week needs the same rows, and a backfill asks for
    /// every session. Concurrent callers for one week share one read. A failed read is not kept.
    pub async fn week(&self, week_start: NaiveDate) -> Result<Arc<ApiWeek>, SourceError> {
        let cell = {
            let mut weeks = self.weeks.lock().unwrap_or_else(|p| p.into_inner());
            weeks.retain(|_, (at, _)| at.elapsed() < PARTITIONS_TTL);
            make_room(&mut weeks, week_start);
            let entry = weeks
                .entry(week_start)
                .or_insert_with(|| (Instant::now(), Arc::new(OnceCell::new())));
            Arc::clone(&entry.1)
        };
        cell.get_or_try_init(|| self.read_week(week_start))
            .await
            .cloned()
    }

    /// Reads the week's published tiers (concurrently), without the memo.
    pub async fn read_week(&self, week_start: NaiveDate) -> Result<Arc<ApiWeek>, SourceError> {
        let partitions = self.partitions().await?;
        self.read_week_in(week_start, &partitions).await
    }

    /// Reads the week as FINRA has it now: the partitions list and the tiers asked for again,
    /// whatever [`FinraApi::week`] and [`FinraApi::partitions`] hold, and both refreshed with the
    /// answers. Catch-up uses it to see FINRA's revisions (a revised week keeps its partitions,
    /// so only a new read shows the new `lastUpdateDate`).
    pub async fn refresh_week(&self, week_start: NaiveDate) -> Result<Arc<ApiWeek>, SourceError> {
        let partitions = Arc::new(self.fetch_partitions().await?);
        *self.partitions.lock().await = Some((Instant::now(), Arc::clone(&partitions)));
        let week = self.read_week_in(week_start, &partitions).await?;
        let cell = OnceCell::new_with(Some(Arc::clone(&week)));
        let mut weeks = self.weeks.lock().unwrap_or_else(|p| p.into_inner());
        make_room(&mut weeks, week_start);
        weeks.insert(week_start, (Instant::now(), Arc::new(cell)));
        Ok(week)
    }

    async fn read_week_in(
        &self,
        week_start: NaiveDate,
        partitions: &Partitions,
    ) -> Result<Arc<ApiWeek>, SourceError> {
        if FinraApi::window_start(partitions).is_some_and(|first| week_start < first) {
            return self.read_historic_week(week_start).await;
        }
        let reads = TIERS.into_iter().map(|tier| {
            let listed = partitions.is_published(week_start, tier);
            async move {
                if !listed {
                    return Ok((tier, TierRows::Unlisted));
                }
                let query = WeeklySummaryQuery::week_tier(week_start, tier);
                Ok::<_, SourceError>(match self.weekly_summary(&query).await? {
                    Fetched::Published(rows) => (tier, TierRows::Rows(rows)),
                    Fetched::NotPublished => (tier, TierRows::Empty),
                })
            }
        });
        let tiers = futures::future::try_join_all(reads).await?;
        Ok(Arc::new(ApiWeek {
            week_start,
            tiers,
            dataset: ApiDataset::Current,
        }))
    }

    /// A week outside `weeklySummary`'s window, from `weeklySummaryHistoric`: every tier asked
    /// (that dataset lists no partitions); a tier answered 204 has no rows there. A week older
    /// than [`STATIC_AFTER_DAYS`] is static, so it is kept in the raw-file cache and read from it.
    async fn read_historic_week(&self, week_start: NaiveDate) -> Result<Arc<ApiWeek>, SourceError> {
        let reads = TIERS.into_iter().map(|tier| async move {
            let query = WeeklySummaryQuery::historic_week_tier(week_start, tier);
            let entry = self.static_entry(&query, week_start, tier);
            if let Some(rows) = entry.as_ref().and_then(|(cache, path)| {
                let bytes = cache.get(path)?;
                // A cached copy that no longer parses is refetched (and rewritten).
                ats_json::parse_page(&query.describe(), &bytes, &query.pinned(), 0).ok()
            }) {
                return Ok::<_, SourceError>((tier, tier_rows(rows)));
            }
            let read = match self.weekly_summary(&query).await? {
                Fetched::Published(rows) => rows.records,
                Fetched::NotPublished => Vec::new(),
            };
            if let Some((cache, path)) = &entry {
                if let Err(e) = cache.put(path, ats_json::to_json(&read).as_bytes(), None) {
                    tracing::warn!("cannot keep {} in the cache: {e}", query.describe());
                }
            }
            Ok((tier, tier_rows(read)))
        });
        let tiers = futures::future::try_join_all(reads).await?;
        Ok(Arc::new(ApiWeek {
            week_start,
            tiers,
            dataset: ApiDataset::Historic,
        }))
    }

    /// The cache entry of a static historic (week, tier), when there is a cache.
    fn static_entry(
        &self,
        query: &WeeklySummaryQuery,
        week_start: NaiveDate,
        tier: &str,
    ) -> Option<(RawCache, std::path::PathBuf)> {
        let cache = self.cache.as_ref()?;
        let age = chrono::Utc::now().date_naive() - week_start;
        if age.num_days() < STATIC_AFTER_DAYS {
            return None;
        }
        let url = self.client.url_for(&format!(
            "{}/{week_start}/{tier}.json",
            query.dataset.path()
        ));
        Some((cache.clone(), cache.entry(&url)))
    }

    /// Where weekly summary queries are posted: `{api}/data/group/otcMarket/name/weeklySummary`.
    pub fn weekly_summary_url(&self) -> Url {
        self.client.url_for(WEEKLY_SUMMARY_PATH)
    }

    /// Where `dataset`'s queries are posted.
    pub fn dataset_url(&self, dataset: ApiDataset) -> Url {
        self.client.url_for(dataset.path())
    }

    /// Where the partitions list is read: `{api}/partitions/group/otcMarket/name/weeklySummary`.
    pub fn partitions_url(&self) -> Url {
        self.client.url_for(PARTITIONS_PATH)
    }

    /// The published partitions, reused for [`PARTITIONS_TTL`] (concurrent callers wait for one
    /// fetch rather than each asking).
    pub async fn partitions(&self) -> Result<Arc<Partitions>, SourceError> {
        let mut cached = self.partitions.lock().await;
        if let Some((at, list)) = cached.as_ref() {
            if at.elapsed() < PARTITIONS_TTL {
                return Ok(Arc::clone(list));
            }
        }
        let list = Arc::new(self.fetch_partitions().await?);
        *cached = Some((Instant::now(), Arc::clone(&list)));
        Ok(list)
    }

    /// Asks FINRA for the published partitions now (no cache).
    pub async fn fetch_partitions(&self) -> Result<Partitions, SourceError> {
        let url = self.partitions_url();
        let mut attempt = 0;
        let authed = self.auth.is_some();
        self.send(
            "GET",
            &url,
            |c| c.get(url.clone()).header(ACCEPT, "application/json"),
            |answer| {
                attempt += 1;
                if answer.status != StatusCode::OK {
                    return Verdict::Fail(refusal("GET", &url, &answer, attempt, None, authed));
                }
                match ats_json::parse_partitions("weeklySummary partitions", &answer.body) {
                    Ok(list) => Verdict::Done(list),
                    Err(error) => Verdict::Fail(SourceError::Parse {
                        location: format!("GET {}", redact_url(url.as_str())),
                        attempts: attempt,
                        error,
                    }),
                }
            },
        )
        .await
    }

    /// Reads every row `query` selects, page after page. `NotPublished` when FINRA answers 204
    /// (no rows) to the first page.
    pub async fn weekly_summary(
        &self,
        query: &WeeklySummaryQuery,
    ) -> Result<Fetched<QueryRows>, SourceError> {
        let url = self.dataset_url(query.dataset);
        let pinned = query.pinned();
        let name = query.describe();
        let body = |offset: u64| query.body(offset);
        let parse = |page: &str, bytes: &[u8], offset: u64| {
            ats_json::parse_page_counted(page, bytes, &pinned, offset)
        };
        let paged = PagedQuery {
            url: &url,
            name: &name,
            limit: query.limit,
            body: &body,
            parse: &parse,
        };
        Ok(match self.read_pages(&paged).await? {
            Fetched::NotPublished => Fetched::NotPublished,
            Fetched::Published((records, pages)) => {
                Fetched::Published(QueryRows { records, pages })
            }
        })
    }
}

/// A historic tier's rows: none is [`TierRows::NoRows`].
fn tier_rows(records: Vec<AtsRecord>) -> TierRows {
    if records.is_empty() {
        TierRows::NoRows
    } else {
        TierRows::Rows(QueryRows { records, pages: 0 })
    }
}

/// A 4xx (or any answer that is not 200/204): FINRA's `message` when the body carries one. Not
/// retried: the same request gets the same refusal.
pub(super) fn refusal(
    method: &'static str,
    url: &Url,
    answer: &Answer,
    attempts: u32,
    request: Option<&str>,
    authed: bool,
) -> SourceError {
    let finra_message = serde_json::from_slice::<serde_json::Value>(&answer.body)
        .ok()
        .and_then(|v| {
            v.get("message")
                .and_then(|m| m.as_str())
                .map(str::to_string)
        });
    let mut message = match finra_message {
        Some(m) => format!("FINRA: {m}"),
        None => format!("unexpected answer: {}", excerpt(&answer.body, 200)),
    };
    if let Some(body) = request {
        message.push_str(&format!(" [request {body}]"));
    }
    // Whether credentials would help: FINRA answers 401/403 for a dataset that needs them.
    match (answer.status, authed) {
        (StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN, false) => message.push_str(
            "; this dataset may need FINRA API credentials: set FINRA_API_CLIENT_ID and \
             FINRA_API_CLIENT_SECRET",
        ),
        (StatusCode::FORBIDDEN, true) => message
            .push_str("; the FINRA API credentials configured are not entitled to this dataset"),
        _ => {}
    }
    SourceError::Http(FinraHttpError {
        method,
        url: redact_url(url.as_str()),
        status: Some(answer.status.as_u16()),
        attempts,
        message,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn monday() -> NaiveDate {
        NaiveDate::from_ymd_opt(2024, 4, 1).unwrap()
    }

    #[test]
    fn the_body_is_finras_example_shape() {
        let body: serde_json::Value =
            serde_json::from_str(&WeeklySummaryQuery::week_tier(monday(), "T2").body(10000))
                .unwrap();
        let expected = serde_json::json!({
            "fields": FIELDS,
            "compareFilters": [{"compareType": "EQUAL", "fieldName": "tierIdentifier", "fieldValue": "T2"}],
            "domainFilters": [{"fieldName": "summaryTypeCode", "values": ["ATS_W_SMBL", "OTC_W_SMBL"]}],
            "dateRangeFilters": [{"fieldName": "weekStartDate", "startDate": "2024-04-01", "endDate": "2024-04-01"}],
            "limit": 5000,
            "offset": 10000
        });
        assert_eq!(body, expected);
        assert!(body.get("sortFields").is_none());
    }

    #[test]
    fn pinned_from_filters() {
        let q = WeeklySummaryQuery::week_tier(monday(), "OTCE");
        let p = q.pinned();
        assert_eq!(p.week_start, Some(monday()));
        assert_eq!(p.tier.as_deref(), Some("OTCE"));
        assert_eq!(p.summary_type, None);
        assert_eq!(p.summary_types, SUMMARY_TYPES.map(String::from));
        assert_eq!(q.describe(), "weeklySummary 2024-04-01 OTCE");
    }
}

//! A local stand-in for FINRA's Query API (`https://api.finra.org`), OTC Transparency weekly
//! summary only, behaving as `../shared/FINRA-NOTES.md` describes:
//!
//! - `POST /data/group/otcMarket/name/weeklySummary`: checks the method, `Accept` and
//!   `Content-Type: application/json`, a User-Agent, and the JSON body (known keys and fields,
//!   `limit` 1..=5000, filter shapes; `sortFields` without both partition keys EQUAL-filtered is
//!   refused like FINRA does). A bad request gets 400 `{"message": ...}`, so a client bug shows
//!   as a failed test naming the problem. Answers 200 with gzip'd compact JSON, only the fields
//!   asked for, `Record-Total` / `Record-Offset` / `Record-Max-Limit`, pages of at most 5000; 204
//!   with an empty body when nothing matches (e.g. a partition not published yet).
//! - `GET /partitions/group/otcMarket/name/weeklySummary`: the published (week, tier) pairs.
//!
//! Rows live in memory ([`ApiRow`]); each value is kept as raw JSON text, so a test can serve
//! FINRA's Java doubles (`1.0439495945685266E10`) or a broken value verbatim.

use std::collections::BTreeSet;
use std::io::Write;
use std::sync::{Arc, Mutex};

use chrono::{Duration, NaiveDate};
use flate2::write::GzEncoder;
use flate2::Compression;
use serde_json::{json, Map, Value};
use wiremock::matchers::any;
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

pub const WEEKLY_SUMMARY: &str = "/data/group/otcMarket/name/weeklySummary";
pub const PARTITIONS: &str = "/partitions/group/otcMarket/name/weeklySummary";
pub const WEEKLY_SUMMARY_HISTORIC: &str = "/data/group/otcMarket/name/weeklySummaryHistoric";
/// FINRA's OAuth2 token endpoint path (on `ews.fip.finra.org`; here on the same fake server).
pub const TOKEN: &str = "/fip/rest/ews/oauth2/access_token";
pub const MAX_LIMIT: usize = 5000;

/// FINRA's `weeklySummary` fields, in the order FINRA writes them.
pub const KNOWN_FIELDS: [&str; 17] = [
    "totalWeeklyShareQuantity",
    "totalWeeklyTradeCount",
    "issueSymbolIdentifier",
    "issueName",
    "lastUpdateDate",
    "weekStartDate",
    "lastReportedDate",
    "tierDescription",
    "tierIdentifier",
    "initialPublishedDate",
    "productTypeCode",
    "summaryTypeCode",
    "totalNotionalSum",
    "MPID",
    "marketParticipantName",
    "firmCRDNumber",
    "summaryStartDate",
];

/// One weeklySummary row: (field, raw JSON value) pairs in FINRA's order.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiRow {
    fields: Vec<(String, String)>,
}

impl ApiRow {
    /// A FINRA-shaped row. `shares` is the raw JSON number text (`"1500"`, `"1.5E3"`).
    /// `lastUpdateDate` and `initialPublishedDate` are three weeks after `week` (Tier 1's usual
    /// delay); change them with [`ApiRow::with`].
    pub fn new(week: &str, tier: &str, symbol: &str, summary_type: &str, shares: &str) -> ApiRow {
        let published = NaiveDate::parse_from_str(week, "%Y-%m-%d")
            .map(|d| (d + Duration::days(21)).to_string())
            .unwrap_or_else(|_| week.to_string());
        let tier_description = match tier {
            "T1" => "NMS Tier 1",
            "T2" => "NMS Tier 2",
            _ => "OTC",
        };
        let s = |v: &str| Value::String(v.to_string()).to_string();
        ApiRow {
            fields: vec![
                ("totalWeeklyShareQuantity".into(), shares.to_string()),
                ("totalWeeklyTradeCount".into(), "1".into()),
                ("issueSymbolIdentifier".into(), s(symbol)),
                ("issueName".into(), s(&format!("{symbol} Test Corp"))),
                ("lastUpdateDate".into(), s(&published)),
                ("weekStartDate".into(), s(week)),
                ("tierDescription".into(), s(tier_description)),
                ("tierIdentifier".into(), s(tier)),
                ("initialPublishedDate".into(), s(&published)),
                (
                    "productTypeCode".into(),
                    s(if tier == "OTCE" { "OTCE" } else { "UTP" }),
                ),
                ("summaryTypeCode".into(), s(summary_type)),
            ],
        }
    }

    /// Sets `field` to the raw JSON text `raw` (`"\"2024-05-01\""`, `"12"`, `"null"`).
    pub fn with(mut self, field: &str, raw: &str) -> ApiRow {
        match self.fields.iter_mut().find(|(k, _)| k == field) {
            Some(slot) => slot.1 = raw.to_string(),
            None => self.fields.push((field.to_string(), raw.to_string())),
        }
        self
    }

    /// Drops `field` from the row.
    pub fn without(mut self, field: &str) -> ApiRow {
        self.fields.retain(|(k, _)| k != field);
        self
    }

    /// The value of `field` as text: a JSON string unquoted, anything else as written.
    pub fn get(&self, field: &str) -> Option<String> {
        let raw = &self.fields.iter().find(|(k, _)| k == field)?.1;
        match serde_json::from_str::<Value>(raw) {
            Ok(Value::String(s)) => Some(s),
            _ => Some(raw.clone()),
        }
    }

    /// The row as compact JSON with only `fields` (all when empty), in FINRA's order.
    fn to_json(&self, fields: &[String]) -> String {
        let parts: Vec<String> = self
            .fields
            .iter()
            .filter(|(k, _)| fields.is_empty() || fields.contains(k))
            .map(|(k, v)| format!("{}:{v}", Value::String(k.clone())))
            .collect();
        format!("{{{}}}", parts.join(","))
    }
}

/// A misbehaviour to put on.
#[derive(Debug, Clone, PartialEq)]
pub enum Fault {
    /// Every weeklySummary request: this status and `{"message": ...}`.
    Refuse(u16, String),
    /// Every weeklySummary page: 200 (with the usual headers) and this body instead of rows.
    Body(String),
    /// The page at this offset loses its last row; `Record-Total` stays the same.
    ShortPageAt(usize),
    /// 200 pages without a `Record-Total` header.
    NoRecordTotal,
}

/// A request as received.
#[derive(Debug, Clone, PartialEq)]
pub struct Recorded {
    pub method: String,
    pub path: String,
    /// Lower-case header names.
    pub headers: Vec<(String, String)>,
    /// The JSON body, when there was one.
    pub body: Option<Value>,
}

impl Recorded {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

#[derive(Default)]
struct State {
    rows: Vec<ApiRow>,
    /// Partitions FINRA lists (week, tier); rows of other partitions are invisible.
    published: BTreeSet<(String, String)>,
    withheld: BTreeSet<(String, String)>,
    fault: Option<Fault>,
    requests: Vec<Recorded>,
    /// weeklySummaryHistoric's rows: no partitions, every summary type.
    historic: Vec<ApiRow>,
    /// When set, every data and partitions request needs a bearer token issued for these.
    credentials: Option<(String, String)>,
    /// Tokens issued, in order; only the last one is valid (earlier ones were revoked).
    tokens: Vec<String>,
    revoked: bool,
}

impl State {
    fn visible(&self, row: &ApiRow) -> bool {
        let key = (
            row.get("weekStartDate").unwrap_or_default(),
            row.get("tierIdentifier").unwrap_or_default(),
        );
        self.published.contains(&key)
    }
}

struct Api {
    state: Arc<Mutex<State>>,
}

impl Respond for Api {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let Ok(mut state) = self.state.lock() else {
            return ResponseTemplate::new(500);
        };
        let headers: Vec<(String, String)> = request
            .headers
            .iter()
            .map(|(k, v)| {
                (
                    k.as_str().to_ascii_lowercase(),
                    v.to_str().unwrap_or_default().to_string(),
                )
            })
            .collect();
        let recorded = Recorded {
            method: request.method.to_string(),
            path: request.url.path().to_string(),
            headers,
            body: serde_json::from_slice(&request.body).ok(),
        };
        state.requests.push(recorded.clone());
        if recorded.path == TOKEN {
            return token(&mut state, &recorded, request);
        }
        if let Some(refusal) = unauthorized(&state, &recorded) {
            return refusal;
        }
        match (recorded.method.as_str(), recorded.path.as_str()) {
            ("POST", WEEKLY_SUMMARY_HISTORIC) => {
                match check(&recorded, &request.body).and_then(historic_filters) {
                    Err(message) => refuse(400, &message),
                    Ok(query) => answer_rows(&state, &state.historic, &query, |_| true),
                }
            }
            ("GET", PARTITIONS) => {
                let list: Vec<Value> = state
                    .published
                    .iter()
                    .map(|(week, tier)| json!({ "partitions": [week, tier] }))
                    .collect();
                let body = json!({ "availablePartitions": list }).to_string();
                gzip_json(200, &body)
            }
            ("POST", WEEKLY_SUMMARY) => match check(&recorded, &request.body) {
                Err(message) => refuse(400, &message),
                Ok(query) => answer(&state, &query),
            },
            (_, WEEKLY_SUMMARY | PARTITIONS) => refuse(405, "method not allowed"),
            _ => refuse(404, "no such dataset"),
        }
    }
}

/// A checked weeklySummary request.
struct Query {
    fields: Vec<String>,
    equal: Vec<(String, String)>,
    domains: Vec<(String, Vec<String>)>,
    ranges: Vec<(String, String, String)>,
    limit: usize,
    offset: usize,
}

fn check(request: &Recorded, raw: &[u8]) -> Result<Query, String> {
    let accept = request.header("accept").unwrap_or_default();
    if !accept.contains("application/json") {
        return Err(format!("Accept must be application/json, got {accept:?}"));
    }
    let content_type = request.header("content-type").unwrap_or_default();
    if !content_type.starts_with("application/json") {
        return Err(format!(
            "Content-Type must be application/json, got {content_type:?}"
        ));
    }
    if request
        .header("user-agent")
        .unwrap_or_default()
        .trim()
        .is_empty()
    {
        return Err("a User-Agent is required".into());
    }
    let body: Map<String, Value> =
        serde_json::from_slice(raw).map_err(|e| format!("the body is not a JSON object: {e}"))?;
    for key in body.keys() {
        let known = [
            "fields",
            "compareFilters",
            "domainFilters",
            "dateRangeFilters",
            "limit",
            "offset",
            "sortFields",
        ];
        if !known.contains(&key.as_str()) {
            return Err(format!("unknown request key {key:?}"));
        }
    }
    let strings = |v: &Value, what: &str| -> Result<Vec<String>, String> {
        v.as_array()
            .ok_or(format!("{what} must be an array"))?
            .iter()
            .map(|s| {
                s.as_str()
                    .map(str::to_string)
                    .ok_or(format!("{what} must hold strings"))
            })
            .collect()
    };
    let fields = match body.get("fields") {
        Some(v) => strings(v, "fields")?,
        None => Vec::new(),
    };
    if let Some(unknown) = fields.iter().find(|f| !KNOWN_FIELDS.contains(&f.as_str())) {
        return Err(format!("unknown field {unknown:?}"));
    }
    let text = |v: &Value, key: &str| -> Result<String, String> {
        v.get(key)
            .and_then(Value::as_str)
            .map(str::to_string)
            .ok_or(format!("a filter lacks the string {key:?}"))
    };
    let mut equal = Vec::new();
    for f in body
        .get("compareFilters")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        if text(f, "compareType")? != "EQUAL" {
            return Err("this fake knows only compareType EQUAL".into());
        }
        equal.push((text(f, "fieldName")?, text(f, "fieldValue")?));
    }
    let mut domains = Vec::new();
    for f in body
        .get("domainFilters")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let values = strings(f.get("values").unwrap_or(&Value::Null), "values")?;
        domains.push((text(f, "fieldName")?, values));
    }
    let mut ranges = Vec::new();
    for f in body
        .get("dateRangeFilters")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        ranges.push((
            text(f, "fieldName")?,
            text(f, "startDate")?,
            text(f, "endDate")?,
        ));
    }
    if body.contains_key("sortFields") {
        let pinned = |k: &str| equal.iter().any(|(f, _)| f == k);
        if !(pinned("weekStartDate") && pinned("tierIdentifier")) {
            return Err("sortFields requires EQUAL filters on both partition keys \
                        (weekStartDate, tierIdentifier)"
                .into());
        }
    }
    let number = |key: &str, default: u64| -> Result<u64, String> {
        match body.get(key) {
            None => Ok(default),
            Some(v) => v.as_u64().ok_or(format!("{key} must be a whole number")),
        }
    };
    let limit = number("limit", 1000)? as usize;
    if limit == 0 || limit > MAX_LIMIT {
        return Err(format!("limit {limit} is outside 1..={MAX_LIMIT}"));
    }
    Ok(Query {
        fields,
        equal,
        domains,
        ranges,
        limit,
        offset: number("offset", 0)? as usize,
    })
}

/// weeklySummaryHistoric's rule (FINRA's Technical Notice of 2021-03-08): a filter on one of
/// `weekStartDate`, `historicalWeek`, `historicalMonth`, plus optionally `tierIdentifier`; "no
/// other fields can be included in a request filter".
fn historic_filters(query: Query) -> Result<Query, String> {
    const TIME: [&str; 3] = ["weekStartDate", "historicalWeek", "historicalMonth"];
    let fields: Vec<&str> = query
        .equal
        .iter()
        .map(|(f, _)| f.as_str())
        .chain(query.domains.iter().map(|(f, _)| f.as_str()))
        .chain(query.ranges.iter().map(|(f, ..)| f.as_str()))
        .collect();
    if let Some(other) = fields
        .iter()
        .find(|f| !TIME.contains(f) && **f != "tierIdentifier")
    {
        return Err(format!(
            "weeklySummaryHistoric supports filtering on weekStartDate, historicalWeek, \
             historicalMonth and tierIdentifier only; no other fields can be included in a \
             request filter (got {other})"
        ));
    }
    if !fields.iter().any(|f| TIME.contains(f)) {
        return Err(
            "weeklySummaryHistoric needs a filter on weekStartDate, historicalWeek or \
                    historicalMonth"
                .into(),
        );
    }
    Ok(query)
}

/// The token endpoint: `POST ?grant_type=client_credentials` with HTTP Basic auth.
fn token(state: &mut State, recorded: &Recorded, request: &Request) -> ResponseTemplate {
    let invalid = |message: &str| {
        ResponseTemplate::new(400)
            .insert_header("content-type", "application/json")
            .set_body_string(
                json!({ "error_message": message, "error": "invalid_client" }).to_string(),
            )
    };
    if recorded.method != "POST" {
        return refuse(405, "method not allowed");
    }
    let grant = request
        .url
        .query_pairs()
        .any(|(k, v)| k == "grant_type" && v == "client_credentials");
    if !grant {
        return invalid("grant_type=client_credentials is required");
    }
    let Some(basic) = recorded
        .header("authorization")
        .and_then(|h| h.strip_prefix("Basic "))
    else {
        return invalid("Client credentials is required");
    };
    use base64::Engine as _;
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(basic.trim())
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .unwrap_or_default();
    let expected = state
        .credentials
        .as_ref()
        .map(|(id, secret)| format!("{id}:{secret}"));
    if expected.as_deref() != Some(decoded.as_str()) {
        return invalid("Invalid Credentials");
    }
    let issued = format!("fake-token-{}", state.tokens.len() + 1);
    state.tokens.push(issued.clone());
    state.revoked = false;
    ResponseTemplate::new(200)
        .insert_header("content-type", "application/json")
        .set_body_string(
            json!({ "access_token": issued, "token_type": "Bearer", "expires_in": "1799" })
                .to_string(),
        )
}

/// With credentials configured: 401 unless the request carries the valid bearer token.
fn unauthorized(state: &State, recorded: &Recorded) -> Option<ResponseTemplate> {
    state.credentials.as_ref()?;
    let valid = state.tokens.last().filter(|_| !state.revoked);
    let sent = recorded
        .header("authorization")
        .and_then(|h| h.strip_prefix("Bearer "));
    let ok = matches!((sent, valid), (Some(sent), Some(valid)) if sent == valid);
    (!ok).then(|| refuse(401, "Unauthorized: invalid or expired token"))
}

fn answer(state: &State, query: &Query) -> ResponseTemplate {
    answer_rows(state, &state.rows, query, |row| state.visible(row))
}

fn answer_rows(
    state: &State,
    rows: &[ApiRow],
    query: &Query,
    visible: impl Fn(&ApiRow) -> bool,
) -> ResponseTemplate {
    if let Some(Fault::Refuse(status, message)) = &state.fault {
        return refuse(*status, message);
    }
    let matched: Vec<&ApiRow> = rows
        .iter()
        .filter(|row| visible(row))
        .filter(|row| {
            let value = |f: &str| row.get(f).unwrap_or_default();
            query.equal.iter().all(|(f, v)| value(f) == *v)
                && query.domains.iter().all(|(f, vs)| vs.contains(&value(f)))
                && query.ranges.iter().all(|(f, start, end)| {
                    (start.as_str()..=end.as_str()).contains(&value(f).as_str())
                })
        })
        .collect();
    if matched.is_empty() {
        return ResponseTemplate::new(204);
    }
    let total = matched.len();
    let start = query.offset.min(total);
    let end = (start + query.limit).min(total);
    let mut page: Vec<String> = matched[start..end]
        .iter()
        .map(|row| row.to_json(&query.fields))
        .collect();
    if state.fault == Some(Fault::ShortPageAt(query.offset)) {
        page.pop();
    }
    let body = match &state.fault {
        Some(Fault::Body(body)) => body.clone(),
        _ => format!("[{}]", page.join(",")),
    };
    let mut response = gzip_json(200, &body)
        .insert_header("record-offset", query.offset.to_string())
        .insert_header("record-limit", query.limit.to_string())
        .insert_header("record-max-limit", MAX_LIMIT.to_string())
        .insert_header("total-records-on-page", page.len().to_string());
    if state.fault != Some(Fault::NoRecordTotal) {
        response = response.insert_header("record-total", total.to_string());
    }
    response
}

fn refuse(status: u16, message: &str) -> ResponseTemplate {
    ResponseTemplate::new(status)
        .insert_header("content-type", "application/json")
        .set_body_string(json!({ "message": message }).to_string())
}

/// A JSON answer gzip'd on the wire, as FINRA sends it.
pub fn gzip_json(status: u16, body: &str) -> ResponseTemplate {
    ResponseTemplate::new(status)
        .insert_header("content-type", "application/json")
        .insert_header("content-encoding", "gzip")
        .set_body_bytes(gzip(body.as_bytes()))
}

/// Gzip-compresses `bytes`.
pub fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = GzEncoder::new(Vec::new(), Compression::default());
    // Writing to a Vec cannot fail.
    let _ = encoder.write_all(bytes);
    encoder.finish().unwrap_or_default()
}

/// The fake API server; see the module doc.
pub struct FinraApi {
    server: MockServer,
    state: Arc<Mutex<State>>,
}

impl FinraApi {
    pub async fn start() -> FinraApi {
        let server = MockServer::start().await;
        let state = Arc::new(Mutex::new(State::default()));
        Mock::given(any())
            .respond_with(Api {
                state: Arc::clone(&state),
            })
            .mount(&server)
            .await;
        FinraApi { server, state }
    }

    /// The base URL to use as `FINRA_API_BASE_URL`.
    pub fn base_url(&self) -> String {
        self.server.uri()
    }

    fn with_state<T>(&self, f: impl FnOnce(&mut State) -> T) -> T {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        f(&mut state)
    }

    /// Adds rows; their (week, tier) partitions become published unless withheld.
    pub fn add_rows(&self, rows: impl IntoIterator<Item = ApiRow>) {
        self.with_state(|s| {
            for row in rows {
                let key = (
                    row.get("weekStartDate").unwrap_or_default(),
                    row.get("tierIdentifier").unwrap_or_default(),
                );
                if !s.withheld.contains(&key) {
                    s.published.insert(key);
                }
                s.rows.push(row);
            }
        });
    }

    /// Rewrites every row through `revise` (FINRA revising published data: new shares, a later
    /// `lastUpdateDate`). Partitions stay as they are.
    pub fn revise_rows(&self, mut revise: impl FnMut(ApiRow) -> ApiRow) {
        self.with_state(|s| {
            s.rows = std::mem::take(&mut s.rows)
                .into_iter()
                .map(&mut revise)
                .collect();
        });
    }

    /// Lists (week, tier) as published, rows or not.
    pub fn publish(&self, week: &str, tier: &str) {
        self.with_state(|s| {
            let key = (week.to_string(), tier.to_string());
            s.withheld.remove(&key);
            s.published.insert(key);
        });
    }

    /// Makes (week, tier) unpublished: not listed, its rows invisible (204).
    pub fn withhold(&self, week: &str, tier: &str) {
        self.with_state(|s| {
            let key = (week.to_string(), tier.to_string());
            s.published.remove(&key);
            s.withheld.insert(key);
        });
    }

    /// Adds rows to `weeklySummaryHistoric` (any summary type, firm rows too).
    pub fn add_historic_rows(&self, rows: impl IntoIterator<Item = ApiRow>) {
        self.with_state(|s| s.historic.extend(rows));
    }

    /// From now on every data and partitions request needs a bearer token issued for this id
    /// and secret by the token endpoint ([`TOKEN`]).
    pub fn require_credentials(&self, id: &str, secret: &str) {
        self.with_state(|s| s.credentials = Some((id.to_string(), secret.to_string())));
    }

    /// Revokes the token issued last: the next request with it gets 401.
    pub fn revoke_tokens(&self) {
        self.with_state(|s| s.revoked = true);
    }

    /// How many tokens the token endpoint issued.
    pub fn tokens_issued(&self) -> usize {
        self.with_state(|s| s.tokens.len())
    }

    /// The token endpoint's URL, for `FINRA_API_TOKEN_URL`.
    pub fn token_url(&self) -> String {
        format!("{}{TOKEN}?grant_type=client_credentials", self.server.uri())
    }

    /// The JSON bodies of the weeklySummaryHistoric requests so far, in order.
    pub fn historic_requests(&self) -> Vec<Value> {
        self.requests()
            .into_iter()
            .filter(|r| r.path == WEEKLY_SUMMARY_HISTORIC)
            .filter_map(|r| r.body)
            .collect()
    }

    pub fn set_fault(&self, fault: Option<Fault>) {
        self.with_state(|s| s.fault = fault);
    }

    /// Every request so far, in order.
    pub fn requests(&self) -> Vec<Recorded> {
        self.with_state(|s| s.requests.clone())
    }

    /// The JSON bodies of the weeklySummary requests so far, in order.
    pub fn data_requests(&self) -> Vec<Value> {
        self.requests()
            .into_iter()
            .filter(|r| r.path == WEEKLY_SUMMARY)
            .filter_map(|r| r.body)
            .collect()
    }
}

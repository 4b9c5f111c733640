//! A fake PostgREST serving `/rest/v1/daily_features` on 127.0.0.1, strict about what it accepts.
//!
//! It implements the slice of PostgREST the Supabase store uses, with PostgREST's semantics:
//!
//! - every request carries `apikey: KEY` and `Authorization: Bearer KEY` (else 401, PGRST301);
//! - `GET ?select=<cols>&trade_date=eq.<date>[&or=(<f>.is.null,...)]&order=symbol.asc&limit=N
//!   &offset=M`: at most `max_rows` rows per answer (PostgREST's `db-max-rows`, 1000 on
//!   Supabase) whatever `limit` says; rows ordered like a linguistic collation would (case folded
//!   first), not bytewise, so a store that trusts the server's order fails the contract;
//!   `Content-Range: <first>-<last>/*`;
//! - `POST ?on_conflict=symbol,trade_date&columns=<cols>` with `Content-Type: application/json`
//!   and `Prefer: resolution=merge-duplicates,return=minimal`: a JSON array whose objects all
//!   have exactly the keys in `columns` (else 400, PGRST102); each object inserts a row (columns
//!   not sent are NULL) or updates only the columns sent; the whole request is one transaction (a
//!   value outside [0, 1] refuses all of it: 400, 23514); answer 201, empty body.
//!
//! Rows also have a `note` column the store must never touch. `script` queues raw answers that
//! are replayed (in order) before normal handling, to inject failures.
//!
//! `/rest/v1/ats_weekly` likewise (key `(symbol, week_start)`): GET filtered by
//! `week_start=eq.<date>`, ordered by `symbol.asc` (linguistically, as above) or
//! `last_update_date.desc.nullslast`; `numeric` shares answered as JSON numbers written from the
//! exact decimal text (PostgreSQL's JSON output), accepted as decimal strings or numbers, checked
//! (not negative, `source` in `api`/`zip`).

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::{Arc, Mutex};

use serde_json::value::RawValue;
use serde_json::{json, Map, Value};
use wiremock::matchers::path;
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

/// A JWT-shaped key (so the store sends it as a bearer token too). Not a real token.
pub const KEY: &str = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJyb2xlIjoic2VydmljZV9yb2xlIn0.dGVzdC1vbmx5LXNpZ25hdHVyZQ";

pub const TABLE_PATH: &str = "/rest/v1/daily_features";
pub const ATS_PATH: &str = "/rest/v1/ats_weekly";
/// Migration 004's function, as PostgREST exposes it.
pub const RPC_PATH: &str = "/rest/v1/rpc/offx_upsert_daily_features";
pub const PREFER: &str = "resolution=merge-duplicates,return=minimal";
const ATS_COLUMNS: [&str; 8] = [
    "symbol",
    "week_start",
    "tier",
    "ats_shares",
    "otc_shares",
    "last_update_date",
    "initial_published_date",
    "source",
];
/// `ats_weekly`'s `numeric` columns.
const NUMERIC: [&str; 2] = ["ats_shares", "otc_shares"];
const FEATURES: [&str; 3] = [
    "short_vol_share",
    "short_exempt_share",
    "ats_share_of_total",
];
const MISSING: &str =
    "(short_vol_share.is.null,short_exempt_share.is.null,ats_share_of_total.is.null)";

/// A PostgREST error answer, shaped like the real ones.
pub fn pgrst_error(
    status: u16,
    code: &str,
    message: &str,
    details: Option<&str>,
    hint: Option<&str>,
) -> ResponseTemplate {
    let body = json!({ "code": code, "details": details, "hint": hint, "message": message });
    ResponseTemplate::new(status).set_body_raw(body.to_string(), "application/json; charset=utf-8")
}

type Key = (String, String); // (trade_date, symbol)

#[derive(Default)]
struct State {
    rows: BTreeMap<Key, Map<String, Value>>,
    /// `ats_weekly` by (week_start, symbol); `numeric` values kept as their decimal text.
    ats: BTreeMap<Key, Map<String, Value>>,
    scripted: VecDeque<ResponseTemplate>,
    requests: usize,
    function_calls: usize,
}

#[derive(Clone)]
pub struct FakePostgrest {
    state: Arc<Mutex<State>>,
    pub max_rows: usize,
}

impl FakePostgrest {
    pub async fn start() -> (MockServer, FakePostgrest) {
        FakePostgrest::start_with_max_rows(1000).await
    }

    /// A server that never answers more than `max_rows` rows per GET.
    pub async fn start_with_max_rows(max_rows: usize) -> (MockServer, FakePostgrest) {
        let server = MockServer::start().await;
        let fake = FakePostgrest {
            state: Arc::default(),
            max_rows,
        };
        Mock::given(path(TABLE_PATH))
            .respond_with(fake.clone())
            .mount(&server)
            .await;
        Mock::given(path(ATS_PATH))
            .respond_with(AtsWeekly(fake.clone()))
            .mount(&server)
            .await;
        (server, fake)
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Answers the next request with `answer` instead of handling it.
    pub fn script(&self, answer: ResponseTemplate) {
        self.state().scripted.push_back(answer);
    }

    pub fn requests(&self) -> usize {
        self.state().requests
    }

    /// Sets the `note` column of a stored row (the column offx must not touch).
    pub fn set_note(&self, trade_date: &str, symbol: &str, note: &str) {
        let mut state = self.state();
        let row = state
            .rows
            .get_mut(&(trade_date.to_string(), symbol.to_string()))
            .expect("the row to annotate exists");
        row.insert("note".into(), Value::String(note.into()));
    }

    pub fn note(&self, trade_date: &str, symbol: &str) -> Option<Value> {
        let state = self.state();
        state
            .rows
            .get(&(trade_date.to_string(), symbol.to_string()))
            .and_then(|r| r.get("note").cloned())
    }

    fn get(&self, req: &Request) -> ResponseTemplate {
        let mut select = None;
        let mut date = None;
        let mut missing_only = false;
        let mut ordered = false;
        let mut limit = usize::MAX;
        let mut offset = 0;
        for (k, v) in req.url.query_pairs() {
            match (k.as_ref(), v.as_ref()) {
                ("select", cols) => select = Some(cols.split(',').map(String::from).collect()),
                ("trade_date", f) if f.starts_with("eq.") => date = Some(f[3..].to_string()),
                ("or", MISSING) => missing_only = true,
                ("order", "symbol.asc") => ordered = true,
                ("limit", n) => limit = n.parse().unwrap_or(usize::MAX),
                ("offset", n) => offset = n.parse().unwrap_or(0),
                (k, v) => {
                    return pgrst_error(
                        400,
                        "PGRST100",
                        &format!("fake PostgREST: unexpected query parameter {k}={v}"),
                        None,
                        None,
                    )
                }
            }
        }
        let select: Vec<String> = match select {
            Some(s) => s,
            None => return pgrst_error(400, "PGRST100", "fake: select is required", None, None),
        };
        let known = ["symbol", "trade_date", "note"];
        if let Some(bad) = select
            .iter()
            .find(|c| !known.contains(&c.as_str()) && !FEATURES.contains(&c.as_str()))
        {
            return pgrst_error(
                400,
                "42703",
                &format!("column daily_features.{bad} does not exist"),
                None,
                None,
            );
        }
        if limit == 0 {
            return ResponseTemplate::new(200)
                .insert_header("Content-Range", "*/*")
                .set_body_json(json!([]));
        }
        let (Some(date), true) = (date, ordered) else {
            return pgrst_error(
                400,
                "PGRST100",
                "fake PostgREST: the store must filter by trade_date and order by symbol",
                None,
                None,
            );
        };
        let state = self.state();
        let mut matching: Vec<&Map<String, Value>> = state
            .rows
            .iter()
            .filter(|((d, _), _)| *d == date)
            .map(|(_, r)| r)
            .filter(|r| {
                !missing_only
                    || FEATURES
                        .iter()
                        .any(|f| r.get(*f).is_none_or(Value::is_null))
            })
            .collect();
        // A linguistic collation's order: case folded first. Stable and total, not bytewise.
        let sym = |r: &Map<String, Value>| {
            let s = r.get("symbol").and_then(Value::as_str);
            s.unwrap_or_default().to_string()
        };
        matching.sort_by_key(|r| (sym(r).to_lowercase(), sym(r)));
        let page: Vec<Value> = matching
            .into_iter()
            .skip(offset)
            .take(limit.min(self.max_rows))
            .map(|r| {
                let picked: Map<String, Value> = select
                    .iter()
                    .map(|c| (c.clone(), r.get(c).cloned().unwrap_or(Value::Null)))
                    .collect();
                Value::Object(picked)
            })
            .collect();
        let range = if page.is_empty() {
            "*/*".to_string()
        } else {
            format!("{}-{}/*", offset, offset + page.len() - 1)
        };
        ResponseTemplate::new(200)
            .insert_header("Content-Range", range.as_str())
            .set_body_json(Value::Array(page))
    }

    fn post(&self, req: &Request) -> ResponseTemplate {
        let header = |name: &str| {
            req.headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_string()
        };
        if header("content-type") != "application/json" || header("prefer") != PREFER {
            return pgrst_error(
                400,
                "PGRST102",
                "fake PostgREST: expected Content-Type: application/json and the upsert Prefer",
                None,
                None,
            );
        }
        let mut on_conflict = None;
        let mut columns: Option<BTreeSet<String>> = None;
        for (k, v) in req.url.query_pairs() {
            match k.as_ref() {
                "on_conflict" => on_conflict = Some(v.into_owned()),
                "columns" => columns = Some(v.split(',').map(String::from).collect()),
                other => {
                    return pgrst_error(
                        400,
                        "PGRST100",
                        &format!("fake PostgREST: unexpected query parameter {other}"),
                        None,
                        None,
                    )
                }
            }
        }
        if on_conflict.as_deref() != Some("symbol,trade_date") {
            return pgrst_error(
                409,
                "23505",
                "duplicate key value violates unique constraint \"daily_features_pkey\"",
                None,
                None,
            );
        }
        let Some(columns) = columns else {
            return pgrst_error(400, "PGRST100", "fake: columns is required", None, None);
        };
        let objects: Vec<Map<String, Value>> = match serde_json::from_slice(&req.body) {
            Ok(o) => o,
            Err(e) => {
                return pgrst_error(
                    400,
                    "PGRST102",
                    &format!("Empty or invalid json: {e}"),
                    None,
                    None,
                )
            }
        };
        // Validate everything first: a PostgREST request is one transaction.
        let mut seen = BTreeSet::new();
        for o in &objects {
            let keys: BTreeSet<String> = o.keys().cloned().collect();
            if keys != columns {
                return pgrst_error(400, "PGRST102", "All object keys must match", None, None);
            }
            let field = |k: &str| o.get(k).map(Value::to_string).unwrap_or_default();
            let key = (field("trade_date"), field("symbol"));
            if !seen.insert(key) {
                return pgrst_error(
                    400,
                    "21000",
                    "ON CONFLICT DO UPDATE command cannot affect row a second time",
                    None,
                    Some("Ensure that no rows proposed for insertion within the same command have duplicate constrained values."),
                );
            }
            if let Some(refused) = out_of_range(|f| o.get(f)) {
                return refused;
            }
        }
        let mut state = self.state();
        for o in objects {
            let text = |k: &str| o.get(k).and_then(Value::as_str).map(String::from);
            let (Some(date), Some(symbol)) = (text("trade_date"), text("symbol")) else {
                return pgrst_error(400, "22P02", "invalid key", None, None);
            };
            let entry = state.rows.entry((date, symbol)).or_insert_with(fresh_row);
            for (k, v) in o {
                entry.insert(k, v);
            }
        }
        ResponseTemplate::new(201).insert_header("Content-Range", "*/*")
    }
}

impl FakePostgrest {
    /// Adds `offx_upsert_daily_features` (migration 004): `POST {"p_trade_date", "p_rows"}`, the
    /// whole date in one transaction (a value outside [0, 1] refuses all of it); an absent
    /// feature key keeps the stored value.
    pub async fn add_upsert_function(&self, server: &MockServer) {
        Mock::given(path(RPC_PATH))
            .respond_with(UpsertFunction(self.clone()))
            .mount(server)
            .await;
    }

    /// Requests the function answered.
    pub fn function_calls(&self) -> usize {
        self.state().function_calls
    }

    fn call_function(&self, req: &Request) -> ResponseTemplate {
        self.state().function_calls += 1;
        if let Some(refused) = self.scripted_or_unauthorized(req) {
            return refused;
        }
        let body: Value = match serde_json::from_slice(&req.body) {
            Ok(v) => v,
            Err(e) => {
                return pgrst_error(400, "PGRST102", &format!("invalid json: {e}"), None, None)
            }
        };
        let (Some(date), Some(rows)) = (
            body.get("p_trade_date").and_then(Value::as_str),
            body.get("p_rows").and_then(Value::as_array),
        ) else {
            return pgrst_error(
                400,
                "PGRST202",
                "no function with these parameters",
                None,
                None,
            );
        };
        for o in rows {
            if let Some(refused) = out_of_range(|f| o.get(f)) {
                return refused;
            }
        }
        let mut state = self.state();
        for o in rows {
            let Some(symbol) = o.get("symbol").and_then(Value::as_str) else {
                return pgrst_error(400, "22P02", "invalid key", None, None);
            };
            let entry = state
                .rows
                .entry((date.to_string(), symbol.to_string()))
                .or_insert_with(fresh_row);
            entry.insert("trade_date".into(), Value::String(date.into()));
            entry.insert("symbol".into(), Value::String(symbol.into()));
            for f in FEATURES {
                if let Some(v) = o.get(f) {
                    entry.insert(f.into(), v.clone());
                }
            }
        }
        ResponseTemplate::new(200).set_body_raw(rows.len().to_string(), "application/json")
    }
}

/// PostgreSQL's CHECK on the feature columns: a value outside [0, 1] refuses the request.
fn out_of_range<'a>(get: impl Fn(&str) -> Option<&'a Value>) -> Option<ResponseTemplate> {
    FEATURES.iter().find_map(|f| {
        let v = get(f).and_then(Value::as_f64)?;
        (!(0.0..=1.0).contains(&v)).then(|| {
            pgrst_error(
                400,
                "23514",
                &format!("new row for relation \"daily_features\" violates check constraint \"daily_features_{f}_check\""),
                Some("Failing row contains (...)."),
                None,
            )
        })
    })
}

/// A row as first inserted: every feature null, and the `note` column offx must not touch.
fn fresh_row() -> Map<String, Value> {
    let mut fresh = Map::new();
    for f in FEATURES {
        fresh.insert(f.into(), Value::Null);
    }
    fresh.insert("note".into(), Value::Null);
    fresh
}

/// The fake's database function.
#[derive(Clone)]
struct UpsertFunction(FakePostgrest);

impl Respond for UpsertFunction {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        self.0.call_function(req)
    }
}

impl Respond for FakePostgrest {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        self.handle(req, false)
    }
}

/// The same fake, answering for `/rest/v1/ats_weekly`.
#[derive(Clone)]
struct AtsWeekly(FakePostgrest);

impl Respond for AtsWeekly {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        self.0.handle(req, true)
    }
}

impl FakePostgrest {
    /// A scripted answer queued for this request, or 401 without the key in both headers.
    fn scripted_or_unauthorized(&self, req: &Request) -> Option<ResponseTemplate> {
        if let Some(answer) = self.state().scripted.pop_front() {
            return Some(answer);
        }
        let header = |name: &str| req.headers.get(name).and_then(|v| v.to_str().ok());
        let bearer = format!("Bearer {KEY}");
        if header("apikey") != Some(KEY) || header("authorization") != Some(bearer.as_str()) {
            return Some(pgrst_error(401, "PGRST301", "JWT invalid", None, None));
        }
        None
    }

    fn handle(&self, req: &Request, ats_weekly: bool) -> ResponseTemplate {
        self.state().requests += 1;
        if let Some(refused) = self.scripted_or_unauthorized(req) {
            return refused;
        }
        match (req.method.as_str(), ats_weekly) {
            ("GET", false) => self.get(req),
            ("POST", false) => self.post(req),
            ("GET", true) => self.ats_get(req),
            ("POST", true) => self.ats_post(req),
            (other, _) => pgrst_error(
                405,
                "PGRST117",
                &format!("Unsupported HTTP method: {other}"),
                None,
                None,
            ),
        }
    }

    /// `GET ?select=<cols>&week_start=eq.<date>&order=symbol.asc|last_update_date.desc.nullslast
    /// &limit=N[&offset=M]`. `numeric` columns come back as JSON numbers written from the exact
    /// decimal text, as PostgreSQL's JSON output does.
    fn ats_get(&self, req: &Request) -> ResponseTemplate {
        let mut select: Option<Vec<String>> = None;
        let mut week = None;
        let mut order = None;
        let mut limit = usize::MAX;
        let mut offset = 0;
        for (k, v) in req.url.query_pairs() {
            match (k.as_ref(), v.as_ref()) {
                ("select", cols) => select = Some(cols.split(',').map(String::from).collect()),
                ("week_start", f) if f.starts_with("eq.") => week = Some(f[3..].to_string()),
                ("order", o @ ("symbol.asc" | "last_update_date.desc.nullslast")) => {
                    order = Some(o.to_string())
                }
                ("limit", n) => limit = n.parse().unwrap_or(usize::MAX),
                ("offset", n) => offset = n.parse().unwrap_or(0),
                (k, v) => {
                    return pgrst_error(
                        400,
                        "PGRST100",
                        &format!("fake PostgREST: unexpected query parameter {k}={v}"),
                        None,
                        None,
                    )
                }
            }
        }
        let Some(select) = select else {
            return pgrst_error(400, "PGRST100", "fake: select is required", None, None);
        };
        if let Some(bad) = select.iter().find(|c| !ATS_COLUMNS.contains(&c.as_str())) {
            return pgrst_error(
                400,
                "42703",
                &format!("column ats_weekly.{bad} does not exist"),
                None,
                None,
            );
        }
        if limit == 0 {
            return ResponseTemplate::new(200)
                .insert_header("Content-Range", "*/*")
                .set_body_json(json!([]));
        }
        let (Some(week), Some(order)) = (week, order) else {
            return pgrst_error(
                400,
                "PGRST100",
                "fake PostgREST: the store must filter by week_start and order",
                None,
                None,
            );
        };
        let state = self.state();
        let text = |r: &Map<String, Value>, c: &str| {
            r.get(c)
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string()
        };
        let mut matching: Vec<&Map<String, Value>> = state
            .ats
            .iter()
            .filter(|((w, _), _)| *w == week)
            .map(|(_, r)| r)
            .collect();
        if order == "symbol.asc" {
            // A linguistic collation's order, as for daily_features: not bytewise.
            matching.sort_by_key(|r| (text(r, "symbol").to_lowercase(), text(r, "symbol")));
        } else {
            let nulls_last =
                |r: &Map<String, Value>| r.get("last_update_date") == Some(&Value::Null);
            matching.sort_by(|a, b| {
                (nulls_last(a), text(b, "last_update_date"))
                    .cmp(&(nulls_last(b), text(a, "last_update_date")))
            });
        }
        let page: Vec<BTreeMap<String, Box<RawValue>>> = matching
            .into_iter()
            .skip(offset)
            .take(limit.min(self.max_rows))
            .map(|r| {
                select
                    .iter()
                    .map(|c| {
                        let v = r.get(c).cloned().unwrap_or(Value::Null);
                        let raw = match (&v, NUMERIC.contains(&c.as_str())) {
                            (Value::String(decimal), true) => {
                                RawValue::from_string(decimal.clone())
                            }
                            _ => serde_json::value::to_raw_value(&v),
                        };
                        (c.clone(), raw.expect("valid JSON"))
                    })
                    .collect()
            })
            .collect();
        let body = serde_json::to_string(&page).expect("a JSON array");
        ResponseTemplate::new(200)
            .insert_header("Content-Range", "*/*")
            .set_body_raw(body, "application/json; charset=utf-8")
    }

    /// `POST ?on_conflict=symbol,week_start&columns=<cols>`, PostgreSQL's checks: `numeric`
    /// columns take a decimal string or number (not negative), `source` is `api` or `zip`.
    fn ats_post(&self, req: &Request) -> ResponseTemplate {
        let header = |name: &str| {
            req.headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_string()
        };
        if header("content-type") != "application/json" || header("prefer") != PREFER {
            return pgrst_error(
                400,
                "PGRST102",
                "fake PostgREST: expected Content-Type: application/json and the upsert Prefer",
                None,
                None,
            );
        }
        let mut on_conflict = None;
        let mut columns: Option<BTreeSet<String>> = None;
        for (k, v) in req.url.query_pairs() {
            match k.as_ref() {
                "on_conflict" => on_conflict = Some(v.into_owned()),
                "columns" => columns = Some(v.split(',').map(String::from).collect()),
                other => {
                    return pgrst_error(
                        400,
                        "PGRST100",
                        &format!("fake PostgREST: unexpected query parameter {other}"),
                        None,
                        None,
                    )
                }
            }
        }
        if on_conflict.as_deref() != Some("symbol,week_start") {
            return pgrst_error(
                409,
                "23505",
                "duplicate key value violates unique constraint \"ats_weekly_pkey\"",
                None,
                None,
            );
        }
        let Some(columns) = columns else {
            return pgrst_error(400, "PGRST100", "fake: columns is required", None, None);
        };
        let objects: Vec<Map<String, Value>> = match serde_json::from_slice(&req.body) {
            Ok(o) => o,
            Err(e) => {
                return pgrst_error(400, "PGRST102", &format!("invalid json: {e}"), None, None)
            }
        };
        let mut seen = BTreeSet::new();
        let mut checked = Vec::with_capacity(objects.len());
        for mut o in objects {
            let keys: BTreeSet<String> = o.keys().cloned().collect();
            if keys != columns {
                return pgrst_error(400, "PGRST102", "All object keys must match", None, None);
            }
            let text = |o: &Map<String, Value>, k: &str| {
                o.get(k).and_then(Value::as_str).map(String::from)
            };
            let (Some(week), Some(symbol)) = (text(&o, "week_start"), text(&o, "symbol")) else {
                return pgrst_error(400, "23502", "null value in a key column", None, None);
            };
            if !seen.insert((week.clone(), symbol.clone())) {
                return pgrst_error(
                    400,
                    "21000",
                    "ON CONFLICT DO UPDATE command cannot affect row a second time",
                    None,
                    None,
                );
            }
            for c in NUMERIC {
                let decimal = match o.get(c) {
                    None | Some(Value::Null) => continue,
                    Some(Value::String(s)) => s.clone(),
                    Some(Value::Number(n)) => n.to_string(),
                    Some(other) => other.to_string(),
                };
                let digits = decimal.replacen('.', "", 1);
                if decimal.starts_with('-') {
                    return pgrst_error(
                        400,
                        "23514",
                        &format!("new row for relation \"ats_weekly\" violates check constraint \"ats_weekly_{c}_check\""),
                        None,
                        None,
                    );
                }
                if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
                    return pgrst_error(
                        400,
                        "22P02",
                        &format!("invalid input syntax for type numeric: \"{decimal}\""),
                        None,
                        None,
                    );
                }
                o.insert(c.to_string(), Value::String(decimal));
            }
            if !matches!(text(&o, "source").as_deref(), Some("api" | "zip")) {
                return pgrst_error(
                    400,
                    "23514",
                    "new row for relation \"ats_weekly\" violates check constraint \"ats_weekly_source_check\"",
                    None,
                    None,
                );
            }
            checked.push(((week, symbol), o));
        }
        let mut state = self.state();
        for (key, o) in checked {
            let entry = state.ats.entry(key).or_insert_with(|| {
                ATS_COLUMNS
                    .iter()
                    .map(|c| (c.to_string(), Value::Null))
                    .collect()
            });
            for (k, v) in o {
                entry.insert(k, v);
            }
        }
        ResponseTemplate::new(201).insert_header("Content-Range", "*/*")
    }
}

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

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::{Arc, Mutex};

use serde_json::{json, Map, Value};
use wiremock::matchers::path;
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

/// A JWT-shaped key (so the store sends it as a bearer token too). Not a real token.
pub const KEY: &str = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJyb2xlIjoic2VydmljZV9yb2xlIn0.dGVzdC1vbmx5LXNpZ25hdHVyZQ";

pub const TABLE_PATH: &str = "/rest/v1/daily_features";
pub const PREFER: &str = "resolution=merge-duplicates,return=minimal";
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
    scripted: VecDeque<ResponseTemplate>,
    requests: usize,
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
                        .any(|f| r.get(*f).map_or(true, Value::is_null))
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
            for f in FEATURES {
                if let Some(v) = o.get(f).and_then(Value::as_f64) {
                    if !(0.0..=1.0).contains(&v) {
                        return pgrst_error(
                            400,
                            "23514",
                            &format!("new row for relation \"daily_features\" violates check constraint \"daily_features_{f}_check\""),
                            Some("Failing row contains (...)."),
                            None,
                        );
                    }
                }
            }
        }
        let mut state = self.state();
        for o in objects {
            let text = |k: &str| o.get(k).and_then(Value::as_str).map(String::from);
            let (Some(date), Some(symbol)) = (text("trade_date"), text("symbol")) else {
                return pgrst_error(400, "22P02", "invalid key", None, None);
            };
            let entry = state.rows.entry((date, symbol)).or_insert_with(|| {
                let mut fresh = Map::new();
                for f in FEATURES {
                    fresh.insert(f.into(), Value::Null);
                }
                fresh.insert("note".into(), Value::Null);
                fresh
            });
            for (k, v) in o {
                entry.insert(k, v);
            }
        }
        ResponseTemplate::new(201).insert_header("Content-Range", "*/*")
    }
}

impl Respond for FakePostgrest {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        {
            let mut state = self.state();
            state.requests += 1;
            if let Some(answer) = state.scripted.pop_front() {
                return answer;
            }
        }
        let header = |name: &str| req.headers.get(name).and_then(|v| v.to_str().ok());
        let bearer = format!("Bearer {KEY}");
        if header("apikey") != Some(KEY) || header("authorization") != Some(bearer.as_str()) {
            return pgrst_error(401, "PGRST301", "JWT invalid", None, None);
        }
        match req.method.as_str() {
            "GET" => self.get(req),
            "POST" => self.post(req),
            other => pgrst_error(
                405,
                "PGRST117",
                &format!("Unsupported HTTP method: {other}"),
                None,
                None,
            ),
        }
    }
}

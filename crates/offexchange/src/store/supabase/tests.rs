//! Unit tests of the Supabase store's URL settings and wire grouping.

use super::*;
use crate::features::Feature;

fn row(symbol: &str, cells: [Feature; 3]) -> FeatureRow {
    FeatureRow {
        symbol: symbol.into(),
        trade_date: NaiveDate::from_ymd_opt(2024, 4, 1).unwrap(),
        short_vol_share: cells[0],
        short_exempt_share: cells[1],
        ats_share_of_total: cells[2],
    }
}

#[test]
fn pending_cells_are_left_out_and_grouped() {
    use Feature::{Null, Pending, Value};
    let rows = [
        row("A", [Value(0.5), Null, Pending]),
        row("B", [Value(0.25), Value(0.0), Value(1.0)]),
        row("C", [Value(0.75), Null, Pending]),
        row("D", [Pending, Pending, Pending]),
    ];
    let b = batches(&rows, 1);
    let shape: Vec<(&str, Vec<&str>)> = b
        .iter()
        .map(|(c, rs)| (c.as_str(), rs.iter().map(|r| r.symbol.as_str()).collect()))
        .collect();
    assert_eq!(
        shape,
        vec![
            (
                "symbol,trade_date,short_vol_share,short_exempt_share,ats_share_of_total",
                vec!["B"]
            ),
            (
                "symbol,trade_date,short_vol_share,short_exempt_share",
                vec!["A"]
            ),
            (
                "symbol,trade_date,short_vol_share,short_exempt_share",
                vec!["C"]
            ),
            ("symbol,trade_date", vec!["D"]),
        ]
    );
    let wire = Wire {
        symbol: "BRK/B",
        trade_date: rows[0].trade_date,
        short_vol_share: Value(0.5),
        short_exempt_share: Null,
        ats_share_of_total: Pending,
    };
    assert_eq!(
        serde_json::to_string(&wire).unwrap(),
        r#"{"symbol":"BRK/B","trade_date":"2024-04-01","short_vol_share":0.5,"short_exempt_share":null}"#
    );
}

#[test]
fn url_settings() {
    let env = |k: &str| match k {
        "SUPABASE_URL" => Some("https://ref.supabase.co/".to_string()),
        "SUPABASE_SERVICE_ROLE_KEY" => Some("sb_secret_0123456789".to_string()),
        _ => None,
    };
    let s = SupabaseStore::from_url("supabase:?batch_size=250&retries=0", env).unwrap();
    assert_eq!(s.settings.batch_size, 250);
    assert_eq!(s.settings.retries, 0);
    assert_eq!(s.describe(), "https://ref.supabase.co");
    assert_eq!(
        s.rest.table().as_str(),
        "https://ref.supabase.co/rest/v1/daily_features"
    );
    let s = SupabaseStore::from_url("http://127.0.0.1:54321/rest/v1", env).unwrap();
    assert_eq!(
        s.rest.table().as_str(),
        "http://127.0.0.1:54321/rest/v1/daily_features"
    );
    let e = SupabaseStore::from_url("supabase:?batch=5", env).unwrap_err();
    assert!(e.message.contains("unknown parameter batch"), "{e}");
    let debug = format!("{s:?}");
    assert!(!debug.contains("0123456789"), "{debug}");
}

#[test]
fn the_body_cap_follows_offx_max_body_bytes_or_the_url() {
    let env = |cap: Option<&'static str>| {
        move |k: &str| match k {
            "SUPABASE_URL" => Some("https://ref.supabase.co/".to_string()),
            "SUPABASE_SERVICE_ROLE_KEY" => Some("sb_secret_0123456789".to_string()),
            "OFFX_MAX_BODY_BYTES" => cap.map(str::to_string),
            _ => None,
        }
    };
    let s = SupabaseStore::from_url("supabase:", env(None)).unwrap();
    assert_eq!(
        s.settings.max_body_bytes,
        crate::config::DEFAULT_MAX_BODY_BYTES
    );
    let s = SupabaseStore::from_url("supabase:", env(Some("1048576"))).unwrap();
    assert_eq!(s.settings.max_body_bytes, 1 << 20);
    let s =
        SupabaseStore::from_url("supabase:?max_body_bytes=2097152", env(Some("1048576"))).unwrap();
    assert_eq!(s.settings.max_body_bytes, 2 << 20, "the URL wins");
    let e = SupabaseStore::from_url("supabase:", env(Some("12"))).unwrap_err();
    assert!(e.message.contains("OFFX_MAX_BODY_BYTES"), "{e}");
}

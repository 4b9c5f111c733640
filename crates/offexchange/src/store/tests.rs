//! Unit tests of the store layer's shared pieces: redaction, selection, caller-bug checks.

use std::collections::HashMap;

use super::*;

#[test]
fn redaction() {
    assert_eq!(
        redact_url("postgres://u:secret@h:5432/db"),
        "postgres://u:***@h:5432/db"
    );
    assert_eq!(
        redact_url("postgres://u@h/db?password=secret&sslmode=require"),
        "postgres://u@h/db?password=***&sslmode=require"
    );
    assert_eq!(redact_url("sqlite:x.db"), "sqlite:x.db");
    assert_eq!(redact_url("supabase:"), "supabase:");
}

#[test]
fn redaction_of_urls_the_parser_refuses() {
    // Used to come back verbatim, password and all, in connection errors.
    let cases = [
        (
            "postgres://u:secret@h:port/db",
            "postgres://u:***@h:port/db",
        ),
        ("postgres://u:secret@[::1/db", "postgres://u:***@[::1/db"),
        (
            "postgresql://u:sec@ret@h:99999/db",
            "postgresql://u:***@h:99999/db",
        ),
        ("postgres://u:se/cr?et@h:x/db", "postgres://u:***@h:x/db"),
        (
            "postgres://u@h:port/db?sslmode=require&password=secret",
            "postgres://u@h:port/db?sslmode=require&password=***",
        ),
        (
            "https://user:secret@exa mple.test/equity",
            "https://user:***@exa mple.test/equity",
        ),
        ("postgres://h:port/db", "postgres://h:port/db"),
        ("not a url", "not a url"),
    ];
    for (raw, expected) in cases {
        assert!(url::Url::parse(raw).is_err(), "{raw} should not parse");
        let shown = redact_url(raw);
        assert_eq!(shown, expected);
        assert!(
            !shown.contains("secret") && !shown.contains("se/cr"),
            "{shown}"
        );
    }
    // Parsed URLs keep the exact form they had.
    assert_eq!(
        redact_url("https://user:secret@cdn.test/equity"),
        "https://user:***@cdn.test/equity"
    );
}

fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
    let map: HashMap<String, String> = pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    move |k| map.get(k).cloned()
}

#[test]
fn selection_order() {
    let all = [
        ("OFFX_STORE", "sqlite:a.db"),
        ("DATABASE_URL", "postgres://u:pw@h/db"),
        ("SUPABASE_DB_URL", "postgres://u:pw@pooler/db"),
        ("SUPABASE_URL", "https://ref.supabase.co"),
        ("SUPABASE_SERVICE_ROLE_KEY", "service-key"),
    ];
    let fallback = || Some("sqlite:default.db".to_string());
    let c = choose(Some("memory:"), env(&all), fallback());
    assert_eq!(
        (c.url.as_deref(), c.origin.as_str()),
        (Some("memory:"), "--store")
    );
    let c = choose(Some("  "), env(&all), fallback());
    assert_eq!(c.origin, "OFFX_STORE");
    let c = choose(None, env(&all[1..]), fallback());
    assert_eq!(c.origin, "DATABASE_URL");
    let c = choose(None, env(&all[2..]), fallback());
    assert_eq!(c.origin, "SUPABASE_DB_URL");
    let c = choose(None, env(&all[3..]), fallback());
    assert_eq!(c.url.as_deref(), Some("https://ref.supabase.co"));
    assert_eq!(c.origin, "SUPABASE_URL + SUPABASE_SERVICE_ROLE_KEY");
    assert!(!format!("{c:?}").contains("service-key"));
    let c = choose(None, env(&[]), fallback());
    assert_eq!(c.url.as_deref(), Some("sqlite:default.db"));
    let c = choose(None, env(&[("DATABASE_URL", "")]), None);
    assert_eq!((c.url, c.origin.as_str()), (None, "nothing configured"));
}

#[test]
fn supabase_public_fallbacks_are_named() {
    let c = choose(
        None,
        env(&[
            ("NEXT_PUBLIC_SUPABASE_URL", "https://ref.supabase.co"),
            ("NEXT_PUBLIC_SUPABASE_ANON_KEY", "anon"),
        ]),
        None,
    );
    assert_eq!(
        c.origin,
        "NEXT_PUBLIC_SUPABASE_URL + NEXT_PUBLIC_SUPABASE_ANON_KEY"
    );
    // A URL without any key is still Supabase: opening it then says which key is missing,
    // rather than silently writing somewhere else.
    let c = choose(
        None,
        env(&[("SUPABASE_URL", "https://ref.supabase.co")]),
        None,
    );
    assert_eq!(c.origin, "SUPABASE_URL (no API key set)");
}

fn row(symbol: &str, v: f64) -> FeatureRow {
    FeatureRow {
        symbol: symbol.into(),
        trade_date: NaiveDate::from_ymd_opt(2024, 4, 1).unwrap(),
        short_vol_share: Feature::Value(v),
        short_exempt_share: Feature::Null,
        ats_share_of_total: Feature::Pending,
    }
}

#[test]
fn caller_bugs_are_refused() {
    let d = NaiveDate::from_ymd_opt(2024, 4, 1).unwrap();
    assert!(check_rows("s", d, &[row("A", 0.5), row("a", 1.0)]).is_ok());
    let twice = check_rows("s", d, &[row("A", 0.5), row("A", 0.5)]).unwrap_err();
    assert!(twice.message.contains("appears twice"), "{twice}");
    let over = check_rows("s", d, &[row("A", 1.5)]).unwrap_err();
    assert!(over.message.contains("outside [0, 1]"), "{over}");
    assert!(check_rows("s", d, &[row("A", f64::NAN)]).is_err());
    let other = d.succ_opt().unwrap();
    assert!(check_rows("s", other, &[row("A", 0.5)]).is_err());
}

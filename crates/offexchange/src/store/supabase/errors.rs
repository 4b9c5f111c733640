//! What a PostgREST failure means: whether retrying can help, and what to do about it.

use super::rest::Failure;
use super::ATS_WEEKLY_PATH;
use crate::store::StoreErrorKind;

/// Transient: no answer (connection, timeout), HTTP 429 or 5xx. Permanent: every other answer
/// (auth, a missing table, a constraint, a bad request, a redirect).
pub(super) fn kind_of(failure: &Failure) -> StoreErrorKind {
    match failure.status.map(|s| s.as_u16()) {
        None => StoreErrorKind::Transient,
        Some(429) | Some(500..=599) => StoreErrorKind::Transient,
        Some(_) => StoreErrorKind::Permanent,
    }
}

/// What to do about a failure, when the status or code says.
pub(super) fn advice(failure: &Failure) -> Option<&'static str> {
    let status = failure.status.map(|s| s.as_u16());
    let history = [super::history::FILES_PATH, super::history::VERSIONS_PATH];
    if history.iter().any(|p| failure.target.contains(p)) {
        if let (_, Some("PGRST205" | "42P01" | "42703" | "PGRST204")) | (Some(404), _) =
            (status, failure.code())
        {
            return Some(
                "create the point-in-time tables: apply migrations/003_provenance.sql (offx db \
                 init --store \"$SUPABASE_DB_URL\", or paste it into the SQL editor), then reload \
                 the schema cache",
            );
        }
    }
    // The tables of later migrations, each with the file that creates it.
    let later = [
        (
            super::short_interest::PATH,
            "create the short_interest table: apply migrations/005_short_interest.sql (offx db \
             init --store \"$SUPABASE_DB_URL\", or paste it into the SQL editor), then reload \
             the schema cache",
        ),
        (
            super::regsho_daily::PATH,
            "create the regsho_daily table: apply migrations/006_regsho_daily.sql (offx db init \
             --store \"$SUPABASE_DB_URL\", or paste it into the SQL editor), then reload the \
             schema cache",
        ),
    ];
    let missing = matches!(
        (status, failure.code()),
        (_, Some("PGRST205" | "42P01" | "42703" | "PGRST204")) | (Some(404), _)
    );
    if let Some((_, advice)) = later
        .iter()
        .find(|(path, _)| missing && failure.target.contains(path))
    {
        return Some(advice);
    }
    if failure.target.contains(ATS_WEEKLY_PATH) {
        return match (status, failure.code()) {
            (_, Some("PGRST205" | "42P01" | "42703" | "PGRST204")) | (Some(404), _) => Some(
                "create or update the table: apply migrations/002_ats_weekly.sql (offx db init \
                 --store \"$SUPABASE_DB_URL\", or paste it into the SQL editor), then reload the \
                 schema cache",
            ),
            (_, Some("42P10")) => {
                Some("ats_weekly needs a primary key or unique constraint on (symbol, week_start)")
            }
            (_, Some("42501")) | (Some(403), _) => Some(
                "the key's role may not write ats_weekly (row-level security?); use \
                 SUPABASE_SERVICE_ROLE_KEY for writes",
            ),
            (Some(401), _) => Some("the API key was refused: check the project URL and key"),
            _ => None,
        };
    }
    match (status, failure.code()) {
        (_, Some("PGRST205" | "42P01")) | (Some(404), _) => Some(
            "create the table: apply migrations/001_daily_features.sql (offx db init --store \
             \"$SUPABASE_DB_URL\", or paste it into the SQL editor), then reload the schema cache",
        ),
        (_, Some("42703" | "PGRST204")) => {
            Some("daily_features lacks a feature column: apply migrations/001_daily_features.sql")
        }
        (_, Some("42P10")) => {
            Some("daily_features needs a primary key or unique constraint on (symbol, trade_date)")
        }
        (_, Some("42501")) | (Some(403), _) => Some(
            "the key's role may not write daily_features (row-level security?); use \
             SUPABASE_SERVICE_ROLE_KEY for writes",
        ),
        (Some(401), _) => Some("the API key was refused: check the project URL and key"),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use reqwest::{Method, StatusCode};

    use super::*;

    fn missing(target: &str) -> Failure {
        Failure {
            method: Method::POST,
            target: target.to_string(),
            status: Some(StatusCode::NOT_FOUND),
            body: None,
            attempts: 1,
            message: "no such table".into(),
        }
    }

    #[test]
    fn a_missing_table_names_the_migration_that_creates_it() {
        let cases = [
            (
                "/rest/v1/daily_features?on_conflict=symbol,trade_date",
                "001_daily_features",
            ),
            (
                "/rest/v1/ats_weekly?on_conflict=symbol,week_start",
                "002_ats_weekly",
            ),
            (
                "/rest/v1/finra_files?on_conflict=dataset,name,sha256",
                "003_provenance",
            ),
            (
                "/rest/v1/short_interest?on_conflict=settlement_date",
                "005_short_interest",
            ),
            (
                "/rest/v1/regsho_daily?on_conflict=trade_date",
                "006_regsho_daily",
            ),
        ];
        for (target, migration) in cases {
            let said = advice(&missing(target)).unwrap_or_default();
            assert!(said.contains(migration), "{target}: {said}");
        }
    }
}

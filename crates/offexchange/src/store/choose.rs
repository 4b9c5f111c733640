//! Which store: the one selection rule every front uses.

use super::supabase;

/// Where the store choice came from, for the log line that announces it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreChoice {
    /// What to pass to [`open`](super::open); `None` means in-memory only.
    pub url: Option<String>,
    /// `--store`, `OFFX_STORE`, `DATABASE_URL`, `SUPABASE_URL + SUPABASE_SERVICE_ROLE_KEY`, or the
    /// fallback, in words. Names variables, never their values.
    pub origin: String,
}

/// Database URL variables, in order of preference: the generic one, then Supabase's.
pub const DATABASE_URL_VARS: [&str; 2] = ["DATABASE_URL", "SUPABASE_DB_URL"];

/// The one store-selection rule every front uses: an explicit URL (`--store` / argument) first,
/// then `OFFX_STORE`, then `DATABASE_URL` / `SUPABASE_DB_URL`, then Supabase REST credentials
/// (`SUPABASE_URL` + a key), else the front's fallback (`None`: in memory, with a warning).
///
/// A pure function of `lookup`, so fronts and tests agree on it:
///
/// ```
/// use offexchange::store::choose;
/// let env = |k: &str| (k == "SUPABASE_DB_URL").then(|| "postgres://db.example/postgres".to_string());
/// let choice = choose(None, env, None);
/// assert_eq!(choice.origin, "SUPABASE_DB_URL");
/// ```
pub fn choose(
    explicit: Option<&str>,
    lookup: impl Fn(&str) -> Option<String>,
    fallback: Option<String>,
) -> StoreChoice {
    let non_empty = |v: &String| !v.trim().is_empty();
    let chosen = |url: String, origin: &str| StoreChoice {
        url: Some(url.trim().to_string()),
        origin: origin.to_string(),
    };
    if let Some(url) = explicit.map(str::to_string).filter(non_empty) {
        return chosen(url, "--store");
    }
    for var in std::iter::once("OFFX_STORE").chain(DATABASE_URL_VARS) {
        if let Some(url) = lookup(var).filter(non_empty) {
            return chosen(url, var);
        }
    }
    if let Some((url, origin)) = supabase::choice(&lookup) {
        return chosen(url, &origin);
    }
    match fallback {
        Some(url) => StoreChoice {
            url: Some(url),
            origin: "default (nothing configured)".into(),
        },
        None => StoreChoice {
            url: None,
            origin: "nothing configured".into(),
        },
    }
}

//! URLs made safe to print: no password, no secret query parameter, even when the URL does not
//! parse.

/// Query parameters whose values are secrets wherever they appear.
const SECRET_PARAMS: [&str; 5] = ["password", "apikey", "api_key", "key", "token"];

/// Hides the password of a `scheme://user:password@host/...` URL, and secret query parameters
/// (`?password=...`, `?apikey=...`).
///
/// Also for text the URL parser refuses (a non-numeric port, an unclosed IPv6 bracket): such a
/// string is exactly what ends up in an error message, so everything between `://` and the last
/// `@` of the authority after the user name is masked by hand.
///
/// ```
/// use offexchange::store::redact_url;
/// assert_eq!(redact_url("postgres://u:secret@h:5432/db"), "postgres://u:***@h:5432/db");
/// assert_eq!(redact_url("postgres://u:secret@h:port/db"), "postgres://u:***@h:port/db");
/// ```
pub fn redact_url(url: &str) -> String {
    let Ok(mut parsed) = url::Url::parse(url) else {
        return redact_unparsed(url);
    };
    let mut changed = false;
    if parsed.password().is_some() {
        if parsed.set_password(Some("***")).is_err() {
            return redact_unparsed(url);
        }
        changed = true;
    }
    let secret = |k: &str| SECRET_PARAMS.contains(&k.to_ascii_lowercase().as_str());
    if parsed.query_pairs().any(|(k, _)| secret(&k)) {
        let pairs: Vec<(String, String)> = parsed
            .query_pairs()
            .map(|(k, v)| {
                let v = if secret(&k) {
                    "***".into()
                } else {
                    v.into_owned()
                };
                (k.into_owned(), v)
            })
            .collect();
        parsed.query_pairs_mut().clear().extend_pairs(pairs);
        changed = true;
    }
    if changed {
        parsed.to_string()
    } else {
        url.to_string()
    }
}

/// [`redact_url`] for a string `url::Url` refuses: plain text surgery, erring on the side of
/// hiding too much.
fn redact_unparsed(url: &str) -> String {
    let Some(scheme_end) = url.find("://") else {
        return url.to_string();
    };
    let (scheme, rest) = url.split_at(scheme_end + 3);
    let mut out = String::from(scheme);
    // The credentials end at the last `@`: a password holding `/`, `?` or `@` is still masked
    // whole (an `@` further on, in a query, only makes the mask wider).
    let tail = match rest.rfind('@') {
        Some(at) => {
            let userinfo = &rest[..at];
            match userinfo.find(':') {
                Some(colon) => {
                    out.push_str(&userinfo[..colon]);
                    out.push_str(":***");
                }
                None => out.push_str(userinfo),
            }
            &rest[at..]
        }
        None => rest,
    };
    // Secret query parameters, by name.
    let (path, query) = tail.split_at(tail.find('?').unwrap_or(tail.len()));
    out.push_str(path);
    for (i, part) in query.split('&').enumerate() {
        if i > 0 {
            out.push('&');
        }
        let key = part.split_once('=').map(|(k, _)| k);
        match key {
            Some(k)
                if SECRET_PARAMS
                    .contains(&k.trim_start_matches('?').to_ascii_lowercase().as_str()) =>
            {
                out.push_str(k);
                out.push_str("=***");
            }
            _ => out.push_str(part),
        }
    }
    out
}

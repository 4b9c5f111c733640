//! Which Supabase project and key: the seed's variables, the service-role key first.

use std::fmt;

/// Project URL variables, in order of preference.
pub const URL_VARS: [&str; 2] = ["SUPABASE_URL", "NEXT_PUBLIC_SUPABASE_URL"];

/// Key variables, in order of preference. The service-role key bypasses row-level security; the
/// anon keys work only where a policy lets the `anon` role write `daily_features`.
pub const KEY_VARS: [&str; 3] = [
    "SUPABASE_SERVICE_ROLE_KEY",
    "SUPABASE_ANON_KEY",
    "NEXT_PUBLIC_SUPABASE_ANON_KEY",
];

/// An API key. Neither `Debug` nor any error prints it; only the HTTP headers see it.
#[derive(Clone, PartialEq, Eq)]
pub struct ApiKey(String);

impl ApiKey {
    /// Wraps a key, trimmed of surrounding whitespace.
    pub fn new(key: impl Into<String>) -> ApiKey {
        ApiKey(key.into().trim().to_string())
    }

    pub(super) fn expose(&self) -> &str {
        &self.0
    }

    /// Legacy keys (anon, service_role) are JWTs and also go in `Authorization: Bearer`. The new
    /// `sb_publishable_...` / `sb_secret_...` keys are not JWTs: Supabase wants them in `apikey`
    /// only and refuses them as a bearer token.
    pub(super) fn is_jwt(&self) -> bool {
        self.0.starts_with("eyJ") && self.0.split('.').count() == 3
    }

    /// A key that bypasses row-level security: a legacy JWT whose payload says
    /// `"role":"service_role"`, or a new `sb_secret_...` key. Worth a warning before it travels
    /// over plain http.
    pub(super) fn is_service_role(&self) -> bool {
        if self.0.starts_with("sb_secret_") {
            return true;
        }
        if !self.is_jwt() {
            return false;
        }
        let payload = self.0.split('.').nth(1).unwrap_or_default();
        base64url_decode(payload).is_some_and(|json| {
            serde_json::from_slice::<serde_json::Value>(&json)
                .ok()
                .and_then(|v| v.get("role").and_then(|r| r.as_str()).map(str::to_string))
                .is_some_and(|role| role == "service_role")
        })
    }

    /// Removes the key from a text that might quote it (a server echoing a header back).
    pub(super) fn scrub(&self, text: &str) -> String {
        if self.0.len() >= 8 && text.contains(&self.0) {
            text.replace(&self.0, "***")
        } else {
            text.to_string()
        }
    }
}

impl fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ApiKey(***)")
    }
}

/// Unpadded base64url (a JWT segment); `None` on any other byte.
fn base64url_decode(text: &str) -> Option<Vec<u8>> {
    let value = |c: u8| -> Option<u32> {
        Some(match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'-' | b'+' => 62,
            b'_' | b'/' => 63,
            _ => return None,
        } as u32)
    };
    let text = text.trim_end_matches('=');
    let mut out = Vec::with_capacity(text.len() * 3 / 4);
    let (mut acc, mut bits) = (0u32, 0u32);
    for &c in text.as_bytes() {
        acc = (acc << 6) | value(c)?;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    Some(out)
}

/// A project URL and key, with the names of the variables they came from (for the log line).
/// `Debug` shows the URL redacted and never the key.
#[derive(Clone)]
pub struct SupabaseCredentials {
    /// The project URL, trimmed.
    pub url: String,
    /// The variable the URL came from, e.g. `SUPABASE_URL`.
    pub url_var: &'static str,
    /// The API key (never printed).
    pub key: ApiKey,
    /// The variable the key came from, e.g. `SUPABASE_SERVICE_ROLE_KEY`.
    pub key_var: &'static str,
}

impl fmt::Debug for SupabaseCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SupabaseCredentials")
            .field("url", &crate::store::redact_url(&self.url))
            .field("url_var", &self.url_var)
            .field("key", &self.key)
            .field("key_var", &self.key_var)
            .finish()
    }
}

impl SupabaseCredentials {
    /// `SUPABASE_URL + SUPABASE_SERVICE_ROLE_KEY`: what a log line may say.
    pub fn origin(&self) -> String {
        format!("{} + {}", self.url_var, self.key_var)
    }

    /// Both halves from the environment, or a message naming what is missing.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, String> {
        let (url_var, url) = project(&lookup)?;
        let (key_var, key) = key(&lookup)?;
        Ok(SupabaseCredentials {
            url,
            url_var,
            key,
            key_var,
        })
    }
}

/// The first project URL variable set, or a message naming them.
pub(super) fn project(
    lookup: &impl Fn(&str) -> Option<String>,
) -> Result<(&'static str, String), String> {
    first(&URL_VARS, lookup)
        .ok_or_else(|| format!("set {} to the project URL", URL_VARS.join(" or ")))
}

/// The first key variable set, or a message naming them all.
pub(super) fn key(
    lookup: &impl Fn(&str) -> Option<String>,
) -> Result<(&'static str, ApiKey), String> {
    first(&KEY_VARS, lookup)
        .map(|(var, key)| (var, ApiKey::new(key)))
        .ok_or_else(|| {
            format!(
                "no Supabase API key: set {} (or {})",
                KEY_VARS[0],
                KEY_VARS[1..].join(" or ")
            )
        })
}

fn first(
    vars: &[&'static str],
    lookup: &impl Fn(&str) -> Option<String>,
) -> Option<(&'static str, String)> {
    vars.iter().find_map(|&var| {
        lookup(var)
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty())
            .map(|v| (var, v))
    })
}

/// For [`crate::store::choose`]: the project URL and where it (and the key) came from.
pub(in crate::store) fn choice(
    lookup: &impl Fn(&str) -> Option<String>,
) -> Option<(String, String)> {
    let (url_var, url) = first(&URL_VARS, lookup)?;
    let origin = match first(&KEY_VARS, lookup) {
        Some((key_var, _)) => format!("{url_var} + {key_var}"),
        None => format!("{url_var} (no API key set)"),
    };
    Some((url, origin))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_hides_the_key() {
        let key = ApiKey::new("eyJhbGciOiJIUzI1NiJ9.eyJyb2xlIjoic2VydmljZV9yb2xlIn0.c2lnbmF0dXJl");
        assert_eq!(format!("{key:?}"), "ApiKey(***)");
        assert!(key.is_jwt());
        assert!(!ApiKey::new("sb_secret_abcdefgh").is_jwt());
        let creds = SupabaseCredentials::from_lookup(|k| match k {
            "SUPABASE_URL" => Some("https://ref.supabase.co".into()),
            "SUPABASE_ANON_KEY" => Some("sb_publishable_abcdefgh".into()),
            _ => None,
        })
        .unwrap();
        assert_eq!(creds.origin(), "SUPABASE_URL + SUPABASE_ANON_KEY");
        assert!(!format!("{creds:?}").contains("abcdefgh"));
        let with_password = SupabaseCredentials::from_lookup(|k| match k {
            "SUPABASE_URL" => Some("https://u:hunter2secret@ref.supabase.co:port".into()),
            "SUPABASE_SERVICE_ROLE_KEY" => Some("sb_secret_abcdefgh".into()),
            _ => None,
        })
        .unwrap();
        let shown = format!("{with_password:?}");
        assert!(
            !shown.contains("hunter2secret") && !shown.contains("abcdefgh"),
            "{shown}"
        );
        assert_eq!(
            creds.key.scrub("bad key sb_publishable_abcdefgh"),
            "bad key ***"
        );
    }

    #[test]
    fn service_role_keys_are_recognised() {
        // {"alg":"HS256"} . {"role":"service_role"} . signature
        let service =
            ApiKey::new("eyJhbGciOiJIUzI1NiJ9.eyJyb2xlIjoic2VydmljZV9yb2xlIn0.c2lnbmF0dXJl");
        assert!(service.is_service_role());
        // {"role":"anon"}
        let anon = ApiKey::new("eyJhbGciOiJIUzI1NiJ9.eyJyb2xlIjoiYW5vbiJ9.c2lnbmF0dXJl");
        assert!(!anon.is_service_role());
        assert!(ApiKey::new("sb_secret_abcdefgh").is_service_role());
        assert!(!ApiKey::new("sb_publishable_abcdefgh").is_service_role());
        assert!(!ApiKey::new("eyJ.%%%.x").is_service_role());
        assert_eq!(base64url_decode("aGk").as_deref(), Some(&b"hi"[..]));
    }

    #[test]
    fn missing_halves_are_named() {
        let e = SupabaseCredentials::from_lookup(|_| None).unwrap_err();
        assert!(e.contains("SUPABASE_URL"), "{e}");
        let e = SupabaseCredentials::from_lookup(|k| {
            (k == "SUPABASE_URL").then(|| "https://ref.supabase.co".to_string())
        })
        .unwrap_err();
        assert!(e.contains("SUPABASE_SERVICE_ROLE_KEY"), "{e}");
    }
}

//! The raw-file cache: FINRA's bytes kept on disk so that a second backfill of the same range
//! makes no HTTP request.
//!
//! - Laid out like the CDN under a directory per origin (`cdn.finra.org/equity/regsho/daily/...`),
//!   so two servers never share entries.
//! - Written atomically: a temporary file in the same directory, then a rename. A crash leaves
//!   either the old entry or the new one.
//! - Checked on read: an entry is used only if it parses (the Reg SHO record count, the ZIP's
//!   CRCs); a broken entry is deleted and fetched again.
//! - "Not published" is remembered only for a short time (`OFFX_CACHE_MISSING_TTL`, default one
//!   hour), since FINRA's files appear late.
//!
//! FINRA occasionally re-posts a day's file with corrections. Bulk work (backfill, catch-up) reads
//! the cache; `offx enrich` always fetches afresh and refreshes the cached copy.

use std::io::ErrorKind;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use chrono::{DateTime, Utc};
use url::Url;

use crate::provenance::{Fingerprint, PublishedFrom};

/// `OFFX_CACHE_DIR`: the cache directory; `off` disables the cache.
pub const ENV_CACHE_DIR: &str = "OFFX_CACHE_DIR";
/// `OFFX_CACHE_MISSING_TTL`: seconds a "not published" answer is remembered (default one hour).
pub const ENV_CACHE_MISSING_TTL: &str = "OFFX_CACHE_MISSING_TTL";
const DEFAULT_MISSING_TTL: Duration = Duration::from_secs(3600);
const MISSING_SUFFIX: &str = ".not-published";

/// A cache directory, or none.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawCache {
    root: PathBuf,
    missing_ttl: Duration,
}

/// What `offx cache info` shows.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CacheInfo {
    /// Cached files, markers not counted.
    pub files: u64,
    /// Their total size in bytes.
    pub bytes: u64,
    /// "Not published" markers, expired ones included.
    pub not_published_markers: u64,
}

impl RawCache {
    /// A cache at `root` that remembers "not published" for `missing_ttl`.
    pub fn new(root: impl Into<PathBuf>, missing_ttl: Duration) -> RawCache {
        RawCache {
            root: root.into(),
            missing_ttl,
        }
    }

    /// From `OFFX_CACHE_DIR` (default: the platform cache dir + `offexchange`; `off` disables)
    /// and `OFFX_CACHE_MISSING_TTL` (seconds). `Err` names the bad variable and value.
    pub fn from_lookup(
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Result<Option<RawCache>, crate::ConfigError> {
        let ttl = match lookup(ENV_CACHE_MISSING_TTL).filter(|v| !v.trim().is_empty()) {
            Some(raw) => raw
                .trim()
                .parse::<u64>()
                .map(Duration::from_secs)
                .map_err(|_| {
                    crate::ConfigError::new(ENV_CACHE_MISSING_TTL, &raw, "expected whole seconds")
                })?,
            None => DEFAULT_MISSING_TTL,
        };
        let root = match lookup(ENV_CACHE_DIR).filter(|v| !v.trim().is_empty()) {
            Some(dir) if dir.trim() == "off" => return Ok(None),
            Some(dir) => PathBuf::from(dir.trim()),
            None => match dirs::cache_dir() {
                Some(dir) => dir.join("offexchange"),
                None => return Ok(None),
            },
        };
        Ok(Some(RawCache::new(root, ttl)))
    }

    /// The cache directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The entry for a URL: `root/host[_port]/path`.
    pub fn entry(&self, url: &Url) -> PathBuf {
        let host = url.host_str().unwrap_or("local");
        let origin = match url.port() {
            Some(port) => format!("{host}_{port}"),
            None => host.to_string(),
        };
        let mut path = self.root.join(origin);
        for part in url
            .path()
            .split('/')
            .filter(|p| !p.is_empty() && *p != "..")
        {
            path.push(part);
        }
        path
    }

    /// The cached bytes, if any.
    pub fn get(&self, entry: &Path) -> Option<Vec<u8>> {
        std::fs::read(entry).ok()
    }

    /// `true` if the entry was found "not published" less than the TTL ago.
    pub fn recently_missing(&self, entry: &Path) -> bool {
        let marker = marker(entry);
        let fresh = std::fs::metadata(&marker)
            .and_then(|m| m.modified())
            .ok()
            .and_then(|at| SystemTime::now().duration_since(at).ok())
            .is_some_and(|age| age < self.missing_ttl);
        if !fresh {
            let _ = std::fs::remove_file(marker);
        }
        fresh
    }

    /// Stores `bytes` atomically and clears any "not published" marker; with `published`, keeps
    /// FINRA's publication time beside them (a `.published` file: RFC 3339 and how it was learnt).
    pub fn put(
        &self,
        entry: &Path,
        bytes: &[u8],
        published: Option<(DateTime<Utc>, PublishedFrom)>,
    ) -> std::io::Result<()> {
        let _ = std::fs::remove_file(marker(entry));
        let sidecar = published_file(entry);
        match published {
            Some((at, from)) => write_atomically(
                &sidecar,
                format!("{} {}", at.to_rfc3339(), from.as_str()).as_bytes(),
            )?,
            None => {
                let _ = std::fs::remove_file(&sidecar);
            }
        }
        write_atomically(entry, bytes)
    }

    /// The publication time kept with an entry; without one, the moment offx first fetched it
    /// (the entry's modification time).
    pub fn published(&self, entry: &Path) -> Option<(DateTime<Utc>, PublishedFrom)> {
        let kept = std::fs::read_to_string(published_file(entry))
            .ok()
            .and_then(|text| {
                let (at, from) = text.trim().split_once(' ')?;
                let from = match from {
                    "last_modified" => PublishedFrom::LastModified,
                    "file_modified" => PublishedFrom::FileModified,
                    "api_date" => PublishedFrom::ApiDate,
                    _ => PublishedFrom::FirstSeen,
                };
                let at = DateTime::parse_from_rfc3339(at).ok()?.with_timezone(&Utc);
                Some((at, from))
            });
        kept.or_else(|| {
            let at = std::fs::metadata(entry).and_then(|m| m.modified()).ok()?;
            Some((DateTime::<Utc>::from(at), PublishedFrom::FirstSeen))
        })
    }

    /// Remembers, for the TTL, that FINRA did not publish the entry.
    pub fn mark_missing(&self, entry: &Path) -> std::io::Result<()> {
        write_atomically(&marker(entry), b"")
    }

    /// Drops an entry that failed its check.
    pub fn evict(&self, entry: &Path) {
        let _ = std::fs::remove_file(entry);
        let _ = std::fs::remove_file(published_file(entry));
    }

    /// Counts the cached files and their bytes, for `offx cache info`.
    pub fn info(&self) -> std::io::Result<CacheInfo> {
        let mut info = CacheInfo::default();
        walk(&self.root, &mut |path, len| {
            let name = path.to_string_lossy();
            if name.ends_with(MISSING_SUFFIX) {
                info.not_published_markers += 1;
            } else if name.ends_with(".published") {
                // An entry's publication time, counted with the entry.
            } else {
                info.files += 1;
                info.bytes += len;
            }
        })?;
        Ok(info)
    }

    /// Deletes every entry.
    pub fn clear(&self) -> std::io::Result<()> {
        match std::fs::remove_dir_all(&self.root) {
            Err(e) if e.kind() != ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        }
    }
}

/// Where an entry's publication time is kept.
fn published_file(entry: &Path) -> PathBuf {
    let mut name = entry.as_os_str().to_owned();
    name.push(".published");
    PathBuf::from(name)
}

fn marker(entry: &Path) -> PathBuf {
    let mut name = entry.as_os_str().to_owned();
    name.push(MISSING_SUFFIX);
    PathBuf::from(name)
}

fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let parent = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(parent)?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let temp = parent.join(format!(
        ".{name}.{}.{}.tmp",
        std::process::id(),
        rand::random::<u32>()
    ));
    std::fs::write(&temp, bytes)?;
    std::fs::rename(&temp, path).inspect_err(|_| {
        let _ = std::fs::remove_file(&temp);
    })
}

fn walk(dir: &Path, visit: &mut dyn FnMut(&Path, u64)) -> std::io::Result<()> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e),
    };
    for entry in entries {
        let entry = entry?;
        let meta = entry.metadata()?;
        if meta.is_dir() {
            walk(&entry.path(), visit)?;
        } else {
            visit(&entry.path(), meta.len());
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_are_per_origin_and_atomic() {
        let dir = tempfile::tempdir().unwrap();
        let cache = RawCache::new(dir.path(), Duration::from_secs(60));
        let a = cache.entry(
            &"http://127.0.0.1:8080/equity/regsho/daily/X.txt"
                .parse()
                .unwrap(),
        );
        let b = cache.entry(
            &"https://cdn.finra.org/equity/regsho/daily/X.txt"
                .parse()
                .unwrap(),
        );
        assert_ne!(a, b);
        assert!(b.ends_with("cdn.finra.org/equity/regsho/daily/X.txt"));
        assert_eq!(cache.get(&a), None);
        cache.put(&a, b"hello", None).unwrap();
        assert_eq!(cache.get(&a).as_deref(), Some(&b"hello"[..]));
        let info = cache.info().unwrap();
        assert_eq!((info.files, info.bytes), (1, 5));
        cache.clear().unwrap();
        assert_eq!(cache.get(&a), None);
    }

    #[test]
    fn not_published_is_remembered_only_for_the_ttl() {
        let dir = tempfile::tempdir().unwrap();
        let entry = dir.path().join("h/x.txt");
        let short = RawCache::new(dir.path(), Duration::ZERO);
        short.mark_missing(&entry).unwrap();
        assert!(!short.recently_missing(&entry), "expired at once");
        let long = RawCache::new(dir.path(), Duration::from_secs(3600));
        long.mark_missing(&entry).unwrap();
        assert!(long.recently_missing(&entry));
        long.put(&entry, b"now published", None).unwrap();
        assert!(!long.recently_missing(&entry));
    }

    #[test]
    fn settings_from_the_environment() {
        let off =
            RawCache::from_lookup(|k| (k == ENV_CACHE_DIR).then(|| "off".to_string())).unwrap();
        assert_eq!(off, None);
        let err =
            RawCache::from_lookup(|k| (k == ENV_CACHE_MISSING_TTL).then(|| "soon".to_string()));
        assert_eq!(err.unwrap_err().variable, ENV_CACHE_MISSING_TTL);
    }
}

/// How a run uses the cache.
#[derive(Debug, Clone)]
pub struct CacheUse {
    /// The cache itself.
    pub cache: RawCache,
    /// Serve from the cache (bulk work); when `false`, only refresh it (daily runs).
    pub read: bool,
}

/// Fetches `path` from `source` through the cache. A `file://` mirror is never cached.
pub async fn fetch_through<T>(
    cache: Option<&CacheUse>,
    source: &super::Source,
    path: &str,
    parse: impl Fn(&[u8]) -> Result<T, crate::parse::ParseError>,
) -> Result<super::Fetched<T>, super::SourceError> {
    use super::Fetched;
    Ok(
        match fetch_versioned_through(cache, source, path, parse).await? {
            Fetched::Published((parsed, _)) => Fetched::Published(parsed),
            Fetched::NotPublished => Fetched::NotPublished,
        },
    )
}

/// [`fetch_through`], with the fingerprint of the bytes. A cached entry keeps the publication
/// time it was fetched with (a `.published` file beside it); an entry without one stands for the
/// moment offx first fetched it (the entry's own modification time).
pub async fn fetch_versioned_through<T>(
    cache: Option<&CacheUse>,
    source: &super::Source,
    path: &str,
    parse: impl Fn(&[u8]) -> Result<T, crate::parse::ParseError>,
) -> Result<super::Fetched<(T, Fingerprint)>, super::SourceError> {
    use super::{Fetched, Source};
    let (Some(using), Source::Http(client)) = (cache, source) else {
        return source.fetch_versioned(path, parse).await;
    };
    let entry = using.cache.entry(&client.url_for(path));
    if using.read {
        if using.cache.recently_missing(&entry) {
            return Ok(Fetched::NotPublished);
        }
        if let Some(bytes) = using.cache.get(&entry) {
            match parse(&bytes) {
                Ok(parsed) => {
                    let print = Fingerprint::of(&bytes, using.cache.published(&entry));
                    return Ok(Fetched::Published((parsed, print)));
                }
                Err(e) => {
                    tracing::warn!(
                        "cached {} failed its check ({e}); fetching it again",
                        entry.display()
                    );
                    using.cache.evict(&entry);
                }
            }
        }
    }
    // Only a body that parsed cleanly comes back here (a truncated or malformed one is an
    // error after its retries): nothing else is ever written to the cache.
    let fetched = client.fetch_raw(path, parse).await?;
    let outcome = match fetched {
        Fetched::Published(raw) => {
            let published = raw
                .last_modified
                .map(|at| (at, PublishedFrom::LastModified));
            if let Err(e) = using.cache.put(&entry, &raw.body, published) {
                tracing::warn!("cannot cache {}: {e}", entry.display());
            }
            Fetched::Published((raw.parsed, Fingerprint::of(&raw.body, published)))
        }
        Fetched::NotPublished => {
            if let Err(e) = using.cache.mark_missing(&entry) {
                tracing::warn!("cannot cache {}: {e}", entry.display());
            }
            Fetched::NotPublished
        }
    };
    Ok(outcome)
}

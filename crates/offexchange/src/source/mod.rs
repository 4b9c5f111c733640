//! Where FINRA's files come from: its CDN over HTTP, or a local `file://` mirror laid out like it.
//!
//! Both answer the same question for a relative path such as
//! `regsho/daily/CNMSshvol20240401.txt`: the parsed file, or [`Fetched::NotPublished`]. The
//! caller's parser runs inside the fetch so that a body proven incomplete (a record count that
//! disagrees with the rows) is fetched again like any other transient failure.

pub mod cache;
mod file;
pub mod finra_api;
mod http;

use std::path::PathBuf;

use chrono::NaiveDate;

use crate::config::{Facility, Settings};
use crate::parse::ParseError;
use crate::provenance::{Fingerprint, PublishedFrom};

pub use finra_api::FinraApi;
pub use http::{FinraHttpError, HttpClient};

/// The answer for one file.
#[derive(Debug, Clone, PartialEq)]
pub enum Fetched<T> {
    /// The file exists: here it is, parsed.
    Published(T),
    /// 404, or the 403 + S3 `AccessDenied` XML FINRA's CDN gives for a file it does not have
    /// (holiday, not posted yet, facility not yet in existence), or no such file in the mirror.
    NotPublished,
}

/// A file that could not be obtained or used.
#[derive(Debug, Clone, thiserror::Error)]
pub enum SourceError {
    /// The request failed for good.
    #[error(transparent)]
    Http(#[from] FinraHttpError),
    /// The body arrived but could not be used.
    #[error("{error} [{location}, {attempts} attempt(s)]")]
    Parse {
        /// What was read: the URL (redacted; for a Query API request, with method and body) or the
        /// mirror path.
        location: String,
        /// Attempts made, the last of which gave this error.
        attempts: u32,
        /// Why the body could not be used.
        error: ParseError,
    },
    /// A mirror file that exists but cannot be read, or a base URL that is no local directory.
    #[error("cannot read {path}: {reason}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// Why it cannot be read.
        reason: String,
    },
}

/// FINRA's CDN or a local mirror.
#[derive(Debug, Clone)]
pub enum Source {
    /// FINRA's CDN, or an HTTP server laid out like it.
    Http(HttpClient),
    /// A local `file://` mirror.
    File(file::FileMirror),
}

impl Source {
    /// The source the settings describe. Builds the HTTP client once; it is reused for every file.
    pub fn new(settings: &Settings) -> Result<Source, SourceError> {
        if settings.is_file_mirror() {
            Ok(Source::File(file::FileMirror::new(&settings.base_url)?))
        } else {
            Ok(Source::Http(HttpClient::new(
                &settings.base_url,
                &settings.http,
            )?))
        }
    }

    /// Fetches `path` (relative to the base) and parses it with `parse`.
    pub async fn fetch<T>(
        &self,
        path: &str,
        parse: impl Fn(&[u8]) -> Result<T, ParseError>,
    ) -> Result<Fetched<T>, SourceError> {
        Ok(match self.fetch_versioned(path, parse).await? {
            Fetched::Published((parsed, _)) => Fetched::Published(parsed),
            Fetched::NotPublished => Fetched::NotPublished,
        })
    }

    /// [`Source::fetch`], with the fingerprint of the bytes that parsed: their sha256 and size,
    /// and FINRA's publication time (`Last-Modified` over HTTP, the file's modification time in a
    /// mirror, else now).
    pub async fn fetch_versioned<T>(
        &self,
        path: &str,
        parse: impl Fn(&[u8]) -> Result<T, ParseError>,
    ) -> Result<Fetched<(T, Fingerprint)>, SourceError> {
        match self {
            Source::Http(client) => Ok(match client.fetch_raw(path, parse).await? {
                Fetched::Published(raw) => {
                    let published = raw
                        .last_modified
                        .map(|at| (at, PublishedFrom::LastModified));
                    let print = Fingerprint::of(&raw.body, published);
                    Fetched::Published((raw.parsed, print))
                }
                Fetched::NotPublished => Fetched::NotPublished,
            }),
            Source::File(mirror) => mirror.fetch(path, parse).await,
        }
    }

    /// Where `path` lives, for messages.
    pub fn locate(&self, path: &str) -> String {
        match self {
            // FINRA_BASE_URL may carry credentials (a private mirror): never print them.
            Source::Http(client) => crate::store::redact_url(client.url_for(path).as_str()),
            Source::File(mirror) => mirror.path_for(path).display().to_string(),
        }
    }
}

/// `regsho/daily/{FACILITY}shvolYYYYMMDD.txt`
pub fn regsho_path(facility: Facility, date: NaiveDate) -> String {
    format!("regsho/daily/{}", regsho_file_name(facility, date))
}

/// `{FACILITY}shvolYYYYMMDD.txt`, FINRA's own file name.
pub fn regsho_file_name(facility: Facility, date: NaiveDate) -> String {
    format!("{}shvol{}.txt", facility.code(), date.format("%Y%m%d"))
}

/// `ATS/ATS_W_Summary_YYYYMMDD.zip`, keyed by the Monday that starts the week. FINRA keys its
/// weekly data by `weekStartDate` (always a Monday, even when Monday is a holiday), so the mirror
/// does too: every session of a week maps to one file.
pub fn ats_zip_path(week_start: NaiveDate) -> String {
    format!("ATS/{}", ats_zip_file_name(week_start))
}

/// `ATS_W_Summary_YYYYMMDD.zip`, the mirror's weekly file name (not a FINRA URL).
pub fn ats_zip_file_name(week_start: NaiveDate) -> String {
    format!("ATS_W_Summary_{}.zip", week_start.format("%Y%m%d"))
}

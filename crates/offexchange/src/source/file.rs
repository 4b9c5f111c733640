//! A local directory laid out like FINRA's CDN (`file:///data/finra` + `/regsho/daily/...`).

use std::io::ErrorKind;
use std::path::PathBuf;

use chrono::{DateTime, Utc};

use url::Url;

use super::{Fetched, SourceError};
use crate::parse::ParseError;
use crate::provenance::{Fingerprint, PublishedFrom};

#[derive(Debug, Clone)]
pub struct FileMirror {
    root: PathBuf,
}

impl FileMirror {
    pub fn new(base: &Url) -> Result<FileMirror, SourceError> {
        let root = base.to_file_path().map_err(|()| SourceError::Io {
            path: PathBuf::from(base.path()),
            reason: "not a local directory URL".into(),
        })?;
        Ok(FileMirror { root })
    }

    pub fn path_for(&self, path: &str) -> PathBuf {
        self.root.join(path)
    }

    /// A file on disk does not change between attempts, so there is exactly one.
    pub async fn fetch<T>(
        &self,
        path: &str,
        parse: impl Fn(&[u8]) -> Result<T, ParseError>,
    ) -> Result<Fetched<(T, Fingerprint)>, SourceError> {
        let full = self.path_for(path);
        let bytes = match tokio::fs::read(&full).await {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(Fetched::NotPublished),
            Err(e) => {
                return Err(SourceError::Io {
                    path: full,
                    reason: e.to_string(),
                })
            }
        };
        // A mirror file's modification time stands for FINRA's publication time.
        let modified = tokio::fs::metadata(&full)
            .await
            .and_then(|m| m.modified())
            .ok()
            .map(|at| (DateTime::<Utc>::from(at), PublishedFrom::FileModified));
        parse(&bytes)
            .map(|parsed| Fetched::Published((parsed, Fingerprint::of(&bytes, modified))))
            .map_err(|error| SourceError::Parse {
                location: full.display().to_string(),
                attempts: 1,
                error,
            })
    }
}

//! Test support shared by the workspace's tests and benches.
//!
//! - [`FinraCdn`]: a real HTTP server on 127.0.0.1 serving a directory laid out like FINRA's CDN
//!   and answering every other path the way FINRA's CDN does: HTTP 403 with S3's `AccessDenied`
//!   XML body (not 404).
//! - [`FinraApi`]: a real HTTP server on 127.0.0.1 answering like FINRA's Query API for the OTC
//!   Transparency weekly summary (paged gzip JSON, 204, partitions, 400 with a `message`).
//! - [`hostile`]: servers whose bodies never end (plain, gzip) or claim 2 GiB, for body caps.
//! - [`realdata`]: the real FINRA files in `../shared/realdata`, or `None` (with a printed reason)
//!   in a clone that lacks them, so tests that need them skip instead of failing.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

pub mod finra_api;
pub mod hostile;

pub use finra_api::{ApiRow, Fault, FinraApi};

use wiremock::matchers::any;
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

/// FINRA's CDN's answer for a key it does not hold (S3 behind CloudFront).
pub const S3_ACCESS_DENIED: &str = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>AccessDenied</Code><Message>Access Denied</Message><RequestId>7Y2QXJ1K9V0N3M4T</RequestId><HostId>Tb0PQ1o2ZyZ9test</HostId></Error>";

/// The workspace root (two levels above a crate's manifest dir).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// `../shared/realdata` beside the project, if present. Prints why when it is not.
pub fn realdata() -> Option<PathBuf> {
    let dir = workspace_root().join("../shared/realdata");
    if dir.join("mirror/regsho/daily").is_dir() {
        Some(dir)
    } else {
        eprintln!(
            "SKIPPED: real FINRA files not found at {} (a clone without ../shared); CI has them",
            dir.display()
        );
        None
    }
}

/// What the server does with a request.
#[derive(Clone)]
enum Mode {
    /// Files from a directory; S3 AccessDenied otherwise.
    Directory(PathBuf),
    /// A fixed answer for every path.
    Fixed(u16, String),
}

struct Cdn {
    mode: Mode,
    log: Arc<Mutex<Vec<String>>>,
    delay: std::time::Duration,
}

impl Respond for Cdn {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let path = request.url.path().to_string();
        if let Ok(mut log) = self.log.lock() {
            log.push(path.clone());
        }
        match &self.mode {
            Mode::Fixed(status, body) => {
                ResponseTemplate::new(*status).set_body_string(body.clone())
            }
            Mode::Directory(root) => {
                let relative = path.trim_start_matches('/');
                let file = root.join(relative);
                // Refuse `..` so the server never reads outside its root.
                if relative.split('/').any(|part| part == "..") {
                    return denied();
                }
                match std::fs::read(&file) {
                    Ok(bytes) if file.is_file() => ResponseTemplate::new(200)
                        .insert_header("content-type", "text/plain")
                        .set_body_bytes(bytes)
                        .set_delay(self.delay),
                    _ => denied(),
                }
            }
        }
    }
}

fn denied() -> ResponseTemplate {
    ResponseTemplate::new(403)
        .insert_header("content-type", "application/xml")
        .set_body_string(S3_ACCESS_DENIED)
}

/// A local stand-in for `https://cdn.finra.org/equity`.
pub struct FinraCdn {
    server: MockServer,
    log: Arc<Mutex<Vec<String>>>,
}

impl FinraCdn {
    /// Serves `root` (laid out like the CDN: `regsho/daily/...`, `ATS/...`).
    pub async fn serve_dir(root: impl Into<PathBuf>) -> FinraCdn {
        FinraCdn::start(Mode::Directory(root.into()), std::time::Duration::ZERO).await
    }

    /// Like [`FinraCdn::serve_dir`], each file answered after `delay` (a slow link).
    pub async fn serve_dir_slowly(
        root: impl Into<PathBuf>,
        delay: std::time::Duration,
    ) -> FinraCdn {
        FinraCdn::start(Mode::Directory(root.into()), delay).await
    }

    /// Answers every path with `status` and `body` (e.g. an HTML block page with 403).
    pub async fn fixed(status: u16, body: &str) -> FinraCdn {
        FinraCdn::start(
            Mode::Fixed(status, body.to_string()),
            std::time::Duration::ZERO,
        )
        .await
    }

    async fn start(mode: Mode, delay: std::time::Duration) -> FinraCdn {
        let server = MockServer::start().await;
        let log = Arc::new(Mutex::new(Vec::new()));
        Mock::given(any())
            .respond_with(Cdn {
                mode,
                log: Arc::clone(&log),
                delay,
            })
            .mount(&server)
            .await;
        FinraCdn { server, log }
    }

    /// The base URL to use as `FINRA_BASE_URL`.
    pub fn base_url(&self) -> String {
        self.server.uri()
    }

    /// Paths requested so far, in order.
    pub fn requested_paths(&self) -> Vec<String> {
        self.log.lock().map(|l| l.clone()).unwrap_or_default()
    }
}

//! `finra-cdn DIR`: serves a mirror on 127.0.0.1 the way FINRA's CDN answers (403 + S3 XML for
//! a missing file), prints its base URL, and on Ctrl-C (or SIGTERM) prints how many requests it
//! answered. For benchmarks that count requests.

use std::path::PathBuf;

#[tokio::main]
async fn main() {
    let Some(dir) = std::env::args().nth(1).map(PathBuf::from) else {
        eprintln!("usage: finra-cdn DIR");
        std::process::exit(2);
    };
    let cdn = offx_testkit::FinraCdn::serve_dir(&dir).await;
    println!("{}", cdn.base_url());
    let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(term) => term,
        Err(e) => {
            eprintln!("cannot listen for SIGTERM: {e}");
            std::process::exit(1);
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
    eprintln!("requests answered: {}", cdn.requested_paths().len());
}

//! Settings that cannot mean what the user wants are refused with a clear message and the
//! documented exit code (2 usage, 3 configuration), or said in a warning; never silently run.

mod common;

use common::{file_url, offx, sample_mirror, stderr};

fn code(out: &std::process::Output) -> i32 {
    out.status.code().expect("an exit code")
}

#[tokio::test]
async fn usage_mistakes_exit_2() {
    let work = tempfile::tempdir().expect("tempdir");
    let w = work.path();
    let env = [("FINRA_BASE_URL", "http://127.0.0.1:9/equity")];
    let loose = offx(&["enrich", "--date", "2024-4-1", "--no-store"], &env, w).await;
    assert_eq!(code(&loose), 2, "{}", stderr(&loose));
    assert!(stderr(&loose).contains("YYYY-MM-DD"), "{}", stderr(&loose));
    let backwards = [
        "backfill",
        "--from",
        "2024-04-05",
        "--to",
        "2024-04-01",
        "--store",
        "memory:",
    ];
    let out = offx(&backwards, &env, w).await;
    assert_eq!(code(&out), 2, "{}", stderr(&out));
    assert!(stderr(&out).contains("--from 2024-04-05 is after --to 2024-04-01"));
    let empty = [
        "enrich",
        "--date",
        "2024-04-01",
        "--no-store",
        "--symbols",
        "",
    ];
    let out = offx(&empty, &env, w).await;
    assert_eq!(code(&out), 2, "{}", stderr(&out));
    assert!(stderr(&out).contains("empty symbol"), "{}", stderr(&out));
}

#[tokio::test]
async fn configuration_mistakes_exit_3() {
    let work = tempfile::tempdir().expect("tempdir");
    let w = work.path();
    let run = ["enrich", "--date", "2024-04-01", "--no-store"];
    let missing = offx(&run, &[("FINRA_BASE_URL", "file:///nonexistent/finra")], w).await;
    assert_eq!(code(&missing), 3, "{}", stderr(&missing));
    assert!(stderr(&missing).contains("/nonexistent/finra is not a directory"));
    let relative = offx(&run, &[("FINRA_BASE_URL", "file://relative/dir")], w).await;
    assert_eq!(code(&relative), 3, "{}", stderr(&relative));
    assert!(
        stderr(&relative).contains("three slashes"),
        "{}",
        stderr(&relative)
    );

    let mirror = sample_mirror(w);
    let base = file_url(&mirror);
    let store = ["enrich", "--date", "2024-04-01", "--store", "sqlite:"];
    let out = offx(&store, &[("FINRA_BASE_URL", base.as_str())], w).await;
    assert_eq!(code(&out), 3, "{}", stderr(&out));
    assert!(
        stderr(&out).contains("needs a file path"),
        "{}",
        stderr(&out)
    );
}

#[tokio::test]
async fn an_unwritable_cache_directory_is_said_and_skipped() {
    let work = tempfile::tempdir().expect("tempdir");
    let w = work.path();
    let mirror = sample_mirror(w);
    let base = file_url(&mirror);
    // A directory under a regular file can never be created, even by root.
    std::fs::write(w.join("a-file"), b"").expect("a file");
    let cache = w.join("a-file").join("cache");
    let cache = cache.to_string_lossy();
    let env = [
        ("FINRA_BASE_URL", base.as_str()),
        ("OFFX_CACHE_DIR", &*cache),
    ];
    let args = [
        "enrich",
        "--date",
        "2024-04-01",
        "--no-store",
        "--format",
        "csv",
    ];
    let out = offx(&args, &env, w).await;
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("is not writable")
            && stderr(&out).contains("without the raw-file cache"),
        "{}",
        stderr(&out)
    );
}

//! One session end to end (fetch, parse, compute; no store) on a full-size mirror, read from
//! `file://` and from a local HTTP server that answers like FINRA's CDN.

use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion};
use offexchange::{Engine, SessionOutcome, Settings};
use offx_bench::{date, full_size_mirror};

fn session_benches(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("temp dir");
    let mirror = full_size_mirror(dir.path(), date(2024, 4, 1), date(2024, 4, 5));
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let cdn = runtime.block_on(offx_testkit::FinraCdn::serve_dir(&mirror));
    let mut group = c.benchmark_group("session");
    group.measurement_time(Duration::from_secs(10));
    for (name, base) in [
        ("file:// mirror", format!("file://{}", mirror.display())),
        ("http 127.0.0.1", cdn.base_url()),
    ] {
        let settings = Settings {
            base_url: base.parse().expect("url"),
            ..Settings::default()
        };
        let engine = Engine::new(settings).expect("engine");
        group.bench_function(
            format!("one session 2024-04-01, 12,000 symbols, {name}"),
            |b| {
                b.iter(|| {
                    let outcome = runtime
                        .block_on(engine.session(date(2024, 4, 1), None, None))
                        .expect("session computes");
                    match outcome {
                        SessionOutcome::Computed { session, .. } => {
                            assert!(session.rows.len() > 11_000)
                        }
                        SessionOutcome::Closed { .. } => panic!("2024-04-01 is a session"),
                    }
                })
            },
        );
    }
    group.finish();
}

criterion_group!(benches, session_benches);
criterion_main!(benches);

//! Store URLs that fail to parse are echoed in errors with their password masked.

use offexchange::store;

#[tokio::test]
async fn unparseable_postgres_urls_never_echo_the_password() {
    for url in [
        "postgres://u:hunter2secret@h:port/db",
        "postgresql://u:hunter2secret@[::1/db",
        "postgres://u:hunter2secret@127.0.0.1:99999/db",
    ] {
        let err = match store::open(url).await {
            Ok(_) => panic!("{url} opened"),
            Err(e) => e.to_string(),
        };
        assert!(!err.contains("hunter2secret"), "{url}: {err}");
        assert!(err.contains("u:***@"), "{url}: {err}");
    }
}

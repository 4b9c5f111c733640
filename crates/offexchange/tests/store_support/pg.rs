//! A scratch schema in the test database, dropped when the guard goes (even on panic).
//!
//! The server: `postgres://postgres@127.0.0.1:5432/test` (trust auth), or `OFFX_TEST_DATABASE_URL`.
//! Unreachable is a failure with a message, not a skip: CI starts the server.

use tokio_postgres::{Client, NoTls};

pub const ENV_URL: &str = "OFFX_TEST_DATABASE_URL";
pub const DEFAULT_URL: &str = "postgres://postgres@127.0.0.1:5432/test";

pub fn admin_url() -> String {
    std::env::var(ENV_URL).unwrap_or_else(|_| DEFAULT_URL.to_string())
}

/// A plain connection to the test database, for setting up and inspecting.
pub async fn admin() -> Client {
    let url = admin_url();
    match tokio_postgres::connect(&url, NoTls).await {
        Ok((client, connection)) => {
            tokio::spawn(connection);
            client
        }
        Err(e) => panic!(
            "PostgreSQL is unreachable at {url}: {e}. The store tests need it (CI starts one): \
             database `test` on 127.0.0.1:5432, user `postgres`, trust auth; or set {ENV_URL}."
        ),
    }
}

/// A schema of its own; `url` points the store at it through `options=-csearch_path=...`.
pub struct Schema {
    pub name: String,
    pub url: String,
}

impl Schema {
    pub async fn new(label: &str) -> Schema {
        let name = format!(
            "offx_test_{label}_{}_{:08x}",
            std::process::id(),
            rand::random::<u32>()
        );
        admin()
            .await
            .batch_execute(&format!("CREATE SCHEMA {name}"))
            .await
            .unwrap_or_else(|e| panic!("cannot create schema {name}: {e}"));
        let mut url = url::Url::parse(&admin_url()).expect("a valid test database URL");
        url.query_pairs_mut()
            .append_pair("options", &format!("-csearch_path={name}"));
        Schema {
            name,
            url: url.to_string(),
        }
    }

    /// `daily_features` of this schema, qualified, for SQL run on an admin connection.
    pub fn table(&self) -> String {
        format!("{}.daily_features", self.name)
    }
}

impl Drop for Schema {
    fn drop(&mut self) {
        // Drop cannot await, and may run inside a runtime: a thread with its own runtime can.
        let name = self.name.clone();
        let dropped = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| e.to_string())?;
            runtime.block_on(async {
                let (client, connection) = tokio_postgres::connect(&admin_url(), NoTls)
                    .await
                    .map_err(|e| e.to_string())?;
                tokio::spawn(connection);
                client
                    .batch_execute(&format!("DROP SCHEMA IF EXISTS {name} CASCADE"))
                    .await
                    .map_err(|e| e.to_string())
            })
        })
        .join();
        if let Ok(Err(e)) | Err(e) = dropped.map_err(|_| "panicked".to_string()) {
            eprintln!("warning: could not drop test schema {}: {e}", self.name);
        }
    }
}

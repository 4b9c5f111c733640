//! `offx db init`: create `daily_features` and `ats_weekly` where the features will be stored.
//!
//! Opening a store already creates the tables (every store's `init` is idempotent); this command
//! makes that step explicit, for a deploy script or a first run against a shared database. On
//! PostgreSQL it applies `migrations/*.sql` in order; on SQLite its embedded equivalent; over
//! Supabase REST (which cannot run DDL) it checks the tables are there and says how to create
//! them if not: run this command with `SUPABASE_DB_URL` (the project's connection string) instead.

use anyhow::{bail, Context, Result};

use super::open_store;
use crate::cli::DbAction;

pub async fn run(action: DbAction) -> Result<()> {
    match action {
        DbAction::Init { store } => init(store.as_deref()).await,
    }
}

async fn init(explicit: Option<&str>) -> Result<()> {
    let Some(store) = open_store(explicit).await? else {
        bail!("no store to initialise: pass --store URL or set OFFX_STORE");
    };
    // `open_store` ran `init` once; a second run proves it idempotent and costs nothing.
    store
        .init()
        .await
        .with_context(|| format!("initialising {}", store.describe()))?;
    tracing::info!(
        "daily_features and ats_weekly are ready in {}",
        store.describe()
    );
    Ok(())
}

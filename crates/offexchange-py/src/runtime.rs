//! The one tokio runtime of the process.
//!
//! Multi-threaded and never shut down: a store's connection task (PostgreSQL) keeps running
//! between calls, and Python threads may each block on it at once.

use std::future::Future;
use std::sync::OnceLock;

use pyo3::prelude::*;
use tokio::runtime::Runtime;

use crate::errors;

static RUNTIME: OnceLock<Result<Runtime, String>> = OnceLock::new();

fn get() -> Result<&'static Runtime, String> {
    RUNTIME
        .get_or_init(|| {
            tokio::runtime::Builder::new_multi_thread()
                .thread_name("offexchange")
                .enable_all()
                .build()
                .map_err(|e| format!("cannot start the async runtime: {e}"))
        })
        .as_ref()
        .map_err(Clone::clone)
}

/// Runs `fut` to completion with the GIL released.
pub fn block_on<F>(py: Python<'_>, fut: F) -> PyResult<F::Output>
where
    F: Future + Send,
    F::Output: Send,
{
    let runtime = get().map_err(|e| errors::internal(py, e))?;
    Ok(py.detach(|| runtime.block_on(fut)))
}

/// Runs `f` inside the runtime's context (for values that capture a runtime handle when built).
pub fn enter<T>(f: impl FnOnce() -> T) -> T {
    match get() {
        Ok(runtime) => {
            let _guard = runtime.enter();
            f()
        }
        Err(_) => f(),
    }
}

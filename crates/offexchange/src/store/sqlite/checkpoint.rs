//! WAL checkpoints on a thread of their own.
//!
//! In WAL mode a commit appends pages to the `-wal` file; a checkpoint copies them back into the
//! database file. By default the committing connection does that itself whenever the WAL passes
//! 1,000 pages, inside the commit: about 7 % of a backfill's time, on the one thread every
//! session's commit waits for. Here a second connection checkpoints after each write, `PASSIVE`
//! (it never blocks the writer or a reader, and skips frames it cannot copy yet), on the core the
//! writer leaves idle. The writer keeps a high automatic threshold as a backstop
//! ([`BACKSTOP_PAGES`]), should this thread fall behind.
//!
//! Nothing here decides durability: a committed transaction is in the WAL before the commit
//! returns, checkpointed or not, and SQLite replays the WAL on the next open after a crash.

use std::path::Path;
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::thread::JoinHandle;

use rusqlite::Connection;

/// The writer's own automatic checkpoint threshold, in pages (64 MB of the 16 KB pages this store
/// creates databases with): reached only when the checkpoint thread falls far behind.
pub(super) const BACKSTOP_PAGES: i64 = 4_096;

/// The checkpoint thread: told after each write, stopped (and joined) when dropped.
#[derive(Debug)]
pub(super) struct Checkpointer {
    signal: Arc<Signal>,
    thread: Option<JoinHandle<()>>,
}

#[derive(Debug, Default)]
struct Signal {
    state: Mutex<State>,
    wake: Condvar,
}

#[derive(Debug, Default)]
struct State {
    /// Writes committed since the last checkpoint began.
    pending: bool,
    stop: bool,
}

impl Checkpointer {
    /// Opens a second connection to `path` and starts the thread; the error says which failed.
    pub(super) fn start(path: &Path) -> Result<Checkpointer, String> {
        let conn = Connection::open(path).map_err(|e| format!("checkpoint connection: {e}"))?;
        let signal = Arc::new(Signal::default());
        let shared = Arc::clone(&signal);
        let thread = std::thread::Builder::new()
            .name("offx-sqlite-checkpoint".into())
            .spawn(move || run(&conn, &shared))
            .map_err(|e| format!("checkpoint thread: {e}"))?;
        Ok(Checkpointer {
            signal,
            thread: Some(thread),
        })
    }

    /// A write was committed: checkpoint soon.
    pub(super) fn committed(&self) {
        let mut state = self.signal.lock();
        state.pending = true;
        self.signal.wake.notify_one();
    }
}

impl Signal {
    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // The state is two flags: a panic elsewhere cannot leave it inconsistent.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

fn run(conn: &Connection, signal: &Signal) {
    loop {
        {
            let mut state = signal.lock();
            while !state.pending && !state.stop {
                state = signal
                    .wake
                    .wait(state)
                    .unwrap_or_else(PoisonError::into_inner);
            }
            if state.stop && !state.pending {
                return;
            }
            state.pending = false;
        }
        // (busy, WAL pages, pages copied). A busy or failed checkpoint is harmless: the pages
        // stay in the WAL, the next one (or the writer's backstop) copies them.
        match conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, i64>(1)?,
                r.get::<_, i64>(2)?,
            ))
        }) {
            Ok((busy, log, copied)) => {
                tracing::trace!("checkpoint: busy {busy}, {copied} of {log} WAL pages copied")
            }
            Err(e) => tracing::debug!("checkpoint skipped: {e}"),
        }
    }
}

impl Drop for Checkpointer {
    fn drop(&mut self) {
        {
            let mut state = self.signal.lock();
            state.stop = true;
            self.signal.wake.notify_one();
        }
        if let Some(thread) = self.thread.take() {
            // Finishes the checkpoint under way (and a last one for writes signalled before).
            let _ = thread.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A WAL database whose writer never checkpoints below the backstop.
    fn writer(path: &Path) -> Connection {
        let writer = Connection::open(path).expect("open");
        writer
            .pragma_update(None, "journal_mode", "WAL")
            .and_then(|_| writer.pragma_update(None, "wal_autocheckpoint", BACKSTOP_PAGES))
            .and_then(|_| writer.execute_batch("CREATE TABLE t (x BLOB)"))
            .expect("database");
        writer
    }

    /// Whether the database file holds every page (it grows only when a checkpoint copies
    /// pages out of the WAL; the writer's own view includes the WAL).
    fn all_pages_in_file(writer: &Connection, path: &Path) -> bool {
        let pages: u64 = writer
            .query_row("PRAGMA page_count", [], |r| r.get(0))
            .expect("page_count");
        let page: u64 = writer
            .query_row("PRAGMA page_size", [], |r| r.get(0))
            .expect("page_size");
        std::fs::metadata(path).expect("database file").len() == pages * page
    }

    #[test]
    fn writes_are_checkpointed_by_the_thread_not_the_writer() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("c.sqlite");
        let writer = writer(&path);
        writer
            .execute("INSERT INTO t VALUES (zeroblob(400000))", [])
            .expect("insert");
        assert!(
            !all_pages_in_file(&writer, &path),
            "the writer does not checkpoint"
        );
        let checkpointer = Checkpointer::start(&path).expect("thread");
        for _ in 0..20 {
            // 20 commits of ~400 KB: 2,000+ pages, past SQLite's default threshold of 1,000.
            writer
                .execute("INSERT INTO t VALUES (zeroblob(400000))", [])
                .expect("insert");
            checkpointer.committed();
        }
        drop(checkpointer); // joins: the last signalled checkpoint has run
        assert!(all_pages_in_file(&writer, &path));
        let rows: i64 = writer
            .query_row("SELECT count(*) FROM t", [], |r| r.get(0))
            .expect("count");
        assert_eq!(rows, 21);
    }

    #[test]
    fn the_last_write_is_checkpointed_however_many_signals_came_before() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("c.sqlite");
        let writer = writer(&path);
        let checkpointer = Checkpointer::start(&path).expect("thread");
        for i in 0..1_000 {
            writer
                .execute("INSERT INTO t VALUES (randomblob(?1))", [i])
                .expect("insert");
            checkpointer.committed();
        }
        drop(checkpointer);
        // The last write's signal was honoured: after the join every page is in the file.
        assert!(all_pages_in_file(&writer, &path));
    }
}

//! Copies the WAL back into the database file on a thread of its own. SQLite does this by default in the
//! connection that commits, once the WAL passes 1,000 pages: on our one writer, that put the copy and two
//! fsyncs into the path every other commit waits behind. A passive checkpoint here runs beside the writer.

use std::sync::mpsc::{Receiver, SyncSender, TrySendError, sync_channel};
use std::time::Duration;

use rusqlite::Connection;

use crate::store::StoreError;

/// At most one checkpoint per this long: each copies every frame written since the last one, so under load
/// a page written many times is copied once.
const PAUSE: Duration = Duration::from_millis(100);

pub(super) struct Checkpointer {
    nudge: SyncSender<()>,
}

impl Checkpointer {
    /// The thread ends once this is dropped.
    pub fn start(connection: Connection) -> Result<Self, StoreError> {
        let (nudge, nudged) = sync_channel(1);
        std::thread::Builder::new()
            .name("sqlite-checkpoint".into())
            .spawn(move || run(&connection, &nudged))
            .map_err(|e| StoreError::failed("cannot start the SQLite checkpoint thread", e))?;
        Ok(Self { nudge })
    }

    /// Something was committed: checkpoint soon. Never waits; nudges while one is pending are one.
    pub fn nudge(&self) {
        match self.nudge.try_send(()) {
            Ok(()) | Err(TrySendError::Full(())) | Err(TrySendError::Disconnected(())) => {}
        }
    }
}

fn run(connection: &Connection, nudged: &Receiver<()>) {
    while nudged.recv().is_ok() {
        // A passive checkpoint copies what no reader still needs and never waits for anyone; what it
        // leaves is copied by a later one. The WAL only grows without bound if every later one fails.
        let result = connection.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |row| {
            row.get::<_, i64>(0)
        });
        if let Err(e) = result {
            tracing::warn!(error = %e, "WAL checkpoint failed; will try again after the next commit");
        }
        std::thread::sleep(PAUSE);
    }
}

//! Statements that run on the write connection between two of the group-commit writer's batches, outside
//! any commit: the retention pass's deletions (`notify::retention`).
//!
//! From any other connection such a statement would take SQLite's write lock away from the writer, which
//! then waits for it in its busy handler's sleeps (up to 100 ms each), while under load the statement itself
//! waits seconds for a gap between batches. Queued for the writer's thread, it runs before the writer's next
//! batch, when nothing else is written, and waits for nothing but that batch's turn.

use rusqlite::Connection;
use tokio::sync::oneshot;

use super::{LocalSqlite, batches, lock};
use crate::store::StoreError;
use crate::store::statements::Statement;

pub(super) struct QueuedStatement {
    statement: Statement,
    reply: oneshot::Sender<Result<u64, StoreError>>,
}

/// The rows a queued statement changed, once the writer has run it.
pub(crate) struct QueuedChanges(oneshot::Receiver<Result<u64, StoreError>>);

impl QueuedChanges {
    pub async fn changed(self) -> Result<u64, StoreError> {
        self.0.await.map_err(|_| {
            StoreError::Unavailable("the writer stopped before it ran the statement".into())
        })?
    }
}

impl LocalSqlite {
    /// Queues `statement` to run on the write connection, in a transaction of its own, before the writer's
    /// next batch. The caller makes sure a batch follows (an empty commit will do): the writer only runs when
    /// it has commits.
    pub fn queue_between_batches(&self, statement: Statement) -> Result<QueuedChanges, StoreError> {
        self.ensure_open()?;
        let (reply, changes) = oneshot::channel();
        lock(&self.between_batches).push(QueuedStatement { statement, reply });
        Ok(QueuedChanges(changes))
    }

    /// The statements queued so far, for the writer's thread to run (`run_between_batches`).
    pub(super) fn take_between_batches(&self) -> Vec<QueuedStatement> {
        std::mem::take(&mut *lock(&self.between_batches))
    }
}

/// Runs `queued` on the writer's `connection` and answers each. Outside a transaction only: were one left
/// open, a statement would become part of it and be undone with it.
pub(super) fn run_between_batches(connection: &Connection, queued: Vec<QueuedStatement>) {
    for QueuedStatement { statement, reply } in queued {
        let changed = if connection.is_autocommit() {
            batches::run_statement(connection, &statement).map_err(|(error, _)| error)
        } else {
            Err(StoreError::internal(
                "a transaction was left open on the write connection",
            ))
        };
        let _ = reply.send(changed);
    }
}

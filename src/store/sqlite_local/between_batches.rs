//! Statements that run on the write connection between two of the group-commit writer's batches, outside
//! any commit: the retention pass's deletions (`notify::retention`).

use super::{LocalSqlite, batches, lock};
use crate::store::StoreError;
use crate::store::statements::Statement;

impl LocalSqlite {
    /// Runs `statement` on the write connection in a transaction of its own; returns the rows it changed.
    ///
    /// From any other connection the statement would take SQLite's write lock away from the writer, which
    /// then waits for it in its busy handler's sleeps (up to 100 ms each), and under load the statement
    /// itself waits seconds for a moment between batches. Here the writer waits on a mutex for one short
    /// statement, and the statement for one batch at most. Blocking: call it off the async threads.
    pub fn run_between_batches(&self, statement: &Statement) -> Result<u64, StoreError> {
        self.ensure_open()?;
        let connection = lock(&self.writer);
        batches::run_statement(&connection, statement).map_err(|(error, _)| error)
    }
}

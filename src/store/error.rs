//! What a store call can fail with, keeping the database's own error as the source.

/// The cause of an `Unavailable` or `Internal` store error.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// Another writer appended to the same aggregate first (or took the same unique name): reload and retry.
    #[error("concurrent modification")]
    Conflict,
    /// The database cannot be reached in time.
    // The cause stays in the message too: most logs print only the message.
    #[error("database unavailable: {0}")]
    Unavailable(#[source] BoxError),
    #[error("database error: {0}")]
    Internal(#[source] BoxError),
    /// A job update found the job no longer leased by this worker (its lease ran out and another took it);
    /// nothing was written.
    #[error("job lease lost")]
    LeaseLost,
    /// The commit's `sms_quota` is used up; nothing was written.
    #[error("daily SMS cap reached")]
    QuotaExceeded,
    /// The commit's `org_sms_quota` is spent; nothing was written.
    #[error("organization's daily SMS budget spent")]
    OrgQuotaExceeded,
}

impl StoreError {
    /// An internal error for a failure that has only a message.
    pub fn internal(message: impl Into<String>) -> Self {
        StoreError::Internal(message.into().into())
    }

    /// A stored value in `column` that does not read back as what was written.
    pub(crate) fn corrupt(column: &'static str) -> Self {
        StoreError::Internal(Box::new(CorruptRow {
            column,
            source: None,
        }))
    }

    pub(crate) fn corrupt_because(column: &'static str, source: impl Into<BoxError>) -> Self {
        StoreError::Internal(Box::new(CorruptRow {
            column,
            source: Some(source.into()),
        }))
    }

    /// The database refused the work itself (and is fine): a conflict, a spent quota, a lost lease.
    pub(crate) fn is_refusal(&self) -> bool {
        matches!(
            self,
            StoreError::Conflict
                | StoreError::QuotaExceeded
                | StoreError::OrgQuotaExceeded
                | StoreError::LeaseLost
        )
    }

    /// A step outside SQL (migrating, locking the file) that failed with `source`.
    pub(crate) fn failed(step: &'static str, source: impl Into<BoxError>) -> Self {
        StoreError::Internal(Box::new(StepFailed {
            step,
            source: source.into(),
        }))
    }
}

/// A row that cannot be turned back into a domain value: an error, never a default.
#[derive(Debug, thiserror::Error)]
#[error("unreadable row: {column}")]
pub struct CorruptRow {
    /// `table.column`.
    pub column: &'static str,
    #[source]
    pub source: Option<BoxError>,
}

#[derive(Debug, thiserror::Error)]
#[error("{step}: {source}")]
pub struct StepFailed {
    pub step: &'static str,
    #[source]
    pub source: BoxError,
}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        match &e {
            sqlx::Error::Database(db) if db.is_unique_violation() => {
                tracing::debug!(constraint = ?db.constraint(), "unique violation: concurrent writer");
                StoreError::Conflict
            }
            sqlx::Error::Database(db) if is_retryable_code(db.code().as_deref()) => {
                tracing::debug!(code = ?db.code(), "transaction aborted by the database: deciding again");
                StoreError::Conflict
            }
            sqlx::Error::PoolTimedOut
            | sqlx::Error::PoolClosed
            | sqlx::Error::Io(_)
            | sqlx::Error::Tls(_)
            | sqlx::Error::WorkerCrashed => StoreError::Unavailable(Box::new(e)),
            sqlx::Error::Database(db) if is_unavailable_code(db.code().as_deref()) => {
                StoreError::Unavailable(Box::new(e))
            }
            _ => StoreError::Internal(Box::new(e)),
        }
    }
}

/// The in-process SQLite connection's errors, sorted as sqlx's are: a unique violation is a concurrent writer,
/// busy or locked is a database not serving us now.
impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        use rusqlite::ErrorCode;
        let Some(code) = e.sqlite_error() else {
            return StoreError::Internal(Box::new(e));
        };
        match code.code {
            ErrorCode::ConstraintViolation
                if matches!(
                    code.extended_code,
                    rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE
                        | rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY
                ) =>
            {
                tracing::debug!("unique violation: concurrent writer");
                StoreError::Conflict
            }
            ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked => {
                StoreError::Unavailable(Box::new(e))
            }
            _ => StoreError::Internal(Box::new(e)),
        }
    }
}

/// Postgres gave up one of two transactions that waited on each other (deadlock) or could not be serialized:
/// the loser's work is undone, and deciding again on fresh state is the answer, as for a conflict.
fn is_retryable_code(code: Option<&str>) -> bool {
    matches!(code, Some("40P01") | Some("40001"))
}

/// SQLite busy/locked and Postgres connection or shutdown classes: the database is there but not serving us now.
fn is_unavailable_code(code: Option<&str>) -> bool {
    match code {
        Some("5") | Some("6") | Some("517") => true,
        Some(c) => c.starts_with("08") || c.starts_with("57P"),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use std::error::Error;

    use super::*;

    #[test]
    fn a_database_error_keeps_the_sqlx_error_as_its_source() {
        let e = StoreError::from(sqlx::Error::PoolTimedOut);
        assert!(matches!(e, StoreError::Unavailable(_)));
        let source = e.source().expect("source");
        assert!(source.downcast_ref::<sqlx::Error>().is_some());
        assert_eq!(
            e.to_string(),
            format!("database unavailable: {}", sqlx::Error::PoolTimedOut)
        );
    }

    #[test]
    fn a_corrupt_row_names_its_column() {
        let e = StoreError::corrupt("users.created_at");
        assert_eq!(
            e.to_string(),
            "database error: unreadable row: users.created_at"
        );
        let row = e.source().and_then(|s| s.downcast_ref::<CorruptRow>());
        assert_eq!(row.map(|r| r.column), Some("users.created_at"));
    }

    #[test]
    fn a_message_is_an_internal_error() {
        let e = StoreError::internal("no luck");
        assert!(matches!(e, StoreError::Internal(_)));
        assert_eq!(e.to_string(), "database error: no luck");
    }
}

//! The embedded default: one SQLite file in WAL mode.

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use sqlx::Sqlite;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteQueryResult,
    SqliteSynchronous,
};

use super::StoreError;
use super::queries;
use super::sql_store::{Backend, SqlStore};
use super::sqlite_local::LocalSqlite;
use super::writer::Writer;

/// How long a writer waits for SQLite's single write lock before giving up (answered as 14 UNAVAILABLE).
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);
/// Page cache per pool connection to a database file, in KiB when negative (SQLite's convention): 512 KiB.
const POOL_CACHE_SIZE: &str = "-512";

pub type SqliteStore = SqlStore<Sqlite>;

impl Backend for Sqlite {
    const BACKEND: &'static str = "sqlite";
    const BEGIN_WRITE: &'static str = queries::BEGIN_WRITE_SQLITE;
    const CLAIM_JOBS: &'static str = queries::CLAIM_JOBS_SQLITE;
    // `BEGIN IMMEDIATE` already holds the only write lock.
    const LOCK_EVENTS: Option<&'static str> = None;

    fn rows_affected(result: &SqliteQueryResult) -> u64 {
        result.rows_affected()
    }
}

impl SqliteStore {
    pub async fn connect(
        url: &str,
        max_connections: u32,
        acquire_timeout: Duration,
    ) -> Result<Self, StoreError> {
        // None: an in-memory database.
        let file = options_path(url);
        let options = SqliteConnectOptions::from_str(url)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            // FULL: a commit that was answered is on disk even after a power loss (NORMAL could roll it back).
            .synchronous(SqliteSynchronous::Full)
            .foreign_keys(true)
            .busy_timeout(BUSY_TIMEOUT);
        // With a database file, the pool's connections serve the cold paths only (migrations, history pages,
        // the rebuild, the job counts of /metrics); the hot ones run on `LocalSqlite`'s connections. SQLite's
        // default page cache of 2 MB each let them hold up to 16 MB of pages between them: `/metrics` counts the
        // jobs by reading their whole index, and each scrape filled the cache of whichever connection ran it.
        let options = match file {
            Some(_) => options.pragma("cache_size", POOL_CACHE_SIZE),
            None => options,
        };
        // Processes sharing one file take turns on a file lock while they open it (the switch to WAL needs the
        // file to themselves) and migrate it (sqlx locks migrations only on Postgres).
        // Created private before SQLite opens it: its -wal and -shm files take the database file's mode.
        if let Some(path) = &file {
            // Only a directory created here: an existing one (usually data_dir) was checked by its creator.
            if let Some(parent) = path
                .parent()
                .filter(|p| !p.as_os_str().is_empty() && !p.exists())
            {
                crate::private_files::create_private_dir(parent)
                    .map_err(|e| StoreError::failed("cannot create the database directory", e))?;
            }
            crate::private_files::create_private_file(path)
                .map_err(|e| StoreError::failed("cannot create the database file", e))?;
        }
        let lock = migration_lock(file.as_deref())?;
        let pool = SqlitePoolOptions::new()
            .max_connections(max_connections)
            .acquire_timeout(acquire_timeout)
            .connect_with(options.clone())
            .await?;
        let migrated = sqlx::migrate!("./migrations/sqlite").run(&pool).await;
        drop(lock);
        migrated.map_err(|e| StoreError::failed("migration failed", e))?;
        // An in-memory database exists once per pool: there the writer shares the readers' pool, and SQLite's
        // hot paths stay on sqlx (another connection would not see that database).
        let Some(path) = file else {
            return Ok(Self {
                writer: Writer::start(Self::batch_writer(pool.clone()), 1),
                write_pool: pool.clone(),
                pool,
                local: None,
                lookups: None,
            });
        };
        let local = Arc::new(LocalSqlite::open(&path, BUSY_TIMEOUT)?);
        Ok(Self {
            writer: Writer::on_thread("sqlite-writer", local.batch_writer())?,
            // Every write (batches and job claims) goes through `local`'s own write connection.
            write_pool: pool.clone(),
            pool,
            lookups: Some(Arc::new(local.clone())),
            local: Some(local),
        })
    }
}

/// The file a `sqlite:` URL names (None for an in-memory database or a URL that is not SQLite's).
pub fn database_file(url: &str) -> Option<std::path::PathBuf> {
    // SQLx's SQLite options take any string as a file name, a Postgres URL included.
    url.starts_with("sqlite:")
        .then(|| options_path(url))
        .flatten()
}

fn options_path(url: &str) -> Option<std::path::PathBuf> {
    let options = SqliteConnectOptions::from_str(url).ok()?;
    let path = options.get_filename();
    let in_memory =
        path.as_os_str() == ":memory:" || path.to_string_lossy().starts_with("file:sqlx-in-memory");
    (!path.as_os_str().is_empty() && !in_memory).then(|| path.to_path_buf())
}

/// An exclusive lock on `<db>.migrate.lock`, held while the file is opened and migrated; released when dropped.
fn migration_lock(db: Option<&std::path::Path>) -> Result<Option<std::fs::File>, StoreError> {
    let Some(db) = db else { return Ok(None) };
    let mut name = db.as_os_str().to_owned();
    name.push(".migrate.lock");
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&name)
        .map_err(|e| StoreError::failed("cannot open migration lock", e))?;
    file.lock()
        .map_err(|e| StoreError::failed("cannot take migration lock", e))?;
    Ok(Some(file))
}

#[cfg(test)]
mod tests {
    use super::database_file;

    #[test]
    fn only_a_sqlite_url_names_a_file() {
        assert_eq!(
            database_file("sqlite://data/phoneverify.db"),
            Some(std::path::PathBuf::from("data/phoneverify.db"))
        );
        assert_eq!(
            database_file("postgres://postgres@127.0.0.1:5432/test"),
            None
        );
        assert_eq!(database_file("sqlite::memory:"), None);
    }
}

//! The hot paths of the SQLite store as plain calls into SQLite, in process: the lookups every request makes
//! (caller, target, org, token) and the group-commit writer. sqlx runs each SQLite statement on a connection
//! thread of its own and hands the statement and each row across threads; on this service's requests those
//! hand-offs cost many times what SQLite itself does (a lookup by primary key in cached pages takes
//! microseconds). Everything else (migrations, history pages, the rebuild) stays on sqlx.
//!
//! A read runs on the caller's thread on one of a few connections: it is shorter than a hand-off would be, and
//! WAL readers never wait for the writer. Writes run on the group-commit writer's own thread, on the one write
//! connection (`batches`), one hand-off per commit; job claims ride in the writer's batches.

mod batches;
mod between_batches;
mod decode;
mod row_cache;
#[cfg(test)]
mod test_schema;

use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use chrono::{DateTime, Utc};
use rusqlite::{CachedStatement, Connection, OpenFlags};
use tokio::sync::oneshot;

use super::rows::{JobRow, MembershipRow, OrgRow, PatRow, UserMembershipRow, UserRow, micros};
use super::statements::{Param, commit_statements};
use super::writer::WriteBatchBlocking;
use super::{CallerAndUser, Commit, PatRecord, SmsJob, StoreError, queries};
use crate::domain::ids::{OrgId, UserId};
use crate::domain::org::{Membership, Org};
use crate::domain::user::User;
use row_cache::RowCache;

/// Read connections: as many as requests that read at the same moment on a small machine, plus slack.
const READERS: usize = 4;

/// WAL pages after which a commit checkpoints (see `LocalSqlite::open`).
const WAL_AUTOCHECKPOINT_PAGES: i64 = 4_000;

pub(crate) struct LocalSqlite {
    readers: Vec<Mutex<Connection>>,
    next_reader: AtomicUsize,
    /// The one connection that writes, the writer thread's.
    writer: Mutex<Connection>,
    /// Job claims waiting for the writer's next batch, which runs them in its transaction.
    claims: Mutex<Vec<QueuedClaim>>,
    /// Statements waiting to run before the writer's next batch, outside it (`between_batches`).
    between_batches: Mutex<Vec<between_batches::QueuedStatement>>,
    users: RowCache,
    /// Set by `close`: from then on every call fails as a database that is gone would.
    closed: AtomicBool,
}

impl LocalSqlite {
    /// Opens the (already migrated) database file with the same durability settings sqlx uses.
    pub fn open(path: &Path, busy_timeout: Duration) -> Result<Self, StoreError> {
        let readers = (0..READERS)
            .map(|_| open_connection(path, busy_timeout).map(Mutex::new))
            .collect::<Result<_, _>>()?;
        // The writer keeps SQLite's own checkpoint after a commit: done anywhere else, it never catches up
        // with a busy writer, and the WAL (and the shared index every connection maps) grows without end.
        let writer = open_connection(path, busy_timeout)?;
        // A checkpoint every 4,000 WAL pages (16 MB with 4 KiB pages) rather than SQLite's 1,000: the pages a
        // busy writer rewrites (the events' and jobs' last pages, the stamp) are copied once per checkpoint, so
        // fewer checkpoints copy fewer pages per commit. Paired runs: sendCode +7 % req/s, p99 +3 ms.
        writer.pragma_update(None, "wal_autocheckpoint", WAL_AUTOCHECKPOINT_PAGES)?;
        Ok(Self {
            readers,
            next_reader: AtomicUsize::new(0),
            writer: Mutex::new(writer),
            claims: Mutex::new(Vec::new()),
            between_batches: Mutex::new(Vec::new()),
            users: RowCache::new(),
            closed: AtomicBool::new(false),
        })
    }

    /// The store is shutting down: nothing more is read or written here (the connections close when the
    /// store is dropped).
    pub fn close(&self) {
        self.closed.store(true, Ordering::SeqCst);
    }

    fn ensure_open(&self) -> Result<(), StoreError> {
        if self.closed.load(Ordering::SeqCst) {
            return Err(StoreError::Unavailable("the database is closed".into()));
        }
        Ok(())
    }

    /// The group-commit writer's batches, planned and written on the writer's thread.
    pub fn batch_writer(self: &Arc<Self>) -> WriteBatchBlocking {
        let this = self.clone();
        let mut mode = batches::BatchMode::default();
        Box::new(move |commits: Vec<Commit>| {
            // Claims queued before this batch began ride in it (see `queue_claim`).
            let queued = std::mem::take(&mut *lock(&this.claims));
            let (claims, replies): (Vec<_>, Vec<_>) =
                queued.into_iter().map(|q| (q.params, q.reply)).unzip();
            let between = this.take_between_batches();
            let written = this.ensure_open().and_then(|()| {
                let mut connection = lock(&this.writer);
                between_batches::run_between_batches(&connection, between);
                let plans = commits.iter().map(commit_statements).collect();
                batches::write_batch(&mut connection, plans, &claims, &mut mode)
            });
            let written = match written {
                Ok(written) => written,
                Err(e) => {
                    for reply in replies {
                        let _ = reply.send(Err(StoreError::Unavailable(e.to_string().into())));
                    }
                    return Err(e);
                }
            };
            // Before anyone is answered: a caller's next request finds what it wrote.
            if let Some(stamp) = written.stamp {
                let ok = commits
                    .iter()
                    .zip(&written.outcomes)
                    .filter(|(_, o)| o.is_ok());
                this.users.committed(stamp, ok.map(|(c, _)| c));
            }
            for (reply, claimed) in replies.into_iter().zip(written.claimed) {
                // A worker that stopped waiting leaves its jobs leased: they are taken again when it runs out.
                let _ = reply.send(claimed);
            }
            Ok(written.outcomes)
        })
    }

    /// From memory when it is current (`row_cache`), else from the database.
    pub fn user(&self, id: &UserId) -> Result<Option<User>, StoreError> {
        let (stamp, found) = self.read_at_stamp(|c, stamp| self.user_at(c, stamp, id))?;
        self.kept_user(stamp, found)
    }

    /// As `user`, with the user's memberships.
    pub fn user_with_memberships(
        &self,
        id: &UserId,
    ) -> Result<Option<(User, Vec<Membership>)>, StoreError> {
        let (stamp, found) =
            self.read_at_stamp(|c, stamp| self.user_with_memberships_at(c, stamp, id))?;
        self.kept_user_with_memberships(stamp, found)
    }

    /// A caller with its memberships and the user its request names, read together: one read of the write
    /// stamp (a read transaction that follows every commit) serves both.
    pub fn caller_and_user(
        &self,
        caller: &UserId,
        named: &UserId,
    ) -> Result<CallerAndUser, StoreError> {
        let (stamp, (caller, named)) = self.read_at_stamp(|c, stamp| {
            let caller = self.user_with_memberships_at(c, stamp, caller)?;
            Ok((caller, self.user_at(c, stamp, named)?))
        })?;
        Ok((
            self.kept_user_with_memberships(stamp, caller)?,
            self.kept_user(stamp, named)?,
        ))
    }

    /// The user as of `stamp`: from memory, or its row from the database.
    fn user_at(&self, c: &Connection, stamp: i64, id: &UserId) -> rusqlite::Result<FoundUser> {
        if let Some(user) = self.users.user(id, stamp) {
            return Ok(Cached::Kept(user));
        }
        let mut s = prepared(c, queries::SELECT_USER, &[Param::Text(id.to_string())])?;
        let row = s.raw_query().next()?.map(decode::user).transpose()?;
        Ok(Cached::Read(row))
    }

    fn user_with_memberships_at(
        &self,
        c: &Connection,
        stamp: i64,
        id: &UserId,
    ) -> rusqlite::Result<FoundWithMemberships> {
        if let Some(kept) = self.users.user_with_memberships(id, stamp) {
            return Ok(Cached::Kept(kept));
        }
        let params = [Param::Text(id.to_string())];
        let mut s = prepared(c, queries::SELECT_USER_WITH_MEMBERSHIPS, &params)?;
        Ok(Cached::Read(collect(
            s.raw_query(),
            decode::user_with_membership,
        )?))
    }

    /// The user found, offered to memory if it was read from the database at `stamp`.
    fn kept_user(&self, stamp: i64, found: FoundUser) -> Result<Option<User>, StoreError> {
        let user = match found {
            Cached::Kept(user) => return Ok(Some(user)),
            Cached::Read(row) => row.map(UserRow::into_user).transpose()?,
        };
        if let Some(user) = &user {
            self.users.offer(user, None, stamp);
        }
        Ok(user)
    }

    fn kept_user_with_memberships(
        &self,
        stamp: i64,
        found: FoundWithMemberships,
    ) -> Result<Option<(User, Vec<Membership>)>, StoreError> {
        let found = match found {
            Cached::Kept(kept) => return Ok(Some(kept)),
            Cached::Read(rows) => UserMembershipRow::fold(rows)?,
        };
        if let Some((user, memberships)) = &found {
            self.users.offer(user, Some(memberships), stamp);
        }
        Ok(found)
    }

    pub fn org(&self, id: &OrgId) -> Result<Option<Org>, StoreError> {
        let row = self.read(|c| {
            let mut s = prepared(c, queries::SELECT_ORG, &[Param::Text(id.to_string())])?;
            s.raw_query().next()?.map(decode::org).transpose()
        })?;
        row.map(OrgRow::into_org).transpose()
    }

    pub fn memberships(&self, user_id: &UserId) -> Result<Vec<Membership>, StoreError> {
        let rows = self.read(|c| {
            let params = [Param::Text(user_id.to_string())];
            let mut s = prepared(c, queries::SELECT_MEMBERSHIPS_OF_USER, &params)?;
            collect(s.raw_query(), decode::membership)
        })?;
        rows.into_iter()
            .map(MembershipRow::into_membership)
            .collect()
    }

    pub fn pat(&self, token_id: &str) -> Result<Option<PatRecord>, StoreError> {
        let row = self.read(|c| {
            let mut s = prepared(c, queries::SELECT_PAT, &[Param::Text(token_id.to_owned())])?;
            s.raw_query().next()?.map(decode::pat).transpose()
        })?;
        row.map(PatRow::into_pat).transpose()
    }

    /// Queues a claim of up to `limit` due jobs for the writer's next batch, which leases them (`lease_until`)
    /// in its transaction and answers once it is durable. The caller makes sure a batch follows (an empty
    /// commit will do): the writer only runs when it has commits.
    pub fn queue_claim(
        &self,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: i64,
    ) -> Result<ClaimedJobs, StoreError> {
        self.ensure_open()?;
        let (reply, claimed) = oneshot::channel();
        lock(&self.claims).push(QueuedClaim {
            params: [
                Param::Int(micros(lease_until)),
                Param::Int(micros(now)),
                Param::Int(limit),
            ],
            reply,
        });
        Ok(ClaimedJobs(claimed))
    }

    /// Runs `read` on a free read connection after reading the write stamp there, which it is given.
    fn read_at_stamp<T>(
        &self,
        read: impl FnOnce(&Connection, i64) -> rusqlite::Result<T>,
    ) -> Result<(i64, T), StoreError> {
        self.read(|c| {
            let stamp = write_stamp(c)?;
            Ok((stamp, read(c, stamp)?))
        })
    }

    /// Runs `read` on a free read connection, or waits for one (reads take microseconds).
    fn read<T>(
        &self,
        read: impl FnOnce(&Connection) -> rusqlite::Result<T>,
    ) -> Result<T, StoreError> {
        self.ensure_open()?;
        let start = self.next_reader.fetch_add(1, Ordering::Relaxed);
        let count = self.readers.len();
        let free = (0..count).find_map(|i| self.readers[(start + i) % count].try_lock().ok());
        let connection = match free {
            Some(connection) => connection,
            None => self.readers[start % count]
                .lock()
                .unwrap_or_else(PoisonError::into_inner),
        };
        Ok(read(&connection)?)
    }
}

struct QueuedClaim {
    params: batches::Claim,
    reply: oneshot::Sender<Result<Vec<JobRow>, StoreError>>,
}

/// The jobs a queued claim leased, once the batch that ran it is durable.
pub(crate) struct ClaimedJobs(oneshot::Receiver<Result<Vec<JobRow>, StoreError>>);

impl ClaimedJobs {
    pub async fn jobs(self) -> Result<Vec<SmsJob>, StoreError> {
        let rows = self.0.await.map_err(|_| {
            StoreError::Unavailable("the writer stopped before it ran the job claim".into())
        })??;
        rows.into_iter().map(JobRow::into_job).collect()
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// What a lookup found: in memory, or rows read from the database.
enum Cached<K, R> {
    Kept(K),
    Read(R),
}

type FoundUser = Cached<User, Option<UserRow>>;
type FoundWithMemberships = Cached<(User, Vec<Membership>), Vec<UserMembershipRow>>;

/// The database's write stamp, read before anything else a lookup reads.
fn write_stamp(connection: &Connection) -> rusqlite::Result<i64> {
    connection
        .prepare_cached(queries::SELECT_WRITE_STAMP)?
        .query_row([], |row| row.get(0))
}

fn open_connection(path: &Path, busy_timeout: Duration) -> Result<Connection, StoreError> {
    let connection = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    connection.busy_timeout(busy_timeout)?;
    // Per connection, as with sqlx's: FULL makes an answered commit survive a power loss.
    connection.pragma_update(None, "synchronous", "FULL")?;
    connection.pragma_update(None, "foreign_keys", "ON")?;
    // Savepoint and statement journals in memory: a batch journals every page each commit touches first,
    // and in a file that was a write syscall per page (it is thrown away at the end of the batch anyway).
    connection.pragma_update(None, "temp_store", "MEMORY")?;
    // Enough for every statement the hot paths prepare, so none is compiled twice.
    connection.set_prepared_statement_cache_capacity(32);
    Ok(connection)
}

/// `sql` from the connection's statement cache with `params[i]` bound to `$i+1`.
fn prepared<'c>(
    connection: &'c Connection,
    sql: &str,
    params: &[Param],
) -> rusqlite::Result<CachedStatement<'c>> {
    let mut statement = connection.prepare_cached(sql)?;
    bind(&mut statement, params)?;
    Ok(statement)
}

/// `$1` to `$32`: the placeholders our SQL uses, named once rather than formatted on every bind.
const PLACEHOLDERS: [&str; 32] = [
    "$1", "$2", "$3", "$4", "$5", "$6", "$7", "$8", "$9", "$10", "$11", "$12", "$13", "$14", "$15",
    "$16", "$17", "$18", "$19", "$20", "$21", "$22", "$23", "$24", "$25", "$26", "$27", "$28",
    "$29", "$30", "$31", "$32",
];

/// Our SQL numbers its parameters (`$1`, also out of order or twice); SQLite gives `$n` the index of its
/// first appearance, so each is bound by name.
pub(super) fn bind(
    statement: &mut rusqlite::Statement<'_>,
    params: &[Param],
) -> rusqlite::Result<()> {
    for (i, param) in params.iter().enumerate() {
        let name = PLACEHOLDERS.get(i).ok_or_else(|| {
            rusqlite::Error::InvalidParameterCount(params.len(), PLACEHOLDERS.len())
        })?;
        let index = statement
            .parameter_index(name)?
            .ok_or_else(|| rusqlite::Error::InvalidParameterName((*name).to_owned()))?;
        match param {
            Param::Text(v) => statement.raw_bind_parameter(index, v)?,
            Param::OptText(v) => statement.raw_bind_parameter(index, v)?,
            Param::Int(v) => statement.raw_bind_parameter(index, v)?,
            Param::OptInt(v) => statement.raw_bind_parameter(index, v)?,
            Param::Bool(v) => statement.raw_bind_parameter(index, v)?,
        }
    }
    Ok(())
}

fn collect<T>(
    mut rows: rusqlite::Rows<'_>,
    decode: fn(&rusqlite::Row) -> rusqlite::Result<T>,
) -> rusqlite::Result<Vec<T>> {
    let mut out = Vec::new();
    while let Some(row) = rows.next()? {
        out.push(decode(row)?);
    }
    Ok(out)
}

//! The lookups by key on Postgres. The users that concurrent requests authenticate as or act on are read
//! together, in one query per batch, as group commit writes their commits together: a query is a round trip,
//! a wake-up of a Postgres backend and a transaction of its own, and under load those, not the reading of two
//! rows, were what a request cost Postgres (about 100 us of its CPU for one lookup, against 23 us in the
//! executor). A lookup still starts after its request did, so it sees every commit answered before.

use std::sync::Arc;

use async_trait::async_trait;
use sqlx::FromRow;
use tokio::sync::{Mutex, mpsc, oneshot};

use super::key_lookups::KeyLookups;
use super::pg_connections::PgConnections;
use super::rows::{MembershipRow, OrgRow, PatRow, UserMembershipRow};
use super::writer::with_queued;
use super::{CallerAndUser, PatRecord, StoreError, queries};
use crate::domain::ids::{OrgId, UserId};
use crate::domain::org::{Membership, Org};
use crate::domain::user::User;

/// Users read in one query at most.
const MAX_BATCH: usize = 128;
/// Lookups waiting at most; more make their callers wait.
const QUEUE: usize = 4096;

/// One request's users: each id, and whether its memberships are read too.
struct Wanted {
    users: Vec<(String, bool)>,
    reply: oneshot::Sender<Result<Vec<UserMembershipRow>, StoreError>>,
}

/// A row of `SELECT_WANTED_USERS`: which wanted user (1-based, across the batch) it answers.
#[derive(FromRow)]
struct WantedRow {
    wanted: i64,
    #[sqlx(flatten)]
    row: UserMembershipRow,
}

pub(crate) struct PgLookups {
    connections: Arc<PgConnections>,
    users: mpsc::Sender<Wanted>,
}

impl PgLookups {
    /// `readers` tasks read the queued users, each on a connection of `connections`; they end when the
    /// lookups are dropped.
    pub fn start(connections: Arc<PgConnections>, readers: usize) -> Self {
        let (users, wanted) = mpsc::channel(QUEUE);
        let wanted = Arc::new(Mutex::new(wanted));
        for _ in 0..readers.max(1) {
            tokio::spawn(read_batches(wanted.clone(), connections.clone()));
        }
        Self { connections, users }
    }

    /// The rows of `users`, read in the next batch.
    async fn read(&self, users: Vec<(String, bool)>) -> Result<Vec<UserMembershipRow>, StoreError> {
        let (reply, answer) = oneshot::channel();
        self.users
            .send(Wanted { users, reply })
            .await
            .map_err(|_| stopped())?;
        answer.await.map_err(|_| stopped())?
    }
}

fn stopped() -> StoreError {
    StoreError::Unavailable("the Postgres lookups have stopped".into())
}

async fn read_batches(wanted: Arc<Mutex<mpsc::Receiver<Wanted>>>, connections: Arc<PgConnections>) {
    loop {
        // One reader at a time takes what is queued; the others read their batches meanwhile.
        let batch = {
            let mut queue = wanted.lock().await;
            next_batch(&mut queue).await
        };
        let Some(batch) = batch else {
            return;
        };
        let (ids, with_memberships): (Vec<String>, Vec<bool>) =
            batch.iter().flat_map(|w| w.users.iter().cloned()).unzip();
        let read = connections
            .with(|c| {
                Box::pin(async move {
                    Ok(sqlx::query_as::<_, WantedRow>(queries::SELECT_WANTED_USERS)
                        .bind(ids)
                        .bind(with_memberships)
                        .fetch_all(c)
                        .await?)
                })
            })
            .await;
        answer(batch, read);
    }
}

/// Waits for a lookup, then takes whatever else is queued, up to `MAX_BATCH` users; None once closed.
async fn next_batch(queue: &mut mpsc::Receiver<Wanted>) -> Option<Vec<Wanted>> {
    let first = queue.recv().await?;
    Some(with_queued(first, queue, MAX_BATCH, |w| w.users.len()))
}

/// Gives each lookup of `batch` its rows.
fn answer(batch: Vec<Wanted>, read: Result<Vec<WantedRow>, StoreError>) {
    let rows = match read {
        Ok(rows) => rows,
        Err(e) => {
            for wanted in batch {
                // A caller that gave up (its request was cancelled) no longer waits: nothing to tell.
                let _ = wanted.reply.send(Err(for_each_lookup(&e)));
            }
            return;
        }
    };
    // Wanted user n (1-based) belongs to the lookup whose users cover it.
    let mut owner = Vec::new();
    for (i, wanted) in batch.iter().enumerate() {
        owner.extend(std::iter::repeat_n(i, wanted.users.len()));
    }
    let mut found: Vec<Vec<UserMembershipRow>> = batch.iter().map(|_| Vec::new()).collect();
    for row in rows {
        let slot = usize::try_from(row.wanted - 1)
            .ok()
            .and_then(|n| owner.get(n));
        if let Some(&i) = slot {
            found[i].push(row.row);
        }
    }
    for (wanted, rows) in batch.into_iter().zip(found) {
        let _ = wanted.reply.send(Ok(rows));
    }
}

/// The failure of a batch's query, told to each of its lookups.
fn for_each_lookup(e: &StoreError) -> StoreError {
    match e {
        StoreError::Unavailable(_) => StoreError::Unavailable(e.to_string().into()),
        _ => StoreError::internal(e.to_string()),
    }
}

#[async_trait]
impl KeyLookups for PgLookups {
    async fn user(&self, id: &UserId) -> Result<Option<User>, StoreError> {
        let rows = self.read(vec![(id.to_string(), false)]).await?;
        Ok(UserMembershipRow::fold(rows)?.map(|(user, _)| user))
    }

    async fn user_with_memberships(
        &self,
        id: &UserId,
    ) -> Result<Option<(User, Vec<Membership>)>, StoreError> {
        UserMembershipRow::fold(self.read(vec![(id.to_string(), true)]).await?)
    }

    async fn caller_and_user(
        &self,
        caller: &UserId,
        named: &UserId,
    ) -> Result<CallerAndUser, StoreError> {
        let users = vec![(caller.to_string(), true), (named.to_string(), false)];
        UserMembershipRow::fold_caller_and_user(self.read(users).await?, caller.as_str())
    }

    async fn org(&self, id: &OrgId) -> Result<Option<Org>, StoreError> {
        let row: Option<OrgRow> = self
            .connections
            .one(queries::SELECT_ORG, id.to_string())
            .await?;
        row.map(OrgRow::into_org).transpose()
    }

    async fn memberships(&self, user_id: &UserId) -> Result<Vec<Membership>, StoreError> {
        let rows: Vec<MembershipRow> = self
            .connections
            .all(queries::SELECT_MEMBERSHIPS_OF_USER, user_id.to_string())
            .await?;
        rows.into_iter()
            .map(MembershipRow::into_membership)
            .collect()
    }

    async fn pat(&self, token_id: &str) -> Result<Option<PatRecord>, StoreError> {
        let row: Option<PatRow> = self
            .connections
            .one(queries::SELECT_PAT, token_id.to_owned())
            .await?;
        row.map(PatRow::into_pat).transpose()
    }

    fn close_lookups(&self) {
        self.connections.close();
    }
}

//! Postgres writes a batch of commits in one statement instead of one per row. Every statement is a round
//! trip to the server and a turn of its executor, and a resend's commit is several (its event, the user row,
//! the SMS job), so under load the statements, not the commits, were what Postgres spent its time on. Here the
//! batch's rows of each kind travel as arrays, one per column (`pg_batch_sql`): one round trip, in which
//! Postgres also commits, however many commits the batch holds. The quota counters are in it, summed per key
//! and day. The rare writes (orgs, memberships, tokens) run one by one after it, in a transaction.
//!
//! This is the path for a batch in which nothing fails. When anything fails or finds less than it must (a
//! conflicting sequence, a spent quota, a lost lease), all of it is undone and the batch is written again one
//! commit at a time, each in its own savepoint, which gives every commit its own outcome.

use std::collections::HashMap;

use std::sync::Arc;

use sqlx::postgres::PgArguments;
use sqlx::query::Query;
use sqlx::{Connection, PgConnection, Postgres};

use super::pg_batch_sql::{EVENTS_IN_LOG, Part, batch_statement};
use super::pg_connections::PgConnections;
use super::postgres::PgStore;
use super::statements::{Param, Statement, When, commit_statements};
use super::writer::{BatchOutcome, WriteBatch};
use super::{Commit, StoreError, queries};

/// A batch's statement with its arrays bound.
type BatchQuery = Query<'static, Postgres, PgArguments>;

/// The writer's work on Postgres: the batch in one statement per table, else one commit at a time.
pub(super) fn batch_writer(connections: PgConnections) -> WriteBatch {
    let connections = Arc::new(connections);
    Box::new(move |commits| {
        let connections = connections.clone();
        Box::pin(async move {
            connections
                .with(|conn| Box::pin(async move { write_batch(conn, &commits).await }))
                .await
        })
    })
}

async fn write_batch(conn: &mut PgConnection, commits: &[Commit]) -> BatchOutcome {
    let mut refused = clashing(commits);
    let mut log_checked = false;
    loop {
        let live = commits.iter().zip(&refused).filter(|(_, r)| !**r);
        let Some(rows) = BatchRows::of(live.map(|(commit, _)| commit))? else {
            break;
        };
        // A lost lease or a spent quota shows only as the statement's failed check, not as its own error.
        let checked = !rows.job_updates.is_empty()
            || !rows.phone_sends.counts.is_empty()
            || !rows.org_sends.counts.is_empty();
        let (statement, others) = rows.into_statement()?;
        if !others.is_empty() {
            if commits.len() > 1 && write_in_transaction(conn, statement, &others).await? {
                return Ok(outcomes(&refused));
            }
            break;
        }
        let Some(statement) = statement else {
            return Ok(outcomes(&refused));
        };
        match statement
            .execute(&mut *conn)
            .await
            .map_err(StoreError::from)
        {
            Ok(_) => return Ok(outcomes(&refused)),
            // The database or the connection failed: the whole batch with it (and the connection retired).
            Err(e @ StoreError::Unavailable(_)) => return Err(e),
            // Some commit was decided on a state that an earlier batch (or another process) has moved on from.
            // Those whose events the log already holds are refused, and the rest go again as one statement:
            // two round trips, where writing the batch one commit at a time costs several per commit and
            // held up every commit of the batch.
            Err(StoreError::Conflict) if commits.len() > 1 && !log_checked => {
                log_checked = true;
                let taken = already_in_log(conn, commits, &refused).await?;
                if !taken.iter().any(|t| *t) {
                    break;
                }
                for (refused, taken) in refused.iter_mut().zip(taken) {
                    *refused |= taken;
                }
            }
            // Alone, the commit's failure is the statement's, unless a check failed. In a batch, whose failure it
            // is is told apart below.
            Err(e) if commits.len() == 1 && !checked => return Ok(vec![Err(e)]),
            Err(_) => break,
        }
    }
    PgStore::write_one_by_one(conn.begin().await?, commits).await
}

/// `Conflict` for each refused commit, success for the others.
fn outcomes(refused: &[bool]) -> Vec<Result<(), StoreError>> {
    let outcome = |refused: &bool| match refused {
        true => Err(StoreError::Conflict),
        false => Ok(()),
    };
    refused.iter().map(outcome).collect()
}

/// Which of the commits not yet refused append an event at a place the log already holds.
async fn already_in_log(
    conn: &mut PgConnection,
    commits: &[Commit],
    refused: &[bool],
) -> Result<Vec<bool>, StoreError> {
    let live = || commits.iter().zip(refused).filter(|(_, r)| !**r);
    let events = || live().flat_map(|(commit, _)| &commit.events);
    let ids: Vec<&str> = events().map(|e| e.aggregate_id.as_str()).collect();
    let sequences: Vec<i64> = events().map(|e| e.sequence).collect();
    let taken: std::collections::HashSet<(String, i64)> = sqlx::query_as(EVENTS_IN_LOG)
        .bind(ids)
        .bind(sequences)
        .fetch_all(&mut *conn)
        .await?
        .into_iter()
        .collect();
    let holds = |commit: &Commit| {
        commit
            .events
            .iter()
            .any(|e| taken.contains(&(e.aggregate_id.clone(), e.sequence)))
    };
    Ok(commits
        .iter()
        .zip(refused)
        .map(|(commit, refused)| !refused && holds(commit))
        .collect())
}

/// The batch's statement and then its other writes in one transaction; false when something failed or was
/// refused (and all of it was undone).
async fn write_in_transaction(
    conn: &mut PgConnection,
    statement: Option<BatchQuery>,
    others: &[Statement],
) -> Result<bool, StoreError> {
    let mut tx = conn.begin().await?;
    match write_in(&mut tx, statement, others).await {
        Ok(()) => {
            tx.commit().await?;
            Ok(true)
        }
        Err(_) => {
            tx.rollback().await?;
            Ok(false)
        }
    }
}

/// The batch's statement and then its other writes, in the caller's transaction.
async fn write_in(
    conn: &mut PgConnection,
    statement: Option<BatchQuery>,
    others: &[Statement],
) -> Result<(), StoreError> {
    if let Some(statement) = statement {
        statement.execute(&mut *conn).await?;
    }
    for statement in others {
        PgStore::run_statement(conn, statement).await?;
    }
    Ok(())
}

/// Which commits append an event at a sequence that an earlier commit of the batch appends at: two requests
/// that read the same state. The database would refuse the later one (`Conflict`, and it decides again), so
/// it is refused here and kept out of the rows, rather than failing the batch's one statement and sending
/// every commit of it down the slow path. Under load that is common: two resends of one user in flight.
fn clashing(commits: &[Commit]) -> Vec<bool> {
    let mut taken = std::collections::HashSet::new();
    commits
        .iter()
        .map(|commit| {
            let keys = || commit.events.iter().map(|e| (&e.aggregate_id, e.sequence));
            let clashes = keys().any(|key| taken.contains(&key));
            if !clashes {
                taken.extend(keys());
            }
            clashes
        })
        .collect()
}

/// A batch's writes, sorted by what they write. Each row is the parameter list of the single-row statement.
#[derive(Default)]
struct BatchRows {
    events: Vec<Vec<Param>>,
    /// At most one row per user: a later commit's row is the fold of everything before it.
    users: Rows,
    /// Written one by one, in commit order: the writes that are rare on the hot path (orgs, memberships,
    /// tokens).
    others: Vec<Statement>,
    /// At most one new job per user: a later code replaces an earlier one of the same batch, as it would
    /// replace it in the queue.
    jobs: Rows,
    job_updates: Vec<Vec<Param>>,
    /// The batch's sends per number and day, and per organization and day.
    phone_sends: Sends,
    org_sends: Sends,
}

impl BatchRows {
    fn of<'a>(commits: impl IntoIterator<Item = &'a Commit>) -> Result<Option<Self>, StoreError> {
        let mut rows = Self::default();
        for commit in commits {
            for statement in commit_statements(commit)? {
                match statement.sql {
                    queries::INSERT_EVENT => rows.events.push(statement.params),
                    // The upsert that follows carries the same row, and one upsert serves every case here.
                    queries::UPDATE_USER_KEEPING_KEYS | queries::REPLACE_QUEUED_JOB => {}
                    queries::UPSERT_USER => rows.users.put(0, statement.params),
                    queries::INSERT_JOB => rows.jobs.put(1, statement.params),
                    queries::UPDATE_JOB => rows.job_updates.push(statement.params),
                    queries::COUNT_SMS => rows.phone_sends.add(statement.params)?,
                    queries::COUNT_ORG_SMS => rows.org_sends.add(statement.params)?,
                    _ if statement.when == When::Always => rows.others.push(statement),
                    // A statement that depends on the one before it: only the one-by-one path knows how.
                    _ => return Ok(None),
                }
            }
        }
        Ok(Some(rows))
    }

    /// The statement that writes the batch's events, user rows and jobs, if it has any, and the writes that
    /// must run one by one.
    fn into_statement(self) -> Result<(Option<BatchQuery>, Vec<Statement>), StoreError> {
        let parts = [
            (Part::Events, self.events),
            (Part::Users, self.users.rows),
            (Part::Jobs, self.jobs.rows),
            (Part::SettledJobs, self.job_updates),
            (Part::PhoneSends, self.phone_sends.into_rows()),
            (Part::OrgSends, self.org_sends.into_rows()),
        ];
        let present: Vec<Part> = parts
            .iter()
            .filter(|(_, rows)| !rows.is_empty())
            .map(|(part, _)| *part)
            .collect();
        let Some(sql) = batch_statement(&present) else {
            return Ok((None, self.others));
        };
        let mut all = Vec::new();
        for (_, rows) in parts {
            if !rows.is_empty() {
                all.extend(columns(rows)?);
            }
        }
        let query = all
            .into_iter()
            .fold(sqlx::query(sql), |query, column| column.bind(query));
        Ok((Some(query), self.others))
    }
}

/// Sends counted against daily caps (`COUNT_SMS`, `COUNT_ORG_SMS`: key, day, cap), summed per key and day.
#[derive(Default)]
struct Sends {
    counts: Vec<(String, String, i64, i64)>,
    index: HashMap<(String, String), usize>,
}

impl Sends {
    fn add(&mut self, params: Vec<Param>) -> Result<(), StoreError> {
        let [Param::Text(key), Param::Text(day), Param::Int(cap)] =
            <[Param; 3]>::try_from(params).map_err(|_| mismatch())?
        else {
            return Err(mismatch());
        };
        match self.index.get(&(key.clone(), day.clone())) {
            Some(&at) => {
                let (_, _, n, kept_cap) = &mut self.counts[at];
                *n += 1;
                *kept_cap = (*kept_cap).min(cap);
            }
            None => {
                self.index
                    .insert((key.clone(), day.clone()), self.counts.len());
                self.counts.push((key, day, 1, cap));
            }
        }
        Ok(())
    }

    /// One row per key and day: key, day, the sends, the cap.
    fn into_rows(self) -> Vec<Vec<Param>> {
        self.counts
            .into_iter()
            .map(|(key, day, n, cap)| {
                vec![
                    Param::Text(key),
                    Param::Text(day),
                    Param::Int(n),
                    Param::Int(cap),
                ]
            })
            .collect()
    }
}

/// Rows kept unique by the text parameter at `key`: a later row with the same key takes the earlier's place.
#[derive(Default)]
struct Rows {
    rows: Vec<Vec<Param>>,
    index: HashMap<String, usize>,
}

impl Rows {
    fn put(&mut self, key: usize, row: Vec<Param>) {
        let Some(Param::Text(k)) = row.get(key) else {
            self.rows.push(row);
            return;
        };
        match self.index.get(k) {
            Some(&at) => self.rows[at] = row,
            None => {
                self.index.insert(k.clone(), self.rows.len());
                self.rows.push(row);
            }
        }
    }
}

/// The rows turned into columns, one per parameter.
fn columns(rows: Vec<Vec<Param>>) -> Result<Vec<Column>, StoreError> {
    let width = rows.first().map_or(0, Vec::len);
    let mut columns: Vec<Column> = rows
        .first()
        .map(|row| row.iter().map(Column::for_param).collect())
        .unwrap_or_default();
    for row in rows {
        if row.len() != width {
            return Err(mismatch());
        }
        for (column, value) in columns.iter_mut().zip(row) {
            column.push(value)?;
        }
    }
    Ok(columns)
}

/// One parameter's values across the rows of a batch.
enum Column {
    Text(Vec<String>),
    OptText(Vec<Option<String>>),
    Int(Vec<i64>),
    OptInt(Vec<Option<i64>>),
    Bool(Vec<bool>),
}

impl Column {
    fn for_param(param: &Param) -> Self {
        match param {
            Param::Text(_) => Column::Text(Vec::new()),
            Param::OptText(_) => Column::OptText(Vec::new()),
            Param::Int(_) => Column::Int(Vec::new()),
            Param::OptInt(_) => Column::OptInt(Vec::new()),
            Param::Bool(_) => Column::Bool(Vec::new()),
        }
    }

    fn push(&mut self, param: Param) -> Result<(), StoreError> {
        match (self, param) {
            (Column::Text(values), Param::Text(v)) => values.push(v),
            (Column::OptText(values), Param::OptText(v)) => values.push(v),
            (Column::Int(values), Param::Int(v)) => values.push(v),
            (Column::OptInt(values), Param::OptInt(v)) => values.push(v),
            (Column::Bool(values), Param::Bool(v)) => values.push(v),
            _ => return Err(mismatch()),
        }
        Ok(())
    }

    fn bind(self, query: BatchQuery) -> BatchQuery {
        match self {
            Column::Text(values) => query.bind(values),
            Column::OptText(values) => query.bind(values),
            Column::Int(values) => query.bind(values),
            Column::OptInt(values) => query.bind(values),
            Column::Bool(values) => query.bind(values),
        }
    }
}

/// Rows of one statement whose parameters differ in number or kind: a bug in `statements`, not bad input.
fn mismatch() -> StoreError {
    StoreError::internal("the rows of a batched statement do not have the same parameters")
}

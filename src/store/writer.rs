//! Group commit: one writer per process takes the commits of concurrent requests and writes them in one
//! transaction, each inside its own savepoint, so a commit that conflicts (or exceeds a quota, or lost its
//! lease) is undone alone and never fails its neighbours. Each caller is answered after the transaction
//! holding its commit is durable. Under load a batch grows by itself: commits queue while one is written.

use std::future::Future;
use std::pin::Pin;

use tokio::sync::{mpsc, oneshot};

use super::{Commit, StoreError};

/// Commits written in one transaction at most.
const MAX_BATCH: usize = 256;
/// Commits waiting for the writer at most; more make their senders wait (backpressure).
const QUEUE: usize = 4096;

/// Writes a batch in one transaction: one outcome per commit, or an error that undid the whole batch.
pub(crate) type WriteBatch =
    Box<dyn Fn(Vec<Commit>) -> Pin<Box<dyn Future<Output = BatchOutcome> + Send>> + Send + Sync>;
pub(crate) type BatchOutcome = Result<Vec<Result<(), StoreError>>, StoreError>;

struct Pending {
    commit: Commit,
    reply: oneshot::Sender<Result<(), StoreError>>,
}

pub(crate) struct Writer {
    queue: mpsc::Sender<Pending>,
}

impl Writer {
    /// Starts the writer task; it ends when the `Writer` is dropped.
    pub fn start(write: WriteBatch) -> Self {
        let (queue, pending) = mpsc::channel(QUEUE);
        tokio::spawn(run(pending, write));
        Self { queue }
    }

    pub async fn commit(&self, commit: Commit) -> Result<(), StoreError> {
        let (reply, answer) = oneshot::channel();
        self.queue
            .send(Pending { commit, reply })
            .await
            .map_err(|_| stopped())?;
        answer.await.map_err(|_| stopped())?
    }
}

fn stopped() -> StoreError {
    StoreError::Unavailable("the commit writer has stopped".into())
}

async fn run(mut pending: mpsc::Receiver<Pending>, write: WriteBatch) {
    while let Some(first) = pending.recv().await {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match pending.try_recv() {
                Ok(next) => batch.push(next),
                Err(_) => break,
            }
        }
        let (commits, replies): (Vec<_>, Vec<_>) =
            batch.into_iter().map(|p| (p.commit, p.reply)).unzip();
        let size = commits.len();
        tracing::trace!(size, "writing a batch of commits");
        match write(commits).await {
            Ok(outcomes) => {
                for (reply, outcome) in replies.into_iter().zip(outcomes) {
                    // A caller that gave up (its request was cancelled) no longer waits: nothing to tell.
                    let _ = reply.send(outcome);
                }
            }
            Err(e) => {
                tracing::warn!(size, error = %e, "a batch of commits failed as a whole");
                for reply in replies {
                    let _ = reply.send(Err(e.for_each_commit()));
                }
            }
        }
    }
}

impl StoreError {
    /// The same failure, told to every commit of a batch that it undid.
    fn for_each_commit(&self) -> StoreError {
        match self {
            StoreError::Conflict => StoreError::Conflict,
            StoreError::QuotaExceeded => StoreError::QuotaExceeded,
            StoreError::LeaseLost => StoreError::LeaseLost,
            StoreError::Corrupt(column) => StoreError::Corrupt(column),
            StoreError::Unavailable(e) => StoreError::Unavailable(e.to_string().into()),
            StoreError::Internal(e) => StoreError::Internal(e.to_string().into()),
        }
    }
}

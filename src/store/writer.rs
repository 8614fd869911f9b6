//! Group commit: one writer per process takes the commits of concurrent requests and writes them in one
//! transaction, each inside its own savepoint, so a commit that conflicts (or exceeds a quota, or lost its
//! lease) is undone alone and never fails its neighbours. Each caller is answered after the transaction
//! holding its commit is durable. Under load a batch grows by itself: commits queue while one is written.

use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use std::future::Future;
use std::pin::Pin;

use std::hash::{BuildHasher, RandomState};
use std::sync::Arc;

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
    /// One queue per writer task.
    queues: Vec<mpsc::Sender<Pending>>,
    partition: RandomState,
    /// How many commits each written batch held: what group commit achieves under the load at hand.
    pub batch_sizes: Histogram,
}

/// Batches of 1 to `MAX_BATCH` commits.
fn batch_size_histogram() -> Histogram {
    Histogram::new(exponential_buckets(1.0, 2.0, 9))
}

impl Writer {
    /// Starts `writers` tasks (one for SQLite, whose writes take turns anyway; a few for Postgres, where
    /// batches are written side by side); they end when the `Writer` is dropped. Commits are spread over the
    /// tasks by aggregate, so two batches written at once never touch the same aggregate: one writer's batches
    /// cannot deadlock on another's uncommitted keys.
    pub fn start(write: WriteBatch, writers: usize) -> Self {
        let write = Arc::new(write);
        let batch_sizes = batch_size_histogram();
        let queues = (0..writers.max(1))
            .map(|_| {
                let (queue, pending) = mpsc::channel(QUEUE);
                tokio::spawn(run(pending, write.clone(), batch_sizes.clone()));
                queue
            })
            .collect();
        Self {
            queues,
            partition: RandomState::new(),
            batch_sizes,
        }
    }

    pub async fn commit(&self, commit: Commit) -> Result<(), StoreError> {
        let key = commit
            .events
            .first()
            .map(|e| e.aggregate_id.as_str())
            .or_else(|| commit.job_updates.first().map(|j| j.id.as_str()))
            .unwrap_or_default();
        let slot = usize::try_from(self.partition.hash_one(key)).unwrap_or(0) % self.queues.len();
        let (reply, answer) = oneshot::channel();
        self.queues[slot]
            .send(Pending { commit, reply })
            .await
            .map_err(|_| stopped())?;
        answer.await.map_err(|_| stopped())?
    }
}

fn stopped() -> StoreError {
    StoreError::Unavailable("the commit writer has stopped".into())
}

async fn run(mut pending: mpsc::Receiver<Pending>, write: Arc<WriteBatch>, sizes: Histogram) {
    while let Some(batch) = next_batch(&mut pending).await {
        let (commits, replies): (Vec<_>, Vec<_>) =
            batch.into_iter().map(|p| (p.commit, p.reply)).unzip();
        let size = commits.len();
        sizes.observe(size as f64);
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

/// Waits for a commit, then takes whatever else is queued (up to `MAX_BATCH`); None once the queue is closed.
async fn next_batch(pending: &mut mpsc::Receiver<Pending>) -> Option<Vec<Pending>> {
    let first = pending.recv().await?;
    let mut batch = vec![first];
    while batch.len() < MAX_BATCH {
        match pending.try_recv() {
            Ok(next) => batch.push(next),
            Err(_) => break,
        }
    }
    Some(batch)
}

impl StoreError {
    /// The same failure, told to every commit of a batch that it undid.
    fn for_each_commit(&self) -> StoreError {
        match self {
            StoreError::Conflict => StoreError::Conflict,
            StoreError::QuotaExceeded => StoreError::QuotaExceeded,
            StoreError::OrgQuotaExceeded => StoreError::OrgQuotaExceeded,
            StoreError::LeaseLost => StoreError::LeaseLost,
            StoreError::Unavailable(e) => StoreError::Unavailable(e.to_string().into()),
            StoreError::Internal(e) => StoreError::Internal(e.to_string().into()),
        }
    }
}

//! Group commit: one writer per process takes the commits of concurrent requests and writes them in one
//! transaction, each inside its own savepoint, so a commit that conflicts (or exceeds a quota, or lost its
//! lease) is undone alone and never fails its neighbours. Each caller is answered after the transaction
//! holding its commit is durable. Under load a batch grows by itself: commits queue while one is written.
//!
//! The loop that takes batches runs as a task (Postgres: writing is a wait on the network) or on a thread of
//! its own (SQLite in process: writing is work on this machine's cores). On a task, each step between two
//! batches waited its turn behind the requests queued on the runtime, and the one writer sat idle meanwhile.

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
/// Writes a batch on the writer's own thread, blocking it until the batch is durable.
pub(crate) type WriteBatchBlocking = Box<dyn FnMut(Vec<Commit>) -> BatchOutcome + Send>;

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

    /// One writer on a thread of its own named `name`, which runs `write` for each batch; it ends when the
    /// `Writer` is dropped and the queued commits are written.
    pub fn on_thread(name: &str, mut write: WriteBatchBlocking) -> Result<Self, StoreError> {
        let batch_sizes = batch_size_histogram();
        let sizes = batch_sizes.clone();
        let (queue, mut pending) = mpsc::channel(QUEUE);
        std::thread::Builder::new()
            .name(name.to_owned())
            .spawn(move || {
                while let Some(first) = pending.blocking_recv() {
                    let batch = with_queued(first, &mut pending, MAX_BATCH, |_| 1);
                    let (commits, replies) = split(batch, &sizes);
                    answer(replies, write(commits));
                }
            })
            .map_err(|e| StoreError::failed("cannot start the writer thread", e))?;
        Ok(Self {
            queues: vec![queue],
            partition: RandomState::new(),
            batch_sizes,
        })
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
    while let Some(first) = pending.recv().await {
        let batch = with_queued(first, &mut pending, MAX_BATCH, |_| 1);
        let (commits, replies) = split(batch, &sizes);
        answer(replies, write(commits).await);
    }
}

/// `first` and whatever is queued behind it, taken while their weights add up to less than `cap`: the batch a
/// queue's consumer takes at once (commits here, one each; users in `pg_lookups`).
pub(super) fn with_queued<T>(
    first: T,
    queue: &mut mpsc::Receiver<T>,
    cap: usize,
    weight: impl Fn(&T) -> usize,
) -> Vec<T> {
    let mut taken = weight(&first);
    let mut batch = vec![first];
    while taken < cap {
        match queue.try_recv() {
            Ok(next) => {
                taken += weight(&next);
                batch.push(next);
            }
            Err(_) => break,
        }
    }
    batch
}

fn split(
    batch: Vec<Pending>,
    sizes: &Histogram,
) -> (Vec<Commit>, Vec<oneshot::Sender<Result<(), StoreError>>>) {
    // The empty commits that only make a batch happen (for the worker's job claims) are not counted: the
    // histogram tells operators how many writes share a transaction, and a batch of claims alone has none.
    let writing = batch.iter().filter(|p| !p.commit.writes_nothing()).count();
    if writing > 0 {
        sizes.observe(writing as f64);
    }
    tracing::trace!(size = batch.len(), "writing a batch of commits");
    batch.into_iter().map(|p| (p.commit, p.reply)).unzip()
}

/// Tells each commit of a batch what became of it.
fn answer(replies: Vec<oneshot::Sender<Result<(), StoreError>>>, outcome: BatchOutcome) {
    match outcome {
        Ok(outcomes) => {
            for (reply, outcome) in replies.into_iter().zip(outcomes) {
                // A caller that gave up (its request was cancelled) no longer waits: nothing to tell.
                let _ = reply.send(outcome);
            }
        }
        Err(e) => {
            tracing::warn!(size = replies.len(), error = %e, "a batch of commits failed as a whole");
            for reply in replies {
                let _ = reply.send(Err(e.for_each_commit()));
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
            StoreError::OrgQuotaExceeded => StoreError::OrgQuotaExceeded,
            StoreError::LeaseLost => StoreError::LeaseLost,
            StoreError::Unavailable(e) => StoreError::Unavailable(e.to_string().into()),
            StoreError::Internal(e) => StoreError::Internal(e.to_string().into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use prometheus_client::encoding::text::encode;
    use prometheus_client::registry::Registry;

    use super::*;
    use crate::store::{JobState, JobUpdate};

    fn pending(commit: Commit) -> Pending {
        Pending {
            commit,
            reply: oneshot::channel().0,
        }
    }

    fn writing_one_update() -> Commit {
        let now = chrono::DateTime::UNIX_EPOCH;
        Commit {
            job_updates: vec![JobUpdate {
                id: "job-1".into(),
                lease_until: now,
                state: JobState::Sent,
                attempts: 1,
                next_attempt_at: now,
                last_error: None,
                updated_at: now,
            }],
            ..Commit::default()
        }
    }

    /// `commit_batch_size`'s count and sum as the metrics endpoint shows them.
    fn count_and_sum(sizes: &Histogram) -> (String, String) {
        let mut registry = Registry::default();
        registry.register("batch", "", sizes.clone());
        let mut text = String::new();
        encode(&mut text, &registry).unwrap();
        let value = |name: &str| {
            text.lines()
                .find_map(|l| l.strip_prefix(name))
                .unwrap_or("missing")
                .trim()
                .to_owned()
        };
        (value("batch_count"), value("batch_sum"))
    }

    #[test]
    fn batch_sizes_count_commits_that_write_and_skip_claim_only_batches() {
        let sizes = batch_size_histogram();
        let (commits, replies) = split(
            vec![
                pending(writing_one_update()),
                pending(Commit::default()),
                pending(writing_one_update()),
            ],
            &sizes,
        );
        // Every commit is still written and answered; only the count leaves the empty one out.
        assert_eq!((commits.len(), replies.len()), (3, 3));
        assert_eq!(count_and_sum(&sizes), ("1".into(), "2.0".into()));

        split(vec![pending(Commit::default())], &sizes);
        assert_eq!(count_and_sum(&sizes), ("1".into(), "2.0".into()));
    }
}

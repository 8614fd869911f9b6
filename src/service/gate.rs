//! Commands on the same user inside one process take turns. Two of them would read the same state and one
//! would lose the commit and decide again; under a burst on one user (a resend loop, the delivery worker
//! settling while the user resends) those retries pile up until a request gives up with ABORTED. Taking
//! turns leaves conflicts only between processes, which the write path's retries absorb.

use std::hash::{DefaultHasher, Hash, Hasher};

use tokio::sync::{Mutex, MutexGuard};

use crate::domain::ids::UserId;

/// Enough stripes that two busy users rarely share one; a shared stripe only makes them take turns.
const STRIPES: usize = 1024;

/// Striped locks keyed by user: bounded memory, nothing to clean up when a user goes away.
pub(crate) struct UserGate {
    stripes: Vec<Mutex<()>>,
}

impl UserGate {
    pub fn new() -> Self {
        Self {
            stripes: (0..STRIPES).map(|_| Mutex::new(())).collect(),
        }
    }

    /// Waits for this user's turn; the turn lasts as long as the `Turn`. A command holds at most one turn,
    /// so turns cannot deadlock.
    pub async fn turn(&self, user: &UserId) -> Turn<'_> {
        let mut hasher = DefaultHasher::new();
        user.as_str().hash(&mut hasher);
        // The modulo keeps the index below STRIPES, which fits in usize.
        let stripe = &self.stripes[(hasher.finish() % STRIPES as u64) as usize];
        match stripe.try_lock() {
            Ok(guard) => Turn {
                _guard: guard,
                waited: false,
            },
            Err(_) => Turn {
                _guard: stripe.lock().await,
                waited: true,
            },
        }
    }
}

/// A user's turn. `waited`: another command may have written the user meanwhile, so state read before the
/// turn is probably stale.
pub(crate) struct Turn<'a> {
    _guard: MutexGuard<'a, ()>,
    pub waited: bool,
}

impl Default for UserGate {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    #[tokio::test]
    async fn commands_on_one_user_take_turns() {
        let gate = Arc::new(UserGate::new());
        let inside = Arc::new(AtomicUsize::new(0));
        let most = Arc::new(AtomicUsize::new(0));
        let user = UserId::from_stored("42".to_owned());
        let tasks: Vec<_> = (0..8)
            .map(|_| {
                let (gate, inside, most, user) =
                    (gate.clone(), inside.clone(), most.clone(), user.clone());
                tokio::spawn(async move {
                    let _turn = gate.turn(&user).await;
                    let now = inside.fetch_add(1, Ordering::SeqCst) + 1;
                    most.fetch_max(now, Ordering::SeqCst);
                    tokio::task::yield_now().await;
                    inside.fetch_sub(1, Ordering::SeqCst);
                })
            })
            .collect();
        for task in tasks {
            assert!(task.await.is_ok());
        }
        assert_eq!(most.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn different_users_do_not_wait_for_each_other() {
        let gate = UserGate::new();
        let first = UserId::from_stored("1".to_owned());
        let other = (2..100)
            .map(|i| UserId::from_stored(i.to_string()))
            .find(|id| {
                let mut a = DefaultHasher::new();
                first.as_str().hash(&mut a);
                let mut b = DefaultHasher::new();
                id.as_str().hash(&mut b);
                a.finish() % STRIPES as u64 != b.finish() % STRIPES as u64
            });
        let Some(other) = other else {
            panic!("no user on another stripe");
        };
        let held = gate.turn(&first).await;
        assert!(!held.waited);
        let second =
            tokio::time::timeout(std::time::Duration::from_secs(1), gate.turn(&other)).await;
        assert!(second.is_ok_and(|turn| !turn.waited));
    }
}

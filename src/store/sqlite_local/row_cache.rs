//! Users and their memberships kept in memory for the lookups every request makes (caller and target). Under
//! write load SQLite discards a reader's page cache at every commit, so each lookup re-read its pages from the
//! WAL; this was the largest cost on the request threads.
//!
//! The memory is only trusted while it is provably current. Every write to the projections moves the
//! database's write stamp on (`queries::BUMP_WRITE_STAMP`), and a lookup reads the stamp first:
//! - our own writer tells this cache each stamp it committed, with the rows it wrote, before its callers are
//!   answered; when the stamp it replaced is not the one the cache knew, something else wrote in between
//!   (another process, a rebuild) and the cache starts empty;
//! - a lookup that read a stamp later than the cache's is served from the database: another process may have
//!   deactivated the user a moment ago;
//! - a row read from the database is kept only if no write came between the stamp it read and now, so a slow
//!   reader never puts back a row that a commit has already replaced.

use std::sync::{Mutex, MutexGuard, PoisonError};

use quick_cache::unsync::Cache;

use crate::domain::ids::UserId;
use crate::domain::org::Membership;
use crate::domain::user::User;
use crate::store::Commit;
use crate::store::rows::UserRow;

/// Users kept at most: a few MB, and far more than the users active within a few seconds.
const CAPACITY: usize = 16_384;

pub(super) struct RowCache {
    state: Mutex<State>,
}

struct State {
    /// The write stamp the entries are current for; None until our writer has committed.
    stamp: Option<i64>,
    users: Cache<UserId, Entry>,
}

struct Entry {
    user: User,
    /// None: not read yet, or changed since.
    memberships: Option<Vec<Membership>>,
}

impl RowCache {
    pub fn new() -> Self {
        Self {
            state: Mutex::new(State {
                stamp: None,
                users: Cache::new(CAPACITY),
            }),
        }
    }

    /// The user, if a lookup that read `stamp` may be answered from memory.
    pub fn user(&self, id: &UserId, stamp: i64) -> Option<User> {
        let state = self.lock();
        state.current_for(stamp)?;
        state.users.get(id).map(|e| e.user.clone())
    }

    pub fn user_with_memberships(
        &self,
        id: &UserId,
        stamp: i64,
    ) -> Option<(User, Vec<Membership>)> {
        let state = self.lock();
        state.current_for(stamp)?;
        let entry = state.users.get(id)?;
        Some((entry.user.clone(), entry.memberships.clone()?))
    }

    /// A user read from the database after reading `stamp`: kept if nothing was written since.
    pub fn offer(&self, user: &User, memberships: Option<&[Membership]>, stamp: i64) {
        let mut state = self.lock();
        if state.stamp != Some(stamp) {
            return;
        }
        let memberships = match (memberships, state.users.get(&user.id)) {
            (Some(m), _) => Some(m.to_vec()),
            (None, Some(known)) => known.memberships.clone(),
            (None, None) => None,
        };
        state.users.insert(
            user.id.clone(),
            Entry {
                user: user.clone(),
                memberships,
            },
        );
    }

    /// Our writer committed `stamp` with `commits` (those that succeeded).
    pub fn committed<'a>(&self, stamp: i64, commits: impl Iterator<Item = &'a Commit>) {
        let mut state = self.lock();
        if state.stamp != Some(stamp - 1) {
            // Someone else wrote since our last commit: nothing here can be vouched for.
            state.users.clear();
        }
        for commit in commits {
            for user in &commit.users {
                // As a lookup would return it (times at the database's precision).
                match UserRow::from_user(user).into_user() {
                    Ok(user) => state.keep_written(user),
                    Err(_) => {
                        state.users.remove(&user.id);
                    }
                }
            }
            for membership in &commit.memberships {
                if let Some(mut entry) = state.users.peek_mut(&membership.user_id) {
                    entry.memberships = None;
                }
            }
        }
        state.stamp = Some(stamp);
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl State {
    /// `Some` if entries may answer a lookup that read `stamp`: none was written by anyone else up to it.
    fn current_for(&self, stamp: i64) -> Option<()> {
        self.stamp.filter(|known| stamp <= *known).map(|_| ())
    }

    /// A user our writer just wrote; the memberships known are still right.
    fn keep_written(&mut self, user: User) {
        if let Some(mut entry) = self.users.peek_mut(&user.id) {
            entry.user = user;
            return;
        }
        self.users.insert(
            user.id.clone(),
            Entry {
                user,
                memberships: None,
            },
        );
    }
}

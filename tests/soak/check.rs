//! After the load: every answered mutation is in the event log, nothing was written that was not answered,
//! and the projections equal a rebuild from the log (`phoneverify rebuild`, the real subcommand).

use std::collections::{BTreeMap, HashMap};
use std::process::Command;
use std::time::Duration;

use phoneverify::store::Store;

use super::load::Expected;

/// The event types that only a successful request of the soak writes.
const ANSWERED_TYPES: &[&str] = &[
    "user.human.added",
    "user.human.phone.changed",
    "user.human.phone.code.added",
    "user.human.phone.verified",
    "user.human.phone.removed",
];
const FAILED_GUESS: &str = "user.human.phone.verification.failed";

pub struct EventCheck {
    pub users: usize,
    pub events: usize,
}

pub async fn events_match(
    store: &dyn Store,
    users: &[String],
    expected: &[Expected],
    failed_guesses: u64,
) -> Result<EventCheck, String> {
    let mut by_user: HashMap<&str, Vec<&Expected>> = HashMap::new();
    for e in expected {
        by_user.entry(e.user.as_str()).or_default().push(e);
    }
    let (mut events_seen, mut guesses_seen, mut missing) = (0usize, 0u64, Vec::new());
    for user in users {
        let events = store.events(user).await.map_err(|e| e.to_string())?;
        events_seen += events.len();
        let by_seq: BTreeMap<i64, &str> = events
            .iter()
            .map(|e| (e.sequence, e.event_type.as_str()))
            .collect();
        let wanted = by_user.remove(user.as_str()).unwrap_or_default();
        for e in &wanted {
            if by_seq.get(&e.sequence) != Some(&e.event_type) {
                missing.push(format!(
                    "user {user}: answered {} at sequence {}, the log has {:?}",
                    e.event_type,
                    e.sequence,
                    by_seq.get(&e.sequence)
                ));
            }
        }
        let written = events
            .iter()
            .filter(|e| ANSWERED_TYPES.contains(&e.event_type.as_str()))
            .count();
        if written != wanted.len() {
            missing.push(format!(
                "user {user}: {written} events of answered kinds in the log, {} answered with success",
                wanted.len()
            ));
        }
        guesses_seen += events
            .iter()
            .filter(|e| e.event_type == FAILED_GUESS)
            .count() as u64;
    }
    if guesses_seen != failed_guesses {
        missing.push(format!(
            "{guesses_seen} failed guesses in the log, {failed_guesses} answered as wrong codes"
        ));
    }
    if let Some(user) = by_user.keys().next() {
        missing.push(format!(
            "answered mutations on user {user}, which no client reported"
        ));
    }
    if missing.is_empty() {
        Ok(EventCheck {
            users: users.len(),
            events: events_seen,
        })
    } else {
        missing.truncate(20);
        Err(missing.join("\n"))
    }
}

/// Projections as stored, `phoneverify rebuild`, projections again: they must be equal. Run with no server
/// writing, so any difference is the rebuild's.
pub async fn rebuild_changes_nothing(url: &str, rebuild: &mut Command) -> Result<usize, String> {
    let before = {
        let store = connect(url).await?;
        let p = store.projections().await.map_err(|e| e.to_string())?;
        store.close().await;
        p
    };
    let out = rebuild
        .output()
        .map_err(|e| format!("phoneverify rebuild: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "phoneverify rebuild failed: {}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    let store = connect(url).await?;
    let after = store.projections().await.map_err(|e| e.to_string())?;
    store.close().await;
    if before != after {
        return Err(format!(
            "the projections differ from a rebuild: {} users before, {} after ({})",
            before.users.len(),
            after.users.len(),
            first_difference(&before.users, &after.users)
        ));
    }
    Ok(after.users.len())
}

fn first_difference<T: std::fmt::Debug + PartialEq>(a: &[T], b: &[T]) -> String {
    a.iter()
        .zip(b)
        .find(|(x, y)| x != y)
        .map(|(x, y)| format!("first differing user row: {x:?} vs {y:?}"))
        .unwrap_or_else(|| "the users are equal; another projection differs".into())
}

async fn connect(url: &str) -> Result<std::sync::Arc<dyn Store>, String> {
    phoneverify::store::connect(url, 2, Duration::from_secs(10))
        .await
        .map_err(|e| format!("cannot open {url}: {e}"))
}

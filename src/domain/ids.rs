//! IDs: decimal strings of 64-bit, time-ordered numbers, as ZITADEL's (e.g. "69629023906488334"), and the
//! typed identifiers of users and organizations.

use std::sync::atomic::{AtomicU64, Ordering};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// An identifier with private contents: made by `parse` (caller input), by the generator, or read back from
/// storage (`from_stored`).
macro_rules! identifier {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            /// Caller input: surrounding whitespace is dropped; nothing left, or a control character (which
            /// no stored id holds and Postgres cannot even compare), is no identifier at all.
            pub fn parse(input: &str) -> Option<Self> {
                let trimmed = input.trim();
                (!trimmed.is_empty() && super::text::check_text(trimmed).is_ok())
                    .then(|| Self(trimmed.to_owned()))
            }

        }

        stored_text!($name);

        impl PartialEq<str> for $name {
            fn eq(&self, other: &str) -> bool {
                self.0 == other
            }
        }
    };
}

identifier!(
    /// A user (human or machine) of this installation.
    UserId
);
identifier!(
    /// An organization: the resource owner of its users.
    OrgId
);

/// Milliseconds are counted from 2020-01-01 so that 41 bits last until about 2089.
const EPOCH_MS: i64 = 1_577_836_800_000;
const NODE_BITS: u32 = 10;
const SEQUENCE_BITS: u32 = 12;

/// Makes unique, increasing IDs: 41 bits of milliseconds, 10 bits of a random per-process node number
/// (so processes sharing a database do not collide), 12 bits of counter.
#[derive(Debug)]
pub struct IdGenerator {
    node: u64,
    last: AtomicU64,
}

impl IdGenerator {
    pub fn new(node: u16) -> Self {
        Self {
            node: u64::from(node) & ((1 << NODE_BITS) - 1),
            last: AtomicU64::new(0),
        }
    }

    pub fn random_node() -> Self {
        Self::new(rand::random::<u16>())
    }

    pub fn next(&self, now: DateTime<Utc>) -> String {
        let ms = u64::try_from(now.timestamp_millis() - EPOCH_MS).unwrap_or(0);
        let floor = (ms << (NODE_BITS + SEQUENCE_BITS)) | (self.node << SEQUENCE_BITS);
        let mut prev = self.last.load(Ordering::Relaxed);
        loop {
            // Same millisecond (or a clock that went back): count up; the node bits stay as they are
            // unless 4096 IDs were made in one millisecond, which borrows from the next one.
            let candidate = if floor > prev { floor } else { prev + 1 };
            match self.last.compare_exchange_weak(
                prev,
                candidate,
                Ordering::Relaxed,
                Ordering::Relaxed,
            ) {
                Ok(_) => return candidate.to_string(),
                Err(actual) => prev = actual,
            }
        }
    }

    pub fn user_id(&self, now: DateTime<Utc>) -> UserId {
        UserId(self.next(now))
    }

    pub fn org_id(&self, now: DateTime<Utc>) -> OrgId {
        OrgId(self.next(now))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn ids_increase_and_are_unique_within_a_millisecond() {
        let g = IdGenerator::new(7);
        let t = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
        let ids: Vec<u64> = (0..5000).map(|_| g.next(t).parse().unwrap()).collect();
        assert!(ids.windows(2).all(|w| w[0] < w[1]));
        let later: u64 = g.next(t + chrono::Duration::seconds(1)).parse().unwrap();
        assert!(later > *ids.last().unwrap());
    }

    #[test]
    fn identifiers_are_trimmed_and_never_empty() {
        assert_eq!(UserId::parse(" 42 ").unwrap().as_str(), "42");
        assert_eq!(UserId::parse("   "), None);
        assert_eq!(OrgId::parse(""), None);
        assert_eq!(UserId::parse("4\u{0}2"), None);
        assert_eq!(OrgId::parse("4\u{1B}2"), None);
    }
}

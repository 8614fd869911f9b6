//! Given/when/then for the user rules: given the events so far, when a command is decided, then these events
//! (or this refusal), and the state they fold into. One scenario per test.

mod lifecycle;
mod phone;
mod verify;

use chrono::{DateTime, Duration, TimeZone, Utc};

use super::{HumanAdded, IssuedCode, User, UserEvent};
use crate::domain::DomainError;
use crate::domain::code::{CodeGuess, CodeHasher, PlainCode};
use crate::domain::events::EventMeta;
use crate::domain::ids::{OrgId, UserId};
use crate::domain::names::{Email, Username};
use crate::domain::phone::PhoneNumber;

pub(super) fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 5, 1, 12, 0, 0).unwrap()
}

pub(super) fn hasher() -> CodeHasher {
    CodeHasher::new(b"test-secret")
}

/// The events so far; the i-th is stamped t0 + i seconds with sequence i + 1.
pub(super) struct Given(Vec<UserEvent>);

pub(super) fn given(events: impl IntoIterator<Item = UserEvent>) -> Given {
    Given(events.into_iter().collect())
}

impl Given {
    pub fn user(&self) -> User {
        fold(&self.0).unwrap()
    }

    pub fn when<T>(self, decide: impl FnOnce(&User) -> T) -> Then<T> {
        let outcome = decide(&self.user());
        Then {
            history: self.0,
            outcome,
        }
    }
}

pub(super) struct Then<T> {
    history: Vec<UserEvent>,
    outcome: T,
}

impl Then<Result<Vec<UserEvent>, DomainError>> {
    pub fn then_events(self, expected: &[UserEvent]) -> Self {
        assert_eq!(self.outcome.as_deref(), Ok(expected));
        self
    }

    pub fn then_error(self, expected: DomainError) {
        assert_eq!(self.outcome, Err(expected));
    }

    /// The user once the decided events are folded in after the history.
    pub fn then_user(self) -> User {
        let mut all = self.history;
        all.extend(self.outcome.unwrap());
        fold(&all).unwrap()
    }
}

impl Then<(Vec<UserEvent>, Result<(), DomainError>)> {
    pub fn then_recorded(self, events: &[UserEvent], result: Result<(), DomainError>) {
        assert_eq!(self.outcome, (events.to_vec(), result));
    }
}

fn fold(events: &[UserEvent]) -> Option<User> {
    let id = UserId::from_stored("u1".into());
    let org = OrgId::from_stored("o1".into());
    let mut user = None;
    for (i, e) in events.iter().enumerate() {
        let meta = EventMeta {
            sequence: i as i64 + 1,
            created_at: t0() + Duration::seconds(i as i64),
        };
        user = User::apply(user, &id, &org, e, meta);
    }
    user
}

pub(super) fn added() -> UserEvent {
    UserEvent::HumanAdded(HumanAdded {
        user_name: Username::parse("ada").unwrap(),
        first_name: "Ada".into(),
        last_name: "Lovelace".into(),
        display_name: "Ada Lovelace".into(),
        nick_name: String::new(),
        preferred_language: "en".into(),
        email: Email::parse("ada@example.com").unwrap(),
        is_email_verified: true,
    })
}

pub(super) fn number() -> PhoneNumber {
    PhoneNumber::parse("+41 79 123 45 67").unwrap()
}

pub(super) fn phone_changed() -> UserEvent {
    UserEvent::PhoneChanged { phone: number() }
}

pub(super) fn issued(code: &str) -> IssuedCode {
    IssuedCode {
        hash: hasher().hash(&PlainCode::new(code.into())),
        expiry: Duration::minutes(10),
        returned: false,
    }
}

pub(super) fn returned(code: &str) -> IssuedCode {
    IssuedCode {
        returned: true,
        ..issued(code)
    }
}

pub(super) fn code_added(code: &str) -> UserEvent {
    issued(code).event()
}

pub(super) fn guess(code: &str) -> CodeGuess {
    CodeGuess::parse(code).unwrap()
}

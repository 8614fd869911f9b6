//! The user aggregate: its state (folded from its events in `fold`) and the rules decided on that state
//! (`phone` for the phone number and its codes, `lifecycle` for creating, deactivating and removing users).

mod credentials;
mod events;
mod fold;
mod lifecycle;
mod phone;
#[cfg(test)]
mod tests;

use chrono::{DateTime, Utc};

use super::DomainError;
use super::ids::{OrgId, UserId};
use super::names::{Email, Username};
use super::phone::PhoneNumber;

pub use credentials::{MachineCredentials, MachineKey};
pub use events::{CodeAdded, HumanAdded, MachineAdded, UserEvent};
pub use lifecycle::{HumanInput, MachineInput, pat_default_expiration};
pub use phone::{CodeTimes, Cooldown, IssuedCode, PhoneProof, ResendPrecondition};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UserState {
    Active,
    Inactive,
    Removed,
}

impl UserState {
    pub fn as_str(self) -> &'static str {
        match self {
            UserState::Active => "active",
            UserState::Inactive => "inactive",
            UserState::Removed => "removed",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "active" => Some(UserState::Active),
            "inactive" => Some(UserState::Inactive),
            "removed" => Some(UserState::Removed),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivery {
    /// Waiting for the delivery worker.
    Pending,
    Sent,
    Failed,
    /// Handed to the caller (`returnCode`); no SMS.
    Returned,
}

impl Delivery {
    pub fn as_str(self) -> &'static str {
        match self {
            Delivery::Pending => "pending",
            Delivery::Sent => "sent",
            Delivery::Failed => "failed",
            Delivery::Returned => "returned",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "pending" => Some(Delivery::Pending),
            "sent" => Some(Delivery::Sent),
            "failed" => Some(Delivery::Failed),
            "returned" => Some(Delivery::Returned),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingCode {
    /// Sequence of the `code.added` event: identifies this code (a resend makes a new one).
    pub sequence: i64,
    pub hash: String,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub attempts: u32,
    pub delivery: Delivery,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Phone {
    pub number: PhoneNumber,
    pub verified: bool,
    pub code: Option<PendingCode>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Human {
    pub given_name: String,
    pub family_name: String,
    pub display_name: String,
    pub nick_name: String,
    pub preferred_language: String,
    pub email: Email,
    pub email_verified: bool,
    pub phone: Option<Phone>,
    /// When a code was last sent by SMS (not returned): what the resend cooldown counts from.
    pub last_sms_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Machine {
    pub name: String,
    pub description: String,
}

// Nearly every user is a human, so boxing the larger variant would add an allocation to the common case.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UserKind {
    Human(Human),
    Machine(Machine),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub id: UserId,
    pub org_id: OrgId,
    pub username: Username,
    pub state: UserState,
    pub kind: UserKind,
    pub sequence: i64,
    pub created_at: DateTime<Utc>,
    pub changed_at: DateTime<Utc>,
}

impl User {
    pub fn human(&self) -> Option<&Human> {
        match &self.kind {
            UserKind::Human(h) => Some(h),
            UserKind::Machine(_) => None,
        }
    }

    pub fn phone(&self) -> Option<&Phone> {
        self.human().and_then(|h| h.phone.as_ref())
    }

    /// Whether this user may hold a token and call the API: only an active user can.
    pub fn can_authenticate(&self) -> bool {
        self.state == UserState::Active
    }

    /// The user as the phone rules see it: a human that was not removed. Anything else is "not found".
    pub fn live_human(&self) -> Result<&Human, DomainError> {
        match (&self.kind, self.state) {
            (_, UserState::Removed) => Err(DomainError::UserNotFound),
            (UserKind::Human(h), _) => Ok(h),
            (UserKind::Machine(_), _) => Err(DomainError::UserNotFound),
        }
    }

    /// The user as commands that are not about phones see it: anything not removed.
    fn live(&self) -> Result<(), DomainError> {
        if self.state == UserState::Removed {
            return Err(DomainError::UserNotFound);
        }
        Ok(())
    }
}

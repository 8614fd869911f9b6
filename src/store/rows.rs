//! Rows as the database holds them, and their conversion to and from domain types: the only place that
//! knows both. A row that does not convert is corrupt and an error, never a default.

use chrono::{DateTime, Utc};
use sqlx::FromRow;

use super::{InstanceInfo, PatRecord, SmsJob, StoreError};
use crate::domain::events::StoredEvent;
use crate::domain::ids::{OrgId, UserId};
use crate::domain::names::{Email, OrgName, Username};
use crate::domain::org::{Membership, Org, Scope};
use crate::domain::phone::PhoneNumber;
use crate::domain::user::{
    Delivery, Human, Machine, PendingCode, Phone, User, UserKind, UserState,
};

#[derive(Debug, FromRow)]
pub(crate) struct UserRow {
    pub id: String,
    pub org_id: String,
    pub username: String,
    pub state: String,
    pub kind: String,
    pub given_name: String,
    pub family_name: String,
    pub display_name: String,
    pub nick_name: String,
    pub preferred_language: String,
    pub email: String,
    pub email_verified: bool,
    pub machine_name: String,
    pub machine_description: String,
    pub phone: Option<String>,
    pub phone_verified: bool,
    pub code_sequence: Option<i64>,
    pub code_hash: Option<String>,
    pub code_created_at: Option<i64>,
    pub code_expires_at: Option<i64>,
    pub code_attempts: Option<i64>,
    pub code_delivery: Option<String>,
    pub sequence: i64,
    pub created_at: i64,
    pub changed_at: i64,
    pub last_sms_at: Option<i64>,
}

fn corrupt(column: &'static str) -> StoreError {
    StoreError::Corrupt(column)
}

pub(crate) fn micros(t: DateTime<Utc>) -> i64 {
    t.timestamp_micros()
}

/// A stored time; one out of range is a corrupt row, never a default date.
pub(crate) fn from_micros(us: i64, column: &'static str) -> Result<DateTime<Utc>, StoreError> {
    DateTime::<Utc>::from_timestamp_micros(us).ok_or(StoreError::Corrupt(column))
}

fn required<T>(value: Option<T>, column: &'static str) -> Result<T, StoreError> {
    value.ok_or(StoreError::Corrupt(column))
}

impl UserRow {
    pub fn into_user(self) -> Result<User, StoreError> {
        let state = UserState::parse(&self.state).ok_or_else(|| corrupt("users.state"))?;
        let kind = match self.kind.as_str() {
            "human" => {
                let code = match (self.code_sequence, self.code_hash) {
                    (Some(sequence), Some(hash)) => Some(PendingCode {
                        sequence,
                        hash,
                        created_at: from_micros(
                            required(self.code_created_at, "users.code_created_at")?,
                            "users.code_created_at",
                        )?,
                        expires_at: from_micros(
                            required(self.code_expires_at, "users.code_expires_at")?,
                            "users.code_expires_at",
                        )?,
                        attempts: u32::try_from(required(
                            self.code_attempts,
                            "users.code_attempts",
                        )?)
                        .map_err(|_| corrupt("users.code_attempts"))?,
                        delivery: self
                            .code_delivery
                            .as_deref()
                            .and_then(Delivery::parse)
                            .ok_or_else(|| corrupt("users.code_delivery"))?,
                    }),
                    _ => None,
                };
                UserKind::Human(Human {
                    given_name: self.given_name,
                    family_name: self.family_name,
                    display_name: self.display_name,
                    nick_name: self.nick_name,
                    preferred_language: self.preferred_language,
                    email: Email::from_stored(self.email),
                    email_verified: self.email_verified,
                    phone: self.phone.map(|number| Phone {
                        number: PhoneNumber::from_stored(number),
                        verified: self.phone_verified,
                        code,
                    }),
                    last_sms_at: self
                        .last_sms_at
                        .map(|t| from_micros(t, "users.last_sms_at"))
                        .transpose()?,
                })
            }
            "machine" => UserKind::Machine(Machine {
                name: self.machine_name,
                description: self.machine_description,
            }),
            _ => return Err(corrupt("users.kind")),
        };
        Ok(User {
            id: UserId::from_stored(self.id),
            org_id: OrgId::from_stored(self.org_id),
            username: Username::from_stored(self.username),
            state,
            kind,
            sequence: self.sequence,
            created_at: from_micros(self.created_at, "users.created_at")?,
            changed_at: from_micros(self.changed_at, "users.changed_at")?,
        })
    }

    pub fn from_user(u: &User) -> Self {
        let empty = String::new;
        let (human, machine) = match &u.kind {
            UserKind::Human(h) => (Some(h), None),
            UserKind::Machine(m) => (None, Some(m)),
        };
        let phone = human.and_then(|h| h.phone.as_ref());
        let code = phone.and_then(|p| p.code.as_ref());
        UserRow {
            id: u.id.as_str().to_owned(),
            org_id: u.org_id.as_str().to_owned(),
            username: u.username.as_str().to_owned(),
            state: u.state.as_str().to_owned(),
            kind: if human.is_some() { "human" } else { "machine" }.to_owned(),
            given_name: human.map_or_else(empty, |h| h.given_name.clone()),
            family_name: human.map_or_else(empty, |h| h.family_name.clone()),
            display_name: human.map_or_else(empty, |h| h.display_name.clone()),
            nick_name: human.map_or_else(empty, |h| h.nick_name.clone()),
            preferred_language: human.map_or_else(empty, |h| h.preferred_language.clone()),
            email: human.map_or_else(empty, |h| h.email.as_str().to_owned()),
            email_verified: human.is_some_and(|h| h.email_verified),
            machine_name: machine.map_or_else(empty, |m| m.name.clone()),
            machine_description: machine.map_or_else(empty, |m| m.description.clone()),
            phone: phone.map(|p| p.number.as_str().to_owned()),
            phone_verified: phone.is_some_and(|p| p.verified),
            code_sequence: code.map(|c| c.sequence),
            code_hash: code.map(|c| c.hash.clone()),
            code_created_at: code.map(|c| micros(c.created_at)),
            code_expires_at: code.map(|c| micros(c.expires_at)),
            code_attempts: code.map(|c| i64::from(c.attempts)),
            code_delivery: code.map(|c| c.delivery.as_str().to_owned()),
            sequence: u.sequence,
            created_at: micros(u.created_at),
            changed_at: micros(u.changed_at),
            last_sms_at: human.and_then(|h| h.last_sms_at).map(micros),
        }
    }
}

#[derive(Debug, FromRow)]
pub(crate) struct OrgRow {
    pub id: String,
    pub name: String,
    pub sequence: i64,
    pub created_at: i64,
    pub changed_at: i64,
}

impl OrgRow {
    pub fn into_org(self) -> Result<Org, StoreError> {
        Ok(Org {
            id: OrgId::from_stored(self.id),
            name: OrgName::from_stored(self.name),
            sequence: self.sequence,
            created_at: from_micros(self.created_at, "orgs.created_at")?,
            changed_at: from_micros(self.changed_at, "orgs.changed_at")?,
        })
    }
}

#[derive(Debug, FromRow)]
pub(crate) struct MembershipRow {
    pub user_id: String,
    pub scope: String,
    pub roles: String,
}

impl MembershipRow {
    pub fn into_membership(self) -> Result<Membership, StoreError> {
        Ok(Membership {
            user_id: UserId::from_stored(self.user_id),
            scope: Scope::from_key(&self.scope),
            roles: serde_json::from_str(&self.roles).map_err(|_| corrupt("memberships.roles"))?,
        })
    }
}

#[derive(Debug, FromRow)]
pub(crate) struct EventRow {
    pub position: i64,
    pub aggregate_type: String,
    pub aggregate_id: String,
    pub sequence: i64,
    pub event_type: String,
    pub payload: Option<String>,
    pub resource_owner: String,
    pub creator: String,
    pub created_at: i64,
}

impl EventRow {
    pub fn into_event(self) -> Result<StoredEvent, StoreError> {
        let payload = match self.payload {
            Some(p) => Some(serde_json::from_str(&p).map_err(|_| corrupt("events.payload"))?),
            None => None,
        };
        Ok(StoredEvent {
            position: self.position,
            aggregate_type: self.aggregate_type,
            aggregate_id: self.aggregate_id,
            sequence: self.sequence,
            event_type: self.event_type,
            payload,
            resource_owner: self.resource_owner,
            creator: self.creator,
            created_at: from_micros(self.created_at, "events.created_at")?,
        })
    }
}

#[derive(Debug, FromRow)]
pub(crate) struct JobRow {
    pub id: String,
    pub user_id: String,
    pub code_sequence: i64,
    pub phone: String,
    pub encrypted_code: String,
    pub language: String,
    pub attempts: i64,
    pub expires_at: i64,
    pub created_at: i64,
    pub locked_until: i64,
}

impl JobRow {
    pub fn into_job(self) -> Result<SmsJob, StoreError> {
        Ok(SmsJob {
            id: self.id,
            user_id: self.user_id,
            code_sequence: self.code_sequence,
            phone: self.phone,
            encrypted_code: self.encrypted_code,
            language: self.language,
            attempts: self.attempts,
            expires_at: from_micros(self.expires_at, "sms_jobs.expires_at")?,
            created_at: from_micros(self.created_at, "sms_jobs.created_at")?,
            lease_until: from_micros(self.locked_until, "sms_jobs.locked_until")?,
        })
    }
}

/// A personal access token row: (token_id, user_id, expires_at).
pub(crate) type PatRow = (String, String, i64);

pub(crate) fn into_pat((token_id, user_id, expires_at): PatRow) -> Result<PatRecord, StoreError> {
    Ok(PatRecord {
        token_id,
        user_id: UserId::from_stored(user_id),
        expires_at: from_micros(expires_at, "personal_access_tokens.expires_at")?,
    })
}

/// The instance row: (default_org_id, admin_user_id).
pub(crate) fn into_instance((org, admin): (String, String)) -> InstanceInfo {
    InstanceInfo {
        default_org_id: OrgId::from_stored(org),
        admin_user_id: UserId::from_stored(admin),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_out_of_range_time_is_a_corrupt_row() {
        assert!(matches!(
            from_micros(i64::MAX, "users.created_at"),
            Err(StoreError::Corrupt("users.created_at"))
        ));
        assert!(from_micros(0, "users.created_at").is_ok());
    }

    #[test]
    fn an_unknown_state_is_a_corrupt_row() {
        let mut row = UserRow::from_user(&User {
            id: UserId::from_stored("u".into()),
            org_id: OrgId::from_stored("o".into()),
            username: Username::from_stored("bot".into()),
            state: UserState::Active,
            kind: UserKind::Machine(Machine {
                name: "Bot".into(),
                description: String::new(),
            }),
            sequence: 1,
            created_at: DateTime::<Utc>::UNIX_EPOCH,
            changed_at: DateTime::<Utc>::UNIX_EPOCH,
        });
        row.state = "sleeping".into();
        assert!(matches!(
            row.into_user(),
            Err(StoreError::Corrupt("users.state"))
        ));
    }

    #[test]
    fn a_code_without_its_expiry_is_a_corrupt_row() {
        let mut row = UserRow::from_user(&User {
            id: UserId::from_stored("u".into()),
            org_id: OrgId::from_stored("o".into()),
            username: Username::from_stored("ada".into()),
            state: UserState::Active,
            kind: UserKind::Human(Human {
                given_name: "Ada".into(),
                family_name: "L".into(),
                display_name: "Ada L".into(),
                nick_name: String::new(),
                preferred_language: String::new(),
                email: Email::from_stored("a@b.ch".into()),
                email_verified: false,
                phone: Some(Phone {
                    number: PhoneNumber::from_stored("+41791234567".into()),
                    verified: false,
                    code: Some(PendingCode {
                        sequence: 3,
                        hash: "h".into(),
                        created_at: DateTime::<Utc>::UNIX_EPOCH,
                        expires_at: DateTime::<Utc>::UNIX_EPOCH,
                        attempts: 0,
                        delivery: Delivery::Pending,
                    }),
                }),
                last_sms_at: None,
            }),
            sequence: 3,
            created_at: DateTime::<Utc>::UNIX_EPOCH,
            changed_at: DateTime::<Utc>::UNIX_EPOCH,
        });
        row.code_expires_at = None;
        assert!(matches!(
            row.into_user(),
            Err(StoreError::Corrupt("users.code_expires_at"))
        ));
    }
}

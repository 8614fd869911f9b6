//! Rows as the tables hold them, and their conversions to and from domain types. Reading a row that does not
//! convert back is an error naming the column, never a default.

use crate::domain::ids::{OrgId, UserId};
use crate::domain::names::{Email, OrgName, Username};
use crate::domain::phone::PhoneNumber;
use chrono::{DateTime, Utc};
use sqlx::FromRow;

use super::{InstanceInfo, JobCounts, NewSmsJob, PatRecord, SmsJob, StoreError};
use crate::domain::events::StoredEvent;
use crate::domain::org::{Membership, Org, Scope};
use crate::domain::user::{
    Delivery, Human, Machine, PendingCode, Phone, User, UserKind, UserState,
};

/// Times are stored as microseconds since the Unix epoch.
pub(crate) fn micros(t: DateTime<Utc>) -> i64 {
    t.timestamp_micros()
}

pub(crate) fn from_micros(us: i64, column: &'static str) -> Result<DateTime<Utc>, StoreError> {
    DateTime::<Utc>::from_timestamp_micros(us).ok_or_else(|| StoreError::corrupt(column))
}

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

impl UserRow {
    pub fn into_user(self) -> Result<User, StoreError> {
        let state =
            UserState::parse(&self.state).ok_or_else(|| StoreError::corrupt("users.state"))?;
        let kind = match self.kind.as_str() {
            "human" => {
                let code = self.pending_code()?;
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
            _ => return Err(StoreError::corrupt("users.kind")),
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

    /// The code columns are written together: all set, or (no code) all empty.
    fn pending_code(&self) -> Result<Option<PendingCode>, StoreError> {
        let (Some(sequence), Some(hash)) = (self.code_sequence, &self.code_hash) else {
            return match (self.code_sequence, &self.code_hash) {
                (None, None) => Ok(None),
                (Some(_), None) => Err(StoreError::corrupt("users.code_hash")),
                _ => Err(StoreError::corrupt("users.code_sequence")),
            };
        };
        let required =
            |value: Option<i64>, column| value.ok_or_else(|| StoreError::corrupt(column));
        let created_at = required(self.code_created_at, "users.code_created_at")?;
        let expires_at = required(self.code_expires_at, "users.code_expires_at")?;
        let attempts = required(self.code_attempts, "users.code_attempts")?;
        Ok(Some(PendingCode {
            sequence,
            hash: hash.clone(),
            created_at: from_micros(created_at, "users.code_created_at")?,
            expires_at: from_micros(expires_at, "users.code_expires_at")?,
            attempts: u32::try_from(attempts)
                .map_err(|e| StoreError::corrupt_because("users.code_attempts", e))?,
            delivery: self
                .code_delivery
                .as_deref()
                .and_then(Delivery::parse)
                .ok_or_else(|| StoreError::corrupt("users.code_delivery"))?,
        }))
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
            id: u.id.to_string(),
            org_id: u.org_id.to_string(),
            username: u.username.to_string(),
            state: u.state.as_str().to_owned(),
            kind: if human.is_some() { "human" } else { "machine" }.to_owned(),
            given_name: human.map_or_else(empty, |h| h.given_name.clone()),
            family_name: human.map_or_else(empty, |h| h.family_name.clone()),
            display_name: human.map_or_else(empty, |h| h.display_name.clone()),
            nick_name: human.map_or_else(empty, |h| h.nick_name.clone()),
            preferred_language: human.map_or_else(empty, |h| h.preferred_language.clone()),
            email: human.map_or_else(empty, |h| h.email.to_string()),
            email_verified: human.is_some_and(|h| h.email_verified),
            machine_name: machine.map_or_else(empty, |m| m.name.clone()),
            machine_description: machine.map_or_else(empty, |m| m.description.clone()),
            phone: phone.map(|p| p.number.to_string()),
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

/// A user row joined with one of its memberships (both NULL when it has none).
#[derive(Debug, FromRow)]
pub(crate) struct UserMembershipRow {
    #[sqlx(flatten)]
    pub user: UserRow,
    pub membership_scope: Option<String>,
    pub membership_roles: Option<String>,
}

impl UserMembershipRow {
    /// A caller's rows (with memberships) apart from another user's, read together.
    pub fn fold_caller_and_user(
        rows: Vec<Self>,
        caller: &str,
    ) -> Result<super::CallerAndUser, StoreError> {
        let (callers, named): (Vec<Self>, Vec<Self>) =
            rows.into_iter().partition(|row| row.user.id == caller);
        let named = named.into_iter().next().map(|row| row.user.into_user());
        Ok((Self::fold(callers)?, named.transpose()?))
    }

    /// The user of the first row, and the memberships of all rows.
    pub fn fold(rows: Vec<Self>) -> Result<Option<(User, Vec<Membership>)>, StoreError> {
        let mut memberships = Vec::with_capacity(rows.len());
        let mut user = None;
        for row in rows {
            if let (Some(scope), Some(roles)) = (row.membership_scope, row.membership_roles) {
                memberships.push(
                    MembershipRow {
                        user_id: row.user.id.clone(),
                        scope,
                        roles,
                    }
                    .into_membership()?,
                );
            }
            if user.is_none() {
                user = Some(row.user.into_user()?);
            }
        }
        Ok(user.map(|u| (u, memberships)))
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
            roles: serde_json::from_str(&self.roles)
                .map_err(|e| StoreError::corrupt_because("memberships.roles", e))?,
        })
    }
}

/// Roles are stored as a JSON array.
pub(crate) fn roles_json(m: &Membership) -> Result<String, StoreError> {
    serde_json::to_string(&m.roles).map_err(|e| StoreError::Internal(Box::new(e)))
}

#[derive(Debug, FromRow)]
pub(crate) struct PatRow {
    pub token_id: String,
    pub user_id: String,
    pub expires_at: i64,
}

impl PatRow {
    pub fn into_pat(self) -> Result<PatRecord, StoreError> {
        Ok(PatRecord {
            token_id: self.token_id,
            user_id: UserId::from_stored(self.user_id),
            expires_at: from_micros(self.expires_at, "personal_access_tokens.expires_at")?,
        })
    }
}

#[derive(Debug, FromRow)]
pub(crate) struct InstanceRow {
    pub default_org_id: String,
    pub admin_user_id: String,
}

impl From<InstanceRow> for InstanceInfo {
    fn from(r: InstanceRow) -> Self {
        InstanceInfo {
            default_org_id: OrgId::from_stored(r.default_org_id),
            admin_user_id: UserId::from_stored(r.admin_user_id),
        }
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
            Some(p) => Some(
                serde_json::from_str(&p)
                    .map_err(|e| StoreError::corrupt_because("events.payload", e))?,
            ),
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
            queued: NewSmsJob {
                id: self.id,
                user_id: self.user_id,
                code_sequence: self.code_sequence,
                phone: self.phone,
                encrypted_code: self.encrypted_code,
                language: self.language,
                expires_at: from_micros(self.expires_at, "sms_jobs.expires_at")?,
                created_at: from_micros(self.created_at, "sms_jobs.created_at")?,
            },
            attempts: self.attempts,
            lease_until: from_micros(self.locked_until, "sms_jobs.locked_until")?,
        })
    }
}

/// `(state, count)` rows of `COUNT_JOBS_BY_STATE`.
pub(crate) fn job_counts(rows: Vec<(String, i64)>) -> Result<JobCounts, StoreError> {
    let mut counts = JobCounts::default();
    for (state, n) in rows {
        match state.as_str() {
            "pending" => counts.pending = n,
            "sent" => counts.sent = n,
            "failed" => counts.failed = n,
            "dropped" => counts.dropped = n,
            _ => return Err(StoreError::corrupt("sms_jobs.state")),
        }
    }
    Ok(counts)
}

#[cfg(test)]
#[path = "rows_tests.rs"]
mod tests;

//! A user's life: added as a human or a machine, tokens for machines, deactivated, reactivated, removed.

use chrono::{DateTime, Utc};

use super::{HumanAdded, MachineAdded, PhoneProof, User, UserEvent, UserKind, UserState};
use crate::domain::DomainError;
use crate::domain::names::{Email, Username};
use crate::domain::phone::PhoneNumber;

/// ZITADEL's expiration for a personal access token that names none: 9999-01-01T00:00:00Z.
const PAT_DEFAULT_EXPIRATION_UNIX_SECS: i64 = 253_370_764_800;

pub fn pat_default_expiration() -> DateTime<Utc> {
    DateTime::from_timestamp(PAT_DEFAULT_EXPIRATION_UNIX_SECS, 0)
        .unwrap_or(DateTime::<Utc>::MAX_UTC)
}

/// A person as a caller describes them, before any check.
#[derive(Debug, Clone, Default)]
pub struct HumanInput {
    /// Defaults to the email address.
    pub username: Option<String>,
    pub given_name: String,
    pub family_name: String,
    /// Defaults to "given family".
    pub display_name: Option<String>,
    pub nick_name: String,
    pub preferred_language: String,
    pub email: String,
    pub email_verified: bool,
}

/// A service account as a caller describes it, before any check.
#[derive(Debug, Clone, Default)]
pub struct MachineInput {
    pub username: String,
    pub name: String,
    pub description: String,
}

impl HumanInput {
    /// The checks in ZITADEL's order: email, username, given name, family name.
    pub fn validate(&self) -> Result<HumanAdded, DomainError> {
        let email = Email::parse(&self.email)?;
        let user_name = Username::parse(self.username.as_deref().unwrap_or(email.as_str()))?;
        let first_name = self.given_name.trim().to_owned();
        if first_name.is_empty() {
            return Err(DomainError::GivenNameMissing);
        }
        let last_name = self.family_name.trim().to_owned();
        if last_name.is_empty() {
            return Err(DomainError::FamilyNameMissing);
        }
        let display_name = self
            .display_name
            .clone()
            .filter(|d| !d.trim().is_empty())
            .unwrap_or_else(|| format!("{first_name} {last_name}"));
        Ok(HumanAdded {
            user_name,
            first_name,
            last_name,
            display_name,
            nick_name: self.nick_name.clone(),
            preferred_language: self.preferred_language.clone(),
            email,
            is_email_verified: self.email_verified,
        })
    }
}

impl MachineInput {
    pub fn validate(&self) -> Result<MachineAdded, DomainError> {
        let user_name = Username::parse(&self.username)?;
        let name = self.name.trim().to_owned();
        if name.is_empty() {
            return Err(DomainError::MachineNameMissing);
        }
        Ok(MachineAdded {
            user_name,
            name,
            description: self.description.clone(),
        })
    }
}

impl User {
    /// A new person's events, with a first number proven as `proof` says (no cooldown: no SMS came before).
    pub fn register_human(
        added: HumanAdded,
        phone: Option<(PhoneNumber, PhoneProof)>,
    ) -> Vec<UserEvent> {
        let mut events = vec![UserEvent::HumanAdded(added)];
        if let Some((number, proof)) = phone {
            events.push(UserEvent::PhoneChanged { phone: number });
            events.extend(proof.events());
        }
        events
    }

    /// A personal access token is for machine users (service accounts) only, and must not be born expired.
    pub fn add_personal_access_token(
        &self,
        token_id: &str,
        expiration: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<Vec<UserEvent>, DomainError> {
        self.live()?;
        if !matches!(self.kind, UserKind::Machine(_)) {
            return Err(DomainError::NotMachineUser);
        }
        if expiration <= now {
            return Err(DomainError::ExpirationInPast);
        }
        Ok(vec![UserEvent::PersonalAccessTokenAdded {
            token_id: token_id.to_owned(),
            expiration,
        }])
    }

    /// Only a token this user holds (`on_record`) can be removed.
    pub fn remove_personal_access_token(
        &self,
        token_id: &str,
        on_record: bool,
    ) -> Result<Vec<UserEvent>, DomainError> {
        if !on_record {
            return Err(DomainError::PatNotFound);
        }
        Ok(vec![UserEvent::PersonalAccessTokenRemoved {
            token_id: token_id.to_owned(),
        }])
    }

    pub fn deactivate(&self) -> Result<Vec<UserEvent>, DomainError> {
        self.live()?;
        if self.state == UserState::Inactive {
            return Err(DomainError::UserAlreadyInactive);
        }
        Ok(vec![UserEvent::Deactivated])
    }

    pub fn reactivate(&self) -> Result<Vec<UserEvent>, DomainError> {
        self.live()?;
        if self.state != UserState::Inactive {
            return Err(DomainError::UserNotInactive);
        }
        Ok(vec![UserEvent::Reactivated])
    }

    pub fn remove(&self) -> Result<Vec<UserEvent>, DomainError> {
        self.live()?;
        Ok(vec![UserEvent::Removed])
    }
}

//! Creating and managing users: enough of ZITADEL's user API to make the phone API usable.

use super::{Caller, PatChanges, Plan, Result, ServiceError, Services, Written};
use crate::domain::DomainError;
use crate::domain::code::PlainCode;
use crate::domain::permission::{USER_DELETE, USER_READ, USER_WRITE};
use crate::domain::phone::PhoneNumber;
use crate::domain::user::{
    HumanAdded, MachineAdded, User, UserEvent, UserState, validate_email, validate_username,
};
use crate::service::SetPhoneV2;

/// ZITADEL's expiration for a personal access token that names none: 9999-01-01T00:00:00Z.
const FOREVER_UNIX_SECS: i64 = 253_370_764_800;

fn forever() -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::from_timestamp(FOREVER_UNIX_SECS, 0)
        .unwrap_or(chrono::DateTime::<chrono::Utc>::MAX_UTC)
}

#[derive(Debug, Clone, Default)]
pub struct NewHuman {
    pub user_id: Option<String>,
    pub username: Option<String>,
    pub org_id: Option<String>,
    pub given_name: String,
    pub family_name: String,
    pub display_name: Option<String>,
    pub nick_name: String,
    pub preferred_language: String,
    pub email: String,
    pub email_verified: bool,
    pub phone: Option<NewHumanPhone>,
}

#[derive(Debug, Clone)]
pub struct NewHumanPhone {
    pub phone: String,
    pub mode: SetPhoneV2,
}

#[derive(Debug, Clone, Default)]
pub struct NewMachine {
    pub user_id: Option<String>,
    pub username: String,
    pub name: String,
    pub description: String,
}

impl Services {
    /// v2 AddHumanUser. Checks run in ZITADEL's order: the request's content, then permission, then uniqueness.
    pub async fn add_human(
        &self,
        caller: &Caller,
        org_header: Option<&str>,
        new: NewHuman,
    ) -> Result<(Written, Option<PlainCode>)> {
        let context_org = self.context_org(caller, org_header).await?;
        let org_id = match &new.org_id {
            Some(id) => {
                self.store
                    .org(id)
                    .await?
                    .ok_or(DomainError::OrgNotFound)?
                    .id
            }
            None => context_org,
        };
        if new.email.trim().is_empty() {
            return Err(DomainError::EmailEmpty.into());
        }
        let email = validate_email(&new.email)?;
        let username = validate_username(new.username.as_deref().unwrap_or(&email))?;
        let given_name = new.given_name.trim().to_owned();
        if given_name.is_empty() {
            return Err(DomainError::GivenNameMissing.into());
        }
        let family_name = new.family_name.trim().to_owned();
        if family_name.is_empty() {
            return Err(DomainError::FamilyNameMissing.into());
        }
        let phone = match &new.phone {
            Some(p) => Some((PhoneNumber::parse(&p.phone)?, p.mode)),
            None => None,
        };
        self.require(caller, USER_WRITE, &org_id).await?;
        let display_name = new
            .display_name
            .clone()
            .filter(|d| !d.trim().is_empty())
            .unwrap_or_else(|| format!("{given_name} {family_name}"));
        let mut events = vec![UserEvent::HumanAdded(HumanAdded {
            user_name: username.clone(),
            first_name: given_name,
            last_name: family_name,
            display_name,
            nick_name: new.nick_name.clone(),
            preferred_language: new.preferred_language.clone(),
            email,
            is_email_verified: new.email_verified,
        })];
        let mut sms = None;
        let mut returned = None;
        if let Some((number, mode)) = phone {
            events.push(UserEvent::PhoneChanged {
                phone: number.as_str().to_owned(),
            });
            match mode {
                SetPhoneV2::Verified => events.push(UserEvent::PhoneVerified),
                SetPhoneV2::SendCode | SetPhoneV2::ReturnCode => {
                    let (plain, issued) = self.issue_code(mode == SetPhoneV2::ReturnCode);
                    events.push(issued.event());
                    if mode == SetPhoneV2::ReturnCode {
                        returned = Some(plain);
                    } else {
                        sms = Some(plain);
                    }
                }
            }
        }
        if sms.is_some() {
            self.sms_available()?;
        }
        let plan = Plan {
            events,
            sms,
            pats: PatChanges::default(),
            outcome: Ok(()),
        };
        let chosen_id = new.user_id.as_deref();
        let written = self
            .create_user(chosen_id, &org_id, &caller.user_id, &username, &plan)
            .await?;
        Ok((written, returned))
    }

    /// management v1 AddMachineUser, in the context org.
    pub async fn add_machine(
        &self,
        caller: &Caller,
        org_header: Option<&str>,
        new: NewMachine,
    ) -> Result<Written> {
        let org_id = self.context_org(caller, org_header).await?;
        self.require(caller, USER_WRITE, &org_id).await?;
        let username = validate_username(&new.username)?;
        let name = new.name.trim().to_owned();
        if name.is_empty() {
            return Err(DomainError::MachineNameMissing.into());
        }
        let plan = Plan::ok(
            vec![UserEvent::MachineAdded(MachineAdded {
                user_name: username.clone(),
                name,
                description: new.description.clone(),
            })],
            (),
        );
        self.create_user(
            new.user_id.as_deref(),
            &org_id,
            &caller.user_id,
            &username,
            &plan,
        )
        .await
    }

    /// Commits a new user's first events under the caller's id (which must be free) or a generated one,
    /// checking the username again on every round, since another request may have taken it meanwhile.
    async fn create_user<T>(
        &self,
        chosen_id: Option<&str>,
        org_id: &str,
        creator: &str,
        username: &str,
        plan: &Plan<T>,
    ) -> Result<Written> {
        let chosen_id = chosen_id.map(str::trim).filter(|id| !id.is_empty());
        let mut user_id = match chosen_id {
            // Any aggregate's id counts (a user, an org, the instance): events are keyed by it.
            Some(id) if self.store.last_sequence(id).await? > 0 => {
                return Err(DomainError::UserIdTaken.into());
            }
            Some(id) => id.to_owned(),
            None => self.ids.next(self.clock.now()),
        };
        for attempt in 0..super::MAX_CONFLICT_RETRIES {
            if self.store.username_taken(username).await? {
                return Err(DomainError::UsernameTaken.into());
            }
            match self
                .commit_user(None, &user_id, org_id, creator, plan)
                .await
            {
                Ok(written) => return Ok(written),
                // The id or the username was taken meanwhile: the checks tell which.
                Err(ServiceError::Aborted) => {
                    if self.store.last_sequence(&user_id).await? > 0 {
                        // A caller-chosen id is gone; a generated one collided with another process's (their
                        // node bits are random) and is simply drawn again.
                        if chosen_id.is_some() {
                            return Err(DomainError::UserIdTaken.into());
                        }
                        user_id = self.ids.next(self.clock.now());
                    }
                    super::pause_after_conflict(attempt).await;
                }
                Err(e) => return Err(e),
            }
        }
        Err(ServiceError::Aborted)
    }

    /// management v1 AddPersonalAccessToken: a token for a machine user of the context org, valid until
    /// `expiration` (ZITADEL's default: the year 9999) unless it is removed first.
    pub async fn add_personal_access_token(
        &self,
        caller: &Caller,
        org_header: Option<&str>,
        user_id: &str,
        expiration: Option<chrono::DateTime<chrono::Utc>>,
    ) -> Result<(Written, String, String)> {
        let org_id = self.context_org(caller, org_header).await?;
        self.require(caller, USER_WRITE, &org_id).await?;
        // The token carries the machine user's roles: minting it must not lend the caller more than it has.
        self.require_covering(caller, user_id, USER_WRITE).await?;
        let now = self.clock.now();
        let expiration = expiration.unwrap_or_else(forever);
        let (written, token_id) = self
            .update_user(user_id, &caller.user_id, None, |user| {
                if user.org_id != org_id {
                    return Err(DomainError::UserNotFound.into());
                }
                // Drawn per attempt: an id that collided with another process's is not reused.
                let token_id = self.ids.next(now);
                let events = user.add_personal_access_token(&token_id, expiration, now)?;
                let mut plan = Plan::ok(events, token_id.clone());
                plan.pats.added.push(crate::store::PatRecord {
                    token_id,
                    user_id: user.id.clone(),
                    expires_at: expiration,
                });
                Ok(plan)
            })
            .await?;
        let token = self
            .tokens
            .mint_personal(user_id, &token_id, now, expiration)?;
        Ok((written, token_id, token))
    }

    /// management v1 RemovePersonalAccessToken: the token stops authenticating at once.
    pub async fn remove_personal_access_token(
        &self,
        caller: &Caller,
        org_header: Option<&str>,
        user_id: &str,
        token_id: &str,
    ) -> Result<Written> {
        let org_id = self.context_org(caller, org_header).await?;
        self.require(caller, USER_WRITE, &org_id).await?;
        let on_record = self
            .store
            .pat(token_id)
            .await?
            .filter(|p| p.user_id == user_id);
        let (written, ()) = self
            .update_user(user_id, &caller.user_id, None, |user| {
                if user.org_id != org_id || on_record.is_none() {
                    return Err(DomainError::PatNotFound.into());
                }
                let event = UserEvent::PersonalAccessTokenRemoved {
                    token_id: token_id.to_owned(),
                };
                let mut plan = Plan::ok(vec![event], ());
                plan.pats.removed.push(token_id.to_owned());
                Ok(plan)
            })
            .await
            .map_err(|e| match e {
                ServiceError::Domain(DomainError::UserNotFound) => DomainError::PatNotFound.into(),
                other => other,
            })?;
        Ok(written)
    }

    /// A user that exists and was not removed; what the reads and v2 user commands act on.
    async fn existing_user(&self, user_id: &str) -> Result<User> {
        self.store
            .user(user_id)
            .await?
            .filter(|u| u.state != UserState::Removed)
            .ok_or_else(|| DomainError::UserNotFound.into())
    }

    pub async fn get_user(
        &self,
        caller: &Caller,
        org_header: Option<&str>,
        user_id: &str,
    ) -> Result<User> {
        self.context_org(caller, org_header).await?;
        let user = self.existing_user(user_id).await?;
        self.require_unless_self(caller, &user, USER_READ).await?;
        Ok(user)
    }

    pub async fn me(&self, caller: &Caller) -> Result<User> {
        self.existing_user(&caller.user_id).await
    }

    async fn user_lifecycle(
        &self,
        caller: &Caller,
        org_header: Option<&str>,
        user_id: &str,
        permission: &str,
        decide: impl Fn(&User) -> std::result::Result<Vec<UserEvent>, DomainError>,
    ) -> Result<Written> {
        self.context_org(caller, org_header).await?;
        let user = self.existing_user(user_id).await?;
        self.require_unless_self(caller, &user, permission).await?;
        if caller.user_id != user.id {
            self.require_covering(caller, &user.id, permission).await?;
        }
        let (written, ()) = self
            .update_user(user_id, &caller.user_id, Some(user), |u| {
                Ok(Plan::ok(decide(u)?, ()))
            })
            .await?;
        Ok(written)
    }

    pub async fn deactivate_user(
        &self,
        caller: &Caller,
        org_header: Option<&str>,
        user_id: &str,
    ) -> Result<Written> {
        self.user_lifecycle(caller, org_header, user_id, USER_WRITE, User::deactivate)
            .await
    }

    pub async fn reactivate_user(
        &self,
        caller: &Caller,
        org_header: Option<&str>,
        user_id: &str,
    ) -> Result<Written> {
        self.user_lifecycle(caller, org_header, user_id, USER_WRITE, User::reactivate)
            .await
    }

    pub async fn delete_user(
        &self,
        caller: &Caller,
        org_header: Option<&str>,
        user_id: &str,
    ) -> Result<Written> {
        self.user_lifecycle(caller, org_header, user_id, USER_DELETE, User::remove)
            .await
    }
}

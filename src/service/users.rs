//! Creating and managing users: enough of ZITADEL's user API to make the phone API usable.

use super::phone::CodeDelivery;
use super::write::Decision;
use super::{Caller, Result, Services, SetPhoneV2, Written};
use crate::domain::DomainError;
use crate::domain::code::PlainCode;
use crate::domain::ids::{OrgId, UserId};
use crate::domain::names::Username;
use crate::domain::permission::{USER_DELETE, USER_READ, USER_WRITE};
use crate::domain::user::{
    HumanInput, MachineInput, User, UserEvent, UserState, pat_default_expiration,
};

#[derive(Debug, Clone, Default)]
pub struct NewHuman {
    pub user_id: Option<String>,
    pub org_id: Option<String>,
    pub profile: HumanInput,
    pub phone: Option<NewHumanPhone>,
}

#[derive(Debug, Clone)]
pub struct NewHumanPhone {
    pub phone: String,
    pub mode: SetPhoneV2,
}

/// What a v2 lifecycle call does to a user.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StateChange {
    Deactivate,
    Reactivate,
    Delete,
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
                let id = OrgId::parse(id).ok_or(DomainError::OrgNotFound)?;
                self.store
                    .org(&id)
                    .await?
                    .ok_or(DomainError::OrgNotFound)?
                    .id
            }
            None => context_org,
        };
        let added = new.profile.validate()?;
        let phone = match &new.phone {
            Some(p) => Some((self.sms_number(&p.phone)?, p.mode)),
            None => None,
        };
        self.require(caller, USER_WRITE, &org_id).await?;
        let (phone, delivery) = match phone {
            Some((number, mode)) => {
                let (proof, delivery) = self.phone_proof(mode, Some(&number));
                (Some((number, proof)), delivery)
            }
            None => (None, CodeDelivery::default()),
        };
        if delivery.sms.is_some() {
            self.sms_available()?;
        }
        let username = added.user_name.clone();
        let events = User::register_human(added, phone);
        let written = self
            .create_user(
                caller,
                new.user_id.as_deref(),
                &org_id,
                &username,
                events,
                delivery.sms,
            )
            .await?;
        let returned = delivery.returned;
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
        let added = MachineInput {
            username: new.username,
            name: new.name,
            description: new.description,
        }
        .validate()?;
        let username = added.user_name.clone();
        let events = vec![UserEvent::MachineAdded(added)];
        self.create_user(
            caller,
            new.user_id.as_deref(),
            &org_id,
            &username,
            events,
            None,
        )
        .await
    }

    /// Commits a new user's first events under the caller's id (which must be free) or a generated one,
    /// checking the username again on every round, since another request may have taken it meanwhile.
    async fn create_user(
        &self,
        caller: &Caller,
        chosen_id: Option<&str>,
        org_id: &OrgId,
        username: &Username,
        events: Vec<UserEvent>,
        sms: Option<PlainCode>,
    ) -> Result<Written> {
        let chosen_id = &chosen_id.and_then(UserId::parse);
        let (events, sms) = (&events, &sms);
        let committed = self
            .execute(caller.user_id.as_str(), move || async move {
                // Any aggregate's id counts (a user, an org, the instance): events are keyed by it. A generated
                // id is drawn anew each round, in case it collided with another process's.
                let user_id = match &chosen_id {
                    Some(id) if self.store.last_sequence(id.as_str()).await? > 0 => {
                        return Err(DomainError::UserIdTaken.into());
                    }
                    Some(id) => id.clone(),
                    None => self.ids.user_id(self.clock.now()),
                };
                if self.store.username_taken(username.as_str()).await? {
                    return Err(DomainError::UsernameTaken.into());
                }
                let decision =
                    Decision::new_user(&user_id, org_id, events.clone(), user_id.clone());
                Ok(match &sms {
                    Some(code) => decision.send_sms(&user_id, code.clone()),
                    None => decision,
                })
            })
            .await?;
        Ok(Written {
            user: committed.user(&committed.value)?,
            created: true,
        })
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
        let user_id = UserId::parse(user_id).ok_or(DomainError::UserNotFound)?;
        // The token carries the machine user's roles: minting it must not lend the caller more than it has.
        self.require_covering(caller, &user_id, USER_WRITE).await?;
        let now = self.clock.now();
        let expiration = expiration.unwrap_or_else(pat_default_expiration);
        let (user_id, org_id) = (&user_id, &org_id);
        let committed = self
            .execute(caller.user_id.as_str(), move || async move {
                let user = self.user_in(user_id, org_id).await?;
                // Drawn per round: an id that collided with another process's is not reused.
                let token_id = self.ids.next(now);
                let events = user.add_personal_access_token(&token_id, expiration, now)?;
                Ok(Decision::on_user(&user, events, token_id))
            })
            .await?;
        let token_id = committed.value.clone();
        let token = self
            .tokens
            .mint_personal(user_id.as_str(), &token_id, now, expiration)?;
        let written = Written {
            user: committed.user(user_id)?,
            created: false,
        };
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
        let user_id = UserId::parse(user_id).ok_or(DomainError::PatNotFound)?;
        let on_record = self
            .store
            .pat(token_id)
            .await?
            .is_some_and(|p| p.user_id == user_id);
        let (user_id, org_id) = (&user_id, &org_id);
        let committed = self
            .execute(caller.user_id.as_str(), move || async move {
                let user = self
                    .user_in(user_id, org_id)
                    .await
                    .map_err(|_| DomainError::PatNotFound)?;
                let events = user.remove_personal_access_token(token_id, on_record)?;
                Ok(Decision::on_user(&user, events, ()))
            })
            .await?;
        Ok(Written {
            user: committed.user(user_id)?,
            created: false,
        })
    }

    /// A user of `org_id` in any state; one of another org is "not found".
    pub(crate) async fn user_in(&self, user_id: &UserId, org_id: &OrgId) -> Result<User> {
        match self.store.user(user_id).await? {
            Some(user) if user.org_id == *org_id => Ok(user),
            _ => Err(DomainError::UserNotFound.into()),
        }
    }

    /// A user that exists and was not removed; what the reads and v2 user commands act on.
    async fn existing_user(&self, caller: &Caller, user_id: &str) -> Result<User> {
        let user = self.user_for(caller, user_id).await?;
        if user.state == UserState::Removed {
            return Err(DomainError::UserNotFound.into());
        }
        Ok(user)
    }

    pub async fn get_user(
        &self,
        caller: &Caller,
        org_header: Option<&str>,
        user_id: &str,
    ) -> Result<User> {
        self.context_org(caller, org_header).await?;
        let user = self.existing_user(caller, user_id).await?;
        self.require_unless_self(caller, &user, USER_READ).await?;
        Ok(user)
    }

    pub async fn me(&self, caller: &Caller) -> Result<User> {
        self.existing_user(caller, caller.user_id.as_str()).await
    }

    async fn user_lifecycle(
        &self,
        caller: &Caller,
        org_header: Option<&str>,
        user_id: &str,
        permission: &str,
        removes_access: bool,
        decide: impl Fn(&User) -> std::result::Result<Vec<UserEvent>, DomainError>,
    ) -> Result<Written> {
        self.context_org(caller, org_header).await?;
        let checked = self.existing_user(caller, user_id).await?;
        self.require_unless_self(caller, &checked, permission)
            .await?;
        if caller.user_id != checked.id {
            self.require_covering(caller, &checked.id, permission)
                .await?;
        }
        if removes_access {
            self.keep_an_instance_owner(&checked.id).await?;
        }
        let id = checked.id.clone();
        let (user, ()) = self
            .execute_on_user(caller.user_id.as_str(), &id, None, Some(checked), |user| {
                Ok(Decision::on_user(user, decide(user)?, ()))
            })
            .await?;
        Ok(Written {
            user,
            created: false,
        })
    }

    /// v2 DeactivateUser, ReactivateUser and DeleteUser.
    pub async fn change_user_state(
        &self,
        caller: &Caller,
        org_header: Option<&str>,
        user_id: &str,
        change: StateChange,
    ) -> Result<Written> {
        let (permission, decide): (_, fn(&User) -> std::result::Result<_, _>) = match change {
            StateChange::Deactivate => (USER_WRITE, User::deactivate),
            StateChange::Reactivate => (USER_WRITE, User::reactivate),
            StateChange::Delete => (USER_DELETE, User::remove),
        };
        let removes_access = !matches!(change, StateChange::Reactivate);
        self.user_lifecycle(
            caller,
            org_header,
            user_id,
            permission,
            removes_access,
            decide,
        )
        .await
    }
}

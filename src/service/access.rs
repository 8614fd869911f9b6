//! Who the caller is and what it may do: authentication of bearer tokens, the org a call acts in, and the
//! permission checks every command runs before it decides.

use super::{AuthFailure, Caller, Result, ServiceError, Services};
use crate::domain::ids::{OrgId, UserId};
use crate::domain::user::User;
use crate::domain::{DomainError, permission};

impl Caller {
    /// The row authentication read for `user_id`, if it read one: the caller's own, or the user its request
    /// named.
    pub(crate) fn row_of(&self, user_id: &str) -> Option<&User> {
        if self.user_id == *user_id {
            return Some(&self.row);
        }
        self.named.as_ref().filter(|u| u.id == *user_id)
    }
}

impl Services {
    /// Resolves a bearer token to its user, who must exist and be active. `named` is the id of the user the
    /// request acts on, when its path names one: read in the same lookup as the caller, where the store can.
    pub async fn authenticate(
        &self,
        authorization: Option<&str>,
        named: Option<&str>,
    ) -> Result<Caller> {
        let header =
            authorization.ok_or(ServiceError::Unauthenticated(AuthFailure::HeaderMissing))?;
        let token = header
            .strip_prefix("Bearer ")
            .ok_or(ServiceError::Unauthenticated(AuthFailure::InvalidHeader))?;
        let verified = self
            .tokens
            .verify_any(token.trim(), self.clock.now())
            .await?;
        let not_active =
            || ServiceError::Unauthenticated(AuthFailure::UserNotActive(verified.user_id.clone()));
        let user_id = UserId::parse(&verified.user_id).ok_or_else(not_active)?;
        if verified.personal {
            let on_record = self.store.pat(&verified.token_id).await?;
            if on_record.is_none_or(|p| p.user_id != user_id) {
                return Err(ServiceError::Unauthenticated(AuthFailure::PatRemoved(
                    verified.token_id,
                )));
            }
        }
        let named = named
            .and_then(UserId::parse)
            .filter(|named| *named != user_id);
        let (found, named) = match named {
            Some(named) => self.store.caller_and_user(&user_id, &named).await?,
            None => (self.store.user_with_memberships(&user_id).await?, None),
        };
        match found {
            Some((user, memberships)) if user.can_authenticate() => Ok(Caller {
                user_id: user.id.clone(),
                org_id: user.org_id.clone(),
                memberships,
                row: user,
                named,
            }),
            _ => Err(not_active()),
        }
    }

    /// A user by id: the caller's own row when it asks about itself, or the user its request named (both read
    /// moments ago, when it authenticated).
    pub(crate) async fn user_for(&self, caller: &Caller, user_id: &str) -> Result<User> {
        if let Some(read) = caller.row_of(user_id) {
            return Ok(read.clone());
        }
        self.load_user(user_id).await
    }

    /// The org a call acts in: the one named by `x-zitadel-orgid` (which must exist), else the caller's own.
    pub async fn context_org(&self, caller: &Caller, header: Option<&str>) -> Result<OrgId> {
        let Some(header) = header else {
            return Ok(caller.org_id.clone());
        };
        let id = OrgId::parse(header).ok_or(ServiceError::OrgFromHeaderNotFound)?;
        match self.store.org(&id).await? {
            Some(org) => Ok(org.id),
            None => Err(ServiceError::OrgFromHeaderNotFound),
        }
    }

    pub(crate) async fn require(
        &self,
        caller: &Caller,
        permission: &str,
        org_id: &OrgId,
    ) -> Result<()> {
        granted(self.roles.allows(&caller.memberships, permission, org_id))
    }

    pub(crate) async fn require_instance_wide(
        &self,
        caller: &Caller,
        permission: &str,
    ) -> Result<()> {
        granted(
            self.roles
                .allows_instance_wide(&caller.memberships, permission),
        )
    }

    /// Acting on a user that holds roles (deleting it, minting its tokens) needs `permission` in each scope it
    /// holds them in, and the power to grant those roles, so that a user manager cannot take over or lock out
    /// an administrator above it.
    pub(crate) async fn require_covering(
        &self,
        caller: &Caller,
        target_id: &UserId,
        permission: &str,
    ) -> Result<()> {
        let target = self.store.memberships(target_id).await?;
        if target.is_empty() {
            return Ok(());
        }
        granted(
            self.roles.covers(&caller.memberships, &target, permission)
                && self.roles.could_grant(&caller.memberships, &target),
        )
    }

    /// Deactivating or deleting `leaving` must leave an active instance owner, or no one could administer
    /// the instance any more.
    pub(crate) async fn keep_an_instance_owner(&self, leaving: &UserId) -> Result<()> {
        let members = self.store.active_instance_members().await?;
        let is_owner = members.iter().any(|m| {
            &m.user_id == leaving && m.roles.iter().any(|r| r == permission::INSTANCE_OWNER)
        });
        if is_owner && !permission::another_owner_remains(&members, leaving) {
            return Err(DomainError::LastInstanceOwner.into());
        }
        Ok(())
    }

    /// Self-service needs no permission; acting on someone else needs `permission` in their org.
    pub(crate) async fn require_unless_self(
        &self,
        caller: &Caller,
        user: &User,
        permission: &str,
    ) -> Result<()> {
        if caller.user_id == user.id {
            return Ok(());
        }
        self.require(caller, permission, &user.org_id).await
    }
}

fn granted(allowed: bool) -> Result<()> {
    if allowed {
        Ok(())
    } else {
        Err(DomainError::PermissionDenied.into())
    }
}

//! Organizations and memberships.

use super::{Caller, Result, ServiceError, Services, envelope};
use crate::domain::DomainError;
use crate::domain::events::{AGGREGATE_INSTANCE, AGGREGATE_ORG, EventMeta, INSTANCE_ID};
use crate::domain::org::{
    InstanceEvent, Membership, Org, OrgEvent, Scope, validate_org_name, validate_roles,
};
use crate::domain::permission::{IAM_MEMBER_WRITE, ORG_CREATE, ORG_MEMBER_WRITE};
use crate::store::Commit;

/// The role a new org's admin gets when the request names none.
const DEFAULT_ORG_ADMIN_ROLE: &str = "ORG_OWNER";

#[derive(Debug, Clone)]
pub struct NewOrgAdmin {
    pub user_id: String,
    pub roles: Vec<String>,
}

impl Services {
    /// v2 AddOrganization: the org and its admins' memberships, in one commit.
    pub async fn add_org(
        &self,
        caller: &Caller,
        org_header: Option<&str>,
        name: &str,
        admins: &[NewOrgAdmin],
    ) -> Result<Org> {
        self.context_org(caller, org_header).await?;
        self.require_instance_wide(caller, ORG_CREATE).await?;
        let name = validate_org_name(name)?;
        let now = self.clock.now();
        let org_id = self.ids.next(now);
        let scope = Scope::Org(org_id.clone());
        let mut org_events = vec![OrgEvent::Added { name: name.clone() }];
        let mut memberships = Vec::new();
        for admin in admins {
            let roles = if admin.roles.is_empty() {
                vec![DEFAULT_ORG_ADMIN_ROLE.to_owned()]
            } else {
                admin.roles.clone()
            };
            let roles = validate_roles(&roles, &scope, |r| self.roles.is_known_role(r))?;
            self.member_candidate(&admin.user_id).await?;
            org_events.push(OrgEvent::MemberAdded {
                user_id: admin.user_id.clone(),
                roles: roles.clone(),
            });
            memberships.push(Membership {
                user_id: admin.user_id.clone(),
                scope: scope.clone(),
                roles,
            });
        }
        if self.store.org_name_taken(&name).await? {
            return Err(DomainError::OrgNameTaken.into());
        }
        let (org, events) = self.fold_org(None, &org_id, &org_events, &caller.user_id, now)?;
        let commit = Commit {
            events,
            orgs: vec![org.clone()],
            memberships,
            ..Commit::default()
        };
        match self.store.commit(commit).await {
            Ok(()) => Ok(org),
            // The only unique key a new org can collide on is its name.
            Err(crate::store::StoreError::Conflict) => Err(DomainError::OrgNameTaken.into()),
            Err(e) => Err(e.into()),
        }
    }

    /// A user that can become a member: it exists (in any org) and was not removed.
    async fn member_candidate(&self, user_id: &str) -> Result<()> {
        match self.store.user(user_id).await? {
            Some(u) if u.state != crate::domain::user::UserState::Removed => Ok(()),
            _ => Err(DomainError::UserNotFound.into()),
        }
    }

    fn fold_org(
        &self,
        org: Option<Org>,
        org_id: &str,
        events: &[OrgEvent],
        creator: &str,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<(Org, Vec<crate::domain::events::NewEvent>)> {
        let mut sequence = org.as_ref().map_or(0, |o| o.sequence);
        let mut state = org;
        let mut out = Vec::new();
        for e in events {
            sequence += 1;
            state = Org::apply(
                state,
                org_id,
                e,
                EventMeta {
                    sequence,
                    created_at: now,
                },
            );
            out.push(envelope(
                (AGGREGATE_ORG, org_id),
                sequence,
                e,
                org_id,
                creator,
                now,
            )?);
        }
        let org = state.ok_or_else(|| ServiceError::Internal("org events without org".into()))?;
        Ok((org, out))
    }

    /// management v1 AddOrgMember, in the context org.
    pub async fn add_org_member(
        &self,
        caller: &Caller,
        org_header: Option<&str>,
        user_id: &str,
        roles: &[String],
    ) -> Result<Org> {
        let org_id = self.context_org(caller, org_header).await?;
        self.require(caller, ORG_MEMBER_WRITE, &org_id).await?;
        if roles.is_empty() {
            return Err(DomainError::RolesMissing.into());
        }
        let scope = Scope::Org(org_id.clone());
        let roles = validate_roles(roles, &scope, |r| self.roles.is_known_role(r))?;
        self.member_candidate(user_id).await?;
        for attempt in 0..super::MAX_CONFLICT_RETRIES {
            if self
                .store
                .memberships(user_id)
                .await?
                .iter()
                .any(|m| m.scope == scope)
            {
                return Err(DomainError::MemberAlreadyExists.into());
            }
            let org = self
                .store
                .org(&org_id)
                .await?
                .ok_or(DomainError::OrgNotFound)?;
            let now = self.clock.now();
            let event = OrgEvent::MemberAdded {
                user_id: user_id.to_owned(),
                roles: roles.clone(),
            };
            let (org, events) =
                self.fold_org(Some(org), &org_id, &[event], &caller.user_id, now)?;
            let membership = Membership {
                user_id: user_id.to_owned(),
                scope: scope.clone(),
                roles: roles.clone(),
            };
            let commit = Commit {
                events,
                orgs: vec![org.clone()],
                memberships: vec![membership],
                ..Commit::default()
            };
            match self.store.commit(commit).await {
                Ok(()) => return Ok(org),
                Err(crate::store::StoreError::Conflict) => {
                    super::pause_after_conflict(attempt).await
                }
                Err(e) => return Err(e.into()),
            }
        }
        Err(ServiceError::Aborted)
    }

    /// admin v1 AddIAMMember. Returns the instance aggregate's new sequence and the time of the change.
    pub async fn add_iam_member(
        &self,
        caller: &Caller,
        user_id: &str,
        roles: &[String],
    ) -> Result<(i64, chrono::DateTime<chrono::Utc>)> {
        self.require_instance_wide(caller, IAM_MEMBER_WRITE).await?;
        let roles = validate_roles(roles, &Scope::Iam, |r| self.roles.is_known_role(r))?;
        self.member_candidate(user_id).await?;
        for attempt in 0..super::MAX_CONFLICT_RETRIES {
            if self
                .store
                .memberships(user_id)
                .await?
                .iter()
                .any(|m| m.scope == Scope::Iam)
            {
                return Err(DomainError::MemberAlreadyExists.into());
            }
            let sequence = self.store.last_sequence(INSTANCE_ID).await? + 1;
            let now = self.clock.now();
            let event = InstanceEvent::MemberAdded {
                user_id: user_id.to_owned(),
                roles: roles.clone(),
            };
            let commit = Commit {
                events: vec![envelope(
                    (AGGREGATE_INSTANCE, INSTANCE_ID),
                    sequence,
                    &event,
                    INSTANCE_ID,
                    &caller.user_id,
                    now,
                )?],
                memberships: vec![Membership {
                    user_id: user_id.to_owned(),
                    scope: Scope::Iam,
                    roles: roles.clone(),
                }],
                ..Commit::default()
            };
            match self.store.commit(commit).await {
                Ok(()) => return Ok((sequence, now)),
                Err(crate::store::StoreError::Conflict) => {
                    super::pause_after_conflict(attempt).await
                }
                Err(e) => return Err(e.into()),
            }
        }
        Err(ServiceError::Aborted)
    }
}

//! Organizations and memberships.

use super::write::{Change, Decision};
use super::{Caller, Result, Services};
use crate::domain::DomainError;
use crate::domain::aggregate::{AggregateRef, DomainEvent};
use crate::domain::events::INSTANCE_ID;
use crate::domain::ids::UserId;
use crate::domain::names::OrgName;
use crate::domain::org::{
    InstanceEvent, Org, OrgEvent, RoleLevel, Scope, check_not_member, org_admin_roles,
    validate_roles,
};
use crate::domain::permission::{IAM_MEMBER_WRITE, ORG_CREATE, ORG_MEMBER_WRITE};
use crate::domain::user::UserState;

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
        let name = OrgName::parse(name)?;
        let mut members = Vec::new();
        for admin in admins {
            let roles = org_admin_roles(&admin.roles);
            let roles = validate_roles(&roles, RoleLevel::Org, |r| self.roles.is_known_role(r))?;
            members.push((self.member_candidate(&admin.user_id).await?, roles));
        }
        let (name, members) = (&name, &members);
        let committed = self
            .execute(caller.user_id.as_str(), move || async move {
                if self.store.org_name_taken(name.as_str()).await? {
                    return Err(DomainError::OrgNameTaken.into());
                }
                // Drawn per round: an id that collided with another process's is not reused.
                let org_id = self.ids.org_id(self.clock.now());
                let mut events = vec![DomainEvent::Org(OrgEvent::Added { name: name.clone() })];
                events.extend(members.iter().map(|(user_id, roles)| {
                    DomainEvent::Org(OrgEvent::MemberAdded {
                        user_id: user_id.clone(),
                        roles: roles.clone(),
                    })
                }));
                Ok(Decision::on_org(&org_id, None, events, org_id.clone()))
            })
            .await?;
        committed.org(&committed.value)
    }

    /// A user that can become a member: it exists (in any org) and was not removed.
    async fn member_candidate(&self, user_id: &str) -> Result<UserId> {
        match self.load_user(user_id).await {
            Ok(u) if u.state != UserState::Removed => Ok(u.id),
            Ok(_) => Err(DomainError::UserNotFound.into()),
            Err(e) => Err(e),
        }
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
        let roles = validate_roles(roles, RoleLevel::Org, |r| self.roles.is_known_role(r))?;
        let user_id = self.member_candidate(user_id).await?;
        let (user_id, org_id, scope, roles) = (&user_id, &org_id, &scope, &roles);
        let committed = self
            .execute(caller.user_id.as_str(), move || async move {
                check_not_member(&self.store.memberships(user_id).await?, scope)?;
                let org = self
                    .store
                    .org(org_id)
                    .await?
                    .ok_or(DomainError::OrgNotFound)?;
                let event = DomainEvent::Org(OrgEvent::MemberAdded {
                    user_id: user_id.clone(),
                    roles: roles.clone(),
                });
                Ok(Decision::on_org(org_id, Some(&org), vec![event], ()))
            })
            .await?;
        committed.org(org_id)
    }

    /// admin v1 AddIAMMember. Returns the instance aggregate's new sequence and the time of the change.
    pub async fn add_iam_member(
        &self,
        caller: &Caller,
        user_id: &str,
        roles: &[String],
    ) -> Result<(i64, chrono::DateTime<chrono::Utc>)> {
        self.require_instance_wide(caller, IAM_MEMBER_WRITE).await?;
        let roles = validate_roles(roles, RoleLevel::Instance, |r| self.roles.is_known_role(r))?;
        let user_id = &self.member_candidate(user_id).await?;
        let roles = &roles;
        let committed = self
            .execute(caller.user_id.as_str(), move || async move {
                check_not_member(&self.store.memberships(user_id).await?, &Scope::Iam)?;
                let sequence = self.store.last_sequence(INSTANCE_ID).await?;
                let event = DomainEvent::Instance(InstanceEvent::MemberAdded {
                    user_id: user_id.clone(),
                    roles: roles.clone(),
                });
                Ok(Decision::answer(sequence + 1).and(Change {
                    aggregate: AggregateRef::Instance,
                    base_sequence: sequence,
                    events: vec![event],
                }))
            })
            .await?;
        Ok((committed.value, committed.at))
    }
}

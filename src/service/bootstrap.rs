//! First start on an empty database: the default org, an admin holding IAM_OWNER, and the instance marker.

use super::{Result, ServiceError, Services, envelope};
use crate::domain::events::{
    AGGREGATE_INSTANCE, AGGREGATE_ORG, AGGREGATE_USER, EventMeta, INSTANCE_ID,
};
use crate::domain::org::{InstanceEvent, Membership, Org, OrgEvent, Scope};
use crate::domain::user::{HumanAdded, User, UserEvent};
use crate::store::{Commit, InstanceInfo, StoreError};

/// The role the bootstrap admin holds instance-wide.
const ADMIN_ROLE: &str = "IAM_OWNER";
/// Who the bootstrap events are attributed to.
const SYSTEM_CREATOR: &str = "SYSTEM";

#[derive(Debug, Clone)]
pub struct BootstrapOutcome {
    pub instance: InstanceInfo,
    /// False when the database was set up already (a later start, or another process won the race).
    pub created: bool,
}

impl Services {
    pub async fn bootstrap(&self) -> Result<BootstrapOutcome> {
        if let Some(instance) = self.store.instance().await? {
            return Ok(BootstrapOutcome {
                instance,
                created: false,
            });
        }
        let now = self.clock.now();
        let org_id = self.ids.next(now);
        let admin_id = self.ids.next(now);
        let boot = &self.config.bootstrap;
        let first = EventMeta {
            sequence: 1,
            created_at: now,
        };

        let org_added = OrgEvent::Added {
            name: boot.org_name.clone(),
        };
        let org = Org::apply(None, &org_id, &org_added, first)
            .ok_or_else(|| ServiceError::Internal("org.added did not create the org".into()))?;
        let admin_added = UserEvent::HumanAdded(HumanAdded {
            user_name: boot.admin_username.clone(),
            first_name: "Admin".into(),
            last_name: "Phoneverify".into(),
            display_name: "Phoneverify Admin".into(),
            nick_name: String::new(),
            preferred_language: "en".into(),
            email: boot.admin_email.clone(),
            is_email_verified: true,
        });
        let admin =
            User::apply(None, &admin_id, &org_id, &admin_added, first).ok_or_else(|| {
                ServiceError::Internal("user.human.added did not create the user".into())
            })?;
        let instance = InstanceInfo {
            default_org_id: org_id.clone(),
            admin_user_id: admin_id.clone(),
        };
        let roles = vec![ADMIN_ROLE.to_owned()];
        let instance_added = InstanceEvent::Added {
            default_org_id: org_id.clone(),
            admin_user_id: admin_id.clone(),
        };
        let member_added = InstanceEvent::MemberAdded {
            user_id: admin_id.clone(),
            roles: roles.clone(),
        };
        let instance_agg = (AGGREGATE_INSTANCE, INSTANCE_ID);
        let commit = Commit {
            events: vec![
                // Sequence 1 of the instance is unique: of two processes bootstrapping at once, one commits.
                envelope(
                    instance_agg,
                    1,
                    &instance_added,
                    INSTANCE_ID,
                    SYSTEM_CREATOR,
                    now,
                )?,
                envelope(
                    instance_agg,
                    2,
                    &member_added,
                    INSTANCE_ID,
                    SYSTEM_CREATOR,
                    now,
                )?,
                envelope(
                    (AGGREGATE_ORG, &org_id),
                    1,
                    &org_added,
                    &org_id,
                    SYSTEM_CREATOR,
                    now,
                )?,
                envelope(
                    (AGGREGATE_USER, &admin_id),
                    1,
                    &admin_added,
                    &org_id,
                    SYSTEM_CREATOR,
                    now,
                )?,
            ],
            users: vec![admin],
            orgs: vec![org],
            memberships: vec![Membership {
                user_id: admin_id,
                scope: Scope::Iam,
                roles,
            }],
            instance: Some(instance.clone()),
            ..Commit::default()
        };
        match self.store.commit(commit).await {
            Ok(()) => Ok(BootstrapOutcome {
                instance,
                created: true,
            }),
            Err(StoreError::Conflict) => match self.store.instance().await? {
                Some(instance) => Ok(BootstrapOutcome {
                    instance,
                    created: false,
                }),
                None => Err(ServiceError::Aborted),
            },
            Err(e) => Err(e.into()),
        }
    }
}

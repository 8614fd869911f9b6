//! First start on an empty database: the default org, an admin holding IAM_OWNER, and the instance marker.

use super::write::{Change, Decision};
use super::{Result, Services};
use crate::domain::aggregate::{AggregateRef, DomainEvent};
use crate::domain::names::{Email, OrgName, Username};
use crate::domain::org::{InstanceEvent, OrgEvent};
use crate::domain::user::{HumanAdded, UserEvent};
use crate::store::InstanceInfo;

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
        let boot = &self.config.bootstrap;
        let org_name = OrgName::parse(&boot.org_name)?;
        let admin_name = Username::parse(&boot.admin_username)?;
        let admin_email = Email::parse(&boot.admin_email)?;
        let (org_name, admin_name, admin_email) = (&org_name, &admin_name, &admin_email);
        let committed = self
            .execute(SYSTEM_CREATOR, move || async move {
                if let Some(instance) = self.store.instance().await? {
                    return Ok(Decision::answer(BootstrapOutcome {
                        instance,
                        created: false,
                    }));
                }
                let now = self.clock.now();
                let org_id = self.ids.org_id(now);
                let admin_id = self.ids.user_id(now);
                let instance = InstanceInfo {
                    default_org_id: org_id.clone(),
                    admin_user_id: admin_id.clone(),
                };
                // Sequence 1 of the instance is unique: of two processes bootstrapping at once, one commits, and
                // the other finds the instance on its next round.
                let instance_events = vec![
                    InstanceEvent::Added {
                        default_org_id: org_id.clone(),
                        admin_user_id: admin_id.clone(),
                    },
                    InstanceEvent::MemberAdded {
                        user_id: admin_id.clone(),
                        roles: vec![ADMIN_ROLE.to_owned()],
                    },
                ];
                let admin_added = UserEvent::HumanAdded(HumanAdded {
                    user_name: admin_name.clone(),
                    first_name: "Admin".into(),
                    last_name: "Phoneverify".into(),
                    display_name: "Phoneverify Admin".into(),
                    nick_name: String::new(),
                    preferred_language: "en".into(),
                    email: admin_email.clone(),
                    is_email_verified: true,
                });
                let org_added = DomainEvent::Org(OrgEvent::Added {
                    name: org_name.clone(),
                });
                let outcome = BootstrapOutcome {
                    instance,
                    created: true,
                };
                Ok(Decision::answer(outcome)
                    .and(Change {
                        aggregate: AggregateRef::Instance,
                        base_sequence: 0,
                        events: instance_events.into_iter().map(DomainEvent::from).collect(),
                    })
                    .and(Change {
                        aggregate: AggregateRef::Org(org_id.clone()),
                        base_sequence: 0,
                        events: vec![org_added],
                    })
                    .and(Change {
                        aggregate: AggregateRef::User {
                            id: admin_id,
                            org: org_id,
                        },
                        base_sequence: 0,
                        events: vec![admin_added.into()],
                    }))
            })
            .await?;
        Ok(committed.value)
    }
}

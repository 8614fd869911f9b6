//! Every read model folded from the event log alone: what `phoneverify rebuild` writes, and what the live
//! projections must equal.

use std::collections::BTreeMap;

use super::events::{
    AGGREGATE_INSTANCE, AGGREGATE_ORG, AGGREGATE_USER, EventMeta, StoredEvent, decode,
};
use super::org::{InstanceEvent, Membership, Org, OrgEvent, Scope};
use super::user::{User, UserEvent};

/// The instance's bootstrap facts (see `InstanceEvent::Added`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstanceInfo {
    pub default_org_id: String,
    pub admin_user_id: String,
}

/// A personal access token that still authenticates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PatRecord {
    pub token_id: String,
    pub user_id: String,
    pub expires_at: chrono::DateTime<chrono::Utc>,
}

/// All projections, in a stable order so that two of them compare equal when their content is.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Projections {
    pub instance: Option<InstanceInfo>,
    pub orgs: Vec<Org>,
    pub users: Vec<User>,
    pub memberships: Vec<Membership>,
    pub pats: Vec<PatRecord>,
}

impl Projections {
    pub fn sorted(mut self) -> Self {
        self.pats.sort_by(|a, b| a.token_id.cmp(&b.token_id));
        self.orgs.sort_by(|a, b| a.id.cmp(&b.id));
        self.users.sort_by(|a, b| a.id.cmp(&b.id));
        self.memberships
            .sort_by(|a, b| (&a.user_id, &a.scope).cmp(&(&b.user_id, &b.scope)));
        self
    }
}

#[derive(Debug, thiserror::Error)]
pub enum FoldError {
    #[error(transparent)]
    Decode(#[from] super::events::EventDecodeError),
    #[error("event {0} of an unknown aggregate type {1}")]
    UnknownAggregate(i64, String),
}

/// Folds events in log order (by position) into every projection.
pub fn fold<'e>(
    events: impl IntoIterator<Item = &'e StoredEvent>,
) -> Result<Projections, FoldError> {
    let mut instance = None;
    let mut orgs: BTreeMap<String, Org> = BTreeMap::new();
    let mut users: BTreeMap<String, User> = BTreeMap::new();
    let mut memberships: BTreeMap<(String, Scope), Membership> = BTreeMap::new();
    let mut pats: BTreeMap<String, PatRecord> = BTreeMap::new();
    for e in events {
        let meta = EventMeta {
            sequence: e.sequence,
            created_at: e.created_at,
        };
        match e.aggregate_type.as_str() {
            AGGREGATE_USER => {
                let event: UserEvent = decode(&e.event_type, e.payload.as_ref())?;
                match &event {
                    UserEvent::PersonalAccessTokenAdded {
                        token_id,
                        expiration,
                    } => {
                        let record = PatRecord {
                            token_id: token_id.clone(),
                            user_id: e.aggregate_id.clone(),
                            expires_at: *expiration,
                        };
                        pats.insert(token_id.clone(), record);
                    }
                    UserEvent::PersonalAccessTokenRemoved { token_id } => {
                        pats.remove(token_id);
                    }
                    _ => {}
                }
                let current = users.remove(&e.aggregate_id);
                if let Some(u) =
                    User::apply(current, &e.aggregate_id, &e.resource_owner, &event, meta)
                {
                    users.insert(e.aggregate_id.clone(), u);
                }
            }
            AGGREGATE_ORG => {
                let event: OrgEvent = decode(&e.event_type, e.payload.as_ref())?;
                if let OrgEvent::MemberAdded { user_id, roles } = &event {
                    let scope = Scope::Org(e.aggregate_id.clone());
                    memberships.insert(
                        (user_id.clone(), scope.clone()),
                        Membership {
                            user_id: user_id.clone(),
                            scope,
                            roles: roles.clone(),
                        },
                    );
                }
                let current = orgs.remove(&e.aggregate_id);
                if let Some(o) = Org::apply(current, &e.aggregate_id, &event, meta) {
                    orgs.insert(e.aggregate_id.clone(), o);
                }
            }
            AGGREGATE_INSTANCE => match decode::<InstanceEvent>(&e.event_type, e.payload.as_ref())?
            {
                InstanceEvent::Added {
                    default_org_id,
                    admin_user_id,
                } => {
                    instance = Some(InstanceInfo {
                        default_org_id,
                        admin_user_id,
                    });
                }
                InstanceEvent::MemberAdded { user_id, roles } => {
                    memberships.insert(
                        (user_id.clone(), Scope::Iam),
                        Membership {
                            user_id,
                            scope: Scope::Iam,
                            roles,
                        },
                    );
                }
            },
            other => return Err(FoldError::UnknownAggregate(e.position, other.to_owned())),
        }
    }
    Ok(Projections {
        instance,
        orgs: orgs.into_values().collect(),
        users: users.into_values().collect(),
        memberships: memberships.into_values().collect(),
        pats: pats.into_values().collect(),
    }
    .sorted())
}

//! The read models (users, orgs, memberships, personal access tokens, the instance marker) and the one
//! function that derives them from events. A command projects its new events onto the rows it loaded; a
//! rebuild projects the whole log onto nothing; both call `Rows::project`, so they cannot disagree.

use std::collections::BTreeMap;

use super::aggregate::{AggregateRef, DomainEvent, ReadEventError, read_stored};
use super::events::{EventMeta, StoredEvent};
use super::ids::{OrgId, UserId};
use super::org::{InstanceEvent, Membership, Org, OrgEvent, Scope};
use super::user::{User, UserEvent};

/// The instance's bootstrap facts (see `InstanceEvent::Added`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstanceInfo {
    pub default_org_id: OrgId,
    pub admin_user_id: UserId,
}

/// A personal access token that still authenticates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PatRecord {
    pub token_id: String,
    pub user_id: UserId,
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

/// Projection rows as events leave them: the rows a command touched, or (from an empty start) all of them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Rows {
    pub instance: Option<InstanceInfo>,
    pub orgs: BTreeMap<OrgId, Org>,
    pub users: BTreeMap<UserId, User>,
    pub memberships: BTreeMap<(UserId, Scope), Membership>,
    /// `None`: the token was removed.
    pub pats: BTreeMap<String, Option<PatRecord>>,
}

impl Rows {
    /// Starts from a user row as loaded, so that new events fold onto it.
    pub fn seed_user(&mut self, user: User) {
        self.users.insert(user.id.clone(), user);
    }

    pub fn seed_org(&mut self, org: Org) {
        self.orgs.insert(org.id.clone(), org);
    }

    /// Folds one event into every row it changes.
    pub fn project(&mut self, aggregate: &AggregateRef, event: &DomainEvent, meta: EventMeta) {
        match (aggregate, event) {
            (AggregateRef::User { id, org }, DomainEvent::User(e)) => {
                self.project_pats(id, e);
                let current = self.users.remove(id);
                if let Some(u) = User::apply(current, id, org, e, meta) {
                    self.users.insert(id.clone(), u);
                }
            }
            (AggregateRef::Org(id), DomainEvent::Org(e)) => {
                if let OrgEvent::MemberAdded { user_id, roles } = e {
                    self.add_member(user_id, Scope::Org(id.clone()), roles);
                }
                let current = self.orgs.remove(id);
                if let Some(o) = Org::apply(current, id, e, meta) {
                    self.orgs.insert(id.clone(), o);
                }
            }
            (AggregateRef::Instance, DomainEvent::Instance(e)) => match e {
                InstanceEvent::Added {
                    default_org_id,
                    admin_user_id,
                } => {
                    self.instance = Some(InstanceInfo {
                        default_org_id: default_org_id.clone(),
                        admin_user_id: admin_user_id.clone(),
                    });
                }
                InstanceEvent::MemberAdded { user_id, roles } => {
                    self.add_member(user_id, Scope::Iam, roles)
                }
            },
            // An event filed under another aggregate's type changes no row (the store never holds one).
            _ => {}
        }
    }

    fn project_pats(&mut self, user_id: &UserId, event: &UserEvent) {
        match event {
            UserEvent::PersonalAccessTokenAdded {
                token_id,
                expiration,
            } => {
                let record = PatRecord {
                    token_id: token_id.clone(),
                    user_id: user_id.clone(),
                    expires_at: *expiration,
                };
                self.pats.insert(token_id.clone(), Some(record));
            }
            UserEvent::PersonalAccessTokenRemoved { token_id } => {
                self.pats.insert(token_id.clone(), None);
            }
            _ => {}
        }
    }

    fn add_member(&mut self, user_id: &UserId, scope: Scope, roles: &[String]) {
        let membership = Membership {
            user_id: user_id.clone(),
            scope: scope.clone(),
            roles: roles.to_vec(),
        };
        self.memberships
            .insert((user_id.clone(), scope), membership);
    }

    pub fn into_projections(self) -> Projections {
        Projections {
            instance: self.instance,
            orgs: self.orgs.into_values().collect(),
            users: self.users.into_values().collect(),
            memberships: self.memberships.into_values().collect(),
            pats: self.pats.into_values().flatten().collect(),
        }
        .sorted()
    }
}

/// Folds events in log order (by position) into every projection.
pub fn fold<'e>(
    events: impl IntoIterator<Item = &'e StoredEvent>,
) -> Result<Projections, ReadEventError> {
    let mut rows = Rows::default();
    for e in events {
        let (aggregate, event) = read_stored(e)?;
        let meta = EventMeta {
            sequence: e.sequence,
            created_at: e.created_at,
        };
        rows.project(&aggregate, &event, meta);
    }
    Ok(rows.into_projections())
}

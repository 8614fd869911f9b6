//! Organizations and memberships (org-scoped and instance-wide).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::DomainError;
use super::events::EventMeta;
use super::ids::{OrgId, UserId};
use super::names::OrgName;

/// The role a new org's admin gets when the request names none.
const DEFAULT_ORG_ADMIN_ROLE: &str = "ORG_OWNER";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", content = "payload")]
pub enum OrgEvent {
    #[serde(rename = "org.added")]
    Added { name: OrgName },
    #[serde(rename = "org.member.added", rename_all = "camelCase")]
    MemberAdded { user_id: UserId, roles: Vec<String> },
}

/// Events of the instance aggregate.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", content = "payload")]
pub enum InstanceEvent {
    /// Written once by the first start; its unique sequence 1 is what makes bootstrap run exactly once.
    #[serde(rename = "instance.added", rename_all = "camelCase")]
    Added {
        default_org_id: OrgId,
        admin_user_id: UserId,
    },
    #[serde(rename = "instance.member.added", rename_all = "camelCase")]
    MemberAdded { user_id: UserId, roles: Vec<String> },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Org {
    pub id: OrgId,
    pub name: OrgName,
    pub sequence: i64,
    pub created_at: DateTime<Utc>,
    pub changed_at: DateTime<Utc>,
}

impl Org {
    /// Folds one event into the org (None before `org.added`).
    pub fn apply(org: Option<Org>, id: &OrgId, event: &OrgEvent, meta: EventMeta) -> Option<Org> {
        let mut org = match (org, event) {
            (None, OrgEvent::Added { name }) => Org {
                id: id.clone(),
                name: name.clone(),
                sequence: meta.sequence,
                created_at: meta.created_at,
                changed_at: meta.created_at,
            },
            (None, _) => return None,
            (Some(o), _) => o,
        };
        org.sequence = meta.sequence;
        org.changed_at = meta.created_at;
        Some(org)
    }
}

/// Where a membership's roles count.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Scope {
    Iam,
    Org(OrgId),
}

impl Scope {
    pub const IAM_KEY: &'static str = "IAM";

    /// The string the store keeps: `IAM` or the org id.
    pub fn key(&self) -> &str {
        match self {
            Scope::Iam => Self::IAM_KEY,
            Scope::Org(id) => id.as_str(),
        }
    }

    pub fn from_key(key: &str) -> Self {
        if key == Self::IAM_KEY {
            Scope::Iam
        } else {
            Scope::Org(OrgId::from_stored(key.to_owned()))
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Membership {
    pub user_id: UserId,
    pub scope: Scope,
    pub roles: Vec<String>,
}

/// The roles a new org's admin gets: those asked for, or the org owner's.
pub fn org_admin_roles(requested: &[String]) -> Vec<String> {
    if requested.is_empty() {
        vec![DEFAULT_ORG_ADMIN_ROLE.to_owned()]
    } else {
        requested.to_vec()
    }
}

/// A user is a member of a scope at most once; `existing` are the user's memberships.
pub fn check_not_member(existing: &[Membership], scope: &Scope) -> Result<(), DomainError> {
    if existing.iter().any(|m| m.scope == *scope) {
        return Err(DomainError::MemberAlreadyExists);
    }
    Ok(())
}

/// Where a role may be held: `IAM_*` roles instance-wide, `ORG_*` roles in an org.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RoleLevel {
    Instance,
    Org,
}

/// Roles of a new membership must be known and fit its level.
pub fn validate_roles(
    roles: &[String],
    level: RoleLevel,
    known: impl Fn(&str) -> bool,
) -> Result<Vec<String>, DomainError> {
    let prefix = match level {
        RoleLevel::Instance => "IAM_",
        RoleLevel::Org => "ORG_",
    };
    if roles.is_empty() || roles.iter().any(|r| !r.starts_with(prefix) || !known(r)) {
        return Err(DomainError::InvalidRoles);
    }
    let mut roles = roles.to_vec();
    roles.sort();
    roles.dedup();
    Ok(roles)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_must_fit_the_scope() {
        let known = |r: &str| r == "ORG_OWNER" || r == "IAM_OWNER";
        let org = RoleLevel::Org;
        assert_eq!(
            validate_roles(&["ORG_OWNER".into()], org, known).unwrap(),
            vec!["ORG_OWNER".to_string()]
        );
        assert_eq!(
            validate_roles(&["IAM_OWNER".into()], org, known).unwrap_err(),
            DomainError::InvalidRoles
        );
        assert_eq!(
            validate_roles(&[], RoleLevel::Instance, known).unwrap_err(),
            DomainError::InvalidRoles
        );
        assert_eq!(
            validate_roles(&["IAM_NOPE".into()], RoleLevel::Instance, known).unwrap_err(),
            DomainError::InvalidRoles
        );
    }
}

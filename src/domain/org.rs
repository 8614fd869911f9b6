//! Organizations and memberships (org-scoped and instance-wide).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::DomainError;
use super::events::EventMeta;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", content = "payload")]
pub enum OrgEvent {
    #[serde(rename = "org.added")]
    Added { name: String },
    #[serde(rename = "org.member.added", rename_all = "camelCase")]
    MemberAdded { user_id: String, roles: Vec<String> },
}

/// Events of the instance aggregate.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", content = "payload")]
pub enum InstanceEvent {
    /// Written once by the first start; its unique sequence 1 is what makes bootstrap run exactly once.
    #[serde(rename = "instance.added", rename_all = "camelCase")]
    Added {
        default_org_id: String,
        admin_user_id: String,
    },
    #[serde(rename = "instance.member.added", rename_all = "camelCase")]
    MemberAdded { user_id: String, roles: Vec<String> },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Org {
    pub id: String,
    pub name: String,
    pub sequence: i64,
    pub created_at: DateTime<Utc>,
    pub changed_at: DateTime<Utc>,
}

impl Org {
    /// Folds one event into the org (None before `org.added`).
    pub fn apply(org: Option<Org>, id: &str, event: &OrgEvent, meta: EventMeta) -> Option<Org> {
        let mut org = match (org, event) {
            (None, OrgEvent::Added { name }) => Org {
                id: id.to_owned(),
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
    Org(String),
}

impl Scope {
    pub const IAM_KEY: &'static str = "IAM";

    /// The string the store keeps: `IAM` or the org id.
    pub fn key(&self) -> &str {
        match self {
            Scope::Iam => Self::IAM_KEY,
            Scope::Org(id) => id,
        }
    }

    pub fn from_key(key: &str) -> Self {
        if key == Self::IAM_KEY {
            Scope::Iam
        } else {
            Scope::Org(key.to_owned())
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Membership {
    pub user_id: String,
    pub scope: Scope,
    pub roles: Vec<String>,
}

pub fn validate_org_name(name: &str) -> Result<String, DomainError> {
    let name = name.trim();
    if name.is_empty() || name.len() > 200 {
        return Err(DomainError::OrgNameEmpty);
    }
    Ok(name.to_owned())
}

/// Roles of a new membership must be known and fit its scope (`IAM_*` instance-wide, `ORG_*` in an org).
pub fn validate_roles(
    roles: &[String],
    scope: &Scope,
    known: impl Fn(&str) -> bool,
) -> Result<Vec<String>, DomainError> {
    let prefix = match scope {
        Scope::Iam => "IAM_",
        Scope::Org(_) => "ORG_",
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
        let org = Scope::Org("1".into());
        assert_eq!(
            validate_roles(&["ORG_OWNER".into()], &org, known).unwrap(),
            vec!["ORG_OWNER".to_string()]
        );
        assert_eq!(
            validate_roles(&["IAM_OWNER".into()], &org, known).unwrap_err(),
            DomainError::InvalidRoles
        );
        assert_eq!(
            validate_roles(&[], &Scope::Iam, known).unwrap_err(),
            DomainError::InvalidRoles
        );
        assert_eq!(
            validate_roles(&["IAM_NOPE".into()], &Scope::Iam, known).unwrap_err(),
            DomainError::InvalidRoles
        );
    }
}

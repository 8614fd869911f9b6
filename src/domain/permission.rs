//! Which memberships grant which permission.

use std::collections::{BTreeMap, BTreeSet};

use super::org::{Membership, Scope};

pub const USER_READ: &str = "user.read";
pub const USER_WRITE: &str = "user.write";
pub const USER_DELETE: &str = "user.delete";
pub const ORG_CREATE: &str = "org.create";
pub const ORG_MEMBER_WRITE: &str = "org.member.write";
pub const IAM_MEMBER_WRITE: &str = "iam.member.write";

/// Role -> permissions, from configuration.
#[derive(Debug, Clone, Default)]
pub struct RoleTable(BTreeMap<String, BTreeSet<String>>);

impl RoleTable {
    pub fn new(table: &BTreeMap<String, Vec<String>>) -> Self {
        Self(
            table
                .iter()
                .map(|(role, perms)| (role.clone(), perms.iter().cloned().collect()))
                .collect(),
        )
    }

    pub fn is_known_role(&self, role: &str) -> bool {
        self.0.contains_key(role)
    }

    /// True when a membership grants `permission` in `org_id`: an IAM membership anywhere, an org
    /// membership only in its own org.
    pub fn allows(&self, memberships: &[Membership], permission: &str, org_id: &str) -> bool {
        memberships.iter().any(|m| {
            let in_scope = match &m.scope {
                Scope::Iam => true,
                Scope::Org(id) => id == org_id,
            };
            in_scope
                && m.roles
                    .iter()
                    .any(|r| self.0.get(r).is_some_and(|p| p.contains(permission)))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table() -> RoleTable {
        let mut t = BTreeMap::new();
        t.insert(
            "ORG_OWNER".to_string(),
            vec![USER_READ.to_string(), USER_WRITE.to_string()],
        );
        t.insert("ORG_OWNER_VIEWER".to_string(), vec![USER_READ.to_string()]);
        t.insert("IAM_USER_MANAGER".to_string(), vec![USER_WRITE.to_string()]);
        RoleTable::new(&t)
    }

    fn member(scope: Scope, role: &str) -> Membership {
        Membership {
            user_id: "u".into(),
            scope,
            roles: vec![role.into()],
        }
    }

    #[test]
    fn org_roles_count_only_in_their_org() {
        let m = [member(Scope::Org("a".into()), "ORG_OWNER")];
        assert!(table().allows(&m, USER_WRITE, "a"));
        assert!(!table().allows(&m, USER_WRITE, "b"));
    }

    #[test]
    fn iam_roles_count_everywhere() {
        let m = [member(Scope::Iam, "IAM_USER_MANAGER")];
        assert!(table().allows(&m, USER_WRITE, "a"));
        assert!(table().allows(&m, USER_WRITE, "z"));
        assert!(!table().allows(&m, USER_READ, "z"));
    }

    #[test]
    fn viewers_cannot_write_and_nobody_without_membership_can() {
        let m = [member(Scope::Org("a".into()), "ORG_OWNER_VIEWER")];
        assert!(table().allows(&m, USER_READ, "a"));
        assert!(!table().allows(&m, USER_WRITE, "a"));
        assert!(!table().allows(&[], USER_READ, "a"));
    }
}

//! Which memberships grant which permission.

use std::collections::{BTreeMap, BTreeSet};

use super::ids::{OrgId, UserId};
use super::org::{Membership, Scope};

pub const USER_READ: &str = "user.read";
pub const USER_WRITE: &str = "user.write";
pub const USER_DELETE: &str = "user.delete";
pub const ORG_CREATE: &str = "org.create";
pub const ORG_MEMBER_WRITE: &str = "org.member.write";
pub const IAM_MEMBER_WRITE: &str = "iam.member.write";

/// The instance role that can do everything; an instance keeps at least one active user holding it.
pub const INSTANCE_OWNER: &str = "IAM_OWNER";

/// True when an active instance member other than `leaving` holds the owner role: `leaving` may then be
/// deactivated or deleted without locking the instance out.
pub fn another_owner_remains(active_instance_members: &[Membership], leaving: &UserId) -> bool {
    active_instance_members.iter().any(|m| {
        m.scope == Scope::Iam
            && &m.user_id != leaving
            && m.roles.iter().any(|r| r == INSTANCE_OWNER)
    })
}

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

    /// True when an instance-wide (IAM) membership grants `permission`: what instance-level acts need,
    /// whatever an org role is configured to grant.
    pub fn allows_instance_wide(&self, memberships: &[Membership], permission: &str) -> bool {
        memberships.iter().any(|m| {
            m.scope == Scope::Iam
                && m.roles
                    .iter()
                    .any(|r| self.0.get(r).is_some_and(|p| p.contains(permission)))
        })
    }

    /// True when the caller holds `permission` in every scope where the target holds a role (instance-wide
    /// for an IAM role), so that acting on the target cannot lend the caller powers it does not have.
    pub fn covers(&self, caller: &[Membership], target: &[Membership], permission: &str) -> bool {
        target.iter().all(|m| match &m.scope {
            Scope::Iam => self.allows_instance_wide(caller, permission),
            Scope::Org(id) => self.allows(caller, permission, id),
        })
    }

    /// True when the caller could grant every role the target holds (iam.member.write for instance roles,
    /// org.member.write in the org for org roles): only then may it deactivate, delete or speak for the
    /// target, so a user manager cannot remove the administrators above it.
    pub fn could_grant(&self, caller: &[Membership], target: &[Membership]) -> bool {
        target.iter().all(|m| match &m.scope {
            Scope::Iam => self.allows_instance_wide(caller, IAM_MEMBER_WRITE),
            Scope::Org(id) => self.allows(caller, ORG_MEMBER_WRITE, id),
        })
    }

    /// True when a membership grants `permission` in `org_id`: an IAM membership anywhere, an org
    /// membership only in its own org.
    pub fn allows(&self, memberships: &[Membership], permission: &str, org_id: &OrgId) -> bool {
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

    fn org(id: &str) -> OrgId {
        OrgId::from_stored(id.into())
    }

    fn member(scope: Scope, role: &str) -> Membership {
        Membership {
            user_id: crate::domain::ids::UserId::from_stored("u".into()),
            scope,
            roles: vec![role.into()],
        }
    }

    #[test]
    fn org_roles_count_only_in_their_org() {
        let m = [member(Scope::Org(org("a")), "ORG_OWNER")];
        assert!(table().allows(&m, USER_WRITE, &org("a")));
        assert!(!table().allows(&m, USER_WRITE, &org("b")));
    }

    #[test]
    fn iam_roles_count_everywhere() {
        let m = [member(Scope::Iam, "IAM_USER_MANAGER")];
        assert!(table().allows(&m, USER_WRITE, &org("a")));
        assert!(table().allows(&m, USER_WRITE, &org("z")));
        assert!(!table().allows(&m, USER_READ, &org("z")));
    }

    #[test]
    fn instance_acts_need_an_instance_role() {
        let mut t = BTreeMap::new();
        t.insert(
            "ORG_OWNER".to_string(),
            vec![USER_WRITE.to_string(), ORG_CREATE.to_string()],
        );
        t.insert("IAM_USER_MANAGER".to_string(), vec![USER_WRITE.to_string()]);
        let table = RoleTable::new(&t);
        let org_owner = [member(Scope::Org(org("a")), "ORG_OWNER")];
        assert!(
            !table.allows_instance_wide(&org_owner, ORG_CREATE),
            "an org role never reaches the instance"
        );
        let iam = [member(Scope::Iam, "IAM_USER_MANAGER")];
        assert!(table.allows_instance_wide(&iam, USER_WRITE));
    }

    #[test]
    fn acting_on_a_user_needs_its_every_scope() {
        let table = table();
        let org_owner = [member(Scope::Org(org("a")), "ORG_OWNER")];
        let plain = [member(Scope::Org(org("a")), "ORG_OWNER_VIEWER")];
        let iam_target = [member(Scope::Iam, "IAM_USER_MANAGER")];
        let other_org = [member(Scope::Org(org("b")), "ORG_OWNER_VIEWER")];
        assert!(table.covers(&org_owner, &[], USER_WRITE));
        assert!(table.covers(&org_owner, &plain, USER_WRITE));
        assert!(!table.covers(&org_owner, &iam_target, USER_WRITE));
        assert!(!table.covers(&org_owner, &other_org, USER_WRITE));
        let iam = [member(Scope::Iam, "IAM_USER_MANAGER")];
        assert!(table.covers(&iam, &iam_target, USER_WRITE));
    }

    #[test]
    fn viewers_cannot_write_and_nobody_without_membership_can() {
        let m = [member(Scope::Org(org("a")), "ORG_OWNER_VIEWER")];
        assert!(table().allows(&m, USER_READ, &org("a")));
        assert!(!table().allows(&m, USER_WRITE, &org("a")));
        assert!(!table().allows(&[], USER_READ, &org("a")));
    }

    #[test]
    fn only_who_could_grant_the_roles_may_act_on_their_holder() {
        let mut t = BTreeMap::new();
        t.insert(
            "IAM_OWNER".to_string(),
            vec![USER_WRITE.to_string(), IAM_MEMBER_WRITE.to_string()],
        );
        t.insert("IAM_USER_MANAGER".to_string(), vec![USER_WRITE.to_string()]);
        t.insert(
            "ORG_OWNER".to_string(),
            vec![USER_WRITE.to_string(), ORG_MEMBER_WRITE.to_string()],
        );
        let table = RoleTable::new(&t);
        let owner = [member(Scope::Iam, "IAM_OWNER")];
        let manager = [member(Scope::Iam, "IAM_USER_MANAGER")];
        let org_owner = [member(Scope::Org(org("a")), "ORG_OWNER")];
        assert!(
            !table.could_grant(&manager, &owner),
            "a user manager cannot remove the owner"
        );
        assert!(table.could_grant(&owner, &manager));
        assert!(table.could_grant(&org_owner, &[member(Scope::Org(org("a")), "ORG_OWNER")]));
        assert!(!table.could_grant(&org_owner, &[member(Scope::Org(org("b")), "ORG_OWNER")]));
        assert!(
            table.could_grant(&manager, &[]),
            "users without roles need no granting power"
        );
    }

    #[test]
    fn an_owner_may_leave_only_while_another_active_owner_remains() {
        let owner = |id: &str| Membership {
            user_id: UserId::from_stored(id.into()),
            scope: Scope::Iam,
            roles: vec![INSTANCE_OWNER.into()],
        };
        let leaving = UserId::from_stored("a".into());
        assert!(!another_owner_remains(&[owner("a")], &leaving));
        assert!(another_owner_remains(&[owner("a"), owner("b")], &leaving));
        let manager = Membership {
            roles: vec!["IAM_USER_MANAGER".into()],
            ..owner("c")
        };
        assert!(!another_owner_remains(&[owner("a"), manager], &leaving));
    }
}

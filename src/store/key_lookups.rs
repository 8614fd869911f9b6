//! The lookups by key that every request makes (the caller, the user acted on, a token, an org), served by
//! whatever each backend does fastest: SQLite in process (`sqlite_local`), Postgres on connections that are
//! not pinged on every use (`pg_connections`).

use async_trait::async_trait;

use super::{CallerAndUser, PatRecord, StoreError};
use crate::domain::ids::{OrgId, UserId};
use crate::domain::org::{Membership, Org};
use crate::domain::user::User;

#[async_trait]
pub(crate) trait KeyLookups: Send + Sync {
    async fn user(&self, id: &UserId) -> Result<Option<User>, StoreError>;
    async fn user_with_memberships(
        &self,
        id: &UserId,
    ) -> Result<Option<(User, Vec<Membership>)>, StoreError>;
    async fn caller_and_user(
        &self,
        caller: &UserId,
        named: &UserId,
    ) -> Result<CallerAndUser, StoreError> {
        Ok((
            self.user_with_memberships(caller).await?,
            self.user(named).await?,
        ))
    }
    async fn org(&self, id: &OrgId) -> Result<Option<Org>, StoreError>;
    async fn memberships(&self, user_id: &UserId) -> Result<Vec<Membership>, StoreError>;
    async fn pat(&self, token_id: &str) -> Result<Option<PatRecord>, StoreError>;
    /// Lets go of what the lookups hold open (nothing, where the store closes it already).
    fn close_lookups(&self) {}
}

#[async_trait]
impl KeyLookups for std::sync::Arc<super::sqlite_local::LocalSqlite> {
    async fn user(&self, id: &UserId) -> Result<Option<User>, StoreError> {
        self.as_ref().user(id)
    }

    async fn user_with_memberships(
        &self,
        id: &UserId,
    ) -> Result<Option<(User, Vec<Membership>)>, StoreError> {
        self.as_ref().user_with_memberships(id)
    }

    async fn caller_and_user(
        &self,
        caller: &UserId,
        named: &UserId,
    ) -> Result<CallerAndUser, StoreError> {
        self.as_ref().caller_and_user(caller, named)
    }

    async fn org(&self, id: &OrgId) -> Result<Option<Org>, StoreError> {
        self.as_ref().org(id)
    }

    async fn memberships(&self, user_id: &UserId) -> Result<Vec<Membership>, StoreError> {
        self.as_ref().memberships(user_id)
    }

    async fn pat(&self, token_id: &str) -> Result<Option<PatRecord>, StoreError> {
        self.as_ref().pat(token_id)
    }
}

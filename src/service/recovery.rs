//! The operator's way back in: `phoneverify admin reset` makes the bootstrap admin an active instance owner
//! again, so that no sequence of API calls (or a lost credential) can leave an instance without one.

use super::write::Decision;
use super::{Result, Services};
use crate::domain::DomainError;
use crate::domain::ids::UserId;
use crate::domain::user::UserState;

/// Who the reactivation event is attributed to.
const RESET_CREATOR: &str = "SYSTEM-admin-reset";

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OwnerReset {
    /// The bootstrap admin was active already; only its token is renewed.
    AlreadyActive(UserId),
    /// The bootstrap admin was inactive and is active again (a `user.reactivated` event records it).
    Reactivated(UserId),
}

impl OwnerReset {
    pub fn user_id(&self) -> &UserId {
        match self {
            OwnerReset::AlreadyActive(id) | OwnerReset::Reactivated(id) => id,
        }
    }
}

impl Services {
    /// Reactivates the bootstrap admin (which holds the instance owner role from the first start) if needed.
    pub async fn reset_instance_owner(&self) -> Result<OwnerReset> {
        let instance = self
            .store
            .instance()
            .await?
            .ok_or(DomainError::UserNotFound)?;
        let admin = self.load_user(instance.admin_user_id.as_str()).await?;
        match admin.state {
            UserState::Active => Ok(OwnerReset::AlreadyActive(admin.id)),
            UserState::Removed => Err(DomainError::UserNotFound.into()),
            UserState::Inactive => {
                let id = admin.id.clone();
                self.execute_on_user(RESET_CREATOR, &id, None, Some(admin), |user| {
                    Ok(Decision::on_user(user, user.reactivate()?, ()))
                })
                .await?;
                Ok(OwnerReset::Reactivated(id))
            }
        }
    }
}

//! A user's history for administrators: the events of the user, a page at a time, each with who made it.

use std::collections::BTreeMap;

use super::{Caller, Result, Services};
use crate::domain::events::StoredEvent;
use crate::domain::ids::UserId;
use crate::domain::permission::USER_READ;
use crate::domain::user::{User, UserKind};
use crate::store::EventPage;

/// One event of the user's history and the user who caused it (None: the system, or a user since removed
/// from the store).
#[derive(Debug, Clone)]
pub struct UserChange {
    pub event: StoredEvent,
    pub editor: Option<Editor>,
}

#[derive(Debug, Clone)]
pub struct Editor {
    pub display_name: String,
    pub login_name: String,
}

impl Services {
    /// The events of `user_id` (of the org of `org_header` or the caller's) in `page`; needs `user.read`
    /// there. A user of another org is "not found", as everywhere in the management API.
    pub async fn user_changes(
        &self,
        caller: &Caller,
        org_header: Option<&str>,
        user_id: &str,
        page: EventPage,
    ) -> Result<Vec<UserChange>> {
        let target = self
            .managed_target(caller, org_header, user_id, USER_READ)
            .await?;
        // Removed users keep their history, and an audit is most wanted exactly then.
        self.user_in(&target.user_id, &target.org_id).await?;
        let events = self
            .store
            .events_page(target.user_id.as_str(), page)
            .await?;
        let mut editors: BTreeMap<String, Option<Editor>> = BTreeMap::new();
        for event in &events {
            if !editors.contains_key(&event.creator) {
                let editor = self.editor(&event.creator).await?;
                editors.insert(event.creator.clone(), editor);
            }
        }
        Ok(events
            .into_iter()
            .map(|event| {
                let editor = editors.get(&event.creator).cloned().flatten();
                UserChange { event, editor }
            })
            .collect())
    }

    async fn editor(&self, creator: &str) -> Result<Option<Editor>> {
        let Some(id) = UserId::parse(creator) else {
            return Ok(None);
        };
        Ok(self.store.user(&id).await?.map(|user| editor_of(&user)))
    }
}

fn editor_of(user: &User) -> Editor {
    let display_name = match &user.kind {
        UserKind::Human(h) => h.display_name.clone(),
        UserKind::Machine(m) => m.name.clone(),
    };
    Editor {
        display_name,
        login_name: user.username.to_string(),
    }
}

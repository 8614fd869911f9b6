//! What every answer shares: the details object of the event it reflects, and the empty message.

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::domain::org::Org;
use crate::domain::user::User;
use crate::service::Written;

pub fn timestamp(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::AutoSi, true)
}

/// Object details: which event the answer reflects and whose object it is.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Details {
    /// Sequence of the object's last event, as a string.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(example = "2")]
    pub sequence: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub creation_date: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub change_date: Option<String>,
    pub resource_owner: String,
}

impl Details {
    /// After a mutation: creationDate only when the mutation created the object.
    pub fn changed(w: &Written) -> Self {
        Self {
            sequence: Some(w.user.sequence.to_string()),
            creation_date: w.created.then(|| timestamp(w.user.created_at)),
            change_date: Some(timestamp(w.user.changed_at)),
            resource_owner: w.user.org_id.to_string(),
        }
    }

    /// On a read: the object's first and last event.
    pub fn read(u: &User) -> Self {
        Self {
            sequence: Some(u.sequence.to_string()),
            creation_date: Some(timestamp(u.created_at)),
            change_date: Some(timestamp(u.changed_at)),
            resource_owner: u.org_id.to_string(),
        }
    }

    pub fn org_changed(o: &Org, created: bool) -> Self {
        Self {
            sequence: Some(o.sequence.to_string()),
            creation_date: created.then(|| timestamp(o.created_at)),
            change_date: Some(timestamp(o.changed_at)),
            resource_owner: o.id.to_string(),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DetailsResponse {
    pub details: Details,
}

impl DetailsResponse {
    /// The answer of a mutation that returns nothing but its details.
    pub fn changed(w: &Written) -> Self {
        Self {
            details: Details::changed(w),
        }
    }
}

/// A request without fields; any JSON object (or no body) is accepted.
#[derive(Debug, Default, Serialize, Deserialize, ToSchema)]
pub struct Empty {}

//! Management API v1 `ListUserChanges`: a user's history, as ZITADEL's console shows it. Each change names
//! its event type, sequence, time and editor; payloads stay out (they may hold a code's hash).

use axum::Json;
use axum::extract::State;
use serde::{Deserialize, Deserializer, Serialize};
use utoipa::ToSchema;

use super::OrApi;
use super::error::{ApiError, ErrorBody, Op};
use super::extract::{ApiJson, AppState, Auth, OrgHeader, UserIdPath};
use super::types::timestamp;
use crate::service::UserChange;
use crate::store::EventPage;

const TAG: &str = "Management API v1";

/// Largest page a client may ask for.
pub const MAX_CHANGES_PER_PAGE: u32 = 1000;
/// The page size when the client names none.
pub const DEFAULT_CHANGES_PER_PAGE: u32 = 100;

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ListUserChangesRequest {
    #[serde(default)]
    pub query: ChangeQuery,
}

/// Which page: the changes after `sequence` oldest first (`asc`), or before it newest first (a `sequence` of
/// 0 starts at the newest).
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ChangeQuery {
    /// Sequence to continue from (exclusive): the last one of the previous page.
    #[serde(default, deserialize_with = "number_or_string")]
    #[schema(value_type = String, example = "0")]
    pub sequence: u64,
    /// Changes per page, at most 1000; 0 means 100.
    #[serde(default, deserialize_with = "number_or_string")]
    #[schema(value_type = u32, maximum = 1000)]
    pub limit: u64,
    /// Oldest first; the default is newest first.
    #[serde(default)]
    pub asc: bool,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ListUserChangesResponse {
    pub result: Vec<Change>,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Change {
    #[schema(example = "2026-11-22T05:05:56.98356Z")]
    pub change_date: String,
    pub event_type: LocalizedMessage,
    #[schema(example = "2")]
    pub sequence: String,
    /// The user who caused the change, or the system component that did.
    pub editor_id: String,
    pub editor_display_name: String,
    pub resource_owner_id: String,
    pub editor_preferred_login_name: String,
    pub editor_avatar_url: String,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct LocalizedMessage {
    /// `EventTypes.` and the event type, e.g. `EventTypes.user.human.phone.changed`.
    pub key: String,
    /// The change in English words.
    pub localized_message: String,
}

/// A user's changes, a page at a time. Needs `user.read` in the user's organization.
#[utoipa::path(post, path = "/management/v1/users/{userId}/changes/_search", tag = TAG, security(("bearer" = [])),
    request_body = ListUserChangesRequest,
    params(("userId" = String, Path), ("x-zitadel-orgid" = Option<String>, Header, description = "Organization to act in")),
    responses((status = 200, body = ListUserChangesResponse), (status = "default", description = "Error", body = ErrorBody)))]
pub async fn list_user_changes(
    State(s): State<AppState>,
    Auth(caller): Auth,
    org: OrgHeader,
    UserIdPath(user_id): UserIdPath,
    ApiJson(req): ApiJson<ListUserChangesRequest>,
) -> Result<Json<ListUserChangesResponse>, ApiError> {
    let page = page_of(&req.query)?;
    let changes = s
        .user_changes(&caller, org.as_deref(), &user_id, page)
        .await
        .api(Op::Other)?;
    Ok(Json(ListUserChangesResponse {
        result: changes.into_iter().map(change).collect(),
    }))
}

fn page_of(query: &ChangeQuery) -> Result<EventPage, ApiError> {
    if query.limit > u64::from(MAX_CHANGES_PER_PAGE) {
        return Err(ApiError::invalid(format!(
            "invalid ChangeQuery.Limit: value must be less than or equal to {MAX_CHANGES_PER_PAGE}"
        )));
    }
    let limit = match query.limit {
        0 => i64::from(DEFAULT_CHANGES_PER_PAGE),
        n => i64::try_from(n).unwrap_or(i64::MAX),
    };
    Ok(EventPage {
        // Beyond any sequence there is: the same as "from the end" in either direction.
        from: i64::try_from(query.sequence).unwrap_or(i64::MAX),
        limit,
        oldest_first: query.asc,
    })
}

fn change(c: UserChange) -> Change {
    let (editor_display_name, editor_preferred_login_name) = c
        .editor
        .map(|e| (e.display_name, e.login_name))
        .unwrap_or_default();
    Change {
        change_date: timestamp(c.event.created_at),
        event_type: LocalizedMessage {
            key: format!("EventTypes.{}", c.event.event_type),
            localized_message: describe(&c.event.event_type).to_owned(),
        },
        sequence: c.event.sequence.to_string(),
        editor_id: c.event.creator,
        editor_display_name,
        resource_owner_id: c.event.resource_owner,
        editor_preferred_login_name,
        editor_avatar_url: String::new(),
    }
}

/// The event types a user's history holds, in words; an unknown type is shown as itself.
fn describe(event_type: &str) -> &str {
    match event_type {
        "user.human.added" => "User added",
        "user.machine.added" => "Service account added",
        "user.human.phone.changed" => "Phone number changed",
        "user.human.phone.removed" => "Phone number removed",
        "user.human.phone.code.added" => "Phone verification code created",
        "user.human.phone.code.sent" => "Phone verification code sent",
        "user.human.phone.code.delivery.failed" => "Phone verification code could not be delivered",
        "user.human.phone.verified" => "Phone number verified",
        "user.human.phone.verification.failed" => "Phone verification failed",
        "user.personal.access.token.added" => "Personal access token added",
        "user.personal.access.token.removed" => "Personal access token removed",
        "user.machine.secret.set" => "Client secret generated",
        "user.machine.key.added" => "Key added",
        "user.deactivated" => "User deactivated",
        "user.reactivated" => "User reactivated",
        "user.removed" => "User removed",
        other => other,
    }
}

/// A protobuf 64-bit integer in JSON: a number or a decimal string, as protojson accepts both.
fn number_or_string<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Wire {
        Number(u64),
        Text(String),
    }
    match Wire::deserialize(d)? {
        Wire::Number(n) => Ok(n),
        Wire::Text(t) => t
            .parse()
            .map_err(|_| serde::de::Error::custom(format!("invalid integer {t:?}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query(json: &str) -> ChangeQuery {
        serde_json::from_str::<ListUserChangesRequest>(json)
            .unwrap()
            .query
    }

    #[test]
    fn sequence_and_limit_read_as_numbers_or_strings() {
        let q = query(r#"{"query": {"sequence": "12", "limit": 5, "asc": true}}"#);
        assert_eq!((q.sequence, q.limit, q.asc), (12, 5, true));
        let q = query(r#"{"query": {"sequence": 7, "limit": "3"}}"#);
        assert_eq!((q.sequence, q.limit, q.asc), (7, 3, false));
        assert!(
            serde_json::from_str::<ListUserChangesRequest>(r#"{"query":{"limit":-1}}"#).is_err()
        );
    }

    #[test]
    fn an_empty_query_is_the_newest_default_page() {
        let page = page_of(&query("{}")).unwrap();
        assert_eq!(
            page,
            EventPage {
                from: 0,
                limit: 100,
                oldest_first: false
            }
        );
    }

    #[test]
    fn pages_beyond_the_maximum_are_refused() {
        assert!(page_of(&query(r#"{"query":{"limit":1000}}"#)).is_ok());
        assert!(page_of(&query(r#"{"query":{"limit":1001}}"#)).is_err());
    }
}

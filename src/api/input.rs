//! The input policy of `domain::text` applied to requests: every string of a JSON body, the path IDs, the
//! `x-zitadel-orgid` header and caller-chosen user IDs. A refusal is code 3 naming the field, in the words of
//! ZITADEL's request validation ("invalid AddHumanUserRequest.Profile.GivenName: ..."), and comes before any
//! query, so that a value the database could not store (Postgres refuses NUL) never reaches it.

use serde_json::Value;

use super::error::ApiError;
use crate::domain::text::{TextRefusal, check_custom_id, check_text};

fn refused(name: &str, why: TextRefusal) -> ApiError {
    ApiError::invalid(format!("invalid {name}: {why}"))
}

/// Refuses a body with a control character in any string value, at any depth. Walking the parsed body rather
/// than listing fields per handler means no field (nor one added later) can be forgotten; a string in a field
/// that is otherwise ignored is refused too, which costs no honest client anything.
pub fn check_body(message: &str, body: &Value) -> Result<(), ApiError> {
    let mut path = message.to_owned();
    walk(body, &mut path)
}

fn walk(value: &Value, path: &mut String) -> Result<(), ApiError> {
    match value {
        Value::String(s) => check_text(s).map_err(|why| refused(path, why)),
        Value::Array(items) => items.iter().enumerate().try_for_each(|(i, item)| {
            let len = path.len();
            path.push_str(&format!("[{i}]"));
            let result = walk(item, path);
            path.truncate(len);
            result
        }),
        Value::Object(fields) => fields.iter().try_for_each(|(key, item)| {
            let len = path.len();
            path.push('.');
            path.push_str(&pascal_case(key));
            let result = walk(item, path);
            path.truncate(len);
            result
        }),
        Value::Null | Value::Bool(_) | Value::Number(_) => Ok(()),
    }
}

/// A JSON field name as protobuf validation names it: `givenName` and `given_name` both become `GivenName`.
pub(crate) fn pascal_case(key: &str) -> String {
    key.split('_')
        .map(|word| {
            let mut chars = word.chars();
            chars
                .next()
                .map(|first| first.to_uppercase().chain(chars).collect::<String>())
                .unwrap_or_default()
        })
        .collect()
}

/// A path segment or header value, named as the API documents it (`userId`, `tokenId`, `header ...`).
pub fn check_named(name: &str, value: &str) -> Result<(), ApiError> {
    check_text(value).map_err(|why| refused(name, why))
}

/// A caller-chosen user ID (`userId` on creation), when one is given: empty means "generate one", as before.
pub fn check_custom_user_id(message: &str, value: Option<&str>) -> Result<(), ApiError> {
    match value {
        Some(id) if !id.is_empty() => {
            check_custom_id(id).map_err(|why| refused(&format!("{message}.UserId"), why))
        }
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn message(r: Result<(), ApiError>) -> String {
        r.err().map(|e| e.message).unwrap_or_default()
    }

    #[test]
    fn a_clean_body_passes() {
        let body =
            json!({"profile": {"givenName": "Zoë"}, "roles": ["ORG_OWNER"], "n": 1, "b": null});
        assert!(check_body("R", &body).is_ok());
    }

    #[test]
    fn the_refused_field_is_named_at_any_depth() {
        let body = json!({"profile": {"givenName": "A", "family_name": "B\u{0}"}});
        assert_eq!(
            message(check_body("AddHumanUserRequest", &body)),
            "invalid AddHumanUserRequest.Profile.FamilyName: value must not contain control characters \
             (found U+0000)"
        );
        let body = json!({"admins": [{"userId": "1", "roles": ["A", "B\t"]}]});
        assert_eq!(
            message(check_body("AddOrganizationRequest", &body)),
            "invalid AddOrganizationRequest.Admins[0].Roles[1]: value must not contain control \
             characters (found U+0009)"
        );
    }

    #[test]
    fn named_values_and_custom_ids() {
        assert_eq!(
            message(check_named("userId", "a\u{7F}")),
            "invalid userId: value must not contain control characters (found U+007F)"
        );
        assert!(check_custom_user_id("M", None).is_ok());
        assert!(check_custom_user_id("M", Some("")).is_ok());
        assert!(check_custom_user_id("M", Some("custom-1")).is_ok());
        assert!(message(check_custom_user_id("M", Some("a/b"))).starts_with("invalid M.UserId: "));
    }
}

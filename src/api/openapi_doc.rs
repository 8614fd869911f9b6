//! The OpenAPI document as client generators need it. utoipa writes what the Rust types say; a request type
//! whose fields all default (so that a missing field reads as protojson reads it) comes out with `default`
//! values, `null` in its types and `oneOf` wrappers around references, which generators turn into required
//! fields, unusable defaults or no model at all. `finish` rewrites those into plain optional fields, lists the
//! deprecated `/v2beta` paths and makes the server URL relative.

use serde_json::{Map, Value, json};
use utoipa::Modify;
use utoipa::openapi::OpenApi;
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};

/// The v2 phone paths that are also served under `/v2beta`, with the same shapes.
const V2BETA_PATHS: [&str; 3] = [
    "/v2/users/{userId}/phone",
    "/v2/users/{userId}/phone/resend",
    "/v2/users/{userId}/phone/verify",
];

/// The operations that send a code, by path and method: their success answers carry the code's times.
const CODE_SENDING_OPERATIONS: [(&str, &str); 7] = [
    ("/auth/v1/users/me/phone", "put"),
    ("/auth/v1/users/me/phone/_resend_verification", "post"),
    ("/management/v1/users/{userId}/phone", "put"),
    (
        "/management/v1/users/{userId}/phone/_resend_verification",
        "post",
    ),
    ("/v2/users/{userId}/phone", "post"),
    ("/v2/users/{userId}/phone/resend", "post"),
    ("/v2/users/human", "post"),
];

pub(super) struct BearerScheme;

impl Modify for BearerScheme {
    fn modify(&self, openapi: &mut OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                Http::builder()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .build(),
            ),
        );
    }
}

/// The document as served and checked in. Should the rewritten JSON not read back (a utoipa change), the
/// document utoipa wrote is served as it is rather than none.
pub fn finish(doc: OpenApi) -> OpenApi {
    let Ok(mut value) = serde_json::to_value(&doc) else {
        return doc;
    };
    plain_optional_fields(&mut value);
    add_code_time_headers(&mut value);
    add_v2beta_paths(&mut value);
    if let Some(root) = value.as_object_mut() {
        // Relative: the document works behind a path prefix or another host name.
        root.insert("servers".into(), json!([{"url": "/"}]));
    }
    serde_json::from_value(value).unwrap_or(doc)
}

/// Every property of every object schema, anywhere in the document, without defaults or `null`.
fn plain_optional_fields(node: &mut Value) {
    match node {
        Value::Object(map) => {
            if let Some(Value::Object(properties)) = map.get_mut("properties") {
                for property in properties.values_mut() {
                    if let Value::Object(p) = property {
                        simplify_property(p);
                    }
                }
            }
            for child in map.values_mut() {
                plain_optional_fields(child);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(plain_optional_fields),
        _ => {}
    }
}

/// A field is optional by being left out of `required`; the server never writes `null`, and a default that
/// is the type's zero value tells a client nothing it may rely on.
fn simplify_property(p: &mut Map<String, Value>) {
    p.remove("default");
    if let Some(Value::Array(types)) = p.get("type") {
        let concrete: Vec<Value> = types
            .iter()
            .filter(|t| t.as_str() != Some("null"))
            .cloned()
            .collect();
        if let [only] = concrete.as_slice() {
            p.insert("type".into(), only.clone());
        }
    }
    let Some(Value::Array(alternatives)) = p.get("oneOf") else {
        return;
    };
    let concrete: Vec<Value> = alternatives
        .iter()
        .filter(|a| a.get("type").and_then(Value::as_str) != Some("null"))
        .cloned()
        .collect();
    let [only] = concrete.as_slice() else {
        return;
    };
    let only = only.clone();
    p.remove("oneOf");
    if p.is_empty() {
        if let Value::Object(inner) = only {
            *p = inner;
        }
    } else {
        // A reference with a description next to it: `allOf` keeps both readable for every generator.
        p.insert("allOf".into(), json!([only]));
    }
}

/// Documents the headers of `code_times` on the success answers of the operations that send a code.
fn add_code_time_headers(doc: &mut Value) {
    use super::code_times::{CODE_EXPIRES_AT, NEXT_SEND_AT, NEXT_SEND_IN};
    let when = "Present when a code is pending after the call (not after `isVerified`).";
    let headers = json!({
        CODE_EXPIRES_AT: {
            "description": format!("When the pending code stops working (RFC 3339). {when}"),
            "schema": {"type": "string", "format": "date-time"}
        },
        NEXT_SEND_AT: {
            "description": format!("The earliest time another SMS code may be sent to this user, by the \
                                    resend cooldown (RFC 3339); a daily cap may still refuse it. {when}"),
            "schema": {"type": "string", "format": "date-time"}
        },
        NEXT_SEND_IN: {
            "description": format!("Seconds until then, rounded up (0: now). {when}"),
            "schema": {"type": "integer", "minimum": 0}
        }
    });
    for (path, method) in CODE_SENDING_OPERATIONS {
        let Some(Value::Object(responses)) = doc.pointer_mut(&format!(
            "/paths/{}/{method}/responses",
            path.replace('~', "~0").replace('/', "~1")
        )) else {
            continue;
        };
        for (status, response) in responses.iter_mut() {
            if status.starts_with('2')
                && let Value::Object(response) = response
            {
                response.insert("headers".into(), headers.clone());
            }
        }
    }
}

/// `/v2beta/...` copies of the v2 phone operations, marked deprecated, with their own operation IDs.
fn add_v2beta_paths(doc: &mut Value) {
    let Some(paths) = doc.get_mut("paths").and_then(Value::as_object_mut) else {
        return;
    };
    let copies: Vec<(String, Value)> = V2BETA_PATHS
        .iter()
        .filter_map(|path| {
            let mut item = paths.get(*path)?.clone();
            for operation in item.as_object_mut()?.values_mut() {
                let Some(op) = operation.as_object_mut() else {
                    continue;
                };
                op.insert("deprecated".into(), Value::Bool(true));
                op.insert("tags".into(), json!(["User service v2beta"]));
                if let Some(Value::String(id)) = op.get_mut("operationId") {
                    id.push_str("_v2beta");
                }
            }
            Some((path.replacen("/v2/", "/v2beta/", 1), item))
        })
        .collect();
    paths.extend(copies);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_optional_reference_becomes_a_plain_reference() {
        let mut p = json!({"oneOf": [{"type": "null"}, {"$ref": "#/x"}], "default": null});
        let Value::Object(map) = &mut p else {
            unreachable!()
        };
        simplify_property(map);
        assert_eq!(p, json!({"$ref": "#/x"}));
    }

    #[test]
    fn a_reference_with_a_description_keeps_it_beside_all_of() {
        let mut p = json!({"oneOf": [{"$ref": "#/x"}], "default": {"a": ""}, "description": "d"});
        let Value::Object(map) = &mut p else {
            unreachable!()
        };
        simplify_property(map);
        assert_eq!(p, json!({"allOf": [{"$ref": "#/x"}], "description": "d"}));
    }

    #[test]
    fn a_nullable_scalar_loses_its_null() {
        let mut p = json!({"type": ["string", "null"], "default": null, "maxLength": 3});
        let Value::Object(map) = &mut p else {
            unreachable!()
        };
        simplify_property(map);
        assert_eq!(p, json!({"type": "string", "maxLength": 3}));
    }

    #[test]
    fn code_sending_operations_document_the_code_time_headers() {
        let doc = serde_json::to_value(super::super::openapi()).unwrap();
        for path in [
            "/v2/users/{userId}/phone/resend",
            "/v2beta/users/{userId}/phone/resend",
        ] {
            let headers = &doc["paths"][path]["post"]["responses"]["200"]["headers"];
            assert_eq!(
                headers["x-phoneverify-next-send-in"]["schema"]["type"],
                "integer"
            );
        }
        let put = &doc["paths"]["/auth/v1/users/me/phone"]["put"]["responses"]["200"];
        assert!(put["headers"]["x-phoneverify-code-expires-at"].is_object());
        let verify = &doc["paths"]["/v2/users/{userId}/phone/verify"]["post"]["responses"]["200"];
        assert!(verify.get("headers").is_none());
    }

    #[test]
    fn v2beta_paths_are_deprecated_copies() {
        let mut doc = json!({"paths": {"/v2/users/{userId}/phone/resend": {"post": {"operationId": "resend_phone_code", "tags": ["v2"]}}}});
        add_v2beta_paths(&mut doc);
        let copy = &doc["paths"]["/v2beta/users/{userId}/phone/resend"]["post"];
        assert_eq!(copy["operationId"], "resend_phone_code_v2beta");
        assert_eq!(copy["deprecated"], true);
        assert!(doc["paths"]["/v2/users/{userId}/phone/resend"]["post"]["deprecated"].is_null());
    }
}

//! Request fields ZITADEL defines that this service does not implement. They are read (so that they are not
//! dropped unseen) but left out of the OpenAPI document; a request that sets one is refused naming it.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// A field's value as sent; `null` and absent alike mean "not set", as protojson reads them.
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Unsupported(Option<Value>);

impl Unsupported {
    /// Set to something other than its zero value. Enums count as unset at their first, `*_UNSPECIFIED`
    /// (or default) member, as protobuf has it.
    pub fn is_set(&self) -> bool {
        match &self.0 {
            None | Some(Value::Null) => false,
            Some(Value::Number(n)) => n.as_i64() != Some(0),
            Some(Value::String(s)) => !s.is_empty() && !is_zero_enum(s),
            Some(Value::Array(items)) => !items.is_empty(),
            Some(Value::Object(_)) | Some(Value::Bool(_)) => true,
        }
    }
}

fn is_zero_enum(name: &str) -> bool {
    matches!(name, "GENDER_UNSPECIFIED" | "ACCESS_TOKEN_TYPE_BEARER")
}

/// The first of `fields` (its path as the error names it, and the value) that is set.
pub fn first_set<'a>(fields: &[(&'a str, &Unsupported)]) -> Option<&'a str> {
    fields
        .iter()
        .find(|(_, v)| v.is_set())
        .map(|(name, _)| *name)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn read(v: Value) -> Unsupported {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn zero_values_are_not_set() {
        for v in [
            json!(null),
            json!(0),
            json!(""),
            json!([]),
            json!("GENDER_UNSPECIFIED"),
        ] {
            assert!(!read(v.clone()).is_set(), "{v}");
        }
    }

    #[test]
    fn anything_else_is() {
        for v in [
            json!({}),
            json!([{"key": "k"}]),
            json!("GENDER_FEMALE"),
            json!(2),
            json!("secret"),
            json!(true),
        ] {
            assert!(read(v.clone()).is_set(), "{v}");
        }
    }
}

//! The envelope every event is stored in, and the conversion of typed events to (type, payload).

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

pub const AGGREGATE_USER: &str = "user";
pub const AGGREGATE_ORG: &str = "org";
pub const AGGREGATE_INSTANCE: &str = "instance";
/// The one instance this service runs; its aggregate holds IAM memberships and the bootstrap marker.
pub const INSTANCE_ID: &str = "instance";

/// An event about to be appended. `sequence` is the aggregate's previous sequence plus one; the store's unique
/// (aggregate_id, sequence) key turns a concurrent writer into a conflict instead of a lost update.
#[derive(Debug, Clone, PartialEq)]
pub struct NewEvent {
    pub aggregate_type: &'static str,
    pub aggregate_id: String,
    pub sequence: i64,
    pub event_type: String,
    pub payload: Option<Value>,
    pub resource_owner: String,
    pub creator: String,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct StoredEvent {
    pub position: i64,
    pub aggregate_type: String,
    pub aggregate_id: String,
    pub sequence: i64,
    pub event_type: String,
    pub payload: Option<Value>,
    pub resource_owner: String,
    pub creator: String,
    pub created_at: DateTime<Utc>,
}

/// What `apply` needs to know about the event beyond its content.
#[derive(Debug, Clone, Copy)]
pub struct EventMeta {
    pub sequence: i64,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, thiserror::Error)]
#[error("event {event_type} could not be read: {source}")]
pub struct EventDecodeError {
    pub event_type: String,
    #[source]
    pub source: serde_json::Error,
}

/// Typed events are serde enums tagged `type` with content `payload`; these split and join that shape.
pub fn encode<E: Serialize>(event: &E) -> Result<(String, Option<Value>), serde_json::Error> {
    let value = serde_json::to_value(event)?;
    let event_type = value
        .get("type")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    let payload = value.get("payload").cloned();
    Ok((event_type, payload))
}

pub fn decode<E: DeserializeOwned>(
    event_type: &str,
    payload: Option<&Value>,
) -> Result<E, EventDecodeError> {
    let mut object = serde_json::Map::new();
    object.insert("type".into(), Value::String(event_type.to_owned()));
    if let Some(p) = payload {
        object.insert("payload".into(), p.clone());
    }
    serde_json::from_value(Value::Object(object)).map_err(|source| EventDecodeError {
        event_type: event_type.to_owned(),
        source,
    })
}

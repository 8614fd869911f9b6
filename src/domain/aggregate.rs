//! Which aggregate an event is about, and an event of any aggregate: what the one write path and the one
//! projection function deal in.

use super::events::{
    AGGREGATE_INSTANCE, AGGREGATE_ORG, AGGREGATE_USER, EventDecodeError, INSTANCE_ID, StoredEvent,
    decode, encode,
};
use super::ids::{OrgId, UserId};
use super::org::{InstanceEvent, OrgEvent};
use super::user::UserEvent;

/// An aggregate and its resource owner: a user belongs to its org, an org to itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AggregateRef {
    User { id: UserId, org: OrgId },
    Org(OrgId),
    Instance,
}

impl AggregateRef {
    pub fn type_name(&self) -> &'static str {
        match self {
            AggregateRef::User { .. } => AGGREGATE_USER,
            AggregateRef::Org(_) => AGGREGATE_ORG,
            AggregateRef::Instance => AGGREGATE_INSTANCE,
        }
    }

    pub fn id(&self) -> &str {
        match self {
            AggregateRef::User { id, .. } => id.as_str(),
            AggregateRef::Org(id) => id.as_str(),
            AggregateRef::Instance => INSTANCE_ID,
        }
    }

    pub fn resource_owner(&self) -> &str {
        match self {
            AggregateRef::User { org, .. } => org.as_str(),
            AggregateRef::Org(id) => id.as_str(),
            AggregateRef::Instance => INSTANCE_ID,
        }
    }
}

/// An event of any aggregate.
#[derive(Debug, Clone, PartialEq)]
pub enum DomainEvent {
    User(UserEvent),
    Org(OrgEvent),
    Instance(InstanceEvent),
}

impl DomainEvent {
    /// The stored form: event type and JSON payload.
    pub fn encode(&self) -> Result<(String, Option<serde_json::Value>), serde_json::Error> {
        match self {
            DomainEvent::User(e) => encode(e),
            DomainEvent::Org(e) => encode(e),
            DomainEvent::Instance(e) => encode(e),
        }
    }
}

impl From<UserEvent> for DomainEvent {
    fn from(e: UserEvent) -> Self {
        DomainEvent::User(e)
    }
}

impl From<OrgEvent> for DomainEvent {
    fn from(e: OrgEvent) -> Self {
        DomainEvent::Org(e)
    }
}

impl From<InstanceEvent> for DomainEvent {
    fn from(e: InstanceEvent) -> Self {
        DomainEvent::Instance(e)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ReadEventError {
    #[error(transparent)]
    Decode(#[from] EventDecodeError),
    #[error("event {0} of an unknown aggregate type {1}")]
    UnknownAggregate(i64, String),
}

/// Reads a stored event back into the aggregate it is about and its typed content.
pub fn read_stored(e: &StoredEvent) -> Result<(AggregateRef, DomainEvent), ReadEventError> {
    let payload = e.payload.as_ref();
    match e.aggregate_type.as_str() {
        AGGREGATE_USER => Ok((
            AggregateRef::User {
                id: UserId::from_stored(e.aggregate_id.clone()),
                org: OrgId::from_stored(e.resource_owner.clone()),
            },
            DomainEvent::User(decode(&e.event_type, payload)?),
        )),
        AGGREGATE_ORG => Ok((
            AggregateRef::Org(OrgId::from_stored(e.aggregate_id.clone())),
            DomainEvent::Org(decode(&e.event_type, payload)?),
        )),
        AGGREGATE_INSTANCE => Ok((
            AggregateRef::Instance,
            DomainEvent::Instance(decode(&e.event_type, payload)?),
        )),
        other => Err(ReadEventError::UnknownAggregate(
            e.position,
            other.to_owned(),
        )),
    }
}

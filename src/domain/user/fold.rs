//! How events change a user: the only place state changes, used alike by commands and by a rebuild.

use chrono::Duration;

use super::{Delivery, Human, Machine, PendingCode, Phone, User, UserEvent, UserKind, UserState};
use crate::domain::events::EventMeta;
use crate::domain::ids::{OrgId, UserId};

impl User {
    /// Folds one event into the user (None before the user was added).
    pub fn apply(
        user: Option<User>,
        id: &UserId,
        org_id: &OrgId,
        event: &UserEvent,
        meta: EventMeta,
    ) -> Option<User> {
        let mut user = match (user, event) {
            (None, UserEvent::HumanAdded(added)) => User {
                id: id.clone(),
                org_id: org_id.clone(),
                username: added.user_name.clone(),
                state: UserState::Active,
                kind: UserKind::Human(Human {
                    given_name: added.first_name.clone(),
                    family_name: added.last_name.clone(),
                    display_name: added.display_name.clone(),
                    nick_name: added.nick_name.clone(),
                    preferred_language: added.preferred_language.clone(),
                    email: added.email.clone(),
                    email_verified: added.is_email_verified,
                    phone: None,
                    last_sms_at: None,
                }),
                sequence: meta.sequence,
                created_at: meta.created_at,
                changed_at: meta.created_at,
            },
            (None, UserEvent::MachineAdded(added)) => User {
                id: id.clone(),
                org_id: org_id.clone(),
                username: added.user_name.clone(),
                state: UserState::Active,
                kind: UserKind::Machine(Machine {
                    name: added.name.clone(),
                    description: added.description.clone(),
                }),
                sequence: meta.sequence,
                created_at: meta.created_at,
                changed_at: meta.created_at,
            },
            (None, _) => return None,
            (Some(u), _) => u,
        };
        user.sequence = meta.sequence;
        user.changed_at = meta.created_at;
        match event {
            UserEvent::HumanAdded(_)
            | UserEvent::MachineAdded(_)
            | UserEvent::PersonalAccessTokenAdded { .. }
            | UserEvent::PersonalAccessTokenRemoved { .. }
            | UserEvent::MachineSecretSet { .. }
            | UserEvent::MachineKeyAdded { .. } => {}
            UserEvent::Deactivated => user.state = UserState::Inactive,
            UserEvent::Reactivated => user.state = UserState::Active,
            UserEvent::Removed => user.state = UserState::Removed,
            _ => {
                if let UserKind::Human(human) = &mut user.kind {
                    apply_phone(human, event, meta);
                }
            }
        }
        Some(user)
    }
}

fn apply_phone(human: &mut Human, event: &UserEvent, meta: EventMeta) {
    match event {
        UserEvent::PhoneChanged { phone } => {
            human.phone = Some(Phone {
                number: phone.clone(),
                verified: false,
                code: None,
            });
        }
        UserEvent::PhoneRemoved => human.phone = None,
        UserEvent::PhoneVerified => {
            if let Some(p) = &mut human.phone {
                p.verified = true;
                p.code = None;
            }
        }
        UserEvent::PhoneCodeAdded(added) => {
            if !added.code_returned {
                human.last_sms_at = Some(meta.created_at);
            }
            if let Some(p) = &mut human.phone {
                p.code = Some(PendingCode {
                    sequence: meta.sequence,
                    hash: added.code_hash.clone(),
                    created_at: meta.created_at,
                    expires_at: meta.created_at + Duration::nanoseconds(added.expiry),
                    attempts: 0,
                    delivery: if added.code_returned {
                        Delivery::Returned
                    } else {
                        Delivery::Pending
                    },
                });
            }
        }
        UserEvent::PhoneVerificationFailed => {
            if let Some(code) = human.phone.as_mut().and_then(|p| p.code.as_mut()) {
                code.attempts = code.attempts.saturating_add(1);
            }
        }
        UserEvent::PhoneCodeSent { code_sequence } => {
            set_delivery(human, *code_sequence, Delivery::Sent)
        }
        UserEvent::PhoneCodeDeliveryFailed { code_sequence, .. } => {
            set_delivery(human, *code_sequence, Delivery::Failed)
        }
        UserEvent::HumanAdded(_)
        | UserEvent::MachineAdded(_)
        | UserEvent::PersonalAccessTokenAdded { .. }
        | UserEvent::PersonalAccessTokenRemoved { .. }
        | UserEvent::MachineSecretSet { .. }
        | UserEvent::MachineKeyAdded { .. }
        | UserEvent::Deactivated
        | UserEvent::Reactivated
        | UserEvent::Removed => {}
    }
}

/// Delivery news about a code that was replaced meanwhile changes nothing.
fn set_delivery(human: &mut Human, code_sequence: i64, delivery: Delivery) {
    if let Some(code) = human.phone.as_mut().and_then(|p| p.code.as_mut())
        && code.sequence == code_sequence
    {
        code.delivery = delivery;
    }
}

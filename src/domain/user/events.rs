//! The user aggregate's events: what is stored, under ZITADEL's event type names where ZITADEL has one.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::domain::names::{Email, Username};
use crate::domain::phone::PhoneNumber;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", content = "payload")]
pub enum UserEvent {
    #[serde(rename = "user.human.added")]
    HumanAdded(HumanAdded),
    #[serde(rename = "user.machine.added")]
    MachineAdded(MachineAdded),
    #[serde(rename = "user.human.phone.changed")]
    PhoneChanged { phone: PhoneNumber },
    #[serde(rename = "user.human.phone.removed")]
    PhoneRemoved,
    #[serde(rename = "user.human.phone.code.added")]
    PhoneCodeAdded(CodeAdded),
    /// Appended by the delivery worker once the provider accepted the SMS.
    #[serde(rename = "user.human.phone.code.sent", rename_all = "camelCase")]
    PhoneCodeSent { code_sequence: i64 },
    /// Ours: the SMS for this code was given up (expired or out of attempts), so nobody waits in vain.
    #[serde(
        rename = "user.human.phone.code.delivery.failed",
        rename_all = "camelCase"
    )]
    PhoneCodeDeliveryFailed { code_sequence: i64, reason: String },
    #[serde(rename = "user.human.phone.verified")]
    PhoneVerified,
    #[serde(rename = "user.human.phone.verification.failed")]
    PhoneVerificationFailed,
    #[serde(rename = "user.personal.access.token.added", rename_all = "camelCase")]
    PersonalAccessTokenAdded {
        token_id: String,
        expiration: DateTime<Utc>,
    },
    #[serde(
        rename = "user.personal.access.token.removed",
        rename_all = "camelCase"
    )]
    PersonalAccessTokenRemoved { token_id: String },
    /// A new client secret for the client credentials grant; only its hash is kept.
    #[serde(rename = "user.machine.secret.set", rename_all = "camelCase")]
    MachineSecretSet { secret_hash: String },
    /// A public key whose private half signs JWT-profile assertions (the key file handed out once).
    #[serde(rename = "user.machine.key.added", rename_all = "camelCase")]
    MachineKeyAdded {
        key_id: String,
        /// Base64 of the RSA public key (PKCS#1 DER).
        public_key: String,
        expiration: DateTime<Utc>,
    },
    #[serde(rename = "user.deactivated")]
    Deactivated,
    #[serde(rename = "user.reactivated")]
    Reactivated,
    #[serde(rename = "user.removed")]
    Removed,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HumanAdded {
    pub user_name: Username,
    pub first_name: String,
    pub last_name: String,
    pub display_name: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub nick_name: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub preferred_language: String,
    pub email: Email,
    #[serde(default)]
    pub is_email_verified: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MachineAdded {
    pub user_name: Username,
    pub name: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
}

/// Payload of `user.human.phone.code.added`. Only the keyed hash is stored: never the code.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CodeAdded {
    #[serde(rename = "codeHash")]
    pub code_hash: String,
    /// Lifetime in nanoseconds, as ZITADEL writes a Go duration.
    pub expiry: i64,
    #[serde(rename = "code_returned", default)]
    pub code_returned: bool,
}

//! Auth and management API v1: the phone, the user, machine users, members and personal access tokens.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{Details, Unsupported, is_false, state_name};
use crate::domain::user::{Machine, User, UserKind};

#[derive(Debug, Default, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PhoneV1 {
    #[serde(skip_serializing_if = "String::is_empty")]
    #[schema(example = "+41791234567")]
    pub phone: String,
    #[serde(skip_serializing_if = "is_false")]
    pub is_phone_verified: bool,
}

impl PhoneV1 {
    pub fn of(user: &User) -> Self {
        match user.phone() {
            Some(p) => Self {
                phone: p.number.to_string(),
                is_phone_verified: p.verified,
            },
            None => Self::default(),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct GetPhoneV1Response {
    pub details: Details,
    pub phone: PhoneV1,
}

#[derive(Debug, Default, Serialize, Deserialize, ToSchema)]
#[serde(default)]
pub struct SetMyPhoneRequest {
    /// In international form, starting with `+`; stored in E.164.
    #[schema(
        required = true,
        min_length = 1,
        max_length = 50,
        pattern = r"^\+",
        example = "+41791234567"
    )]
    pub phone: String,
}

#[derive(Debug, Default, Serialize, Deserialize, ToSchema)]
#[serde(default, rename_all = "camelCase")]
pub struct UpdateHumanPhoneRequest {
    /// In international form, starting with `+`; stored in E.164.
    #[schema(
        required = true,
        min_length = 1,
        max_length = 50,
        pattern = r"^\+",
        example = "+41791234567"
    )]
    pub phone: String,
    #[serde(alias = "is_phone_verified")]
    pub is_phone_verified: bool,
}

#[derive(Debug, Default, Serialize, Deserialize, ToSchema)]
#[serde(default)]
pub struct VerifyMyPhoneRequest {
    #[schema(required = true, min_length = 1, max_length = 200, example = "123456")]
    pub code: String,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ProfileV1 {
    pub first_name: String,
    pub last_name: String,
    pub nick_name: String,
    pub display_name: String,
    /// `und` when the user has none, as ZITADEL answers.
    pub preferred_language: String,
    /// Always `GENDER_UNSPECIFIED`: this service keeps no gender.
    pub gender: &'static str,
    /// Always empty: this service keeps no avatar.
    pub avatar_url: String,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct EmailV1 {
    pub email: String,
    #[serde(skip_serializing_if = "is_false")]
    pub is_email_verified: bool,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct HumanV1 {
    pub profile: ProfileV1,
    pub email: EmailV1,
    pub phone: PhoneV1,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MachineInfo {
    pub name: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub description: String,
}

impl MachineInfo {
    pub fn of(m: &Machine) -> Self {
        Self {
            name: m.name.clone(),
            description: m.description.clone(),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct UserV1 {
    pub id: String,
    pub details: Details,
    #[schema(example = "USER_STATE_ACTIVE")]
    pub state: &'static str,
    pub user_name: String,
    pub login_names: Vec<String>,
    pub preferred_login_name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub human: Option<HumanV1>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub machine: Option<MachineInfo>,
}

impl UserV1 {
    pub fn of(u: &User) -> Self {
        let (human, machine) = match &u.kind {
            UserKind::Human(h) => (
                Some(HumanV1 {
                    profile: ProfileV1 {
                        first_name: h.given_name.clone(),
                        last_name: h.family_name.clone(),
                        nick_name: h.nick_name.clone(),
                        display_name: h.display_name.clone(),
                        preferred_language: super::language_or_und(&h.preferred_language),
                        gender: super::GENDER_UNSPECIFIED,
                        avatar_url: String::new(),
                    },
                    email: EmailV1 {
                        email: h.email.to_string(),
                        is_email_verified: h.email_verified,
                    },
                    phone: PhoneV1::of(u),
                }),
                None,
            ),
            UserKind::Machine(m) => (None, Some(MachineInfo::of(m))),
        };
        Self {
            id: u.id.to_string(),
            details: Details::read(u),
            state: state_name(u.state),
            user_name: u.username.to_string(),
            login_names: vec![u.username.to_string()],
            preferred_login_name: u.username.to_string(),
            human,
            machine,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct GetMyUserResponse {
    pub user: UserV1,
}

#[derive(Debug, Default, Serialize, Deserialize, ToSchema)]
#[serde(default, rename_all = "camelCase")]
pub struct AddMachineUserRequest {
    #[serde(alias = "user_name")]
    #[schema(required = true, min_length = 1, max_length = 200, example = "ci-bot")]
    pub user_name: String,
    #[schema(required = true, min_length = 1, max_length = 200, example = "CI bot")]
    pub name: String,
    #[schema(max_length = 500)]
    pub description: String,
    /// A custom ID; generated when left out.
    #[serde(alias = "user_id")]
    #[schema(
        min_length = 1,
        max_length = 200,
        pattern = r"^[A-Za-z0-9][A-Za-z0-9._~-]*$"
    )]
    pub user_id: Option<String>,
    /// Only bearer tokens are made; `ACCESS_TOKEN_TYPE_JWT` is refused.
    #[serde(alias = "access_token_type")]
    #[schema(ignore)]
    pub access_token_type: Unsupported,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AddUserResponse {
    pub user_id: String,
    pub details: Details,
}

#[derive(Debug, Default, Serialize, Deserialize, ToSchema)]
#[serde(default, rename_all = "camelCase")]
pub struct AddMemberRequest {
    #[serde(alias = "user_id")]
    #[schema(required = true, min_length = 1, max_length = 200)]
    pub user_id: String,
    pub roles: Vec<String>,
}

#[derive(Debug, Default, Serialize, Deserialize, ToSchema)]
#[serde(default, rename_all = "camelCase")]
pub struct AddPersonalAccessTokenRequest {
    /// RFC 3339; without it the token does not expire (9999-01-01), as in ZITADEL.
    #[serde(alias = "expiration_date")]
    pub expiration_date: Option<DateTime<Utc>>,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AddPersonalAccessTokenResponse {
    pub token_id: String,
    /// The bearer token. Shown once; only its id is kept.
    pub token: String,
    pub details: Details,
}

/// GenerateMachineSecret takes no fields.
#[derive(Debug, Default, Serialize, Deserialize, ToSchema)]
pub struct GenerateMachineSecretRequest {}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct GenerateMachineSecretResponse {
    /// For the client credentials grant: the machine user's ID.
    pub client_id: String,
    /// Shown once; only its hash is kept. A new secret replaces the previous one.
    pub client_secret: String,
    pub details: Details,
}

#[derive(Debug, Default, Serialize, Deserialize, ToSchema)]
#[serde(default, rename_all = "camelCase")]
pub struct AddMachineKeyRequest {
    /// `KEY_TYPE_JSON` (unspecified means the same).
    #[serde(rename = "type")]
    pub key_type: Option<KeyType>,
    /// RFC 3339; without it the key does not expire (9999-01-01), as in ZITADEL.
    #[serde(alias = "expiration_date")]
    pub expiration_date: Option<DateTime<Utc>>,
    /// A public key of the caller's own: not supported (the key pair is always made here).
    #[serde(alias = "public_key")]
    #[schema(ignore)]
    pub public_key: Unsupported,
}

/// The key file format: JSON, ZITADEL's only one.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, ToSchema)]
#[allow(clippy::enum_variant_names, non_camel_case_types)]
pub enum KeyType {
    KEY_TYPE_UNSPECIFIED,
    KEY_TYPE_JSON,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AddMachineKeyResponse {
    pub key_id: String,
    /// Base64 of the key file (`{"type":"serviceaccount","keyId","key","expirationDate","userId"}`) that
    /// ZITADEL's SDKs read; it holds the private key, which is not kept.
    pub key_details: String,
    pub details: Details,
}

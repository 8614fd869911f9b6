//! User and organization service v2.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{Details, MachineInfo, Unsupported, is_false, state_name};
use crate::domain::code::PlainCode;
use crate::domain::user::{Delivery, User, UserKind};
use crate::service::Written;

/// `sendCode`: the code goes out by SMS. ZITADEL's message is empty; any object is accepted.
#[derive(Debug, Default, Serialize, ToSchema)]
pub struct SendCode {}

/// `returnCode`: the code comes back in the response and no SMS is sent.
#[derive(Debug, Default, Serialize, ToSchema)]
pub struct ReturnCode {}

/// Reads an empty message as protojson does: an object (its fields ignored), never an array or a scalar,
/// which serde's derive would accept for a field-less struct.
fn empty_message<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<(), D::Error> {
    serde_json::Map::<String, serde_json::Value>::deserialize(deserializer).map(|_| ())
}

impl<'de> Deserialize<'de> for SendCode {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        empty_message(deserializer).map(|()| SendCode {})
    }
}

impl<'de> Deserialize<'de> for ReturnCode {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        empty_message(deserializer).map(|()| ReturnCode {})
    }
}

#[derive(Debug, Default, Serialize, Deserialize, ToSchema)]
#[serde(default, rename_all = "camelCase")]
pub struct SetPhoneRequest {
    /// Any common notation; stored in E.164.
    #[schema(
        required = true,
        min_length = 1,
        max_length = 200,
        example = "+41791234567"
    )]
    pub phone: String,
    #[serde(alias = "send_code")]
    pub send_code: Option<SendCode>,
    #[serde(alias = "return_code")]
    pub return_code: Option<ReturnCode>,
    /// Only `true` is allowed; marks the number verified without a code (needs user.write, even on oneself).
    #[serde(alias = "is_verified")]
    pub is_verified: Option<bool>,
}

#[derive(Debug, Default, Serialize, Deserialize, ToSchema)]
#[serde(default, rename_all = "camelCase")]
pub struct ResendPhoneCodeRequest {
    #[serde(alias = "send_code")]
    pub send_code: Option<SendCode>,
    #[serde(alias = "return_code")]
    pub return_code: Option<ReturnCode>,
}

#[derive(Debug, Default, Serialize, Deserialize, ToSchema)]
#[serde(default, rename_all = "camelCase")]
pub struct VerifyPhoneRequest {
    #[serde(alias = "verification_code")]
    #[schema(required = true, min_length = 1, max_length = 20, example = "123456")]
    pub verification_code: String,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PhoneCodeResponse {
    pub details: Details,
    /// Present only with `returnCode`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub verification_code: Option<String>,
}

impl PhoneCodeResponse {
    /// After setting a phone or making a new code: the code only if it is to be returned.
    pub fn changed(w: &Written, code: Option<PlainCode>) -> Self {
        Self {
            details: Details::changed(w),
            verification_code: code.map(|c| c.expose().to_owned()),
        }
    }
}

#[derive(Debug, Default, Serialize, Deserialize, ToSchema)]
#[serde(default, rename_all = "camelCase")]
pub struct Organization {
    #[serde(alias = "org_id")]
    pub org_id: Option<String>,
    #[serde(alias = "org_domain")]
    #[schema(ignore)]
    pub org_domain: Unsupported,
}

#[derive(Debug, Default, Serialize, Deserialize, ToSchema)]
#[serde(default, rename_all = "camelCase")]
pub struct ProfileV2In {
    #[serde(alias = "given_name")]
    #[schema(required = true, min_length = 1, max_length = 200, example = "Ada")]
    pub given_name: String,
    #[serde(alias = "family_name")]
    #[schema(
        required = true,
        min_length = 1,
        max_length = 200,
        example = "Lovelace"
    )]
    pub family_name: String,
    #[serde(alias = "nick_name")]
    #[schema(max_length = 200)]
    pub nick_name: Option<String>,
    /// Defaults to "given family".
    #[serde(alias = "display_name")]
    #[schema(max_length = 200)]
    pub display_name: Option<String>,
    #[serde(alias = "preferred_language")]
    #[schema(max_length = 200, example = "en")]
    pub preferred_language: Option<String>,
    #[schema(ignore)]
    pub gender: Unsupported,
}

#[derive(Debug, Default, Serialize, Deserialize, ToSchema)]
#[serde(default, rename_all = "camelCase")]
pub struct EmailV2In {
    #[schema(
        required = true,
        min_length = 1,
        max_length = 200,
        example = "ada@example.com"
    )]
    pub email: String,
    #[serde(alias = "is_verified")]
    pub is_verified: Option<bool>,
    #[serde(alias = "send_code")]
    #[schema(ignore)]
    pub send_code: Unsupported,
    #[serde(alias = "return_code")]
    #[schema(ignore)]
    pub return_code: Unsupported,
}

#[derive(Debug, Default, Serialize, Deserialize, ToSchema)]
#[serde(default, rename_all = "camelCase")]
pub struct AddHumanUserRequest {
    /// A custom ID; generated when left out.
    #[serde(alias = "user_id")]
    #[schema(
        min_length = 1,
        max_length = 200,
        pattern = r"^[A-Za-z0-9][A-Za-z0-9._~-]*$"
    )]
    pub user_id: Option<String>,
    /// Defaults to the email address.
    #[schema(max_length = 200, example = "ada")]
    pub username: Option<String>,
    pub organization: Option<Organization>,
    #[schema(required = true)]
    pub profile: Option<ProfileV2In>,
    #[schema(required = true)]
    pub email: Option<EmailV2In>,
    pub phone: Option<SetPhoneRequest>,
    #[schema(ignore)]
    pub metadata: Unsupported,
    #[schema(ignore)]
    pub password: Unsupported,
    #[serde(alias = "hashed_password")]
    #[schema(ignore)]
    pub hashed_password: Unsupported,
    #[serde(alias = "idp_links")]
    #[schema(ignore)]
    pub idp_links: Unsupported,
    #[serde(alias = "totp_secret")]
    #[schema(ignore)]
    pub totp_secret: Unsupported,
}

impl AddHumanUserRequest {
    /// The first field set that this service does not implement, named as its error says it.
    pub fn unsupported_field(&self) -> Option<&'static str> {
        let (org_domain, email, profile) = (
            self.organization.as_ref().map(|o| &o.org_domain),
            self.email.as_ref(),
            self.profile.as_ref(),
        );
        let unset = Unsupported::default();
        super::first_set(&[
            ("Metadata", &self.metadata),
            ("Password", &self.password),
            ("HashedPassword", &self.hashed_password),
            ("IdpLinks", &self.idp_links),
            ("TotpSecret", &self.totp_secret),
            ("Organization.OrgDomain", org_domain.unwrap_or(&unset)),
            ("Email.SendCode", email.map_or(&unset, |e| &e.send_code)),
            ("Email.ReturnCode", email.map_or(&unset, |e| &e.return_code)),
            ("Profile.Gender", profile.map_or(&unset, |p| &p.gender)),
        ])
    }
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AddHumanUserResponse {
    pub user_id: String,
    pub details: Details,
    /// Present only when the phone was set with `returnCode`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub phone_code: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ProfileV2 {
    pub given_name: String,
    pub family_name: String,
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
pub struct EmailV2 {
    pub email: String,
    #[serde(skip_serializing_if = "is_false")]
    pub is_verified: bool,
}

#[derive(Debug, Default, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PhoneV2 {
    #[serde(skip_serializing_if = "String::is_empty")]
    pub phone: String,
    #[serde(skip_serializing_if = "is_false")]
    pub is_verified: bool,
    /// Ours (not in ZITADEL): how the SMS with the current code fared. Left out when no code is pending.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub code_delivery: Option<CodeDelivery>,
}

/// Delivery state of the current code's SMS.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum CodeDelivery {
    /// Queued; the delivery worker has not got it through yet (it may be retrying).
    CodeDeliveryPending,
    /// The SMS provider accepted the message.
    CodeDeliverySent,
    /// Given up: the code expired or the provider kept failing. Request a new code.
    CodeDeliveryFailed,
    /// The code was returned to the caller (`returnCode`); no SMS.
    CodeDeliveryReturned,
}

impl From<Delivery> for CodeDelivery {
    fn from(d: Delivery) -> Self {
        match d {
            Delivery::Pending => CodeDelivery::CodeDeliveryPending,
            Delivery::Sent => CodeDelivery::CodeDeliverySent,
            Delivery::Failed => CodeDelivery::CodeDeliveryFailed,
            Delivery::Returned => CodeDelivery::CodeDeliveryReturned,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct HumanV2 {
    pub profile: ProfileV2,
    pub email: EmailV2,
    pub phone: PhoneV2,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct UserV2 {
    pub user_id: String,
    pub details: Details,
    #[schema(example = "USER_STATE_ACTIVE")]
    pub state: &'static str,
    pub username: String,
    pub login_names: Vec<String>,
    pub preferred_login_name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub human: Option<HumanV2>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub machine: Option<MachineInfo>,
}

impl UserV2 {
    pub fn of(u: &User) -> Self {
        let (human, machine) = match &u.kind {
            UserKind::Human(h) => (
                Some(HumanV2 {
                    profile: ProfileV2 {
                        given_name: h.given_name.clone(),
                        family_name: h.family_name.clone(),
                        nick_name: h.nick_name.clone(),
                        display_name: h.display_name.clone(),
                        preferred_language: super::language_or_und(&h.preferred_language),
                        gender: super::GENDER_UNSPECIFIED,
                        avatar_url: String::new(),
                    },
                    email: EmailV2 {
                        email: h.email.to_string(),
                        is_verified: h.email_verified,
                    },
                    phone: h
                        .phone
                        .as_ref()
                        .map(|p| PhoneV2 {
                            phone: p.number.to_string(),
                            is_verified: p.verified,
                            code_delivery: p.code.as_ref().map(|c| c.delivery.into()),
                        })
                        .unwrap_or_default(),
                }),
                None,
            ),
            UserKind::Machine(m) => (None, Some(MachineInfo::of(m))),
        };
        Self {
            user_id: u.id.to_string(),
            details: Details::read(u),
            state: state_name(u.state),
            username: u.username.to_string(),
            login_names: vec![u.username.to_string()],
            preferred_login_name: u.username.to_string(),
            human,
            machine,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct GetUserResponse {
    pub details: Details,
    pub user: UserV2,
}

#[derive(Debug, Default, Serialize, Deserialize, ToSchema)]
#[serde(default, rename_all = "camelCase")]
pub struct OrgAdmin {
    #[serde(alias = "user_id")]
    #[schema(required = true, min_length = 1, max_length = 200)]
    pub user_id: String,
    pub roles: Vec<String>,
    #[schema(ignore)]
    pub human: Unsupported,
}

#[derive(Debug, Default, Serialize, Deserialize, ToSchema)]
#[serde(default)]
pub struct AddOrganizationRequest {
    #[schema(required = true, min_length = 1, max_length = 200, example = "ACME")]
    pub name: String,
    pub admins: Vec<OrgAdmin>,
    #[serde(alias = "org_id", rename = "orgId")]
    #[schema(ignore)]
    pub org_id: Unsupported,
    #[serde(alias = "organization_id", rename = "organizationId")]
    #[schema(ignore)]
    pub organization_id: Unsupported,
}

impl AddOrganizationRequest {
    /// The first field set that this service does not implement, named as its error says it.
    pub fn unsupported_field(&self) -> Option<&'static str> {
        let unset = Unsupported::default();
        let human = self.admins.iter().map(|a| &a.human).find(|h| h.is_set());
        super::first_set(&[
            ("OrganizationId", &self.organization_id),
            ("OrgId", &self.org_id),
            ("Admins.Human", human.unwrap_or(&unset)),
        ])
    }
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AddOrganizationResponse {
    pub organization_id: String,
    pub details: Details,
}

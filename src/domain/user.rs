//! The user aggregate: its events, how they fold into state, and the phone rules decided on that state.

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use super::DomainError;
use super::code::CodeHasher;
use super::events::EventMeta;
use super::phone::PhoneNumber;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", content = "payload")]
pub enum UserEvent {
    #[serde(rename = "user.human.added")]
    HumanAdded(HumanAdded),
    #[serde(rename = "user.machine.added")]
    MachineAdded(MachineAdded),
    #[serde(rename = "user.human.phone.changed")]
    PhoneChanged { phone: String },
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
    pub user_name: String,
    pub first_name: String,
    pub last_name: String,
    pub display_name: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub nick_name: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub preferred_language: String,
    pub email: String,
    #[serde(default)]
    pub is_email_verified: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MachineAdded {
    pub user_name: String,
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

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UserState {
    Active,
    Inactive,
    Removed,
}

impl UserState {
    pub fn as_str(self) -> &'static str {
        match self {
            UserState::Active => "active",
            UserState::Inactive => "inactive",
            UserState::Removed => "removed",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "active" => Some(UserState::Active),
            "inactive" => Some(UserState::Inactive),
            "removed" => Some(UserState::Removed),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivery {
    /// Waiting for the delivery worker.
    Pending,
    Sent,
    Failed,
    /// Handed to the caller (`returnCode`); no SMS.
    Returned,
}

impl Delivery {
    pub fn as_str(self) -> &'static str {
        match self {
            Delivery::Pending => "pending",
            Delivery::Sent => "sent",
            Delivery::Failed => "failed",
            Delivery::Returned => "returned",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "pending" => Some(Delivery::Pending),
            "sent" => Some(Delivery::Sent),
            "failed" => Some(Delivery::Failed),
            "returned" => Some(Delivery::Returned),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingCode {
    /// Sequence of the `code.added` event: identifies this code (a resend makes a new one).
    pub sequence: i64,
    pub hash: String,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub attempts: u32,
    pub delivery: Delivery,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Phone {
    pub number: String,
    pub verified: bool,
    pub code: Option<PendingCode>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Human {
    pub given_name: String,
    pub family_name: String,
    pub display_name: String,
    pub nick_name: String,
    pub preferred_language: String,
    pub email: String,
    pub email_verified: bool,
    pub phone: Option<Phone>,
    /// When a code was last sent by SMS (not returned): what the resend cooldown counts from.
    pub last_sms_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Machine {
    pub name: String,
    pub description: String,
}

// Nearly every user is a human, so boxing the larger variant would add an allocation to the common case.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UserKind {
    Human(Human),
    Machine(Machine),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub id: String,
    pub org_id: String,
    pub username: String,
    pub state: UserState,
    pub kind: UserKind,
    pub sequence: i64,
    pub created_at: DateTime<Utc>,
    pub changed_at: DateTime<Utc>,
}

/// A new code, made and hashed by the caller (randomness stays out of the rules).
#[derive(Debug, Clone)]
pub struct IssuedCode {
    pub hash: String,
    pub expiry: Duration,
    /// The caller gets the code in the response instead of an SMS.
    pub returned: bool,
}

impl IssuedCode {
    pub fn event(&self) -> UserEvent {
        UserEvent::PhoneCodeAdded(CodeAdded {
            code_hash: self.hash.clone(),
            expiry: self.expiry.num_nanoseconds().unwrap_or(i64::MAX),
            code_returned: self.returned,
        })
    }
}

/// How a new number is proven.
#[derive(Debug, Clone)]
pub enum PhoneProof {
    /// The caller vouches for it (`isVerified` / `isPhoneVerified`).
    Verified,
    Code(IssuedCode),
}

/// Resend preconditions differ between the v1 and v2 APIs, on purpose (as ZITADEL).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResendRules {
    /// No phone: PhoneNotFound; verified phone: PhoneAlreadyVerified.
    V1,
    /// No pending code, for whatever reason: NoCode.
    V2,
}

impl User {
    /// Folds one event into the user (None before the user was added).
    pub fn apply(
        user: Option<User>,
        id: &str,
        org_id: &str,
        event: &UserEvent,
        meta: EventMeta,
    ) -> Option<User> {
        let mut user = match (user, event) {
            (None, UserEvent::HumanAdded(added)) => User {
                id: id.to_owned(),
                org_id: org_id.to_owned(),
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
                id: id.to_owned(),
                org_id: org_id.to_owned(),
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
            | UserEvent::PersonalAccessTokenRemoved { .. } => {}
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

    pub fn human(&self) -> Option<&Human> {
        match &self.kind {
            UserKind::Human(h) => Some(h),
            UserKind::Machine(_) => None,
        }
    }

    pub fn phone(&self) -> Option<&Phone> {
        self.human().and_then(|h| h.phone.as_ref())
    }

    /// The user as the phone rules see it: a human that was not removed. Anything else is "not found".
    pub fn live_human(&self) -> Result<&Human, DomainError> {
        match (&self.kind, self.state) {
            (_, UserState::Removed) => Err(DomainError::UserNotFound),
            (UserKind::Human(h), _) => Ok(h),
            (UserKind::Machine(_), _) => Err(DomainError::UserNotFound),
        }
    }

    pub fn set_phone(
        &self,
        number: &PhoneNumber,
        proof: PhoneProof,
    ) -> Result<Vec<UserEvent>, DomainError> {
        let human = self.live_human()?;
        if human
            .phone
            .as_ref()
            .is_some_and(|p| p.number == number.as_str())
        {
            return Err(DomainError::PhoneNotChanged);
        }
        let changed = UserEvent::PhoneChanged {
            phone: number.as_str().to_owned(),
        };
        Ok(match proof {
            PhoneProof::Verified => vec![changed, UserEvent::PhoneVerified],
            PhoneProof::Code(code) => vec![changed, code.event()],
        })
    }

    /// v1's management API may also confirm the current, unverified number by setting it again as verified.
    pub fn set_phone_v1(
        &self,
        number: &PhoneNumber,
        proof: PhoneProof,
    ) -> Result<Vec<UserEvent>, DomainError> {
        let human = self.live_human()?;
        let confirms_current = matches!(proof, PhoneProof::Verified)
            && human
                .phone
                .as_ref()
                .is_some_and(|p| p.number == number.as_str() && !p.verified);
        if confirms_current {
            return Ok(vec![UserEvent::PhoneVerified]);
        }
        self.set_phone(number, proof)
    }

    /// A code sent by SMS must wait `cooldown` after the user's previous SMS code, whichever command sends it.
    pub fn check_sms_cooldown(
        &self,
        now: DateTime<Utc>,
        cooldown: Duration,
    ) -> Result<(), DomainError> {
        let last = self.human().and_then(|h| h.last_sms_at);
        // A zero cooldown is off, whatever the clocks of the processes that stamped `last_sms_at` said.
        if let Some(last) = last
            && cooldown > Duration::zero()
            && let Some(until) = last.checked_add_signed(cooldown)
            && until > now
        {
            let wait = (until - now).num_milliseconds();
            // Whole seconds, rounded up, so that retrying after Retry-After succeeds.
            let retry_after_secs = u64::try_from((wait + 999) / 1000).unwrap_or(1).max(1);
            return Err(DomainError::ResendTooSoon { retry_after_secs });
        }
        Ok(())
    }

    /// A new code replacing the pending one. One sent by SMS must wait `cooldown` after the previous SMS.
    pub fn resend_code(
        &self,
        rules: ResendRules,
        code: &IssuedCode,
        now: DateTime<Utc>,
        cooldown: Duration,
    ) -> Result<Vec<UserEvent>, DomainError> {
        let human = self.live_human()?;
        match rules {
            ResendRules::V1 => match &human.phone {
                None => return Err(DomainError::PhoneNotFound),
                Some(p) if p.verified => return Err(DomainError::PhoneAlreadyVerified),
                Some(_) => {}
            },
            ResendRules::V2 => {
                if human.phone.as_ref().and_then(|p| p.code.as_ref()).is_none() {
                    return Err(DomainError::NoCode);
                }
            }
        }
        if !code.returned {
            self.check_sms_cooldown(now, cooldown)?;
        }
        Ok(vec![code.event()])
    }

    /// Checks a guess. The events are appended whatever the outcome (a failed guess is recorded and counted).
    pub fn verify_phone(
        &self,
        guess: &str,
        now: DateTime<Utc>,
        max_attempts: u32,
        hasher: &CodeHasher,
    ) -> (Vec<UserEvent>, Result<(), DomainError>) {
        let human = match self.live_human() {
            Ok(h) => h,
            Err(e) => return (vec![], Err(e)),
        };
        let Some(code) = human.phone.as_ref().and_then(|p| p.code.as_ref()) else {
            return (vec![], Err(DomainError::NoCode));
        };
        if code.attempts >= max_attempts {
            return (vec![], Err(DomainError::TooManyAttempts));
        }
        // Hash first, then look at the expiry: a wrong and an expired code take the same path and answer alike.
        let matches = hasher.matches(guess, &code.hash);
        if matches && now <= code.expires_at {
            (vec![UserEvent::PhoneVerified], Ok(()))
        } else {
            (
                vec![UserEvent::PhoneVerificationFailed],
                Err(DomainError::CodeInvalid),
            )
        }
    }

    pub fn remove_phone(&self) -> Result<Vec<UserEvent>, DomainError> {
        let human = self.live_human()?;
        if human.phone.is_none() {
            return Err(DomainError::PhoneNotFound);
        }
        Ok(vec![UserEvent::PhoneRemoved])
    }

    fn live(&self) -> Result<(), DomainError> {
        if self.state == UserState::Removed {
            return Err(DomainError::UserNotFound);
        }
        Ok(())
    }

    /// A personal access token is for machine users (service accounts) only, and must not be born expired.
    pub fn add_personal_access_token(
        &self,
        token_id: &str,
        expiration: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<Vec<UserEvent>, DomainError> {
        self.live()?;
        if !matches!(self.kind, UserKind::Machine(_)) {
            return Err(DomainError::NotMachineUser);
        }
        if expiration <= now {
            return Err(DomainError::ExpirationInPast);
        }
        Ok(vec![UserEvent::PersonalAccessTokenAdded {
            token_id: token_id.to_owned(),
            expiration,
        }])
    }

    pub fn deactivate(&self) -> Result<Vec<UserEvent>, DomainError> {
        self.live()?;
        if self.state == UserState::Inactive {
            return Err(DomainError::UserAlreadyInactive);
        }
        Ok(vec![UserEvent::Deactivated])
    }

    pub fn reactivate(&self) -> Result<Vec<UserEvent>, DomainError> {
        self.live()?;
        if self.state != UserState::Inactive {
            return Err(DomainError::UserNotInactive);
        }
        Ok(vec![UserEvent::Reactivated])
    }

    pub fn remove(&self) -> Result<Vec<UserEvent>, DomainError> {
        self.live()?;
        Ok(vec![UserEvent::Removed])
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
        | UserEvent::Deactivated
        | UserEvent::Reactivated
        | UserEvent::Removed => {}
    }
}

fn set_delivery(human: &mut Human, code_sequence: i64, delivery: Delivery) {
    if let Some(code) = human.phone.as_mut().and_then(|p| p.code.as_mut())
        && code.sequence == code_sequence
    {
        code.delivery = delivery;
    }
}

/// A username: what ZITADEL allows (1 to 200 characters, no whitespace at the ends).
pub fn validate_username(name: &str) -> Result<String, DomainError> {
    let trimmed = name.trim();
    if trimmed.is_empty() || trimmed.chars().count() > 200 {
        return Err(DomainError::UsernameInvalid);
    }
    Ok(trimmed.to_owned())
}

/// A light check: something@something.tld with no spaces.
pub fn validate_email(email: &str) -> Result<String, DomainError> {
    let email = email.trim();
    let valid = match email.split_once('@') {
        Some((local, domain)) => {
            !local.is_empty()
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
                && !email.chars().any(char::is_whitespace)
                && email.len() <= 200
        }
        None => false,
    };
    if valid {
        Ok(email.to_owned())
    } else {
        Err(DomainError::EmailInvalid)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn t0() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 5, 1, 12, 0, 0).unwrap()
    }

    fn hasher() -> CodeHasher {
        CodeHasher::new(b"test-secret")
    }

    /// Given these events, the user they fold into.
    fn given(events: &[UserEvent]) -> User {
        let mut user = None;
        for (i, e) in events.iter().enumerate() {
            let meta = EventMeta {
                sequence: i as i64 + 1,
                created_at: t0() + Duration::seconds(i as i64),
            };
            user = User::apply(user, "u1", "o1", e, meta);
        }
        user.unwrap()
    }

    fn added() -> UserEvent {
        UserEvent::HumanAdded(HumanAdded {
            user_name: "ada".into(),
            first_name: "Ada".into(),
            last_name: "Lovelace".into(),
            display_name: "Ada Lovelace".into(),
            nick_name: String::new(),
            preferred_language: "en".into(),
            email: "ada@example.com".into(),
            is_email_verified: true,
        })
    }

    fn phone_changed() -> UserEvent {
        UserEvent::PhoneChanged {
            phone: "+41791234567".into(),
        }
    }

    fn code_added(code: &str) -> UserEvent {
        issued(code).event()
    }

    fn issued(code: &str) -> IssuedCode {
        IssuedCode {
            hash: hasher().hash(&super::super::code::PlainCode::new(code.into())),
            expiry: Duration::minutes(10),
            returned: false,
        }
    }

    fn number() -> PhoneNumber {
        PhoneNumber::parse("+41 79 123 45 67").unwrap()
    }

    #[test]
    fn setting_a_new_number_resets_it_and_adds_a_code() {
        let user = given(&[added(), phone_changed(), UserEvent::PhoneVerified]);
        let other = PhoneNumber::parse("+41 78 000 00 00").unwrap();
        let events = user
            .set_phone(&other, PhoneProof::Code(issued("111111")))
            .unwrap();
        assert_eq!(events.len(), 2);
        assert_eq!(
            events[0],
            UserEvent::PhoneChanged {
                phone: "+41780000000".into()
            }
        );
        assert!(matches!(events[1], UserEvent::PhoneCodeAdded(_)));
        let mut all = vec![added(), phone_changed(), UserEvent::PhoneVerified];
        all.extend(events);
        let phone = given(&all).phone().cloned().unwrap();
        assert!(!phone.verified);
        assert_eq!(phone.code.unwrap().delivery, Delivery::Pending);
    }

    #[test]
    fn setting_the_same_number_is_refused() {
        let user = given(&[added(), phone_changed()]);
        assert_eq!(
            user.set_phone(&number(), PhoneProof::Verified).unwrap_err(),
            DomainError::PhoneNotChanged
        );
    }

    #[test]
    fn v1_can_confirm_the_current_unverified_number() {
        let user = given(&[added(), phone_changed(), code_added("1")]);
        assert_eq!(
            user.set_phone_v1(&number(), PhoneProof::Verified).unwrap(),
            vec![UserEvent::PhoneVerified]
        );
        assert_eq!(
            user.set_phone_v1(&number(), PhoneProof::Code(issued("2")))
                .unwrap_err(),
            DomainError::PhoneNotChanged
        );
        let verified = given(&[added(), phone_changed(), UserEvent::PhoneVerified]);
        assert_eq!(
            verified
                .set_phone_v1(&number(), PhoneProof::Verified)
                .unwrap_err(),
            DomainError::PhoneNotChanged
        );
    }

    #[test]
    fn setting_as_verified_marks_it_verified_without_code() {
        let user = given(&[added()]);
        let events = user.set_phone(&number(), PhoneProof::Verified).unwrap();
        assert_eq!(events, vec![phone_changed(), UserEvent::PhoneVerified]);
        let mut all = vec![added()];
        all.extend(events);
        let phone = given(&all).phone().cloned().unwrap();
        assert!(phone.verified);
        assert!(phone.code.is_none());
    }

    #[test]
    fn resend_v1_preconditions() {
        let code = issued("222222");
        assert_eq!(
            given(&[added()])
                .resend_code(ResendRules::V1, &code, t0(), Duration::zero())
                .unwrap_err(),
            DomainError::PhoneNotFound
        );
        let verified = given(&[added(), phone_changed(), UserEvent::PhoneVerified]);
        assert_eq!(
            verified
                .resend_code(ResendRules::V1, &code, t0(), Duration::zero())
                .unwrap_err(),
            DomainError::PhoneAlreadyVerified
        );
        let removed = given(&[added(), phone_changed(), UserEvent::PhoneRemoved]);
        assert_eq!(
            removed
                .resend_code(ResendRules::V1, &code, t0(), Duration::zero())
                .unwrap_err(),
            DomainError::PhoneNotFound
        );
        let pending = given(&[added(), phone_changed(), code_added("1")]);
        assert!(matches!(
            pending
                .resend_code(ResendRules::V1, &code, t0(), Duration::zero())
                .unwrap()[..],
            [UserEvent::PhoneCodeAdded(_)]
        ));
    }

    #[test]
    fn resend_v2_needs_a_pending_code() {
        let code = issued("222222");
        for events in [
            vec![added()],
            vec![added(), phone_changed(), UserEvent::PhoneVerified],
            vec![
                added(),
                phone_changed(),
                code_added("1"),
                UserEvent::PhoneRemoved,
            ],
        ] {
            assert_eq!(
                given(&events)
                    .resend_code(ResendRules::V2, &code, t0(), Duration::zero())
                    .unwrap_err(),
                DomainError::NoCode
            );
        }
        let pending = given(&[added(), phone_changed(), code_added("1")]);
        assert!(
            pending
                .resend_code(ResendRules::V2, &code, t0(), Duration::zero())
                .is_ok()
        );
    }

    #[test]
    fn an_sms_resend_waits_for_the_cooldown_but_a_returned_code_does_not() {
        // The code was added at t0 + 2 s (third event) and sent by SMS.
        let user = given(&[added(), phone_changed(), code_added("1")]);
        let cooldown = Duration::seconds(30);
        let early = user.resend_code(
            ResendRules::V2,
            &issued("2"),
            t0() + Duration::seconds(12),
            cooldown,
        );
        assert_eq!(
            early.unwrap_err(),
            DomainError::ResendTooSoon {
                retry_after_secs: 20
            }
        );
        assert!(
            user.resend_code(
                ResendRules::V2,
                &issued("2"),
                t0() + Duration::seconds(32),
                cooldown
            )
            .is_ok()
        );
        let returned = IssuedCode {
            returned: true,
            ..issued("3")
        };
        assert!(
            user.resend_code(
                ResendRules::V2,
                &returned,
                t0() + Duration::seconds(3),
                cooldown
            )
            .is_ok()
        );
        // A returned code does not start a cooldown either.
        let after_return = given(&[added(), phone_changed(), returned.event()]);
        assert!(
            after_return
                .resend_code(
                    ResendRules::V1,
                    &issued("4"),
                    t0() + Duration::seconds(3),
                    cooldown
                )
                .is_ok()
        );
    }

    #[test]
    fn machines_and_removed_users_are_not_found() {
        let machine = given(&[UserEvent::MachineAdded(MachineAdded {
            user_name: "bot".into(),
            name: "Bot".into(),
            description: String::new(),
        })]);
        assert_eq!(
            machine
                .resend_code(ResendRules::V1, &issued("1"), t0(), Duration::zero())
                .unwrap_err(),
            DomainError::UserNotFound
        );
        let removed = given(&[
            added(),
            phone_changed(),
            code_added("1"),
            UserEvent::Removed,
        ]);
        assert_eq!(
            removed
                .resend_code(ResendRules::V2, &issued("1"), t0(), Duration::zero())
                .unwrap_err(),
            DomainError::UserNotFound
        );
        assert_eq!(removed.remove().unwrap_err(), DomainError::UserNotFound);
    }

    #[test]
    fn the_right_code_verifies_and_clears_it() {
        let user = given(&[added(), phone_changed(), code_added("123456")]);
        let (events, result) =
            user.verify_phone("123456", t0() + Duration::minutes(1), 5, &hasher());
        assert_eq!(result, Ok(()));
        assert_eq!(events, vec![UserEvent::PhoneVerified]);
    }

    #[test]
    fn a_resend_replaces_the_old_code() {
        let user = given(&[
            added(),
            phone_changed(),
            code_added("111111"),
            code_added("222222"),
        ]);
        let (_, old) = user.verify_phone("111111", t0(), 5, &hasher());
        assert_eq!(old, Err(DomainError::CodeInvalid));
        let (_, new) = user.verify_phone("222222", t0(), 5, &hasher());
        assert_eq!(new, Ok(()));
    }

    #[test]
    fn wrong_and_expired_codes_answer_alike_and_are_recorded() {
        let user = given(&[added(), phone_changed(), code_added("123456")]);
        let wrong = user.verify_phone("654321", t0(), 5, &hasher());
        let expired = user.verify_phone("123456", t0() + Duration::minutes(11), 5, &hasher());
        assert_eq!(wrong, expired);
        assert_eq!(
            wrong,
            (
                vec![UserEvent::PhoneVerificationFailed],
                Err(DomainError::CodeInvalid)
            )
        );
    }

    #[test]
    fn after_max_attempts_even_the_right_code_is_refused() {
        let mut events = vec![added(), phone_changed(), code_added("123456")];
        events.extend(std::iter::repeat_n(UserEvent::PhoneVerificationFailed, 5));
        let user = given(&events);
        assert_eq!(user.phone().unwrap().code.as_ref().unwrap().attempts, 5);
        let (appended, result) = user.verify_phone("123456", t0(), 5, &hasher());
        assert!(appended.is_empty());
        assert_eq!(result, Err(DomainError::TooManyAttempts));
        // A new code starts a fresh count.
        events.push(code_added("777777"));
        assert_eq!(
            given(&events).verify_phone("777777", t0(), 5, &hasher()).1,
            Ok(())
        );
    }

    #[test]
    fn verify_without_code_is_refused_without_event() {
        let user = given(&[added(), phone_changed(), UserEvent::PhoneVerified]);
        assert_eq!(
            user.verify_phone("123456", t0(), 5, &hasher()),
            (vec![], Err(DomainError::NoCode))
        );
    }

    #[test]
    fn delivery_state_follows_only_the_current_code() {
        let mut events = vec![added(), phone_changed(), code_added("1")];
        let first = 3;
        events.push(code_added("2"));
        events.push(UserEvent::PhoneCodeSent {
            code_sequence: first,
        });
        assert_eq!(
            given(&events)
                .phone()
                .unwrap()
                .code
                .as_ref()
                .unwrap()
                .delivery,
            Delivery::Pending
        );
        events.push(UserEvent::PhoneCodeSent { code_sequence: 4 });
        assert_eq!(
            given(&events)
                .phone()
                .unwrap()
                .code
                .as_ref()
                .unwrap()
                .delivery,
            Delivery::Sent
        );
    }

    #[test]
    fn remove_needs_a_phone() {
        assert_eq!(
            given(&[added()]).remove_phone().unwrap_err(),
            DomainError::PhoneNotFound
        );
        assert_eq!(
            given(&[added(), phone_changed()]).remove_phone().unwrap(),
            vec![UserEvent::PhoneRemoved]
        );
    }

    #[test]
    fn deactivate_and_reactivate() {
        let user = given(&[added()]);
        assert_eq!(user.reactivate().unwrap_err(), DomainError::UserNotInactive);
        let inactive = given(&[added(), UserEvent::Deactivated]);
        assert_eq!(inactive.state, UserState::Inactive);
        assert_eq!(
            inactive.deactivate().unwrap_err(),
            DomainError::UserAlreadyInactive
        );
        assert_eq!(inactive.reactivate().unwrap(), vec![UserEvent::Reactivated]);
    }

    #[test]
    fn events_round_trip_through_type_and_payload() {
        use super::super::events::{decode, encode};
        for event in [
            added(),
            phone_changed(),
            code_added("1"),
            UserEvent::PhoneVerified,
            UserEvent::Removed,
        ] {
            let (t, p) = encode(&event).unwrap();
            assert!(t.starts_with("user."), "{t}");
            assert_eq!(decode::<UserEvent>(&t, p.as_ref()).unwrap(), event);
        }
        let (t, p) = encode(&code_added("424242")).unwrap();
        assert_eq!(t, "user.human.phone.code.added");
        let p = p.unwrap();
        assert!(!p.to_string().contains("424242"));
        assert_eq!(p["expiry"], 600_000_000_000i64);
        assert_eq!(p["code_returned"], false);
    }

    #[test]
    fn email_and_username_checks() {
        assert!(validate_email("a@b.ch").is_ok());
        for bad in ["", "a", "a@b", "@b.ch", "a b@c.ch", "a@.ch"] {
            assert_eq!(
                validate_email(bad).unwrap_err(),
                DomainError::EmailInvalid,
                "{bad}"
            );
        }
        assert_eq!(
            validate_username("  ").unwrap_err(),
            DomainError::UsernameInvalid
        );
        assert_eq!(validate_username(" ada ").unwrap(), "ada");
    }
}

//! The phone rules: setting a number, sending and resending codes (with the cooldown between SMS), checking a
//! guess, removing the number.

use chrono::{DateTime, Duration, Utc};

use super::{CodeAdded, User, UserEvent};
use crate::domain::DomainError;
use crate::domain::code::{CodeGuess, CodeHasher};
use crate::domain::phone::PhoneNumber;

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

    fn by_sms(&self) -> bool {
        !self.returned
    }
}

/// How a new number is proven.
#[derive(Debug, Clone)]
pub enum PhoneProof {
    /// The caller vouches for it (`isVerified` / `isPhoneVerified`).
    Verified,
    Code(IssuedCode),
}

impl PhoneProof {
    /// The events that prove a number just set.
    pub(super) fn events(&self) -> Vec<UserEvent> {
        match self {
            PhoneProof::Verified => vec![UserEvent::PhoneVerified],
            PhoneProof::Code(code) => vec![code.event()],
        }
    }

    fn sends_sms(&self) -> bool {
        matches!(self, PhoneProof::Code(code) if code.by_sms())
    }
}

/// The SMS cooldown as it applies to a command: when the command runs, and how long a user waits between two
/// SMS codes (zero: no cooldown).
#[derive(Debug, Clone, Copy)]
pub struct Cooldown {
    pub now: DateTime<Utc>,
    pub wait: Duration,
}

/// When the pending code stops working and when the next SMS code may be sent: what a UI shows as
/// "code expires at ..." and "resend possible in 23 s".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CodeTimes {
    pub expires_at: DateTime<Utc>,
    /// The cooldown's end, or `now` when there is none. The daily caps may still refuse that send.
    pub next_sms_at: DateTime<Utc>,
}

/// What must hold before a code is sent again. The APIs differ here on purpose (as ZITADEL does).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResendPrecondition {
    /// There is a number and it is not verified (else PhoneNotFound / PhoneAlreadyVerified).
    UnverifiedPhone,
    /// A code is pending, whatever else holds (else NoCode).
    PendingCode,
}

impl User {
    /// A new number replaces the old one, unverified, and is proven as `proof` says. A code sent by SMS waits
    /// for the cooldown after the user's previous SMS.
    pub fn set_phone(
        &self,
        number: &PhoneNumber,
        proof: PhoneProof,
        cooldown: Cooldown,
    ) -> Result<Vec<UserEvent>, DomainError> {
        let human = self.live_human()?;
        if human.phone.as_ref().is_some_and(|p| p.number == *number) {
            return Err(DomainError::PhoneNotChanged);
        }
        if proof.sends_sms() {
            self.check_sms_cooldown(cooldown)?;
        }
        let mut events = vec![UserEvent::PhoneChanged {
            phone: number.clone(),
        }];
        events.extend(proof.events());
        Ok(events)
    }

    /// Like `set_phone`, but setting the current, unverified number again as verified confirms it instead of
    /// being refused as unchanged.
    pub fn set_or_confirm_phone(
        &self,
        number: &PhoneNumber,
        proof: PhoneProof,
        cooldown: Cooldown,
    ) -> Result<Vec<UserEvent>, DomainError> {
        let human = self.live_human()?;
        let confirms_current = matches!(proof, PhoneProof::Verified)
            && human
                .phone
                .as_ref()
                .is_some_and(|p| p.number == *number && !p.verified);
        if confirms_current {
            return Ok(vec![UserEvent::PhoneVerified]);
        }
        self.set_phone(number, proof, cooldown)
    }

    /// A new code replacing the pending one. One sent by SMS must wait `cooldown` after the previous SMS.
    pub fn resend_code(
        &self,
        precondition: ResendPrecondition,
        code: &IssuedCode,
        cooldown: Cooldown,
    ) -> Result<Vec<UserEvent>, DomainError> {
        let human = self.live_human()?;
        match precondition {
            ResendPrecondition::UnverifiedPhone => match &human.phone {
                None => return Err(DomainError::PhoneNotFound),
                Some(p) if p.verified => return Err(DomainError::PhoneAlreadyVerified),
                Some(_) => {}
            },
            ResendPrecondition::PendingCode => {
                if human.phone.as_ref().and_then(|p| p.code.as_ref()).is_none() {
                    return Err(DomainError::NoCode);
                }
            }
        }
        if code.by_sms() {
            self.check_sms_cooldown(cooldown)?;
        }
        Ok(vec![code.event()])
    }

    /// Checks a guess. The events are appended whatever the outcome (a failed guess is recorded and counted).
    pub fn verify_phone(
        &self,
        guess: &CodeGuess,
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
        let matches = hasher.matches(guess.as_str(), &code.hash);
        if matches && now <= code.expires_at {
            (vec![UserEvent::PhoneVerified], Ok(()))
        } else {
            (
                vec![UserEvent::PhoneVerificationFailed],
                Err(DomainError::CodeInvalid),
            )
        }
    }

    /// The times of the pending code, if there is one.
    pub fn code_times(&self, cooldown: Cooldown) -> Option<CodeTimes> {
        let human = self.human()?;
        let code = human.phone.as_ref()?.code.as_ref()?;
        let cooldown_end = human
            .last_sms_at
            .filter(|_| cooldown.wait > Duration::zero())
            .and_then(|last| last.checked_add_signed(cooldown.wait));
        Some(CodeTimes {
            expires_at: code.expires_at,
            next_sms_at: cooldown_end.map_or(cooldown.now, |end| end.max(cooldown.now)),
        })
    }

    pub fn remove_phone(&self) -> Result<Vec<UserEvent>, DomainError> {
        let human = self.live_human()?;
        if human.phone.is_none() {
            return Err(DomainError::PhoneNotFound);
        }
        Ok(vec![UserEvent::PhoneRemoved])
    }

    /// A code sent by SMS must wait `cooldown` after the user's previous SMS code, whichever command sends it.
    fn check_sms_cooldown(&self, cooldown: Cooldown) -> Result<(), DomainError> {
        let Cooldown {
            now,
            wait: cooldown,
        } = cooldown;
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
}

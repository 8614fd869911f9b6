//! The phone commands of the three APIs. v1 (auth and management) and v2 differ on purpose in their
//! preconditions and in who may act; both are ZITADEL's behaviour.

use super::write::Decision;
use super::{Caller, Result, Services, Written};
use crate::domain::DomainError;
use crate::domain::code::{CodeGuess, PlainCode};
use crate::domain::ids::{OrgId, UserId};
use crate::domain::permission::USER_WRITE;
use crate::domain::phone::PhoneNumber;
use crate::domain::user::{PhoneProof, ResendPrecondition, User, UserEvent, UserState};

/// The user a v1 call acts on, and the org it must belong to (the caller's for the auth API, the context
/// org for the management API). A user outside that org is "not found".
#[derive(Debug, Clone)]
pub struct Target {
    pub user_id: UserId,
    pub org_id: OrgId,
}

impl Target {
    pub fn me(caller: &Caller) -> Self {
        Self {
            user_id: caller.user_id.clone(),
            org_id: caller.org_id.clone(),
        }
    }
}

/// Who may run a v2 phone command on a user.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Access {
    /// Verify: knowing the code is the proof.
    Anyone,
    /// The user itself, or a holder of user.write in its org.
    SelfOrUserWrite,
    /// Only a holder of user.write, even for oneself: marking a number verified, or taking a code in the
    /// response instead of by SMS, would otherwise let users vouch for numbers they do not control.
    UserWrite,
}

impl Access {
    fn for_delivery(by_sms: bool) -> Self {
        if by_sms {
            Access::SelfOrUserWrite
        } else {
            Access::UserWrite
        }
    }
}

/// How a v2 SetPhone (or AddHumanUser's phone) proves the number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SetPhoneV2 {
    SendCode,
    ReturnCode,
    Verified,
}

/// Where a new code goes: by SMS, or back to the caller.
#[derive(Debug, Clone, Default)]
pub(crate) struct CodeDelivery {
    pub sms: Option<PlainCode>,
    pub returned: Option<PlainCode>,
}

impl Services {
    /// The proof a v2 mode asks for, with the code it makes and where that goes.
    pub(crate) fn phone_proof(
        &self,
        mode: SetPhoneV2,
        number: Option<&PhoneNumber>,
    ) -> (PhoneProof, CodeDelivery) {
        match mode {
            SetPhoneV2::Verified => (PhoneProof::Verified, CodeDelivery::default()),
            SetPhoneV2::SendCode => {
                let (plain, issued) = self.issue_code(number, false);
                let delivery = CodeDelivery {
                    sms: Some(plain),
                    returned: None,
                };
                (PhoneProof::Code(issued), delivery)
            }
            SetPhoneV2::ReturnCode => {
                let (plain, issued) = self.issue_code(number, true);
                let delivery = CodeDelivery {
                    sms: None,
                    returned: Some(plain),
                };
                (PhoneProof::Code(issued), delivery)
            }
        }
    }

    /// Management v1 target: the context org, where the caller needs `permission` (checked before anything
    /// else, as ZITADEL's interceptor does).
    pub async fn managed_target(
        &self,
        caller: &Caller,
        org_header: Option<&str>,
        user_id: &str,
        permission: &str,
    ) -> Result<Target> {
        let org_id = self.context_org(caller, org_header).await?;
        self.require(caller, permission, &org_id).await?;
        Ok(Target {
            user_id: UserId::parse(user_id).ok_or(DomainError::UserNotFound)?,
            org_id,
        })
    }

    /// Auth v1 target: always the caller. A `x-zitadel-orgid` header is still validated, as ZITADEL does.
    pub async fn me_target(&self, caller: &Caller, org_header: Option<&str>) -> Result<Target> {
        self.context_org(caller, org_header).await?;
        Ok(Target::me(caller))
    }

    pub async fn get_phone_v1(&self, target: &Target) -> Result<User> {
        let user = self.user_in(&target.user_id, &target.org_id).await?;
        if user.state == UserState::Removed {
            return Err(DomainError::UserNotFound.into());
        }
        if user.human().is_none() {
            return Err(DomainError::UserNotHuman.into());
        }
        Ok(user)
    }

    /// A v1 command on `target`, decided anew on each round.
    async fn on_target<T>(
        &self,
        caller: &Caller,
        target: &Target,
        decide: impl Fn(&User) -> Result<Decision<T>>,
    ) -> Result<(User, T)> {
        // The first round decides on the row authentication just read, the caller's own or the one its path
        // named, if that is the target in the target's org.
        let read = caller
            .row_of(target.user_id.as_str())
            .filter(|u| u.org_id == target.org_id)
            .cloned();
        self.execute_on_user(
            caller.user_id.as_str(),
            &target.user_id,
            Some(&target.org_id),
            read,
            decide,
        )
        .await
    }

    pub async fn set_phone_v1(
        &self,
        caller: &Caller,
        target: &Target,
        phone: &str,
        verified: bool,
    ) -> Result<Written> {
        let number = self.sms_number(phone)?;
        let mode = if verified {
            SetPhoneV2::Verified
        } else {
            SetPhoneV2::SendCode
        };
        let (proof, delivery) = self.phone_proof(mode, Some(&number));
        let (user, ()) = self
            .on_target(caller, target, |user| {
                let events = user.set_or_confirm_phone(&number, proof.clone(), self.cooldown())?;
                Ok(with_sms(
                    Decision::on_user(user, events, ()),
                    user,
                    &delivery,
                ))
            })
            .await?;
        Ok(Written::changed(user))
    }

    pub async fn remove_phone_v1(&self, caller: &Caller, target: &Target) -> Result<Written> {
        let (user, ()) = self
            .on_target(caller, target, |user| {
                Ok(Decision::on_user(user, user.remove_phone()?, ()))
            })
            .await?;
        Ok(Written::changed(user))
    }

    pub async fn resend_v1(&self, caller: &Caller, target: &Target) -> Result<Written> {
        let (user, ()) = self
            .on_target(caller, target, |user| {
                let (plain, issued) = self.issue_code(user.phone().map(|p| &p.number), false);
                let events = user.resend_code(
                    ResendPrecondition::UnverifiedPhone,
                    &issued,
                    self.cooldown(),
                )?;
                Ok(Decision::on_user(user, events, ()).send_sms(&user.id, plain))
            })
            .await?;
        Ok(Written::changed(user))
    }

    pub async fn verify_v1(&self, caller: &Caller, target: &Target, code: &str) -> Result<Written> {
        let guess = CodeGuess::parse(code)?;
        let (user, ()) = self
            .on_target(
                caller,
                target,
                |user| Ok(self.verify_decision(user, &guess)),
            )
            .await?;
        Ok(Written::changed(user))
    }

    fn verify_decision(&self, user: &User, guess: &CodeGuess) -> Decision<()> {
        let (events, outcome) = user.verify_phone(
            guess,
            self.clock.now(),
            self.config.code.max_attempts,
            &self.hasher,
        );
        Decision::on_user(user, events, ()).refused(outcome)
    }

    /// Loads a v2 target: it must be a live human (else "not found"), then the caller needs what `access` says.
    async fn v2_target(
        &self,
        caller: &Caller,
        org_header: Option<&str>,
        user_id: &str,
        access: Access,
    ) -> Result<User> {
        self.context_org(caller, org_header).await?;
        let user = self.user_for(caller, user_id).await?;
        user.live_human()?;
        match access {
            Access::Anyone => {}
            Access::SelfOrUserWrite => self.require_unless_self(caller, &user, USER_WRITE).await?,
            Access::UserWrite => self.require(caller, USER_WRITE, &user.org_id).await?,
        }
        Ok(user)
    }

    /// A v2 command on a user the checks loaded: the first round decides on that state.
    async fn on_checked<T>(
        &self,
        caller: &Caller,
        user: User,
        decide: impl Fn(&User) -> Result<Decision<T>>,
    ) -> Result<(User, T)> {
        let id = user.id.clone();
        self.execute_on_user(caller.user_id.as_str(), &id, None, Some(user), decide)
            .await
    }

    pub async fn set_phone_v2(
        &self,
        caller: &Caller,
        org_header: Option<&str>,
        user_id: &str,
        phone: &str,
        mode: SetPhoneV2,
    ) -> Result<(Written, Option<PlainCode>)> {
        // Marking a number verified without a code is an administrator's act, even on oneself.
        let access = Access::for_delivery(mode == SetPhoneV2::SendCode);
        let user = self.v2_target(caller, org_header, user_id, access).await?;
        let number = self.sms_number(phone)?;
        let (proof, delivery) = self.phone_proof(mode, Some(&number));
        self.deliver_code(caller, user, delivery, |user| {
            user.set_phone(&number, proof.clone(), self.cooldown())
        })
        .await
    }

    /// A v2 command that makes a code (or not): decided on the checked user, with the SMS queued or the code
    /// returned as `delivery` says.
    async fn deliver_code(
        &self,
        caller: &Caller,
        user: User,
        delivery: CodeDelivery,
        decide: impl Fn(&User) -> std::result::Result<Vec<UserEvent>, DomainError>,
    ) -> Result<(Written, Option<PlainCode>)> {
        let (user, ()) = self
            .on_checked(caller, user, |user| {
                Ok(with_sms(
                    Decision::on_user(user, decide(user)?, ()),
                    user,
                    &delivery,
                ))
            })
            .await?;
        Ok((Written::changed(user), delivery.returned))
    }

    pub async fn resend_v2(
        &self,
        caller: &Caller,
        org_header: Option<&str>,
        user_id: &str,
        return_code: bool,
    ) -> Result<(Written, Option<PlainCode>)> {
        let access = Access::for_delivery(!return_code);
        let user = self.v2_target(caller, org_header, user_id, access).await?;
        let mode = if return_code {
            SetPhoneV2::ReturnCode
        } else {
            SetPhoneV2::SendCode
        };
        let (proof, delivery) = self.phone_proof(mode, user.phone().map(|p| &p.number));
        let PhoneProof::Code(issued) = proof else {
            return Err(super::ServiceError::internal("a resend without a code"));
        };
        self.deliver_code(caller, user, delivery, |user| {
            user.resend_code(ResendPrecondition::PendingCode, &issued, self.cooldown())
        })
        .await
    }

    /// No permission check: knowing the code is the proof.
    pub async fn verify_v2(
        &self,
        caller: &Caller,
        org_header: Option<&str>,
        user_id: &str,
        code: &str,
    ) -> Result<Written> {
        let user = self
            .v2_target(caller, org_header, user_id, Access::Anyone)
            .await?;
        let guess = CodeGuess::parse(code)?;
        let (user, ()) = self
            .on_checked(caller, user, |user| Ok(self.verify_decision(user, &guess)))
            .await?;
        Ok(Written::changed(user))
    }

    pub async fn remove_phone_v2(
        &self,
        caller: &Caller,
        org_header: Option<&str>,
        user_id: &str,
    ) -> Result<Written> {
        let user = self
            .v2_target(caller, org_header, user_id, Access::SelfOrUserWrite)
            .await?;
        let (user, ()) = self
            .on_checked(caller, user, |user| {
                Ok(Decision::on_user(user, user.remove_phone()?, ()))
            })
            .await?;
        Ok(Written::changed(user))
    }
}

/// Queues the SMS, if the code goes by SMS.
fn with_sms<T>(decision: Decision<T>, user: &User, delivery: &CodeDelivery) -> Decision<T> {
    match &delivery.sms {
        Some(code) => decision.send_sms(&user.id, code.clone()),
        None => decision,
    }
}

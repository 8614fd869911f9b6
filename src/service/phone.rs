//! The phone commands of the three APIs. v1 (auth and management) and v2 differ on purpose in their
//! preconditions and in who may act; both are ZITADEL's behaviour.

use super::{Caller, PatChanges, Plan, Result, Services, Written};
use crate::domain::DomainError;
use crate::domain::code::PlainCode;
use crate::domain::permission::USER_WRITE;
use crate::domain::phone::PhoneNumber;
use crate::domain::user::{PhoneProof, ResendRules, User};

/// The user a v1 call acts on, and the org it must belong to (the caller's for the auth API, the context
/// org for the management API). A user outside that org is "not found".
#[derive(Debug, Clone)]
pub struct Target {
    pub user_id: String,
    pub org_id: String,
}

impl Target {
    pub fn me(caller: &Caller) -> Self {
        Self {
            user_id: caller.user_id.clone(),
            org_id: caller.org_id.clone(),
        }
    }

    fn check<'u>(&self, user: &'u User) -> std::result::Result<&'u User, DomainError> {
        if user.org_id != self.org_id {
            return Err(DomainError::UserNotFound);
        }
        Ok(user)
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

/// How a v2 SetPhone proves the number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SetPhoneV2 {
    SendCode,
    ReturnCode,
    Verified,
}

impl Services {
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
            user_id: user_id.to_owned(),
            org_id,
        })
    }

    /// Auth v1 target: always the caller. A `x-zitadel-orgid` header is still validated, as ZITADEL does.
    pub async fn me_target(&self, caller: &Caller, org_header: Option<&str>) -> Result<Target> {
        self.context_org(caller, org_header).await?;
        Ok(Target::me(caller))
    }

    pub async fn get_phone_v1(&self, target: &Target) -> Result<User> {
        let user = self
            .store
            .user(&target.user_id)
            .await?
            .filter(|u| {
                u.org_id == target.org_id && u.state != crate::domain::user::UserState::Removed
            })
            .ok_or(DomainError::UserNotFound)?;
        if user.human().is_none() {
            return Err(DomainError::UserNotHuman.into());
        }
        Ok(user)
    }

    pub async fn set_phone_v1(
        &self,
        caller: &Caller,
        target: &Target,
        phone: &str,
        verified: bool,
    ) -> Result<Written> {
        let number = PhoneNumber::parse(phone)?;
        let code = (!verified).then(|| self.issue_code(false));
        let (written, ()) = self
            .update_user(&target.user_id, &caller.user_id, None, |user| {
                let user = target.check(user)?;
                let proof = match &code {
                    Some((_, issued)) => PhoneProof::Code(issued.clone()),
                    None => PhoneProof::Verified,
                };
                Ok(Plan {
                    events: {
                        let events = user.set_phone_v1(&number, proof)?;
                        if code.is_some() {
                            user.check_sms_cooldown(self.clock.now(), self.resend_cooldown())?;
                        }
                        events
                    },
                    sms: code.as_ref().map(|(plain, _)| plain.clone()),
                    pats: PatChanges::default(),
                    outcome: Ok(()),
                })
            })
            .await?;
        Ok(written)
    }

    pub async fn remove_phone_v1(&self, caller: &Caller, target: &Target) -> Result<Written> {
        let (written, ()) = self
            .update_user(&target.user_id, &caller.user_id, None, |user| {
                Ok(Plan::ok(target.check(user)?.remove_phone()?, ()))
            })
            .await?;
        Ok(written)
    }

    pub async fn resend_v1(&self, caller: &Caller, target: &Target) -> Result<Written> {
        let (plain, issued) = self.issue_code(false);
        let (written, ()) = self
            .update_user(&target.user_id, &caller.user_id, None, |user| {
                Ok(Plan {
                    events: target.check(user)?.resend_code(
                        ResendRules::V1,
                        &issued,
                        self.clock.now(),
                        self.resend_cooldown(),
                    )?,
                    sms: Some(plain.clone()),
                    pats: PatChanges::default(),
                    outcome: Ok(()),
                })
            })
            .await?;
        Ok(written)
    }

    pub async fn verify_v1(&self, caller: &Caller, target: &Target, code: &str) -> Result<Written> {
        if code.is_empty() {
            return Err(DomainError::CodeEmpty.into());
        }
        let (written, ()) = self
            .update_user(&target.user_id, &caller.user_id, None, |user| {
                self.verify_plan(target.check(user)?, code)
            })
            .await?;
        Ok(written)
    }

    fn verify_plan(&self, user: &User, code: &str) -> Result<Plan<()>> {
        let (events, outcome) = user.verify_phone(
            code,
            self.clock.now(),
            self.config.code.max_attempts,
            &self.hasher,
        );
        Ok(Plan {
            events,
            sms: None,
            pats: PatChanges::default(),
            outcome,
        })
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
        let user = self
            .store
            .user(user_id)
            .await?
            .ok_or(DomainError::UserNotFound)?;
        user.live_human()?;
        match access {
            Access::Anyone => {}
            Access::SelfOrUserWrite => self.require_unless_self(caller, &user, USER_WRITE).await?,
            Access::UserWrite => self.require(caller, USER_WRITE, &user.org_id).await?,
        }
        Ok(user)
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
        let user = self
            .v2_target(
                caller,
                org_header,
                user_id,
                Access::for_delivery(mode == SetPhoneV2::SendCode),
            )
            .await?;
        let number = PhoneNumber::parse(phone)?;
        let code =
            (mode != SetPhoneV2::Verified).then(|| self.issue_code(mode == SetPhoneV2::ReturnCode));
        self.update_user(user_id, &caller.user_id, Some(user), |user| {
            let proof = match &code {
                Some((_, issued)) => PhoneProof::Code(issued.clone()),
                None => PhoneProof::Verified,
            };
            Ok(Plan {
                events: {
                    let events = user.set_phone(&number, proof)?;
                    if mode == SetPhoneV2::SendCode {
                        user.check_sms_cooldown(self.clock.now(), self.resend_cooldown())?;
                    }
                    events
                },
                sms: code
                    .as_ref()
                    .filter(|_| mode == SetPhoneV2::SendCode)
                    .map(|(p, _)| p.clone()),
                pats: PatChanges::default(),
                outcome: Ok(code
                    .as_ref()
                    .filter(|_| mode == SetPhoneV2::ReturnCode)
                    .map(|(p, _)| p.clone())),
            })
        })
        .await
    }

    pub async fn resend_v2(
        &self,
        caller: &Caller,
        org_header: Option<&str>,
        user_id: &str,
        return_code: bool,
    ) -> Result<(Written, Option<PlainCode>)> {
        let user = self
            .v2_target(
                caller,
                org_header,
                user_id,
                Access::for_delivery(!return_code),
            )
            .await?;
        let (plain, issued) = self.issue_code(return_code);
        self.update_user(user_id, &caller.user_id, Some(user), |user| {
            Ok(Plan {
                events: user.resend_code(
                    ResendRules::V2,
                    &issued,
                    self.clock.now(),
                    self.resend_cooldown(),
                )?,
                sms: (!return_code).then(|| plain.clone()),
                pats: PatChanges::default(),
                outcome: Ok(return_code.then(|| plain.clone())),
            })
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
        if code.is_empty() {
            return Err(DomainError::CodeEmpty.into());
        }
        let (written, ()) = self
            .update_user(user_id, &caller.user_id, Some(user), |user| {
                self.verify_plan(user, code)
            })
            .await?;
        Ok(written)
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
        let (written, ()) = self
            .update_user(user_id, &caller.user_id, Some(user), |user| {
                Ok(Plan::ok(user.remove_phone()?, ()))
            })
            .await?;
        Ok(written)
    }
}

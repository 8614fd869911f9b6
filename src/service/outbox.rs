//! What a commit that sends a code carries besides its events: the delivery job, and the counts that hold
//! the per-number cap and the per-organization budget across processes. The number is checked against the
//! SMS rules again here, since the rules may have changed since it was set; a test number gets no job and
//! counts against nothing.

use chrono::{DateTime, Utc};

use super::{Result, ServiceError, Services};
use crate::domain::code::PlainCode;
use crate::domain::throttle::SmsDay;
use crate::domain::user::User;
use crate::store::{Commit, NewSmsJob, OrgSmsQuota, SmsQuota};

impl Services {
    /// Adds the SMS with `code` for `user` (as the commit leaves it) to `commit`.
    pub(super) fn queue_sms(
        &self,
        commit: &mut Commit,
        user: &User,
        code: &PlainCode,
        now: DateTime<Utc>,
    ) -> Result<()> {
        let phone = user
            .phone()
            .ok_or_else(|| ServiceError::internal("SMS without phone"))?;
        let policy = &self.config.limits.policy;
        if policy.test_number(&phone.number, now).is_some() {
            return Ok(());
        }
        policy.check(&phone.number, now)?;
        let job = self.sms_job(user, code, now)?;
        let day = SmsDay::of(now).key();
        let limits = &self.config.limits;
        if limits.max_sends_per_phone_per_day > 0 {
            commit.sms_quota = Some(SmsQuota {
                phone: job.phone.clone(),
                day: day.clone(),
                limit: i64::from(limits.max_sends_per_phone_per_day),
            });
        }
        if limits.max_sms_per_org_per_day > 0 {
            commit.org_sms_quota = Some(OrgSmsQuota {
                org_id: user.org_id.as_str().to_owned(),
                day,
                limit: i64::from(limits.max_sms_per_org_per_day),
            });
        }
        commit.jobs.push(job);
        Ok(())
    }

    fn sms_job(&self, user: &User, code: &PlainCode, now: DateTime<Utc>) -> Result<NewSmsJob> {
        let phone = user
            .phone()
            .ok_or_else(|| ServiceError::internal("SMS without phone"))?;
        let pending = phone
            .code
            .as_ref()
            .ok_or_else(|| ServiceError::internal("SMS without code"))?;
        Ok(NewSmsJob {
            id: self.ids.next(now),
            user_id: user.id.as_str().to_owned(),
            code_sequence: pending.sequence,
            phone: phone.number.as_str().to_owned(),
            encrypted_code: self.cipher.seal(code)?,
            language: user
                .human()
                .map(|h| h.preferred_language.clone())
                .unwrap_or_default(),
            expires_at: pending.expires_at,
            created_at: now,
        })
    }
}

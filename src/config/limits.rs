//! `[limits]`: the throttles on sending codes, and what numbers may be sent one (`SmsPolicy`).

use std::fmt;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Deserialize;

use super::seconds;
use super::validate::{ConfigError, invalid};
use crate::domain::code::PlainCode;
use crate::domain::sms_policy::{
    NumberPattern, RegionRule, SmsPolicy, TestNumber, parse_number_type,
};

#[derive(Debug, Clone, Deserialize)]
pub struct LimitsConfig {
    #[serde(rename = "resend_cooldown_secs", deserialize_with = "seconds::read")]
    pub resend_cooldown: Duration,
    pub max_sends_per_phone_per_day: u32,
    /// 0: no budget.
    pub max_sms_per_org_per_day: u32,
    pub allowed_regions: Vec<String>,
    pub denied_regions: Vec<String>,
    pub allowed_number_types: Vec<String>,
    pub test_numbers: Vec<TestNumberSetting>,
    /// The rules above, read once when the settings are loaded.
    #[serde(skip)]
    pub policy: SmsPolicy,
}

/// One `[[limits.test_numbers]]` entry as written.
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TestNumberSetting {
    pub number: String,
    pub code: String,
    pub expires: DateTime<Utc>,
}

impl fmt::Debug for TestNumberSetting {
    // The code lets anyone verify the number: it stays out of logged settings.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TestNumberSetting")
            .field("number", &self.number)
            .field("code", &"***")
            .field("expires", &self.expires)
            .finish()
    }
}

impl LimitsConfig {
    /// The rules the settings describe; the first unreadable entry is named.
    pub fn sms_policy(&self) -> Result<SmsPolicy, ConfigError> {
        let regions = |key: &str, list: &[String]| {
            list.iter()
                .map(|r| RegionRule::parse(r).map_err(|why| invalid(key, why)))
                .collect::<Result<Vec<_>, _>>()
        };
        let allowed_types = self
            .allowed_number_types
            .iter()
            .map(|t| {
                parse_number_type(t).map_err(|why| invalid("limits.allowed_number_types", why))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let test_numbers = self
            .test_numbers
            .iter()
            .map(|t| {
                let pattern = NumberPattern::parse(&t.number)
                    .map_err(|why| invalid("limits.test_numbers.number", why))?;
                if t.code.is_empty() || t.code.chars().count() > 20 {
                    return Err(invalid(
                        "limits.test_numbers.code",
                        "must be 1 to 20 characters",
                    ));
                }
                Ok(TestNumber {
                    pattern,
                    code: PlainCode::new(t.code.clone()),
                    expires: t.expires,
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(SmsPolicy {
            allowed_regions: regions("limits.allowed_regions", &self.allowed_regions)?,
            denied_regions: regions("limits.denied_regions", &self.denied_regions)?,
            allowed_types,
            test_numbers,
            ..SmsPolicy::default()
        })
    }
}

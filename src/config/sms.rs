//! The SMS provider settings, and the checks that the active provider's are complete.

use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

use super::TemplateConfig;
use super::validate::{ConfigError, invalid};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SmsProviderKind {
    None,
    Log,
    Webhook,
    Twilio,
}

#[derive(Debug, Clone, Deserialize)]
pub struct SmsConfig {
    pub provider: SmsProviderKind,
    pub max_attempts: u32,
    /// Provider calls one process has in flight at once (`notify::worker`).
    pub max_concurrent_sends: u32,
    /// Hours a settled job stays in the database (`notify::retention`); 0 keeps it for ever.
    pub settled_job_retention_hours: u32,
    pub webhook: WebhookConfig,
    pub twilio: TwilioConfig,
    pub template: TemplateConfig,
}

#[derive(Debug, Clone, Deserialize)]
pub struct WebhookConfig {
    pub url: String,
    pub signing_key: SecretString,
    #[serde(rename = "timeout_secs", deserialize_with = "super::seconds::read")]
    pub timeout: Duration,
    /// `contextInfo.provider.id` in the body, as ZITADEL names its SMS provider configuration.
    pub provider_id: String,
    pub description: String,
}

#[derive(Debug, Clone, Deserialize)]
pub struct TwilioConfig {
    pub base_url: String,
    pub account_sid: String,
    pub auth_token: SecretString,
    pub from: String,
    pub messaging_service_sid: String,
    #[serde(rename = "timeout_secs", deserialize_with = "super::seconds::read")]
    pub timeout: Duration,
}

/// A provider call may not take longer: the worker's lease on a job (60 s) must outlast every call, or a second
/// worker could pick the job up while the first is still sending it.
pub const MAX_SMS_TIMEOUT: Duration = Duration::from_secs(30);

impl SmsConfig {
    /// The active provider's settings are complete, its timeout fits the worker's lease, and every message
    /// template can be rendered.
    pub(super) fn validate(&self) -> Result<(), ConfigError> {
        match self.provider {
            SmsProviderKind::Webhook => {
                if self.webhook.url.is_empty() {
                    return Err(invalid(
                        "sms.webhook.url",
                        "is required when sms.provider is webhook",
                    ));
                }
                check_endpoint("sms.webhook", &self.webhook.url, self.webhook.timeout)?;
            }
            SmsProviderKind::Twilio => {
                if self.twilio.account_sid.is_empty()
                    || self.twilio.auth_token.expose_secret().is_empty()
                {
                    return Err(invalid(
                        "sms.twilio",
                        "account_sid and auth_token are required when sms.provider is twilio",
                    ));
                }
                if self.twilio.from.is_empty() && self.twilio.messaging_service_sid.is_empty() {
                    return Err(invalid(
                        "sms.twilio.from",
                        "a sender number (or sms.twilio.messaging_service_sid) is required when sms.provider is twilio",
                    ));
                }
                check_endpoint("sms.twilio", &self.twilio.base_url, self.twilio.timeout)?;
            }
            SmsProviderKind::None | SmsProviderKind::Log => {}
        }
        crate::notify::template::check(&self.template).map_err(|(key, reason)| invalid(key, reason))
    }
}

/// A provider's URL is http(s) and its timeout fits the worker's lease. `section` is `sms.<provider>`; the URL
/// setting is `url` for the webhook and `base_url` for Twilio.
fn check_endpoint(section: &str, url: &str, timeout: Duration) -> Result<(), ConfigError> {
    if !(url.starts_with("http://") || url.starts_with("https://")) {
        let key = if section == "sms.twilio" {
            "base_url"
        } else {
            "url"
        };
        return Err(invalid(
            format!("{section}.{key}"),
            "must start with http:// or https://",
        ));
    }
    if !(Duration::from_secs(1)..=MAX_SMS_TIMEOUT).contains(&timeout) {
        return Err(invalid(
            format!("{section}.timeout_secs"),
            format!("must be between 1 and {}", MAX_SMS_TIMEOUT.as_secs()),
        ));
    }
    Ok(())
}

//! `twilio`: Twilio's Messages API, `POST {base_url}/2010-04-01/Accounts/{sid}/Messages.json` with HTTP basic
//! auth (account SID, auth token) and the form fields `To`, `From` or `MessagingServiceSid`, and `Body`.

use std::time::Duration;

use async_trait::async_trait;
use reqwest::Url;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

use super::{SendError, SmsMessage, SmsProvider, http_client, request_error};
use crate::config::TwilioConfig;

/// Twilio's error messages are short; a longer one is cut so that a strange answer cannot flood the log.
const MAX_ERROR_MESSAGE: usize = 200;

pub struct TwilioProvider {
    client: reqwest::Client,
    messages_url: Url,
    account_sid: String,
    auth_token: SecretString,
    sender: Sender,
    timeout: Duration,
}

enum Sender {
    From(String),
    /// A messaging service picks the sender itself; Twilio prefers it over `From` when both are given.
    MessagingService(String),
}

/// What Twilio answers on an error (`code` is Twilio's error number, e.g. 21211 for an invalid `To`).
#[derive(Deserialize)]
struct TwilioError {
    code: Option<i64>,
    message: Option<String>,
}

#[derive(Deserialize)]
struct TwilioMessage {
    sid: Option<String>,
}

impl TwilioProvider {
    pub fn new(config: &TwilioConfig) -> Result<Self, String> {
        let timeout = config.timeout;
        let mut messages_url = Url::parse(&config.base_url)
            .map_err(|e| format!("sms.twilio.base_url is not a URL: {e}"))?;
        messages_url
            .path_segments_mut()
            .map_err(|()| "sms.twilio.base_url cannot be a base URL".to_owned())?
            .pop_if_empty()
            .extend([
                "2010-04-01",
                "Accounts",
                &config.account_sid,
                "Messages.json",
            ]);
        let sender = if config.messaging_service_sid.is_empty() {
            Sender::From(config.from.clone())
        } else {
            Sender::MessagingService(config.messaging_service_sid.clone())
        };
        Ok(Self {
            client: http_client(timeout)?,
            messages_url,
            account_sid: config.account_sid.clone(),
            auth_token: config.auth_token.clone(),
            sender,
            timeout,
        })
    }
}

#[async_trait]
impl SmsProvider for TwilioProvider {
    fn name(&self) -> &'static str {
        "twilio"
    }

    fn timeout(&self) -> Duration {
        self.timeout
    }

    async fn send(&self, message: &SmsMessage) -> Result<(), SendError> {
        let sender = match &self.sender {
            Sender::From(number) => ("From", number.as_str()),
            Sender::MessagingService(sid) => ("MessagingServiceSid", sid.as_str()),
        };
        let form = [
            ("To", message.to.as_str()),
            sender,
            ("Body", message.text.as_str()),
        ];
        let response = self
            .client
            .post(self.messages_url.clone())
            .basic_auth(&self.account_sid, Some(self.auth_token.expose_secret()))
            .form(&form)
            .send()
            .await
            .map_err(|e| request_error("twilio", e))?;
        let status = response.status();
        // A body that does not arrive or parse still leaves the status to judge by.
        let body = response.bytes().await.unwrap_or_default();
        if status.is_success() {
            let sid = serde_json::from_slice::<TwilioMessage>(&body)
                .ok()
                .and_then(|m| m.sid)
                .unwrap_or_default();
            tracing::debug!(user = %message.user_id, sid = %sid, "Twilio accepted the SMS");
            return Ok(());
        }
        let mut text = format!("Twilio answered HTTP {}", status.as_u16());
        if let Ok(error) = serde_json::from_slice::<TwilioError>(&body) {
            if let Some(code) = error.code {
                text.push_str(&format!(", error {code}"));
            }
            if let Some(m) = error.message {
                // Should an answer quote the message back, the code still stays out of logs and the job row.
                let m = m.replace(message.code.expose(), "***");
                text.push_str(": ");
                text.extend(m.chars().take(MAX_ERROR_MESSAGE));
            }
        }
        Err(SendError::Failed(text))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    fn provider(toml: &str) -> TwilioProvider {
        let config = Config::from_toml_overrides(toml).unwrap();
        TwilioProvider::new(&config.sms.twilio).unwrap()
    }

    #[test]
    fn the_messages_url_is_built_from_base_url_and_sid() {
        let p = provider("[sms.twilio]\naccount_sid = \"AC123\"");
        assert_eq!(
            p.messages_url.as_str(),
            "https://api.twilio.com/2010-04-01/Accounts/AC123/Messages.json"
        );
        let p = provider(
            "[sms.twilio]\nbase_url = \"http://127.0.0.1:8999/twilio/\"\naccount_sid = \"AC/../x\"",
        );
        assert_eq!(
            p.messages_url.as_str(),
            "http://127.0.0.1:8999/twilio/2010-04-01/Accounts/AC%2F..%2Fx/Messages.json",
            "the SID stays one path segment"
        );
    }
}

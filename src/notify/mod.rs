//! SMS delivery: providers behind one trait, and the outbox worker that drives them.

mod delivery;
pub mod retention;
pub mod template;
mod twilio;
mod webhook;
mod worker;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;

use crate::config::{SmsConfig, SmsProviderKind};
use crate::domain::clock::SystemClock;
use crate::domain::code::PlainCode;

pub use twilio::TwilioProvider;
pub use webhook::{SIGNATURE_HEADER, WebhookProvider, signature_header};
pub use worker::Worker;

/// How long a provider call may take when the provider does not say.
pub const DEFAULT_SEND_TIMEOUT: Duration = Duration::from_secs(10);

/// One SMS to deliver.
/// `Debug` is written by hand: the text carries the code in clear.
#[derive(Clone)]
pub struct SmsMessage {
    pub to: String,
    /// The rendered template: what the recipient reads.
    pub text: String,
    pub code: PlainCode,
    pub user_id: String,
    /// The user's preferred language (may be empty): what chose the template.
    pub language: String,
    /// How long the code can be verified, counted from when it was issued.
    pub expiry: chrono::Duration,
    pub event_type: &'static str,
}

impl std::fmt::Debug for SmsMessage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmsMessage")
            .field("to", &self.to)
            .field("user_id", &self.user_id)
            .field("event_type", &self.event_type)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SendError {
    #[error("provider failed: {0}")]
    Failed(String),
    #[error("provider timed out")]
    Timeout,
}

#[async_trait]
pub trait SmsProvider: Send + Sync {
    fn name(&self) -> &'static str;
    /// The longest one `send` may take; the worker cuts a call off a little after it.
    fn timeout(&self) -> Duration {
        DEFAULT_SEND_TIMEOUT
    }
    async fn send(&self, message: &SmsMessage) -> Result<(), SendError>;
}

/// `sms.provider = none`: declines every send. New sends are refused before they are queued; this only
/// settles jobs left from before, which then fail until their code expires and are given up.
pub struct NoProvider;

#[async_trait]
impl SmsProvider for NoProvider {
    fn name(&self) -> &'static str {
        "none"
    }

    async fn send(&self, _message: &SmsMessage) -> Result<(), SendError> {
        Err(SendError::Failed("no SMS provider is active".into()))
    }
}

/// Development default: writes the message to the log instead of sending it.
pub struct LogProvider;

#[async_trait]
impl SmsProvider for LogProvider {
    fn name(&self) -> &'static str {
        "log"
    }

    async fn send(&self, message: &SmsMessage) -> Result<(), SendError> {
        // This provider exists to show the message in development; it is the only place a code is logged.
        tracing::info!(to = %message.to, text = %message.text, "SMS (log provider)");
        Ok(())
    }
}

/// For tests: keeps every message, and can be told to fail.
#[derive(Default)]
pub struct RecordingProvider {
    sent: Mutex<Vec<SmsMessage>>,
    failures_left: Mutex<u32>,
}

impl RecordingProvider {
    pub fn new() -> Arc<Self> {
        Arc::new(Self::default())
    }

    pub fn sent(&self) -> Vec<SmsMessage> {
        self.sent.lock().map(|s| s.clone()).unwrap_or_default()
    }

    /// The next `n` sends fail.
    pub fn fail_next(&self, n: u32) {
        if let Ok(mut f) = self.failures_left.lock() {
            *f = n;
        }
    }
}

#[async_trait]
impl SmsProvider for RecordingProvider {
    fn name(&self) -> &'static str {
        "recording"
    }

    async fn send(&self, message: &SmsMessage) -> Result<(), SendError> {
        if let Ok(mut f) = self.failures_left.lock()
            && *f > 0
        {
            *f -= 1;
            return Err(SendError::Failed("told to fail".into()));
        }
        if let Ok(mut s) = self.sent.lock() {
            s.push(message.clone());
        }
        Ok(())
    }
}

/// The provider `sms.provider` names. `none` has no provider: requests that would send are refused.
pub fn provider_from_config(sms: &SmsConfig) -> Result<Option<Arc<dyn SmsProvider>>, String> {
    match sms.provider {
        SmsProviderKind::None => Ok(None),
        SmsProviderKind::Log => Ok(Some(Arc::new(LogProvider))),
        SmsProviderKind::Webhook => Ok(Some(Arc::new(WebhookProvider::new(
            &sms.webhook,
            Arc::new(SystemClock),
        )?))),
        SmsProviderKind::Twilio => Ok(Some(Arc::new(TwilioProvider::new(&sms.twilio)?))),
    }
}

/// The HTTP client of the webhook and Twilio providers: HTTPS through rustls on aws-lc-rs (the crypto the rest
/// of the service already uses) with Mozilla's root certificates compiled in, so it works in a bare container.
/// Redirects are not followed: a provider that answers 3xx has not accepted the message.
pub(crate) fn http_client(timeout: Duration) -> Result<reqwest::Client, String> {
    let mut roots = rustls::RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    let tls = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::aws_lc_rs::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(|e| format!("cannot set up TLS: {e}"))?
    .with_root_certificates(roots)
    .with_no_client_auth();
    reqwest::Client::builder()
        .use_preconfigured_tls(tls)
        .timeout(timeout)
        .connect_timeout(timeout)
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("phoneverify/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| format!("cannot build the HTTP client: {e}"))
}

/// What went wrong with a request, for the job's `last_error` and the log: the kind and its causes, without
/// the URL (a webhook URL may carry a token).
fn request_error(what: &str, e: reqwest::Error) -> SendError {
    if e.is_timeout() {
        return SendError::Timeout;
    }
    let kind = if e.is_connect() {
        "cannot connect"
    } else {
        "request failed"
    };
    let mut text = format!("{what}: {kind}");
    let e = e.without_url();
    let mut source = std::error::Error::source(&e);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    SendError::Failed(text)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    #[test]
    fn the_configured_provider_is_built() {
        let name = |toml: &str| {
            let config = Config::from_toml_overrides(toml).unwrap();
            provider_from_config(&config.sms)
                .unwrap()
                .map(|p| (p.name(), p.timeout()))
        };
        assert_eq!(name("[sms]\nprovider = \"none\""), None);
        assert_eq!(name(""), Some(("log", DEFAULT_SEND_TIMEOUT)));
        assert_eq!(
            name(
                "[sms]\nprovider = \"webhook\"\n[sms.webhook]\nurl = \"https://sms.example.com/x\"\ntimeout_secs = 3"
            ),
            Some(("webhook", Duration::from_secs(3)))
        );
        assert_eq!(
            name(
                "[sms]\nprovider = \"twilio\"\n[sms.twilio]\naccount_sid = \"AC1\"\nauth_token = \"t\"\nfrom = \"+15005550006\""
            ),
            Some(("twilio", Duration::from_secs(10)))
        );
    }
}

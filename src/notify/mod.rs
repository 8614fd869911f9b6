//! SMS delivery: providers behind one trait, and the outbox worker that drives them.

mod worker;

use std::sync::{Arc, Mutex};

use async_trait::async_trait;

use crate::config::{SmsConfig, SmsProviderKind};
use crate::domain::code::PlainCode;

pub use worker::Worker;

/// One SMS to deliver.
#[derive(Debug, Clone)]
pub struct SmsMessage {
    pub to: String,
    pub text: String,
    pub code: PlainCode,
    pub user_id: String,
    pub event_type: &'static str,
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
    async fn send(&self, message: &SmsMessage) -> Result<(), SendError>;
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
        // Refuse to start rather than accept codes that no provider would deliver.
        SmsProviderKind::Webhook | SmsProviderKind::Twilio => Err(format!(
            "sms.provider = {:?} is not available in this version; use log or none",
            sms.provider
        )
        .to_lowercase()),
    }
}

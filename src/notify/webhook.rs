//! `webhook`: each SMS is a JSON POST in the body ZITADEL's HTTP SMS provider sends
//! (`internal/notification/channels/webhook`, `types/user_phone.go`), so a receiver written for ZITADEL works
//! unchanged. With a signing key, the request carries ZITADEL's `ZITADEL-Signature` header.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use aws_lc_rs::hmac;
use reqwest::header::CONTENT_TYPE;
use secrecy::ExposeSecret;
use serde::Serialize;

use super::{SendError, SmsMessage, SmsProvider, http_client, request_error};
use crate::config::WebhookConfig;
use crate::domain::clock::Clock;

/// The header name ZITADEL uses for Actions and HTTP providers.
pub const SIGNATURE_HEADER: &str = "ZITADEL-Signature";

pub struct WebhookProvider {
    client: reqwest::Client,
    url: String,
    /// `None` when no signing key is configured: the request goes unsigned.
    key: Option<hmac::Key>,
    provider_id: String,
    description: String,
    timeout: Duration,
    /// The signature's timestamp comes from here, so tests can pin it.
    clock: Arc<dyn Clock>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Body<'a> {
    context_info: ContextInfo<'a>,
    template_data: TemplateData<'a>,
    args: Args<'a>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ContextInfo<'a> {
    recipient_phone_number: &'a str,
    event_type: &'a str,
    provider: ProviderInfo<'a>,
}

#[derive(Serialize)]
struct ProviderInfo<'a> {
    id: &'a str,
    description: &'a str,
}

/// ZITADEL renders its message texts into this object; an SMS has only `text`.
#[derive(Serialize)]
struct TemplateData<'a> {
    text: &'a str,
}

/// The values the text was rendered from. ZITADEL lower-cases the first letter of each key.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Args<'a> {
    code: &'a str,
    /// A Go duration (`10m0s`), as ZITADEL's templates print `{{.Expiry}}`.
    expiry: String,
    user_id: &'a str,
    preferred_language: &'a str,
}

impl WebhookProvider {
    pub fn new(config: &WebhookConfig, clock: Arc<dyn Clock>) -> Result<Self, String> {
        let timeout = config.timeout;
        let secret = config.signing_key.expose_secret();
        Ok(Self {
            client: http_client(timeout)?,
            url: config.url.clone(),
            key: (!secret.is_empty()).then(|| hmac::Key::new(hmac::HMAC_SHA256, secret.as_bytes())),
            provider_id: config.provider_id.clone(),
            description: config.description.clone(),
            timeout,
            clock,
        })
    }

    fn body(&self, message: &SmsMessage) -> Result<Vec<u8>, SendError> {
        let body = Body {
            context_info: ContextInfo {
                recipient_phone_number: &message.to,
                event_type: message.event_type,
                provider: ProviderInfo {
                    id: &self.provider_id,
                    description: &self.description,
                },
            },
            template_data: TemplateData {
                text: &message.text,
            },
            args: Args {
                code: message.code.expose(),
                expiry: go_duration(message.expiry),
                user_id: &message.user_id,
                preferred_language: &message.language,
            },
        };
        // serde_json's error names the failing field, never its value.
        serde_json::to_vec(&body)
            .map_err(|e| SendError::Failed(format!("cannot encode the webhook body: {e}")))
    }
}

#[async_trait]
impl SmsProvider for WebhookProvider {
    fn name(&self) -> &'static str {
        "webhook"
    }

    fn timeout(&self) -> Duration {
        self.timeout
    }

    async fn send(&self, message: &SmsMessage) -> Result<(), SendError> {
        let body = self.body(message)?;
        let mut request = self
            .client
            .post(&self.url)
            .header(CONTENT_TYPE, "application/json");
        if let Some(key) = &self.key {
            let header = signature_header(key, self.clock.now().timestamp(), &body);
            request = request.header(SIGNATURE_HEADER, header);
        }
        let response = request
            .body(body)
            .send()
            .await
            .map_err(|e| request_error("webhook", e))?;
        let status = response.status();
        if status.is_success() {
            Ok(())
        } else {
            // Only the status: the answer's body is the receiver's and may echo what we sent.
            Err(SendError::Failed(format!(
                "webhook answered HTTP {}",
                status.as_u16()
            )))
        }
    }
}

/// `t=<unix seconds>,v1=<hex HMAC-SHA256 over "<t>.<body>">`, as ZITADEL's `actions.ComputeSignatureHeader`.
pub fn signature_header(key: &hmac::Key, t: i64, body: &[u8]) -> String {
    let mut context = hmac::Context::with_key(key);
    context.update(t.to_string().as_bytes());
    context.update(b".");
    context.update(body);
    format!("t={t},v1={}", hex(context.sign().as_ref()))
}

fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 0x0f)]));
    }
    out
}

/// Go's `time.Duration.String()` for whole seconds: `45s`, `10m0s`, `1h30m0s`.
fn go_duration(d: chrono::Duration) -> String {
    let secs = d.num_seconds().max(0);
    let (h, m, s) = (secs / 3600, secs / 60 % 60, secs % 60);
    if h > 0 {
        format!("{h}h{m}m{s}s")
    } else if m > 0 {
        format!("{m}m{s}s")
    } else {
        format!("{s}s")
    }
}

#[cfg(test)]
mod tests {
    use chrono::{TimeZone, Utc};

    use super::*;
    use crate::domain::clock::ManualClock;
    use crate::domain::code::PlainCode;

    #[test]
    fn signature_matches_zitadels_scheme() {
        // Reference values computed independently (Python: hmac.new(key, b"<t>.<body>", hashlib.sha256)).
        let key = hmac::Key::new(hmac::HMAC_SHA256, b"secret");
        assert_eq!(
            signature_header(&key, 1_700_000_000, b"{}"),
            "t=1700000000,v1=b8569b78799ff9e3cbff0fc2d63a33a2b57f3282abd07c37ae5e8e7d79a5f163"
        );
        let key = hmac::Key::new(hmac::HMAC_SHA256, b"whsec_test");
        assert_eq!(
            signature_header(&key, 1_700_000_000, br#"{"a":1}"#),
            "t=1700000000,v1=38877139021993b830af32feea6e18a8da83eb2f6e49ee50bd9e4cf4ca4d3789"
        );
        assert_ne!(
            signature_header(&key, 1_700_000_001, br#"{"a":1}"#),
            signature_header(&key, 1_700_000_000, br#"{"a":1}"#),
            "the timestamp is signed"
        );
    }

    fn message() -> SmsMessage {
        SmsMessage {
            to: "+41791234567".into(),
            text: "Your code is 482913".into(),
            code: PlainCode::new("482913".into()),
            user_id: "42".into(),
            language: "de".into(),
            expiry: chrono::Duration::minutes(10),
            event_type: "user.human.phone.code.added",
        }
    }

    #[tokio::test]
    async fn https_goes_through_rustls_and_a_bad_handshake_is_a_failure() {
        // A server that speaks plain HTTP where TLS is expected: the client's handshake (rustls on aws-lc-rs)
        // must fail cleanly, naming neither the code nor the URL's secret.
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        tokio::spawn(async move {
            use tokio::io::AsyncWriteExt;
            while let Ok((mut s, _)) = listener.accept().await {
                let _ = s
                    .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n")
                    .await;
            }
        });
        let config = crate::config::Config::from_toml_overrides(&format!(
            "[sms.webhook]\nurl = \"https://127.0.0.1:{port}/hook?token=url-secret\"\ntimeout_secs = 2"
        ))
        .unwrap();
        let clock = Arc::new(ManualClock::new(
            Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap(),
        ));
        let provider = WebhookProvider::new(&config.sms.webhook, clock).unwrap();
        match provider.send(&message()).await {
            Err(SendError::Failed(e)) => {
                assert!(!e.contains("url-secret") && !e.contains("482913"), "{e}");
            }
            other => panic!("expected a TLS failure, got {other:?}"),
        }
    }

    #[test]
    fn hex_and_go_durations() {
        assert_eq!(hex(&[0x00, 0x0f, 0xa5, 0xff]), "000fa5ff");
        assert_eq!(go_duration(chrono::Duration::seconds(45)), "45s");
        assert_eq!(go_duration(chrono::Duration::seconds(600)), "10m0s");
        assert_eq!(go_duration(chrono::Duration::seconds(5430)), "1h30m30s");
    }

    #[test]
    fn body_has_zitadels_shape_and_lower_camel_case_args() {
        let config = crate::config::Config::from_toml_overrides(
            "[sms.webhook]\nurl = \"http://127.0.0.1:9/x\"\nsigning_key = \"k\"",
        )
        .unwrap();
        let clock = Arc::new(ManualClock::new(
            Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap(),
        ));
        let provider = WebhookProvider::new(&config.sms.webhook, clock).unwrap();
        let body: serde_json::Value =
            serde_json::from_slice(&provider.body(&message()).unwrap()).unwrap();
        assert_eq!(
            body,
            serde_json::json!({
                "contextInfo": {
                    "recipientPhoneNumber": "+41791234567",
                    "eventType": "user.human.phone.code.added",
                    "provider": {"id": "phoneverify", "description": "phoneverify HTTP SMS provider"}
                },
                "templateData": {"text": "Your code is 482913"},
                "args": {"code": "482913", "expiry": "10m0s", "userId": "42", "preferredLanguage": "de"}
            })
        );
    }
}

//! What a configuration must satisfy beyond its types, and how a problem is told: naming the key.

use super::Config;

const DAY: u64 = 86_400;
/// The longest token lifetime the settings accept, in seconds.
pub const TEN_YEARS: u64 = 10 * 365 * DAY;

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("invalid configuration: {}", describe(.0))]
    Parse(Box<figment::Error>),
    #[error("invalid configuration: `{key}`: {reason}")]
    Invalid { key: String, reason: String },
}

/// Each problem as `` `section.key`: what is wrong (where the value came from) ``, keys in the documented
/// lower-case form whatever case the environment used.
fn describe(error: &figment::Error) -> String {
    error
        .clone()
        .into_iter()
        .map(|e| {
            let key = e
                .path
                .iter()
                .map(|p| p.to_lowercase())
                .collect::<Vec<_>>()
                .join(".");
            let source = e
                .metadata
                .as_ref()
                .map(|m| format!(" (from {})", m.name))
                .unwrap_or_default();
            if key.is_empty() {
                format!("{}{source}", e.kind)
            } else {
                format!("`{key}`: {}{source}", e.kind)
            }
        })
        .collect::<Vec<_>>()
        .join("; ")
}

pub(super) fn invalid(key: impl Into<String>, reason: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        key: key.into(),
        reason: reason.into(),
    }
}

impl Config {
    pub(super) fn validate(&self) -> Result<(), ConfigError> {
        // Upper bounds keep every duration far from overflowing the time arithmetic.
        let bounded: [(&'static str, u64, u64, u64); 9] = [
            ("code.expiry_secs", self.code.expiry.as_secs(), 1, DAY),
            (
                "limits.resend_cooldown_secs",
                self.limits.resend_cooldown.as_secs(),
                0,
                DAY,
            ),
            ("auth.leeway_secs", self.auth.leeway.as_secs(), 0, 300),
            (
                "auth.admin_token_ttl_secs",
                self.auth.admin_token_ttl.as_secs(),
                60,
                TEN_YEARS,
            ),
            (
                "auth.token_ttl_secs",
                self.auth.token_ttl.as_secs(),
                60,
                TEN_YEARS,
            ),
            (
                "http.request_timeout_secs",
                self.http.request_timeout.as_secs(),
                1,
                300,
            ),
            (
                "database.acquire_timeout_secs",
                self.database.acquire_timeout.as_secs(),
                1,
                60,
            ),
            (
                "database.max_connections",
                u64::from(self.database.max_connections),
                1,
                1000,
            ),
            (
                "code.max_attempts",
                u64::from(self.code.max_attempts),
                1,
                100,
            ),
        ];
        for (key, value, min, max) in bounded {
            if !(min..=max).contains(&value) {
                return Err(invalid(key, format!("must be between {min} and {max}")));
            }
        }
        if !(4..=20).contains(&self.code.length) {
            return Err(invalid("code.length", "must be between 4 and 20"));
        }
        if self.sms.max_attempts == 0 {
            return Err(invalid("sms.max_attempts", "must be greater than 0"));
        }
        let url = self.database_url();
        if !(url.starts_with("sqlite:")
            || url.starts_with("postgres://")
            || url.starts_with("postgresql://"))
        {
            return Err(invalid(
                "database_url",
                "must start with sqlite:, postgres:// or postgresql://",
            ));
        }
        self.sms.validate()
    }
}

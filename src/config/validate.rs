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
    #[error("cannot read the configuration file {}: {reason}", .path.display())]
    File {
        path: std::path::PathBuf,
        reason: String,
    },
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
            let source = match e.metadata.as_ref() {
                // The variable itself, which is what the operator has to find and fix.
                Some(m) if m.name.contains("environment") && !key.is_empty() => {
                    format!(" (from {})", super::strict::variable(&key))
                }
                Some(m) => format!(" (from {})", m.name),
                None => String::new(),
            };
            let kind = plain_kind(&e.kind);
            if key.is_empty() {
                format!("{kind}{source}")
            } else {
                format!("`{key}`: {kind}{source}")
            }
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// A type error as an operator reads it: "a whole number", not "usize".
fn plain_kind(kind: &figment::error::Kind) -> String {
    use figment::error::Kind;
    match kind {
        Kind::InvalidType(actual, expected) => {
            format!("expected {}, found {actual}", plain_type(expected))
        }
        Kind::InvalidValue(actual, expected) => {
            format!("expected {}, found {actual}", plain_type(expected))
        }
        other => other.to_string(),
    }
}

fn plain_type(expected: &str) -> &str {
    match expected {
        "u8" | "u16" | "u32" | "u64" | "u128" | "usize" => "a whole number (0 or more)",
        "i8" | "i16" | "i32" | "i64" | "i128" | "isize" => "a whole number",
        "f32" | "f64" => "a number",
        "a boolean" | "bool" => "true or false",
        "a sequence" => "a list",
        "a map" => "a table",
        "socket address" => "an address such as 127.0.0.1:8080",
        other => other,
    }
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
        let bounded: [(&'static str, u64, u64, u64); 14] = [
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
                "http.header_read_timeout_secs",
                self.http.header_read_timeout.as_secs(),
                1,
                300,
            ),
            (
                "http.body_read_timeout_secs",
                self.http.body_read_timeout.as_secs(),
                1,
                300,
            ),
            (
                "http.max_connections",
                u64::try_from(self.http.max_connections).unwrap_or(u64::MAX),
                1,
                1_000_000,
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
            (
                "sms.max_concurrent_sends",
                u64::from(self.sms.max_concurrent_sends),
                1,
                256,
            ),
            (
                "sms.settled_job_retention_hours",
                u64::from(self.sms.settled_job_retention_hours),
                0,
                TEN_YEARS / 3600,
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
        self.validate_issuers()?;
        self.sms.validate()
    }

    fn validate_issuers(&self) -> Result<(), ConfigError> {
        for (i, issuer) in self.auth.issuers.iter().enumerate() {
            let key = |field: &str| format!("auth.issuers[{i}].{field}");
            if issuer.issuer.is_empty() || issuer.issuer == self.auth.issuer {
                return Err(invalid(
                    key("issuer"),
                    "must be set, and differ from auth.issuer (this service's own)",
                ));
            }
            if !(issuer.jwks_url.starts_with("https://") || issuer.jwks_url.starts_with("http://"))
            {
                return Err(invalid(
                    key("jwks_url"),
                    "must be an http:// or https:// URL",
                ));
            }
            if issuer.audiences.is_empty() || issuer.audiences.iter().any(String::is_empty) {
                return Err(invalid(key("audiences"), "must list at least one audience"));
            }
            if issuer.user_claim.is_empty() {
                return Err(invalid(key("user_claim"), "must name a claim"));
            }
        }
        Ok(())
    }
}

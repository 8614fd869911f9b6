//! One typed configuration: the embedded defaults, then an optional file, then the environment.

use std::collections::BTreeMap;
use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use figment::Figment;
use figment::providers::{Env, Format, Toml};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

const DAY: u64 = 86_400;
/// The longest token lifetime the settings accept.
pub const TEN_YEARS: u64 = 10 * 365 * DAY;

/// The defaults, embedded so that the binary runs with no file next to it.
pub const DEFAULT_TOML: &str = include_str!("../config/default.toml");

#[derive(Debug, Clone, Deserialize)]
pub struct Config {
    pub listen: SocketAddr,
    pub data_dir: PathBuf,
    database_url: DatabaseUrl,
    pub database: DatabaseConfig,
    pub http: HttpConfig,
    pub auth: AuthConfig,
    pub bootstrap: BootstrapConfig,
    pub code: CodeConfig,
    pub limits: LimitsConfig,
    pub sms: SmsConfig,
    pub roles: BTreeMap<String, Vec<String>>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct DatabaseConfig {
    pub max_connections: u32,
    pub acquire_timeout_secs: u64,
}

#[derive(Debug, Clone, Deserialize)]
pub struct HttpConfig {
    pub request_timeout_secs: u64,
    pub max_body_bytes: usize,
}

#[derive(Debug, Clone, Deserialize)]
pub struct AuthConfig {
    pub leeway_secs: u64,
    pub issuer: String,
    pub audience: String,
    pub admin_token_ttl_secs: i64,
    pub token_ttl_secs: i64,
}

#[derive(Debug, Clone, Deserialize)]
pub struct BootstrapConfig {
    pub org_name: String,
    pub admin_username: String,
    pub admin_email: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Alphabet {
    Digits,
    Alphanumeric,
}

#[derive(Debug, Clone, Deserialize)]
pub struct CodeConfig {
    pub length: usize,
    pub alphabet: Alphabet,
    pub expiry_secs: u64,
    pub max_attempts: u32,
}

#[derive(Debug, Clone, Deserialize)]
pub struct LimitsConfig {
    pub resend_cooldown_secs: u64,
    pub max_sends_per_phone_per_day: u32,
}

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
    pub webhook: WebhookConfig,
    pub twilio: TwilioConfig,
    pub template: TemplateConfig,
}

#[derive(Debug, Clone, Deserialize)]
pub struct WebhookConfig {
    pub url: String,
    pub signing_key: SecretString,
    pub timeout_secs: u64,
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
    pub timeout_secs: u64,
}

/// The SMS text: `default`, or the entry of `languages` that matches the user's preferred language.
#[derive(Debug, Clone, Deserialize)]
pub struct TemplateConfig {
    pub default: String,
    #[serde(default)]
    pub languages: BTreeMap<String, String>,
}

/// A provider call may not take longer: the worker's lease on a job (60 s) must outlast every call, or a second
/// worker could pick the job up while the first is still sending it.
pub const MAX_SMS_TIMEOUT_SECS: u64 = 30;

impl SmsConfig {
    /// The active provider's settings are complete, its timeout fits the worker's lease, and every message
    /// template can be rendered.
    fn validate(&self) -> Result<(), ConfigError> {
        match self.provider {
            SmsProviderKind::Webhook => {
                if self.webhook.url.is_empty() {
                    return Err(invalid(
                        "sms.webhook.url",
                        "is required when sms.provider is webhook",
                    ));
                }
                if !is_http_url(&self.webhook.url) {
                    return Err(invalid(
                        "sms.webhook.url",
                        "must start with http:// or https://",
                    ));
                }
                check_timeout("sms.webhook.timeout_secs", self.webhook.timeout_secs)?;
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
                if !is_http_url(&self.twilio.base_url) {
                    return Err(invalid(
                        "sms.twilio.base_url",
                        "must start with http:// or https://",
                    ));
                }
                check_timeout("sms.twilio.timeout_secs", self.twilio.timeout_secs)?;
            }
            SmsProviderKind::None | SmsProviderKind::Log => {}
        }
        crate::notify::template::check(&self.template).map_err(|(key, reason)| invalid(key, reason))
    }
}

fn is_http_url(url: &str) -> bool {
    url.starts_with("http://") || url.starts_with("https://")
}

fn check_timeout(key: &'static str, secs: u64) -> Result<(), ConfigError> {
    if (1..=MAX_SMS_TIMEOUT_SECS).contains(&secs) {
        Ok(())
    } else {
        Err(invalid(
            key,
            format!("must be between 1 and {MAX_SMS_TIMEOUT_SECS}"),
        ))
    }
}

/// A database URL whose password never shows in `Debug` output or logs.
#[derive(Clone, Deserialize)]
#[serde(transparent)]
struct DatabaseUrl(String);

impl fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&redact_url(&self.0))
    }
}

/// Replaces the password of `scheme://user:password@host/...` with `***`.
pub fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    // The host follows the last `@` of the authority: a password may itself contain `@`.
    let (authority, tail) = match rest.find(['/', '?']) {
        Some(i) => rest.split_at(i),
        None => (rest, ""),
    };
    let authority = match authority.rsplit_once('@') {
        Some((userinfo, host)) => match userinfo.split_once(':') {
            Some((user, _password)) => format!("{user}:***@{host}"),
            None => authority.to_owned(),
        },
        None => authority.to_owned(),
    };
    // A password can also come as a query parameter (`?password=...`).
    let tail = match tail.split_once('?') {
        Some((path, query)) => {
            let query: Vec<String> = query
                .split('&')
                .map(|kv| match kv.split_once('=') {
                    Some((k, _)) if k.eq_ignore_ascii_case("password") => format!("{k}=***"),
                    _ => kv.to_owned(),
                })
                .collect();
            format!("{path}?{}", query.join("&"))
        }
        None => tail.to_owned(),
    };
    format!("{scheme}://{authority}{tail}")
}

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

fn invalid(key: impl Into<String>, reason: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        key: key.into(),
        reason: reason.into(),
    }
}

impl Config {
    /// Defaults, then `file` if given, then `PHONEVERIFY_*` from the process environment.
    pub fn load(file: Option<&Path>) -> Result<Self, ConfigError> {
        Self::from_figment(Self::figment(file).merge(Self::env()))
    }

    /// Defaults and then the given TOML text: what tests use to build a config without touching the environment.
    pub fn from_toml_overrides(toml: &str) -> Result<Self, ConfigError> {
        Self::from_toml_layers(&[toml])
    }

    /// Defaults, then each TOML text in turn (later ones win).
    pub fn from_toml_layers(layers: &[&str]) -> Result<Self, ConfigError> {
        let figment = layers
            .iter()
            .fold(Figment::from(Toml::string(DEFAULT_TOML)), |f, layer| {
                f.merge(Toml::string(layer))
            });
        Self::from_figment(figment)
    }

    fn figment(file: Option<&Path>) -> Figment {
        let figment = Figment::from(Toml::string(DEFAULT_TOML));
        match file {
            Some(path) => figment.merge(Toml::file_exact(path)),
            None => figment,
        }
    }

    fn env() -> Env {
        // PHONEVERIFY_CONFIG names the file; it is not a setting.
        Env::prefixed("PHONEVERIFY_")
            .split("__")
            .ignore(&["config"])
    }

    fn from_figment(figment: Figment) -> Result<Self, ConfigError> {
        let config: Config = figment
            .extract()
            .map_err(|e| ConfigError::Parse(Box::new(e)))?;
        config.validate()?;
        Ok(config)
    }

    fn validate(&self) -> Result<(), ConfigError> {
        // Upper bounds keep every duration far from overflowing the time arithmetic.
        let bounded: [(&'static str, u64, u64, u64); 9] = [
            ("code.expiry_secs", self.code.expiry_secs, 1, DAY),
            (
                "limits.resend_cooldown_secs",
                self.limits.resend_cooldown_secs,
                0,
                DAY,
            ),
            ("auth.leeway_secs", self.auth.leeway_secs, 0, 300),
            (
                "auth.admin_token_ttl_secs",
                u64::try_from(self.auth.admin_token_ttl_secs).unwrap_or(0),
                60,
                TEN_YEARS,
            ),
            (
                "auth.token_ttl_secs",
                u64::try_from(self.auth.token_ttl_secs).unwrap_or(0),
                60,
                TEN_YEARS,
            ),
            (
                "http.request_timeout_secs",
                self.http.request_timeout_secs,
                1,
                300,
            ),
            (
                "database.acquire_timeout_secs",
                self.database.acquire_timeout_secs,
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

    /// The configured URL, or the embedded SQLite file under `data_dir`.
    pub fn database_url(&self) -> String {
        if self.database_url.0.is_empty() {
            format!("sqlite://{}/phoneverify.db", self.data_dir.display())
        } else {
            self.database_url.0.clone()
        }
    }

    pub fn set_database_url(&mut self, url: impl Into<String>) {
        self.database_url = DatabaseUrl(url.into());
    }

    pub fn admin_token_path(&self) -> PathBuf {
        self.data_dir.join("admin.token")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_parse_and_match_the_spec() {
        let c = Config::from_toml_overrides("").unwrap();
        assert_eq!(c.listen.to_string(), "127.0.0.1:8080");
        assert_eq!(c.code.length, 6);
        assert_eq!(c.code.alphabet, Alphabet::Digits);
        assert_eq!(c.code.expiry_secs, 600);
        assert_eq!(c.code.max_attempts, 5);
        assert_eq!(c.limits.resend_cooldown_secs, 30);
        assert_eq!(c.limits.max_sends_per_phone_per_day, 10);
        assert_eq!(c.auth.leeway_secs, 5);
        assert_eq!(c.sms.provider, SmsProviderKind::Log);
        assert_eq!(c.database_url(), "sqlite://data/phoneverify.db");
    }

    #[test]
    fn a_bad_value_names_its_key() {
        let err = Config::from_toml_overrides("[code]\nlength = \"six\"")
            .unwrap_err()
            .to_string();
        assert!(err.contains("`code.length`"), "{err}");
        let err = Config::from_toml_overrides("[code]\nlength = 2")
            .unwrap_err()
            .to_string();
        assert!(err.contains("code.length"), "{err}");
        let err = Config::from_toml_overrides("[sms]\nprovider = \"pigeon\"")
            .unwrap_err()
            .to_string();
        assert!(err.contains("provider"), "{err}");
    }

    #[test]
    fn sms_templates_must_carry_the_code() {
        let c = Config::from_toml_overrides("").unwrap();
        assert!(c.sms.template.default.contains("{{code}}"));
        assert!(c.sms.template.languages.contains_key("de"));
        let err = Config::from_toml_overrides("[sms.template]\ndefault = \"Hello\"")
            .unwrap_err()
            .to_string();
        assert!(err.contains("`sms.template.default`"), "{err}");
        let err =
            Config::from_toml_overrides("[sms.template.languages]\nes = \"Su codigo: {{cod}}\"")
                .unwrap_err()
                .to_string();
        assert!(err.contains("`sms.template.languages.es`"), "{err}");
        Config::from_toml_overrides("[sms.template.languages]\nes = \"Su codigo: {{code}}\"")
            .unwrap();
    }

    #[test]
    fn active_providers_need_their_settings() {
        let err = Config::from_toml_overrides("[sms]\nprovider = \"webhook\"")
            .unwrap_err()
            .to_string();
        assert!(err.contains("sms.webhook.url"), "{err}");
        let err = Config::from_toml_overrides(
            "[sms]\nprovider = \"webhook\"\n[sms.webhook]\nurl = \"http://x\"\ntimeout_secs = 120",
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("sms.webhook.timeout_secs"), "{err}");
        Config::from_toml_overrides(
            "[sms]\nprovider = \"webhook\"\n[sms.webhook]\nurl = \"https://sms.example.com/hook\"",
        )
        .unwrap();
        let err = Config::from_toml_overrides("[sms]\nprovider = \"twilio\"")
            .unwrap_err()
            .to_string();
        assert!(err.contains("sms.twilio"), "{err}");
        let err = Config::from_toml_overrides(
            "[sms]\nprovider = \"twilio\"\n[sms.twilio]\naccount_sid = \"AC1\"\nauth_token = \"t0ken\"",
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("sms.twilio.from"), "{err}");
        assert!(!err.contains("t0ken"), "{err}");
        Config::from_toml_overrides(
            "[sms]\nprovider = \"twilio\"\n[sms.twilio]\naccount_sid = \"AC1\"\nauth_token = \"t\"\nmessaging_service_sid = \"MG1\"",
        )
        .unwrap();
    }

    #[test]
    fn sms_secrets_are_redacted_in_debug() {
        let c = Config::from_toml_overrides(
            "[sms.webhook]\nsigning_key = \"whsec-hunter2\"\n[sms.twilio]\nauth_token = \"tw-hunter3\"",
        )
        .unwrap();
        let shown = format!("{c:?}");
        assert!(
            !shown.contains("hunter2") && !shown.contains("hunter3"),
            "{shown}"
        );
    }

    #[test]
    fn passwords_are_redacted_wherever_they_are() {
        assert_eq!(
            redact_url("postgres://u:p@ss@db:5432/x"),
            "postgres://u:***@db:5432/x"
        );
        assert_eq!(
            redact_url("postgres://db/x?user=u&password=s3cret&sslmode=require"),
            "postgres://db/x?user=u&password=***&sslmode=require"
        );
        assert_eq!(
            redact_url("sqlite://data/phoneverify.db"),
            "sqlite://data/phoneverify.db"
        );
    }

    #[test]
    fn durations_are_bounded() {
        let err = Config::from_toml_overrides("[limits]\nresend_cooldown_secs = 10000000000000")
            .unwrap_err()
            .to_string();
        assert!(err.contains("limits.resend_cooldown_secs"), "{err}");
        let err = Config::from_toml_overrides("[auth]\ntoken_ttl_secs = -5")
            .unwrap_err()
            .to_string();
        assert!(err.contains("auth.token_ttl_secs"), "{err}");
    }

    #[test]
    fn database_password_is_redacted_in_debug() {
        let c =
            Config::from_toml_overrides("database_url = \"postgres://u:hunter2@db/x\"").unwrap();
        let shown = format!("{c:?}");
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(shown.contains("postgres://u:***@db/x"));
    }
}

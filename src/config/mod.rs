//! One typed configuration: the embedded defaults, then an optional file, then the environment. Durations are
//! read once, as `Duration`s, from the `*_secs` settings users write.

mod database_url;
mod limits;
mod seconds;
mod sms;
mod strict;
#[cfg(test)]
mod tests;
mod validate;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use figment::Figment;
use figment::providers::{Env, Format, Toml};
use serde::Deserialize;

pub use crate::domain::code::Alphabet;
pub use crate::notify::template::TemplateConfig;
use database_url::DatabaseUrl;
pub use database_url::redact_url;
pub use limits::{LimitsConfig, TestNumberSetting};
pub use sms::{MAX_SMS_TIMEOUT, SmsConfig, SmsProviderKind, TwilioConfig, WebhookConfig};
pub use validate::{ConfigError, TEN_YEARS};

/// The defaults, embedded so that the binary runs with no file next to it.
pub const DEFAULT_TOML: &str = include_str!("../../config/default.toml");

#[derive(Debug, Clone, Deserialize)]
pub struct Config {
    pub listen: SocketAddr,
    pub data_dir: PathBuf,
    database_url: DatabaseUrl,
    /// Base64 of 32 bytes; empty: the key file.
    master_key: secrecy::SecretString,
    /// Empty: `<data_dir>/master.key`.
    #[serde(deserialize_with = "empty_as_none")]
    pub master_key_file: Option<PathBuf>,
    pub log: LogConfig,
    pub database: DatabaseConfig,
    pub http: HttpConfig,
    pub auth: AuthConfig,
    pub bootstrap: BootstrapConfig,
    pub code: CodeConfig,
    pub limits: LimitsConfig,
    pub sms: SmsConfig,
    pub roles: BTreeMap<String, Vec<String>>,
}

fn empty_as_none<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<PathBuf>, D::Error> {
    let path = PathBuf::deserialize(d)?;
    Ok(Some(path).filter(|p| !p.as_os_str().is_empty()))
}

#[derive(Debug, Clone, Deserialize)]
pub struct LogConfig {
    pub format: LogFormat,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Clone, Deserialize)]
pub struct DatabaseConfig {
    pub max_connections: u32,
    #[serde(rename = "acquire_timeout_secs", deserialize_with = "seconds::read")]
    pub acquire_timeout: Duration,
}

#[derive(Debug, Clone, Deserialize)]
pub struct HttpConfig {
    #[serde(rename = "request_timeout_secs", deserialize_with = "seconds::read")]
    pub request_timeout: Duration,
    pub max_body_bytes: usize,
    #[serde(
        rename = "header_read_timeout_secs",
        deserialize_with = "seconds::read"
    )]
    pub header_read_timeout: Duration,
    #[serde(rename = "body_read_timeout_secs", deserialize_with = "seconds::read")]
    pub body_read_timeout: Duration,
    pub max_connections: usize,
}

#[derive(Debug, Clone, Deserialize)]
pub struct AuthConfig {
    #[serde(rename = "leeway_secs", deserialize_with = "seconds::read")]
    pub leeway: Duration,
    pub issuer: String,
    pub audience: String,
    #[serde(rename = "admin_token_ttl_secs", deserialize_with = "seconds::read")]
    pub admin_token_ttl: Duration,
    #[serde(rename = "token_ttl_secs", deserialize_with = "seconds::read")]
    pub token_ttl: Duration,
    /// Identity providers whose tokens are accepted too.
    pub issuers: Vec<crate::auth::IssuerConfig>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct BootstrapConfig {
    pub org_name: String,
    pub admin_username: String,
    pub admin_email: String,
}

#[derive(Debug, Clone, Deserialize)]
pub struct CodeConfig {
    pub length: usize,
    pub alphabet: Alphabet,
    #[serde(rename = "expiry_secs", deserialize_with = "seconds::read")]
    pub expiry: Duration,
    pub max_attempts: u32,
}

impl Config {
    /// Defaults, then `file` if given, then `PHONEVERIFY_*` from the process environment.
    pub fn load(file: Option<&Path>) -> Result<Self, ConfigError> {
        if let Some(path) = file {
            // Named here: a missing file would otherwise surface as a bare "No such file or directory".
            std::fs::File::open(path).map_err(|e| ConfigError::File {
                path: path.to_owned(),
                reason: e.to_string(),
            })?;
        }
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
        Env::prefixed(strict::ENV_PREFIX)
            .split("__")
            .ignore(&strict::NOT_SETTINGS)
    }

    fn from_figment(figment: Figment) -> Result<Self, ConfigError> {
        strict::reject_unknown_keys(&figment)?;
        let mut config: Config = figment
            .extract()
            .map_err(|e| ConfigError::Parse(Box::new(e)))?;
        config.validate()?;
        config.limits.policy = config.limits.sms_policy()?;
        Ok(config)
    }

    /// The configured URL, or the embedded SQLite file under `data_dir`.
    pub fn database_url(&self) -> String {
        if self.database_url.is_empty() {
            format!("sqlite://{}/phoneverify.db", self.data_dir.display())
        } else {
            self.database_url.as_str().to_owned()
        }
    }

    pub fn set_database_url(&mut self, url: impl Into<String>) {
        self.database_url = DatabaseUrl::new(url.into());
    }

    /// The configured master key's text, if one is configured (else the key file holds it).
    pub fn master_key_text(&self) -> Option<&str> {
        use secrecy::ExposeSecret;
        Some(self.master_key.expose_secret()).filter(|k| !k.trim().is_empty())
    }

    pub fn admin_token_path(&self) -> PathBuf {
        self.data_dir.join("admin.token")
    }
}

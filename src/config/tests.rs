//! The configuration as users write it: defaults, bad values named by key, secrets kept out of `Debug`.

use std::time::Duration;

use super::*;

#[test]
fn defaults_parse_and_match_the_spec() {
    let c = Config::from_toml_overrides("").unwrap();
    assert_eq!(c.listen.to_string(), "127.0.0.1:8080");
    assert_eq!(c.code.length, 6);
    assert_eq!(c.code.alphabet, Alphabet::Digits);
    assert_eq!(c.code.expiry, Duration::from_secs(600));
    assert_eq!(c.code.max_attempts, 5);
    assert_eq!(c.limits.resend_cooldown, Duration::from_secs(30));
    assert_eq!(c.limits.max_sends_per_phone_per_day, 10);
    assert_eq!(c.auth.leeway, Duration::from_secs(5));
    assert_eq!(c.sms.provider, SmsProviderKind::Log);
    assert_eq!(c.sms.max_concurrent_sends, 16);
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
    let err = Config::from_toml_overrides("[sms]\nmax_concurrent_sends = 0")
        .unwrap_err()
        .to_string();
    assert!(err.contains("sms.max_concurrent_sends"), "{err}");
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
    let err = Config::from_toml_overrides("[sms.template.languages]\nes = \"Su codigo: {{cod}}\"")
        .unwrap_err()
        .to_string();
    assert!(err.contains("`sms.template.languages.es`"), "{err}");
    Config::from_toml_overrides("[sms.template.languages]\nes = \"Su codigo: {{code}}\"").unwrap();
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
fn the_master_key_is_redacted_and_an_empty_one_means_the_file() {
    let c = Config::from_toml_overrides(
        "master_key = \"aHVudGVyNC1tYXN0ZXIta2V5LW9mLTMyLWJ5dGVzISE=\"",
    )
    .unwrap();
    assert!(!format!("{c:?}").contains("aHVudGVy"));
    assert!(c.master_key_text().is_some());
    let d = Config::from_toml_overrides("").unwrap();
    assert!(d.master_key_text().is_none() && d.master_key_file.is_none());
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
    let c = Config::from_toml_overrides("database_url = \"postgres://u:hunter2@db/x\"").unwrap();
    let shown = format!("{c:?}");
    assert!(!shown.contains("hunter2"), "{shown}");
    assert!(shown.contains("postgres://u:***@db/x"));
}

//! Every key a file or the environment sets must be a setting: a misspelled one (`[code] lenght = 8`, or
//! `PHONEVERIFY_CODE_LENGTH` with one underscore) would otherwise be ignored and the server would start on
//! defaults the operator did not choose. The settings are the keys of the embedded defaults, which list every
//! one of them.

use std::collections::BTreeSet;

use figment::Figment;
use figment::providers::{Format, Toml};
use figment::value::{Dict, Value};

use super::DEFAULT_TOML;
use super::validate::{ConfigError, invalid};

/// Tables whose keys the operator names (roles, template languages): any key is valid there.
const OPEN_TABLES: [&str; 2] = ["roles", "sms.template.languages"];

/// `PHONEVERIFY_*` variables that are not settings, as the environment provider names them (prefix removed,
/// lower case): the config file's path, and the test suite's Postgres server, which the binaries it starts
/// inherit.
pub(super) const NOT_SETTINGS: [&str; 2] = ["config", "test_postgres_url"];

/// The prefix of every setting's variable.
pub(super) const ENV_PREFIX: &str = "PHONEVERIFY_";

/// Refuses the first key of `figment` (defaults merged with the operator's layers) that is not a setting.
pub(super) fn reject_unknown_keys(figment: &Figment) -> Result<(), ConfigError> {
    let defaults = flatten(&extract(&Figment::from(Toml::string(DEFAULT_TOML)))?);
    let known: BTreeSet<&str> = defaults.iter().map(|(path, _)| path.as_str()).collect();
    for (path, _) in flatten(&extract(figment)?) {
        if known.contains(path.as_str()) || in_open_table(&path) {
            continue;
        }
        // A key that names a whole table of settings (`sms.webhook = 1`) is a type error, told by `extract`.
        if known.iter().any(|k| {
            k.strip_prefix(path.as_str())
                .is_some_and(|rest| rest.starts_with('.'))
        }) {
            continue;
        }
        return Err(unknown(figment, &path, &known));
    }
    Ok(())
}

fn extract(figment: &Figment) -> Result<Dict, ConfigError> {
    figment
        .extract::<Dict>()
        .map_err(|e| ConfigError::Parse(Box::new(e)))
}

fn in_open_table(path: &str) -> bool {
    OPEN_TABLES.iter().any(|table| {
        path.strip_prefix(table)
            .is_some_and(|rest| rest.starts_with('.'))
    })
}

/// Every leaf as (`section.key`, value); arrays are leaves, as settings take them whole.
fn flatten(dict: &Dict) -> Vec<(String, Value)> {
    let mut out = Vec::new();
    for (key, value) in dict {
        match value {
            Value::Dict(_, inner) => out.extend(
                flatten(inner)
                    .into_iter()
                    .map(|(path, v)| (format!("{key}.{path}"), v)),
            ),
            leaf => out.push((key.clone(), leaf.clone())),
        }
    }
    out
}

/// The refusal: where the key came from, and the setting it most likely meant.
fn unknown(figment: &Figment, path: &str, known: &BTreeSet<&str>) -> ConfigError {
    let from_env = figment
        .find_metadata(path)
        .is_some_and(|m| m.name.contains("environment"));
    let closest = closest(path, known);
    if from_env {
        let reason = match closest {
            Some(setting) => format!(
                "is not a setting; did you mean {} (`{setting}`)?",
                variable(setting)
            ),
            None => "is not a setting".to_owned(),
        };
        return invalid(variable(path), reason);
    }
    let source = figment
        .find_metadata(path)
        .and_then(|m| m.source.as_ref())
        .map(|s| format!(" in {s}"))
        .unwrap_or_default();
    let reason = match closest {
        Some(setting) => format!("is not a setting{source}; did you mean `{setting}`?"),
        None => format!("is not a setting{source}"),
    };
    invalid(path, reason)
}

/// The variable that sets `path`: sections joined by a double underscore.
pub(super) fn variable(path: &str) -> String {
    format!(
        "{ENV_PREFIX}{}",
        path.replace('.', "__").to_ascii_uppercase()
    )
}

/// The setting whose name is nearest to `path`, if near enough to be what was meant. Dots and underscores
/// count alike, so a single underscore where the variable needs two finds its setting.
fn closest<'a>(path: &str, known: &BTreeSet<&'a str>) -> Option<&'a str> {
    let flat = |s: &str| s.to_ascii_lowercase().replace('.', "_");
    let wanted = flat(path);
    known
        .iter()
        .map(|k| (strsim::levenshtein(&wanted, &flat(k)), *k))
        .filter(|(distance, _)| *distance <= (wanted.len() / 4).max(2))
        .min()
        .map(|(_, k)| k)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn known() -> BTreeSet<&'static str> {
        [
            "code.length",
            "code.expiry_secs",
            "listen",
            "sms.webhook.url",
        ]
        .into_iter()
        .collect()
    }

    #[test]
    fn a_misspelled_key_finds_its_setting() {
        assert_eq!(closest("code.lenght", &known()), Some("code.length"));
        assert_eq!(closest("code_length", &known()), Some("code.length"));
        assert_eq!(
            closest("sms_webhook_url", &known()),
            Some("sms.webhook.url")
        );
    }

    #[test]
    fn an_unrelated_key_suggests_nothing() {
        assert_eq!(closest("colour", &known()), None);
    }

    #[test]
    fn open_tables_take_any_key() {
        assert!(in_open_table("roles.MY_ROLE"));
        assert!(in_open_table("sms.template.languages.rm"));
        assert!(!in_open_table("rolesx"));
        assert!(!in_open_table("sms.template.default2"));
    }

    #[test]
    fn a_variable_names_sections_with_double_underscores() {
        assert_eq!(variable("code.length"), "PHONEVERIFY_CODE__LENGTH");
        assert_eq!(variable("code_length"), "PHONEVERIFY_CODE_LENGTH");
    }
}

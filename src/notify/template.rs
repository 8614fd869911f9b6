//! The SMS text: a configured template per preferred language, with the code and its lifetime filled in.
//!
//! Placeholders are `{{code}}` (required in every template, checked at start-up) and `{{minutes}}`. Any other
//! `{{name}}` is refused at start-up too, so a typo never reaches a user as literal braces.

use std::collections::BTreeMap;

use serde::Deserialize;

/// The SMS text: `default`, or the entry of `languages` that matches the user's preferred language.
#[derive(Debug, Clone, Deserialize)]
pub struct TemplateConfig {
    pub default: String,
    #[serde(default)]
    pub languages: BTreeMap<String, String>,
}

const CODE: &str = "code";
const MINUTES: &str = "minutes";
const PLACEHOLDERS: [&str; 2] = [CODE, MINUTES];

/// The text for a user whose preferred language is `language` (a BCP 47 tag such as `de-CH`, or empty).
pub fn render(config: &TemplateConfig, language: &str, code: &str, minutes: i64) -> String {
    substitute(select(config, language), |name| match name {
        CODE => Some(code.to_owned()),
        MINUTES => Some(minutes.to_string()),
        _ => None,
    })
}

/// The template for `language`: an exact match of the tag, then its primary language (`de` for `de-CH`), then
/// the default. Tags compare case-insensitively, as BCP 47 says.
pub fn select<'a>(config: &'a TemplateConfig, language: &str) -> &'a str {
    let tag = language.trim();
    if tag.is_empty() {
        return &config.default;
    }
    let primary = tag.split(['-', '_']).next().unwrap_or(tag);
    find(config, tag)
        .or_else(|| find(config, primary))
        .unwrap_or(&config.default)
}

fn find<'a>(config: &'a TemplateConfig, tag: &str) -> Option<&'a str> {
    config
        .languages
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(tag))
        .map(|(_, v)| v.as_str())
}

/// Every template renders: it names the code and no unknown placeholder. On failure, the setting's key and why.
pub fn check(config: &TemplateConfig) -> Result<(), (String, String)> {
    check_one("sms.template.default".to_owned(), &config.default)?;
    for (language, template) in &config.languages {
        check_one(format!("sms.template.languages.{language}"), template)?;
    }
    Ok(())
}

fn check_one(key: String, template: &str) -> Result<(), (String, String)> {
    let names = placeholders(template);
    if let Some(unknown) = names.iter().find(|n| !PLACEHOLDERS.contains(n)) {
        return Err((
            key,
            format!(
                "unknown placeholder {{{{{unknown}}}}}; the template may use {{{{code}}}} and {{{{minutes}}}}"
            ),
        ));
    }
    if !names.contains(&CODE) {
        return Err((key, "must contain {{code}}".to_owned()));
    }
    Ok(())
}

/// The names of the `{{name}}` placeholders, in order.
fn placeholders(template: &str) -> Vec<&str> {
    let mut names = Vec::new();
    let mut rest = template;
    while let Some((name, after)) = next_placeholder(rest) {
        names.push(name.1);
        rest = after;
    }
    names
}

/// The next placeholder in `s`: ((text before it, its trimmed name), the text after it).
fn next_placeholder(s: &str) -> Option<((&str, &str), &str)> {
    let start = s.find("{{")?;
    let inner = &s[start + 2..];
    let end = inner.find("}}")?;
    Some(((&s[..start], inner[..end].trim()), &inner[end + 2..]))
}

/// Fills the placeholders in one pass, so a value is never itself read as a template. A placeholder `value`
/// does not know stays as written.
fn substitute(template: &str, value: impl Fn(&str) -> Option<String>) -> String {
    let mut out = String::with_capacity(template.len() + 16);
    let mut rest = template;
    while let Some(((before, name), after)) = next_placeholder(rest) {
        out.push_str(before);
        match value(name) {
            Some(v) => out.push_str(&v),
            None => out.push_str(&rest[before.len()..rest.len() - after.len()]),
        }
        rest = after;
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> TemplateConfig {
        TemplateConfig {
            default: "Code {{code}}, {{minutes}} min".into(),
            languages: BTreeMap::from([
                (
                    "de".into(),
                    "Code {{ code }} gilt {{minutes}} Minuten".into(),
                ),
                ("pt-BR".into(), "Código {{code}} (BR)".into()),
                ("pt".into(), "Código {{code}}".into()),
            ]),
        }
    }

    #[test]
    fn fills_in_the_code_and_the_minutes() {
        assert_eq!(render(&config(), "", "482913", 10), "Code 482913, 10 min");
        assert_eq!(
            render(&config(), "de", "482913", 5),
            "Code 482913 gilt 5 Minuten"
        );
    }

    #[test]
    fn picks_the_language_then_its_primary_subtag_then_the_default() {
        let c = config();
        assert_eq!(select(&c, "DE"), "Code {{ code }} gilt {{minutes}} Minuten");
        assert_eq!(
            select(&c, "de-CH"),
            "Code {{ code }} gilt {{minutes}} Minuten"
        );
        assert_eq!(
            select(&c, "de_AT"),
            "Code {{ code }} gilt {{minutes}} Minuten"
        );
        assert_eq!(select(&c, "pt-br"), "Código {{code}} (BR)");
        assert_eq!(select(&c, "pt-PT"), "Código {{code}}");
        assert_eq!(select(&c, "fr"), c.default);
        assert_eq!(select(&c, " "), c.default);
    }

    #[test]
    fn values_are_not_expanded_again_and_unknown_placeholders_stay() {
        let c = TemplateConfig {
            default: "{{code}}{{minutes}} {{other}} {{unclosed".into(),
            languages: BTreeMap::new(),
        };
        assert_eq!(
            render(&c, "", "{{minutes}}", 3),
            "{{minutes}}3 {{other}} {{unclosed"
        );
    }

    #[test]
    fn every_template_must_name_the_code_and_only_known_placeholders() {
        check(&config()).unwrap();
        let mut c = config();
        c.default = "Your code: {{cod}}".into();
        let (key, reason) = check(&c).unwrap_err();
        assert_eq!(key, "sms.template.default");
        assert!(reason.contains("{{cod}}"), "{reason}");
        let mut c = config();
        c.languages
            .insert("it".into(), "Il codice scade tra {{minutes}} minuti".into());
        let (key, reason) = check(&c).unwrap_err();
        assert_eq!(key, "sms.template.languages.it");
        assert!(reason.contains("{{code}}"), "{reason}");
    }
}

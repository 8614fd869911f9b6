//! The names people type: usernames, email addresses and organization names, each checked once when it
//! enters and carried typed from then on. The API refuses control characters first, naming the field; the
//! parsers refuse them again so that no other way in (the CLI, a future caller) can store one.

use serde::{Deserialize, Serialize};

use super::DomainError;
use super::text::check_text;

/// The longest username, email or organization name accepted (ZITADEL's limit for these fields).
const MAX_NAME_CHARS: usize = 200;

/// A login name: 1 to 200 characters with no whitespace at either end (what ZITADEL allows).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Username(String);

impl Username {
    pub fn parse(input: &str) -> Result<Self, DomainError> {
        let trimmed = input.trim();
        if trimmed.is_empty()
            || trimmed.chars().count() > MAX_NAME_CHARS
            || check_text(trimmed).is_err()
        {
            return Err(DomainError::UsernameInvalid);
        }
        Ok(Self(trimmed.to_owned()))
    }
}

/// An email address, lightly checked: something@something.tld with no whitespace.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Email(String);

impl Email {
    pub fn parse(input: &str) -> Result<Self, DomainError> {
        let email = input.trim();
        if email.is_empty() {
            return Err(DomainError::EmailEmpty);
        }
        let valid = match email.split_once('@') {
            Some((local, domain)) => {
                !local.is_empty()
                    && domain.contains('.')
                    && !domain.starts_with('.')
                    && !domain.ends_with('.')
                    && !email.chars().any(char::is_whitespace)
                    && check_text(email).is_ok()
                    && email.len() <= MAX_NAME_CHARS
            }
            None => false,
        };
        if valid {
            Ok(Self(email.to_owned()))
        } else {
            Err(DomainError::EmailInvalid)
        }
    }
}

/// An organization's name: 1 to 200 bytes once trimmed; unique across the instance (checked by the store).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct OrgName(String);

impl OrgName {
    pub fn parse(input: &str) -> Result<Self, DomainError> {
        let name = input.trim();
        if name.is_empty() || name.len() > MAX_NAME_CHARS || check_text(name).is_err() {
            return Err(DomainError::OrgNameEmpty);
        }
        Ok(Self(name.to_owned()))
    }
}

stored_text!(Username, Email, OrgName);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_plausible_email_is_kept_trimmed() {
        assert_eq!(Email::parse(" a@b.ch ").unwrap().as_str(), "a@b.ch");
    }

    #[test]
    fn an_empty_email_is_its_own_error() {
        assert_eq!(Email::parse("  ").unwrap_err(), DomainError::EmailEmpty);
    }

    #[test]
    fn malformed_emails_are_invalid() {
        for bad in ["a", "a@b", "@b.ch", "a b@c.ch", "a@.ch", "a@b.ch."] {
            assert_eq!(
                Email::parse(bad).unwrap_err(),
                DomainError::EmailInvalid,
                "{bad}"
            );
        }
    }

    #[test]
    fn usernames_are_trimmed_and_bounded() {
        assert_eq!(Username::parse(" ada ").unwrap().as_str(), "ada");
        assert_eq!(
            Username::parse("  ").unwrap_err(),
            DomainError::UsernameInvalid
        );
        assert_eq!(
            Username::parse(&"x".repeat(201)).unwrap_err(),
            DomainError::UsernameInvalid
        );
    }

    #[test]
    fn control_characters_are_refused_by_every_name() {
        assert_eq!(
            Username::parse("a\0b").unwrap_err(),
            DomainError::UsernameInvalid
        );
        assert_eq!(
            Email::parse("a\u{1}@b.ch").unwrap_err(),
            DomainError::EmailInvalid
        );
        assert_eq!(
            OrgName::parse("Acme\u{7F}").unwrap_err(),
            DomainError::OrgNameEmpty
        );
    }

    #[test]
    fn org_names_are_trimmed_and_bounded() {
        assert_eq!(OrgName::parse(" Acme ").unwrap().as_str(), "Acme");
        assert_eq!(OrgName::parse("").unwrap_err(), DomainError::OrgNameEmpty);
        assert_eq!(
            OrgName::parse(&"x".repeat(201)).unwrap_err(),
            DomainError::OrgNameEmpty
        );
    }
}

//! Phone numbers: parsed with libphonenumber rules and kept in E.164.

use std::fmt;

use phonenumber::country::Id;
use phonenumber::{Mode, PhoneNumber as Parsed};
use serde::{Deserialize, Serialize};

use super::DomainError;

/// Numbers without a `+` prefix are read as Swiss, as ZITADEL does.
const DEFAULT_REGION: Id = Id::CH;

/// A number in E.164 (`+41791234567`), known to be a possible, valid number. Events and rows keep the E.164
/// text; it was parsed before it was written, so reading it back (`from_stored`) does not parse it again.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct PhoneNumber(String);

impl PhoneNumber {
    pub fn parse(input: &str) -> Result<Self, DomainError> {
        let input = input.trim();
        if input.is_empty() {
            return Err(DomainError::PhoneEmpty);
        }
        let parsed: Parsed = phonenumber::parse(Some(DEFAULT_REGION), input)
            .map_err(|_| DomainError::PhoneInvalid)?;
        // Stricter than ZITADEL, which stores anything that parses: a number that can never receive an SMS
        // would only cost sends and confuse the user.
        if !phonenumber::is_valid(&parsed) {
            return Err(DomainError::PhoneInvalid);
        }
        Ok(Self(parsed.format().mode(Mode::E164).to_string()))
    }
}

stored_text!(PhoneNumber);

impl fmt::Debug for PhoneNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PhoneNumber({})", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalizes_to_e164_with_swiss_default() {
        assert_eq!(
            PhoneNumber::parse("+41 79 123 45 67").unwrap().as_str(),
            "+41791234567"
        );
        assert_eq!(
            PhoneNumber::parse("079 123 45 67").unwrap().as_str(),
            "+41791234567"
        );
        assert_eq!(
            PhoneNumber::parse(" +1 650-253-0000 ").unwrap().as_str(),
            "+16502530000"
        );
    }

    #[test]
    fn rejects_empty_and_garbage() {
        assert_eq!(PhoneNumber::parse("").unwrap_err(), DomainError::PhoneEmpty);
        assert_eq!(
            PhoneNumber::parse("   ").unwrap_err(),
            DomainError::PhoneEmpty
        );
        assert_eq!(
            PhoneNumber::parse("hello").unwrap_err(),
            DomainError::PhoneInvalid
        );
        assert_eq!(
            PhoneNumber::parse("+41 12").unwrap_err(),
            DomainError::PhoneInvalid
        );
    }
}

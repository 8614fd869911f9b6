//! Which numbers may be sent an SMS: the countries an operator allows or denies, the kinds of number that cost
//! what a verification SMS should cost (no premium-rate, shared-cost or toll-free ranges, the favourite targets
//! of SMS pumping), and test numbers whose fixed code never reaches a provider.

use std::str::FromStr;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use phonenumber::country::Id;
use phonenumber::metadata::DATABASE;
use phonenumber::{PhoneNumber as Parsed, Type};
use quick_cache::sync::Cache;

use super::DomainError;
use super::code::PlainCode;
use super::phone::PhoneNumber;

/// A country rule: an ISO 3166 region (`CH`) or a calling code (`+41`, which covers every region sharing it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RegionRule {
    Region(Id),
    CallingCode(u16),
}

impl RegionRule {
    pub fn parse(text: &str) -> Result<Self, String> {
        let text = text.trim();
        if let Some(digits) = text.strip_prefix('+') {
            return digits
                .parse::<u16>()
                .ok()
                .filter(|c| (1..=999).contains(c))
                .map(RegionRule::CallingCode)
                .ok_or_else(|| format!("{text:?} is not a calling code (+1 to +999)"));
        }
        Id::from_str(&text.to_ascii_uppercase())
            .map(RegionRule::Region)
            .map_err(|_| format!("{text:?} is not an ISO 3166 region code (such as CH) or a calling code (such as +41)"))
    }

    fn covers(&self, number: &NumberFacts) -> bool {
        match self {
            RegionRule::Region(id) => number.region == Some(*id),
            RegionRule::CallingCode(code) => number.calling_code == *code,
        }
    }
}

/// The number types a setting names, as libphonenumber's metadata classifies numbers.
pub fn parse_number_type(text: &str) -> Result<Type, String> {
    let kind = match text.trim() {
        "mobile" => Type::Mobile,
        "fixed_line" => Type::FixedLine,
        "fixed_line_or_mobile" => Type::FixedLineOrMobile,
        "toll_free" => Type::TollFree,
        "premium_rate" => Type::PremiumRate,
        "shared_cost" => Type::SharedCost,
        "personal_number" => Type::PersonalNumber,
        "voip" => Type::Voip,
        "pager" => Type::Pager,
        "uan" => Type::Uan,
        "voicemail" => Type::Voicemail,
        "unknown" => Type::Unknown,
        other => {
            return Err(format!(
                "{other:?} is not a number type (mobile, fixed_line, fixed_line_or_mobile, toll_free, premium_rate, \
                 shared_cost, personal_number, voip, pager, uan, voicemail, unknown)"
            ));
        }
    };
    Ok(kind)
}

/// Numbers the pattern covers: one number, or every number starting with a prefix (`+4179000*`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NumberPattern {
    Exact(PhoneNumber),
    Prefix(String),
}

impl NumberPattern {
    pub fn parse(text: &str) -> Result<Self, String> {
        match text.trim().strip_suffix('*') {
            Some(prefix)
                if prefix.starts_with('+') && prefix[1..].chars().all(|c| c.is_ascii_digit()) =>
            {
                Ok(NumberPattern::Prefix(prefix.to_owned()))
            }
            Some(_) => Err(format!("{text:?}: a prefix is `+` and digits, then `*`")),
            None => PhoneNumber::parse(text)
                .map(NumberPattern::Exact)
                .map_err(|_| format!("{text:?} is not a valid phone number")),
        }
    }

    fn covers(&self, number: &PhoneNumber) -> bool {
        match self {
            NumberPattern::Exact(n) => n == number,
            NumberPattern::Prefix(p) => number.as_str().starts_with(p.as_str()),
        }
    }
}

/// A number for app-store review and end-to-end tests: its code is always `code`, and no SMS is sent, until
/// `expires`.
#[derive(Debug, Clone)]
pub struct TestNumber {
    pub pattern: NumberPattern,
    pub code: PlainCode,
    pub expires: DateTime<Utc>,
}

/// What the rules look at in a number, as libphonenumber's metadata classifies it.
#[derive(Debug, Clone, Copy)]
struct NumberFacts {
    region: Option<Id>,
    calling_code: u16,
    kind: Type,
}

impl NumberFacts {
    fn of(number: &PhoneNumber) -> Result<Self, DomainError> {
        let parsed: Parsed = number
            .as_str()
            .parse()
            .map_err(|_| DomainError::PhoneInvalid)?;
        Ok(Self {
            region: parsed.country().id(),
            calling_code: parsed.code().value(),
            kind: parsed.number_type(&DATABASE),
        })
    }
}

/// Numbers classified so far. Classifying runs libphonenumber's patterns over the number, tens of
/// microseconds, before every SMS; the answer for a number never changes while the process runs (the metadata
/// is compiled in), so it is remembered. Bounded: about 100 bytes an entry.
#[derive(Debug, Clone)]
pub(crate) struct Classified(Arc<Cache<String, NumberFacts>>);

impl Default for Classified {
    fn default() -> Self {
        Self(Arc::new(Cache::new(CLASSIFIED_NUMBERS)))
    }
}

const CLASSIFIED_NUMBERS: usize = 65_536;

/// The rules numbers are checked against when they are set and before each SMS.
#[derive(Debug, Clone, Default)]
pub struct SmsPolicy {
    /// Empty: every region not denied.
    pub allowed_regions: Vec<RegionRule>,
    pub denied_regions: Vec<RegionRule>,
    /// Empty: every type.
    pub allowed_types: Vec<Type>,
    pub test_numbers: Vec<TestNumber>,
    /// Filled as numbers are checked; `Default` for a new policy.
    pub(crate) classified: Classified,
}

impl SmsPolicy {
    /// Refuses a number the rules exclude. An active test number passes: it is configured by name, and never
    /// costs an SMS.
    pub fn check(&self, number: &PhoneNumber, now: DateTime<Utc>) -> Result<(), DomainError> {
        if self.test_number(number, now).is_some() {
            return Ok(());
        }
        let facts = self.facts(number)?;
        let denied = self.denied_regions.iter().any(|r| r.covers(&facts));
        let allowed = self.allowed_regions.is_empty()
            || self.allowed_regions.iter().any(|r| r.covers(&facts));
        if denied || !allowed {
            return Err(DomainError::PhoneRegionNotAllowed);
        }
        if !self.allowed_types.is_empty() && !self.allowed_types.contains(&facts.kind) {
            return Err(DomainError::PhoneTypeNotAllowed);
        }
        Ok(())
    }

    /// The number's country calling code, from the same cache as the checks (parsing a number is costly).
    pub fn calling_code(&self, number: &PhoneNumber) -> Option<u16> {
        self.facts(number).ok().map(|facts| facts.calling_code)
    }

    fn facts(&self, number: &PhoneNumber) -> Result<NumberFacts, DomainError> {
        if let Some(facts) = self.classified.0.get(number.as_str()) {
            return Ok(facts);
        }
        let facts = NumberFacts::of(number)?;
        self.classified.0.insert(number.as_str().to_owned(), facts);
        Ok(facts)
    }

    /// The test number entry that covers `number` and has not expired.
    pub fn test_number(&self, number: &PhoneNumber, now: DateTime<Utc>) -> Option<&TestNumber> {
        self.test_numbers
            .iter()
            .find(|t| now < t.expires && t.pattern.covers(number))
    }

    /// Test numbers still active at `now`, for the start-up warning.
    pub fn active_test_numbers(&self, now: DateTime<Utc>) -> usize {
        self.test_numbers.iter().filter(|t| now < t.expires).count()
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    fn number(text: &str) -> PhoneNumber {
        PhoneNumber::parse(text).unwrap()
    }

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 6, 1, 9, 0, 0).unwrap()
    }

    fn types(names: &[&str]) -> Vec<Type> {
        names
            .iter()
            .map(|n| parse_number_type(n).unwrap())
            .collect()
    }

    #[test]
    fn rules_parse_regions_and_calling_codes() {
        assert_eq!(RegionRule::parse("ch"), Ok(RegionRule::Region(Id::CH)));
        assert_eq!(RegionRule::parse("+44"), Ok(RegionRule::CallingCode(44)));
        assert!(RegionRule::parse("XX").is_err());
        assert!(RegionRule::parse("+0").is_err());
        assert!(parse_number_type("premium").is_err());
    }

    #[test]
    fn denied_regions_and_calling_codes_are_refused() {
        let policy = SmsPolicy {
            denied_regions: vec![
                RegionRule::parse("GB").unwrap(),
                RegionRule::parse("+53").unwrap(),
            ],
            ..SmsPolicy::default()
        };
        assert_eq!(
            policy.check(&number("+447400123456"), now()),
            Err(DomainError::PhoneRegionNotAllowed)
        );
        assert_eq!(
            policy.check(&number("+5352123456"), now()),
            Err(DomainError::PhoneRegionNotAllowed)
        );
        assert_eq!(policy.check(&number("+41791234567"), now()), Ok(()));
    }

    #[test]
    fn an_allow_list_admits_only_its_regions() {
        let policy = SmsPolicy {
            allowed_regions: vec![
                RegionRule::parse("CH").unwrap(),
                RegionRule::parse("+1").unwrap(),
            ],
            ..SmsPolicy::default()
        };
        assert_eq!(policy.check(&number("+41791234567"), now()), Ok(()));
        assert_eq!(policy.check(&number("+16502530000"), now()), Ok(()));
        assert_eq!(
            policy.check(&number("+4915112345678"), now()),
            Err(DomainError::PhoneRegionNotAllowed)
        );
        // Numbers already classified are answered the same from memory.
        assert_eq!(policy.classified.0.len(), 3);
        assert_eq!(
            policy.check(&number("+4915112345678"), now()),
            Err(DomainError::PhoneRegionNotAllowed)
        );
        assert_eq!(policy.check(&number("+41791234567"), now()), Ok(()));
    }

    #[test]
    fn premium_shared_cost_and_toll_free_ranges_are_refused() {
        let policy = SmsPolicy {
            allowed_types: types(&["mobile", "fixed_line_or_mobile"]),
            ..SmsPolicy::default()
        };
        // Swiss premium-rate (0900), shared-cost (0840) and toll-free (0800) ranges, a UK premium number.
        for premium in [
            "+41900123456",
            "+41840123456",
            "+41800123456",
            "+449001234567",
        ] {
            assert_eq!(
                policy.check(&number(premium), now()),
                Err(DomainError::PhoneTypeNotAllowed),
                "{premium}"
            );
        }
        // A Swiss landline is fixed-line only: no SMS.
        assert_eq!(
            policy.check(&number("+41446681800"), now()),
            Err(DomainError::PhoneTypeNotAllowed)
        );
        assert_eq!(policy.check(&number("+41791234567"), now()), Ok(()));
        assert_eq!(policy.check(&number("+16502530000"), now()), Ok(()));
    }

    #[test]
    fn test_numbers_match_exactly_or_by_prefix_until_they_expire() {
        let expires = now() + chrono::Duration::days(1);
        let policy = SmsPolicy {
            allowed_types: types(&["mobile"]),
            test_numbers: vec![
                TestNumber {
                    pattern: NumberPattern::parse("+41 79 000 00 01").unwrap(),
                    code: PlainCode::new("111111".into()),
                    expires,
                },
                TestNumber {
                    pattern: NumberPattern::parse("+4190012*").unwrap(),
                    code: PlainCode::new("222222".into()),
                    expires,
                },
            ],
            ..SmsPolicy::default()
        };
        let exact = number("+41790000001");
        let premium = number("+41900123456");
        assert_eq!(
            policy.test_number(&exact, now()).map(|t| t.code.expose()),
            Some("111111")
        );
        assert_eq!(
            policy.test_number(&premium, now()).map(|t| t.code.expose()),
            Some("222222")
        );
        // A configured test number passes the type rule; after its expiry it is an ordinary number again.
        assert_eq!(policy.check(&premium, now()), Ok(()));
        assert!(policy.test_number(&premium, expires).is_none());
        assert_eq!(
            policy.check(&premium, expires),
            Err(DomainError::PhoneTypeNotAllowed)
        );
        assert_eq!(policy.active_test_numbers(now()), 2);
        assert_eq!(policy.active_test_numbers(expires), 0);
        assert!(NumberPattern::parse("+41a*").is_err());
    }
}

//! The input policy: which characters caller text may hold, and what a caller-chosen user ID looks like.
//! One policy for every field, path and header, so that both backends store exactly the same values: Postgres
//! refuses NUL in text outright (which was an HTTP 500), SQLite stores it, and neither should hold a control
//! character that no form can type and no log shows.

use std::fmt;

/// Longest caller-chosen user ID, as ZITADEL's request validation (`max_len: 200`).
pub const MAX_CUSTOM_ID_CHARS: usize = 200;

/// Why a value is refused, worded to follow "invalid {Message}.{Field}: ".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TextRefusal {
    /// A control character (Unicode category Cc: U+0000–U+001F, U+007F–U+009F). Tab and newline count too:
    /// no field here is multi-line prose, and a tab in a name is as invisible as a NUL.
    Control(char),
    /// A custom ID that is empty or longer than `MAX_CUSTOM_ID_CHARS`.
    IdLength,
    /// A custom ID with a character outside `A-Z a-z 0-9 - . _ ~`, not starting with a letter or digit, or
    /// holding `..`.
    IdShape,
}

impl fmt::Display for TextRefusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TextRefusal::Control(c) => write!(
                f,
                "value must not contain control characters (found U+{:04X})",
                u32::from(*c)
            ),
            TextRefusal::IdLength => write!(
                f,
                "value length must be between 1 and {MAX_CUSTOM_ID_CHARS} runes, inclusive"
            ),
            TextRefusal::IdShape => f.write_str(
                "value must start with a letter or digit and contain only letters, digits, '-', '.', '_' \
                 and '~', without '..'",
            ),
        }
    }
}

/// The policy for all caller text: no control characters. Everything else (any letter, symbol or space of
/// any script) is the field's own rule to judge.
pub fn check_text(value: &str) -> Result<(), TextRefusal> {
    match value.chars().find(|c| c.is_control()) {
        Some(c) => Err(TextRefusal::Control(c)),
        None => Ok(()),
    }
}

/// A user ID a caller chooses. ZITADEL itself only bounds the length; ours must also be one URL path segment
/// as it is, so that every user can be addressed as `/v2/users/{userId}`: RFC 3986's unreserved characters,
/// a letter or digit first (no `-1` that a command line reads as an option, no `.`/`..` segment), and no `..`
/// anywhere (no ID that a proxy or a log reader could take for a relative path).
pub fn check_custom_id(value: &str) -> Result<(), TextRefusal> {
    check_text(value)?;
    let len = value.chars().count();
    if len == 0 || len > MAX_CUSTOM_ID_CHARS {
        return Err(TextRefusal::IdLength);
    }
    let unreserved = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_' | '~');
    let starts_well = value.starts_with(|c: char| c.is_ascii_alphanumeric());
    if !starts_well || !value.chars().all(unreserved) || value.contains("..") {
        return Err(TextRefusal::IdShape);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_of_any_script_passes() {
        for ok in ["", "Ada Lovelace", "Zoë 🙂", "名前", "a\u{200B}b", "de-CH"] {
            assert_eq!(check_text(ok), Ok(()), "{ok:?}");
        }
    }

    #[test]
    fn every_control_character_is_refused_and_named() {
        for c in ('\0'..='\u{1F}').chain('\u{7F}'..='\u{9F}') {
            let value = format!("a{c}b");
            assert_eq!(check_text(&value), Err(TextRefusal::Control(c)), "{c:?}");
        }
        assert_eq!(
            check_text("a\0b").map_err(|e| e.to_string()),
            Err("value must not contain control characters (found U+0000)".to_owned())
        );
    }

    #[test]
    fn tab_and_newline_are_control_characters_too() {
        assert_eq!(check_text("a\tb"), Err(TextRefusal::Control('\t')));
        assert_eq!(check_text("a\nb"), Err(TextRefusal::Control('\n')));
    }

    #[test]
    fn custom_ids_are_url_safe_segments() {
        for ok in [
            "1",
            "69629023906488334",
            "custom-1",
            "a.b_c~d",
            "0f8fad5b-d9cb-469f-a165-70867728950e",
        ] {
            assert_eq!(check_custom_id(ok), Ok(()), "{ok:?}");
        }
        assert_eq!(check_custom_id(&"x".repeat(200)), Ok(()));
    }

    #[test]
    fn custom_ids_that_no_url_could_address_are_refused() {
        for bad in [
            "a/b", "../../x", "..", ".", "-1", "_a", "~a", "a..b", "a b", " a", "a%2F", "a?b",
            "a#b", "é", "a@b",
        ] {
            assert_eq!(check_custom_id(bad), Err(TextRefusal::IdShape), "{bad:?}");
        }
        assert_eq!(check_custom_id(""), Err(TextRefusal::IdLength));
        assert_eq!(
            check_custom_id(&"x".repeat(201)),
            Err(TextRefusal::IdLength)
        );
        assert_eq!(check_custom_id("a\0"), Err(TextRefusal::Control('\0')));
    }
}

//! One input policy for both backends: control characters (Unicode Cc, tab and newline included) are refused
//! in every body field, path ID and the org header with code 3 naming the field, before anything is read or
//! written; caller-chosen user IDs must be URL-safe. Each test also shows that nothing was written.

mod bodies;
mod custom_ids;
mod paths;

/// The control characters every field is tried with: NUL (which Postgres cannot store), other C0 characters,
/// tab, newline, escape, DEL and a C1 character (NEL).
pub const CONTROLS: [char; 7] = ['\0', '\u{1}', '\t', '\n', '\u{1B}', '\u{7F}', '\u{85}'];

/// `value` with `c` after its first character, so that the value is otherwise what the field accepts.
pub fn with_control(value: &str, c: char) -> String {
    let mut chars = value.chars();
    let first: String = chars.next().into_iter().collect();
    format!("{first}{c}{}", chars.as_str())
}

/// The refusal's message start for `field` (e.g. `AddHumanUserRequest.Profile.GivenName` or `userId`).
pub fn refusal(field: &str) -> String {
    format!("invalid {field}: value must not contain control characters")
}

pub fn tests() -> Vec<(&'static str, crate::TestFn)> {
    let mut tests = paths::tests();
    tests.extend(bodies::tests());
    tests.extend(custom_ids::tests());
    tests
}

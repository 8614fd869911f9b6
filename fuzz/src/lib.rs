//! The bodies of the fuzz targets: one function per parser that reads what a client sends. Each must return
//! for any input, never panic, and keep the invariant its comment states. `fuzz_targets/*.rs` hand them
//! libFuzzer's input; `tests/fuzz_seeds.rs` replays `fuzz/seeds/` through the same functions on every
//! `cargo test`, so they keep compiling and the regressions found so far stay fixed.

use std::sync::OnceLock;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Duration, Utc};
use phoneverify::api::error::Code;
use phoneverify::api::extract::parse_body;
use phoneverify::api::types::{
    AddHumanUserRequest, AddMachineUserRequest, AddMemberRequest, AddOrganizationRequest,
    AddPersonalAccessTokenRequest, Empty, ResendPhoneCodeRequest, SetMyPhoneRequest,
    SetPhoneRequest, UpdateHumanPhoneRequest, VerifyMyPhoneRequest, VerifyPhoneRequest,
};
use phoneverify::auth::{SigningKey, TokenService};
use phoneverify::config::Config;
use phoneverify::domain::phone::PhoneNumber;

/// A phone number as typed by a user: either refused, or normalized to E.164 that parses back to itself.
pub fn phone(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(number) = PhoneNumber::parse(text) {
        let e164 = number.as_str();
        assert!(e164.starts_with('+'), "not E.164: {e164:?} from {text:?}");
        assert!(
            e164[1..].bytes().all(|b| b.is_ascii_digit()),
            "not E.164: {e164:?} from {text:?}"
        );
        let again = PhoneNumber::parse(e164);
        assert_eq!(
            again.as_ref().map(PhoneNumber::as_str).ok(),
            Some(e164),
            "{text:?} normalized to {e164:?}, which does not parse back to itself"
        );
    }
}

/// A JSON request body, read as every request message the REST API accepts: either a message or a code 3
/// error (never another code, which would become another HTTP status).
pub fn json_body(data: &[u8]) {
    fn one<T: serde::de::DeserializeOwned>(data: &[u8]) {
        if let Err(e) = parse_body::<T>(data) {
            assert_eq!(e.code, Code::InvalidArgument, "{}", e.message);
        }
    }
    one::<AddHumanUserRequest>(data);
    one::<SetPhoneRequest>(data);
    one::<ResendPhoneCodeRequest>(data);
    one::<VerifyPhoneRequest>(data);
    one::<AddOrganizationRequest>(data);
    one::<SetMyPhoneRequest>(data);
    one::<VerifyMyPhoneRequest>(data);
    one::<UpdateHumanPhoneRequest>(data);
    one::<AddMachineUserRequest>(data);
    one::<AddMemberRequest>(data);
    one::<AddPersonalAccessTokenRequest>(data);
    one::<Empty>(data);
}

struct Tokens {
    service: TokenService,
    /// A token the service signed, and its three parts.
    real: String,
    now: DateTime<Utc>,
}

fn tokens() -> &'static Tokens {
    static TOKENS: OnceLock<Tokens> = OnceLock::new();
    TOKENS.get_or_init(|| {
        let pkcs8 = phoneverify::auth::keys::generate_pkcs8().expect("key generation");
        let key = SigningKey::from_pkcs8(&pkcs8).expect("fresh key");
        let service = TokenService::new(
            phoneverify::auth::KeyRing::fixed(key),
            "phoneverify".into(),
            "phoneverify".into(),
            std::time::Duration::from_secs(5),
        );
        // A fixed instant: the target must behave the same on every run of the same input.
        let now = DateTime::<Utc>::from_timestamp(1_800_000_000, 0).expect("a valid instant");
        let real = service
            .mint("4711", "t1", now, Duration::hours(1))
            .expect("mint");
        Tokens { service, real, now }
    })
}

/// A bearer token, twice: the input as a whole token, which never verifies (it was not signed by us); and
/// the input as the header of a token we did sign, which verifies only when it is that header, byte for byte.
pub fn jwt(data: &[u8]) {
    let t = tokens();
    if let Ok(text) = std::str::from_utf8(data) {
        assert!(
            text == t.real || t.service.verify(text, t.now).is_err(),
            "an unsigned token verified: {text:?}"
        );
    }
    let mut parts = t.real.splitn(2, '.');
    let header = parts.next().unwrap_or_default();
    let rest = parts.next().unwrap_or_default();
    let forged = format!("{}.{rest}", URL_SAFE_NO_PAD.encode(data));
    let verified = t.service.verify(&forged, t.now);
    let same = URL_SAFE_NO_PAD.decode(header).is_ok_and(|h| h == data);
    assert!(
        same || verified.is_err(),
        "a token with a changed header verified: {forged:?}"
    );
}

/// A settings file: the configuration is either loaded and within its bounds, or refused with an error.
pub fn config(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(config) = Config::from_toml_overrides(text) {
        assert!(config.database.max_connections >= 1);
        assert!((4..=20).contains(&config.code.length));
    }
}

/// A target's body: takes the fuzzer's bytes, panics on a broken invariant.
pub type Target = fn(&[u8]);

/// Every target by name, for the seed replay.
pub const TARGETS: &[(&str, Target)] = &[
    ("phone", phone),
    ("json_body", json_body),
    ("jwt", jwt),
    ("config", config),
];

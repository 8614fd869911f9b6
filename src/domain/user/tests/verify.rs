use chrono::Duration;

use super::{added, code_added, given, guess, hasher, phone_changed, t0};
use crate::domain::DomainError;
use crate::domain::user::UserEvent;

#[test]
fn the_right_code_verifies_the_phone() {
    given([added(), phone_changed(), code_added("123456")])
        .when(|u| u.verify_phone(&guess("123456"), t0() + Duration::minutes(1), 5, &hasher()))
        .then_recorded(&[UserEvent::PhoneVerified], Ok(()));
}

#[test]
fn a_resend_makes_the_old_code_fail() {
    given([
        added(),
        phone_changed(),
        code_added("111111"),
        code_added("222222"),
    ])
    .when(|u| u.verify_phone(&guess("111111"), t0(), 5, &hasher()))
    .then_recorded(
        &[UserEvent::PhoneVerificationFailed],
        Err(DomainError::CodeInvalid),
    );
}

#[test]
fn a_resend_makes_the_new_code_work() {
    given([
        added(),
        phone_changed(),
        code_added("111111"),
        code_added("222222"),
    ])
    .when(|u| u.verify_phone(&guess("222222"), t0(), 5, &hasher()))
    .then_recorded(&[UserEvent::PhoneVerified], Ok(()));
}

#[test]
fn a_wrong_code_is_recorded_as_a_failed_attempt() {
    given([added(), phone_changed(), code_added("123456")])
        .when(|u| u.verify_phone(&guess("654321"), t0(), 5, &hasher()))
        .then_recorded(
            &[UserEvent::PhoneVerificationFailed],
            Err(DomainError::CodeInvalid),
        );
}

#[test]
fn an_expired_code_answers_like_a_wrong_one() {
    given([added(), phone_changed(), code_added("123456")])
        .when(|u| u.verify_phone(&guess("123456"), t0() + Duration::minutes(11), 5, &hasher()))
        .then_recorded(
            &[UserEvent::PhoneVerificationFailed],
            Err(DomainError::CodeInvalid),
        );
}

fn five_failures_after(code: &str) -> Vec<UserEvent> {
    let mut events = vec![added(), phone_changed(), code_added(code)];
    events.extend(std::iter::repeat_n(UserEvent::PhoneVerificationFailed, 5));
    events
}

#[test]
fn after_max_attempts_even_the_right_code_is_refused_unrecorded() {
    let history = given(five_failures_after("123456"));
    assert_eq!(
        history
            .user()
            .phone()
            .unwrap()
            .code
            .as_ref()
            .unwrap()
            .attempts,
        5
    );
    history
        .when(|u| u.verify_phone(&guess("123456"), t0(), 5, &hasher()))
        .then_recorded(&[], Err(DomainError::TooManyAttempts));
}

#[test]
fn a_new_code_starts_a_fresh_attempt_count() {
    let mut history = five_failures_after("123456");
    history.push(code_added("777777"));
    given(history)
        .when(|u| u.verify_phone(&guess("777777"), t0(), 5, &hasher()))
        .then_recorded(&[UserEvent::PhoneVerified], Ok(()));
}

#[test]
fn verify_without_a_pending_code_is_refused_unrecorded() {
    given([added(), phone_changed(), UserEvent::PhoneVerified])
        .when(|u| u.verify_phone(&guess("123456"), t0(), 5, &hasher()))
        .then_recorded(&[], Err(DomainError::NoCode));
}

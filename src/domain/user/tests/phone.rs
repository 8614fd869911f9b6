use chrono::Duration;

use super::{added, code_added, given, issued, number, phone_changed, returned, t0};
use crate::domain::DomainError;
use crate::domain::phone::PhoneNumber;
use crate::domain::user::{Cooldown, Delivery, PhoneProof, ResendPrecondition, UserEvent};

const NO_COOLDOWN: Duration = Duration::zero();

fn cooldown() -> Duration {
    Duration::seconds(30)
}

fn other_number() -> PhoneNumber {
    PhoneNumber::parse("+41 78 000 00 00").unwrap()
}

#[test]
fn setting_a_new_number_replaces_a_verified_one_with_a_pending_code() {
    let phone = given([added(), phone_changed(), UserEvent::PhoneVerified])
        .when(|u| {
            u.set_phone(
                &other_number(),
                PhoneProof::Code(issued("111111")),
                Cooldown {
                    now: t0(),
                    wait: NO_COOLDOWN,
                },
            )
        })
        .then_events(&[
            UserEvent::PhoneChanged {
                phone: other_number(),
            },
            code_added("111111"),
        ])
        .then_user()
        .phone()
        .cloned()
        .unwrap();
    assert!(!phone.verified);
    assert_eq!(phone.code.unwrap().delivery, Delivery::Pending);
}

#[test]
fn setting_the_same_number_is_refused() {
    given([added(), phone_changed()])
        .when(|u| {
            u.set_phone(
                &number(),
                PhoneProof::Verified,
                Cooldown {
                    now: t0(),
                    wait: NO_COOLDOWN,
                },
            )
        })
        .then_error(DomainError::PhoneNotChanged);
}

#[test]
fn setting_as_verified_marks_it_verified_without_code() {
    let phone = given([added()])
        .when(|u| {
            u.set_phone(
                &number(),
                PhoneProof::Verified,
                Cooldown {
                    now: t0(),
                    wait: NO_COOLDOWN,
                },
            )
        })
        .then_events(&[phone_changed(), UserEvent::PhoneVerified])
        .then_user()
        .phone()
        .cloned()
        .unwrap();
    assert!(phone.verified);
    assert!(phone.code.is_none());
}

#[test]
fn setting_a_number_by_sms_waits_for_the_cooldown() {
    // The code was added at t0 + 2 s.
    given([added(), phone_changed(), code_added("1")])
        .when(|u| {
            u.set_phone(
                &other_number(),
                PhoneProof::Code(issued("2")),
                Cooldown {
                    now: t0() + Duration::seconds(12),
                    wait: cooldown(),
                },
            )
        })
        .then_error(DomainError::ResendTooSoon {
            retry_after_secs: 20,
        });
}

#[test]
fn setting_a_number_with_a_returned_code_ignores_the_cooldown() {
    given([added(), phone_changed(), code_added("1")])
        .when(|u| {
            u.set_phone(
                &other_number(),
                PhoneProof::Code(returned("2")),
                Cooldown {
                    now: t0() + Duration::seconds(3),
                    wait: cooldown(),
                },
            )
        })
        .then_events(&[
            UserEvent::PhoneChanged {
                phone: other_number(),
            },
            returned("2").event(),
        ]);
}

#[test]
fn the_current_unverified_number_can_be_confirmed_by_setting_it_verified() {
    given([added(), phone_changed(), code_added("1")])
        .when(|u| {
            u.set_or_confirm_phone(
                &number(),
                PhoneProof::Verified,
                Cooldown {
                    now: t0(),
                    wait: NO_COOLDOWN,
                },
            )
        })
        .then_events(&[UserEvent::PhoneVerified]);
}

#[test]
fn the_current_number_with_a_new_code_is_still_unchanged() {
    given([added(), phone_changed(), code_added("1")])
        .when(|u| {
            u.set_or_confirm_phone(
                &number(),
                PhoneProof::Code(issued("2")),
                Cooldown {
                    now: t0(),
                    wait: NO_COOLDOWN,
                },
            )
        })
        .then_error(DomainError::PhoneNotChanged);
}

#[test]
fn a_verified_number_cannot_be_confirmed_again() {
    given([added(), phone_changed(), UserEvent::PhoneVerified])
        .when(|u| {
            u.set_or_confirm_phone(
                &number(),
                PhoneProof::Verified,
                Cooldown {
                    now: t0(),
                    wait: NO_COOLDOWN,
                },
            )
        })
        .then_error(DomainError::PhoneNotChanged);
}

fn resend(
    precondition: ResendPrecondition,
) -> impl FnOnce(&crate::domain::user::User) -> Result<Vec<UserEvent>, DomainError> {
    move |u| {
        u.resend_code(
            precondition,
            &issued("2"),
            Cooldown {
                now: t0(),
                wait: NO_COOLDOWN,
            },
        )
    }
}

#[test]
fn resend_for_an_unverified_phone_needs_a_phone() {
    given([added()])
        .when(resend(ResendPrecondition::UnverifiedPhone))
        .then_error(DomainError::PhoneNotFound);
}

#[test]
fn resend_for_an_unverified_phone_refuses_a_verified_one() {
    given([added(), phone_changed(), UserEvent::PhoneVerified])
        .when(resend(ResendPrecondition::UnverifiedPhone))
        .then_error(DomainError::PhoneAlreadyVerified);
}

#[test]
fn resend_for_an_unverified_phone_refuses_a_removed_one() {
    given([added(), phone_changed(), UserEvent::PhoneRemoved])
        .when(resend(ResendPrecondition::UnverifiedPhone))
        .then_error(DomainError::PhoneNotFound);
}

#[test]
fn resend_for_an_unverified_phone_adds_a_code() {
    given([added(), phone_changed(), code_added("1")])
        .when(resend(ResendPrecondition::UnverifiedPhone))
        .then_events(&[code_added("2")]);
}

#[test]
fn resend_of_a_pending_code_needs_one_pending() {
    for history in [
        vec![added()],
        vec![added(), phone_changed(), UserEvent::PhoneVerified],
        vec![
            added(),
            phone_changed(),
            code_added("1"),
            UserEvent::PhoneRemoved,
        ],
    ] {
        given(history)
            .when(resend(ResendPrecondition::PendingCode))
            .then_error(DomainError::NoCode);
    }
}

#[test]
fn resend_of_a_pending_code_replaces_it() {
    given([added(), phone_changed(), code_added("1")])
        .when(resend(ResendPrecondition::PendingCode))
        .then_events(&[code_added("2")]);
}

#[test]
fn an_sms_resend_waits_for_the_cooldown() {
    given([added(), phone_changed(), code_added("1")])
        .when(|u| {
            let now = t0() + Duration::seconds(12);
            u.resend_code(
                ResendPrecondition::PendingCode,
                &issued("2"),
                Cooldown {
                    now,
                    wait: cooldown(),
                },
            )
        })
        .then_error(DomainError::ResendTooSoon {
            retry_after_secs: 20,
        });
}

#[test]
fn an_sms_resend_after_the_cooldown_goes_through() {
    given([added(), phone_changed(), code_added("1")])
        .when(|u| {
            let now = t0() + Duration::seconds(32);
            u.resend_code(
                ResendPrecondition::PendingCode,
                &issued("2"),
                Cooldown {
                    now,
                    wait: cooldown(),
                },
            )
        })
        .then_events(&[code_added("2")]);
}

#[test]
fn a_returned_code_is_not_throttled() {
    given([added(), phone_changed(), code_added("1")])
        .when(|u| {
            let now = t0() + Duration::seconds(3);
            u.resend_code(
                ResendPrecondition::PendingCode,
                &returned("3"),
                Cooldown {
                    now,
                    wait: cooldown(),
                },
            )
        })
        .then_events(&[returned("3").event()]);
}

#[test]
fn a_returned_code_starts_no_cooldown() {
    given([added(), phone_changed(), returned("1").event()])
        .when(|u| {
            let now = t0() + Duration::seconds(3);
            u.resend_code(
                ResendPrecondition::UnverifiedPhone,
                &issued("4"),
                Cooldown {
                    now,
                    wait: cooldown(),
                },
            )
        })
        .then_events(&[code_added("4")]);
}

#[test]
fn phone_commands_do_not_find_machines() {
    given([UserEvent::MachineAdded(crate::domain::user::MachineAdded {
        user_name: crate::domain::names::Username::parse("bot").unwrap(),
        name: "Bot".into(),
        description: String::new(),
    })])
    .when(resend(ResendPrecondition::UnverifiedPhone))
    .then_error(DomainError::UserNotFound);
}

#[test]
fn phone_commands_do_not_find_removed_users() {
    given([
        added(),
        phone_changed(),
        code_added("1"),
        UserEvent::Removed,
    ])
    .when(resend(ResendPrecondition::PendingCode))
    .then_error(DomainError::UserNotFound);
}

/// The delivery state shown after two codes (sequences 3 and 4) and news that code `sent` went out.
fn delivery_after_two_codes_and_sent(sent: i64) -> Delivery {
    let user = given([
        added(),
        phone_changed(),
        code_added("1"),
        code_added("2"),
        UserEvent::PhoneCodeSent {
            code_sequence: sent,
        },
    ])
    .user();
    user.phone().unwrap().code.as_ref().unwrap().delivery
}

#[test]
fn delivery_news_of_a_replaced_code_changes_nothing() {
    assert_eq!(delivery_after_two_codes_and_sent(3), Delivery::Pending);
}

#[test]
fn delivery_news_of_the_current_code_is_shown() {
    assert_eq!(delivery_after_two_codes_and_sent(4), Delivery::Sent);
}

#[test]
fn removing_needs_a_phone() {
    given([added()])
        .when(|u| u.remove_phone())
        .then_error(DomainError::PhoneNotFound);
}

#[test]
fn removing_a_phone() {
    given([added(), phone_changed()])
        .when(|u| u.remove_phone())
        .then_events(&[UserEvent::PhoneRemoved]);
}

#[test]
fn code_times_give_the_expiry_and_the_end_of_the_cooldown() {
    // The code was added (and its SMS stamped) at t0 + 2 s, valid for 10 minutes.
    let user = given([added(), phone_changed(), code_added("1")]).user();
    let added_at = t0() + Duration::seconds(2);
    let at = |now, wait| user.code_times(Cooldown { now, wait }).unwrap();
    let soon = at(t0() + Duration::seconds(12), cooldown());
    assert_eq!(soon.expires_at, added_at + Duration::minutes(10));
    assert_eq!(soon.next_sms_at, added_at + cooldown());
    // Past the cooldown, or without one, the next SMS may go now.
    let later = t0() + Duration::seconds(60);
    assert_eq!(at(later, cooldown()).next_sms_at, later);
    assert_eq!(at(t0(), NO_COOLDOWN).next_sms_at, t0());
}

#[test]
fn no_pending_code_has_no_code_times() {
    let user = given([added(), phone_changed(), UserEvent::PhoneVerified]).user();
    let wait = cooldown();
    assert!(user.code_times(Cooldown { now: t0(), wait }).is_none());
}

use super::{added, code_added, given, t0};
use crate::domain::DomainError;
use crate::domain::events::{decode, encode};
use crate::domain::user::{HumanInput, MachineInput, UserEvent, UserState};

fn ada() -> HumanInput {
    HumanInput {
        username: None,
        given_name: " Ada ".into(),
        family_name: "Lovelace".into(),
        display_name: None,
        nick_name: String::new(),
        preferred_language: "en".into(),
        email: "ada@example.com".into(),
        email_verified: false,
    }
}

#[test]
fn a_human_without_username_is_named_by_email_and_displayed_by_full_name() {
    let added = ada().validate().unwrap();
    assert_eq!(added.user_name.as_str(), "ada@example.com");
    assert_eq!(added.first_name, "Ada");
    assert_eq!(added.display_name, "Ada Lovelace");
}

#[test]
fn a_human_needs_a_given_name() {
    let input = HumanInput {
        given_name: "  ".into(),
        ..ada()
    };
    assert_eq!(input.validate().unwrap_err(), DomainError::GivenNameMissing);
}

#[test]
fn a_human_needs_a_family_name() {
    let input = HumanInput {
        family_name: String::new(),
        ..ada()
    };
    assert_eq!(
        input.validate().unwrap_err(),
        DomainError::FamilyNameMissing
    );
}

#[test]
fn the_email_is_checked_before_the_names() {
    let input = HumanInput {
        email: "nope".into(),
        given_name: String::new(),
        ..ada()
    };
    assert_eq!(input.validate().unwrap_err(), DomainError::EmailInvalid);
}

#[test]
fn a_machine_needs_a_name() {
    let input = MachineInput {
        username: "bot".into(),
        name: " ".into(),
        description: String::new(),
    };
    assert_eq!(
        input.validate().unwrap_err(),
        DomainError::MachineNameMissing
    );
}

#[test]
fn tokens_are_for_machines_only() {
    given([added()])
        .when(|u| u.add_personal_access_token("t1", t0() + chrono::Duration::days(1), t0()))
        .then_error(DomainError::NotMachineUser);
}

#[test]
fn an_active_user_cannot_be_reactivated() {
    given([added()])
        .when(|u| u.reactivate())
        .then_error(DomainError::UserNotInactive);
}

#[test]
fn an_inactive_user_cannot_be_deactivated_again() {
    given([added(), UserEvent::Deactivated])
        .when(|u| u.deactivate())
        .then_error(DomainError::UserAlreadyInactive);
}

#[test]
fn an_inactive_user_is_reactivated() {
    let user = given([added(), UserEvent::Deactivated])
        .when(|u| u.reactivate())
        .then_events(&[UserEvent::Reactivated])
        .then_user();
    assert_eq!(user.state, UserState::Active);
    assert!(user.can_authenticate());
}

#[test]
fn an_inactive_user_cannot_authenticate() {
    assert!(
        !given([added(), UserEvent::Deactivated])
            .user()
            .can_authenticate()
    );
}

#[test]
fn a_removed_user_is_not_found() {
    given([added(), UserEvent::Removed])
        .when(|u| u.remove())
        .then_error(DomainError::UserNotFound);
}

#[test]
fn events_round_trip_through_type_and_payload() {
    for event in [
        added(),
        code_added("1"),
        UserEvent::PhoneVerified,
        UserEvent::Removed,
    ] {
        let (t, p) = encode(&event).unwrap();
        assert!(t.starts_with("user."), "{t}");
        assert_eq!(decode::<UserEvent>(&t, p.as_ref()).unwrap(), event);
    }
}

#[test]
fn a_code_event_holds_the_hash_and_a_go_duration_but_never_the_code() {
    let (t, p) = encode(&code_added("424242")).unwrap();
    assert_eq!(t, "user.human.phone.code.added");
    let p = p.unwrap();
    assert!(!p.to_string().contains("424242"));
    assert_eq!(p["expiry"], 600_000_000_000i64);
    assert_eq!(p["code_returned"], false);
}

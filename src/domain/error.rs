//! Outcomes a command can be refused with. The API layer maps each to the code and ID of its dialect.

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DomainError {
    #[error("user not found")]
    UserNotFound,
    #[error("user is not a human")]
    UserNotHuman,
    #[error("phone is empty")]
    PhoneEmpty,
    #[error("phone is invalid")]
    PhoneInvalid,
    #[error("SMS to this number's country is not allowed")]
    PhoneRegionNotAllowed,
    #[error("SMS to this kind of number is not allowed")]
    PhoneTypeNotAllowed,
    #[error("phone not changed")]
    PhoneNotChanged,
    #[error("phone not found")]
    PhoneNotFound,
    #[error("phone already verified")]
    PhoneAlreadyVerified,
    #[error("verification code is empty")]
    CodeEmpty,
    #[error("no verification code is pending")]
    NoCode,
    #[error("verification code is invalid")]
    CodeInvalid,
    #[error("a code was sent too recently")]
    ResendTooSoon { retry_after_secs: u64 },
    #[error("too many attempts")]
    TooManyAttempts,
    #[error("permission denied")]
    PermissionDenied,
    #[error("username already taken")]
    UsernameTaken,
    #[error("user id already taken")]
    UserIdTaken,
    #[error("invalid username")]
    UsernameInvalid,
    #[error("given name missing")]
    GivenNameMissing,
    #[error("family name missing")]
    FamilyNameMissing,
    #[error("email empty")]
    EmailEmpty,
    #[error("email invalid")]
    EmailInvalid,
    #[error("organization not found")]
    OrgNotFound,
    #[error("organization name is empty")]
    OrgNameEmpty,
    #[error("organization name already taken")]
    OrgNameTaken,
    #[error("user already inactive")]
    UserAlreadyInactive,
    #[error("user not inactive")]
    UserNotInactive,
    #[error("roles missing")]
    RolesMissing,
    #[error("roles unknown or not for this scope")]
    InvalidRoles,
    #[error("member already exists")]
    MemberAlreadyExists,
    #[error("not a machine user")]
    NotMachineUser,
    #[error("expiration date in the past")]
    ExpirationInPast,
    #[error("personal access token not found")]
    PatNotFound,
    #[error("machine name missing")]
    MachineNameMissing,
    #[error("the last active instance owner cannot be deactivated or deleted")]
    LastInstanceOwner,
}

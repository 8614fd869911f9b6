//! What a service call can fail with. Causes are kept as sources, so a 5xx log shows the whole chain.

use crate::auth::TokenError;
use crate::crypto::CryptoError;
use crate::domain::DomainError;
use crate::store::StoreError;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    #[error(transparent)]
    Domain(#[from] DomainError),
    /// 16 UNAUTHENTICATED; the reason is for the log, the client gets a fixed message per kind.
    #[error("unauthenticated: {0}")]
    Unauthenticated(AuthFailure),
    #[error("organisation in x-zitadel-orgid does not exist")]
    OrgFromHeaderNotFound,
    #[error("no SMS provider is active")]
    NoSmsProvider,
    /// The number got `limits.max_sends_per_phone_per_day` SMS today.
    #[error("daily SMS cap for the number reached")]
    DailyCapReached { retry_after_secs: u64 },
    /// The user's organization sent `limits.max_sms_per_org_per_day` SMS today.
    #[error("daily SMS budget of the organization spent")]
    OrgBudgetSpent { retry_after_secs: u64 },
    #[error("gave up after repeated concurrent modifications")]
    Aborted,
    #[error("database unavailable")]
    Unavailable(#[source] StoreError),
    /// The delivery worker's lease on a job ran out before it settled it: another worker has the job now.
    #[error("SMS job lease lost")]
    JobLeaseLost,
    #[error("internal error: {message}")]
    Internal {
        message: String,
        #[source]
        source: Option<BoxError>,
    },
}

impl ServiceError {
    /// A broken invariant with no underlying error.
    pub fn internal(message: impl Into<String>) -> Self {
        ServiceError::Internal {
            message: message.into(),
            source: None,
        }
    }

    /// An unexpected failure of something below us, kept as the source.
    pub fn internal_from(source: impl Into<BoxError>) -> Self {
        let source = source.into();
        ServiceError::Internal {
            message: source.to_string(),
            source: Some(source),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum AuthFailure {
    #[error("auth header missing")]
    HeaderMissing,
    #[error("invalid auth header")]
    InvalidHeader,
    #[error("token rejected: {0}")]
    Token(#[from] TokenError),
    #[error("token user {0} does not exist or is not active")]
    UserNotActive(String),
    #[error("personal access token {0} was removed")]
    PatRemoved(String),
}

impl From<StoreError> for ServiceError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Conflict => ServiceError::Aborted,
            unavailable @ StoreError::Unavailable(..) => ServiceError::Unavailable(unavailable),
            StoreError::LeaseLost => ServiceError::JobLeaseLost,
            // Quotas and leases are handled where commits carry them; anything else reaching here is a bug.
            other => ServiceError::internal_from(other),
        }
    }
}

impl From<CryptoError> for ServiceError {
    fn from(e: CryptoError) -> Self {
        match e {
            CryptoError::Store(s) => s.into(),
            other => ServiceError::internal_from(other),
        }
    }
}

impl From<TokenError> for ServiceError {
    fn from(e: TokenError) -> Self {
        match e {
            signing @ TokenError::Signing(_) => ServiceError::internal_from(signing),
            other => ServiceError::Unauthenticated(AuthFailure::Token(other)),
        }
    }
}

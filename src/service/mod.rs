//! The application layer: authenticates, authorizes, loads state, asks the domain to decide, and hands the
//! decision to the one write path (`write.rs`). It knows neither HTTP nor SQL; the API calls it and it calls
//! the `Store`.

mod access;
mod bootstrap;
mod changes;
mod error;
mod gate;
mod machine_credentials;
mod observe;
mod orgs;
mod outbox;
mod phone;
mod recovery;
mod status;
mod users;
mod write;

use std::sync::Arc;

use chrono::Duration;
use tokio::sync::Notify;

use crate::auth::TokenService;
use crate::config::{Config, SmsProviderKind};
use crate::crypto::JobCipher;
use crate::domain::DomainError;
use crate::domain::clock::Clock;
use crate::domain::code::{CodeGenerator, CodeHasher, PlainCode};
use crate::domain::ids::{IdGenerator, OrgId, UserId};
use crate::domain::org::Membership;
use crate::domain::permission::RoleTable;
use crate::domain::phone::PhoneNumber;
use crate::domain::user::{Cooldown, IssuedCode, User};
use crate::metrics::Metrics;
use crate::store::Store;

pub use bootstrap::BootstrapOutcome;
pub use changes::{Editor, UserChange};
pub use error::{AuthFailure, ServiceError};
pub use machine_credentials::{IssuedToken, NewKey, NewSecret, OAuthError};
pub use orgs::NewOrgAdmin;
pub use phone::{SetPhoneV2, Target};
pub use recovery::OwnerReset;
pub use users::{NewHuman, NewHumanPhone, NewMachine, StateChange};
pub(crate) use write::Decision;

pub type Result<T, E = ServiceError> = std::result::Result<T, E>;

/// An authenticated caller: a user of this installation that exists and is active.
#[derive(Debug, Clone)]
pub struct Caller {
    pub user_id: UserId,
    pub org_id: OrgId,
    /// The caller's roles, read with its user row when it authenticated.
    pub(crate) memberships: Vec<Membership>,
    /// The caller's own row as authentication read it: what a self-service command decides on first.
    pub(crate) row: User,
    /// The user the request names by id, read with the caller (None: it names none, or no such user).
    pub(crate) named: Option<User>,
}

/// The result of a write: the user as it is now (for the details object) and whether the write created it.
#[derive(Debug, Clone)]
pub struct Written {
    pub user: User,
    pub created: bool,
}

impl Written {
    fn changed(user: User) -> Self {
        Self {
            user,
            created: false,
        }
    }
}

pub struct Services {
    pub store: Arc<dyn Store>,
    pub clock: Arc<dyn Clock>,
    pub config: Config,
    pub tokens: TokenService,
    pub(crate) ids: IdGenerator,
    pub(crate) roles: RoleTable,
    pub(crate) hasher: CodeHasher,
    pub(crate) cipher: JobCipher,
    pub(crate) codes: CodeGenerator,
    /// Woken after a commit that queued an SMS, so the worker does not have to poll for new jobs.
    pub outbox: Notify,
    /// Commands on one user take turns within this process.
    pub(crate) user_gate: gate::UserGate,
    pub metrics: Arc<Metrics>,
    /// The last count of SMS jobs, shared by the scrapes that follow it closely.
    pub(crate) job_counts_cache: status::JobCountsCache,
}

impl Services {
    pub fn new(
        store: Arc<dyn Store>,
        clock: Arc<dyn Clock>,
        config: Config,
        tokens: TokenService,
        hasher: CodeHasher,
        cipher: JobCipher,
    ) -> Self {
        let metrics = Arc::new(Metrics::new(store.commit_batch_sizes()));
        Self {
            metrics,
            ids: IdGenerator::random_node(),
            roles: RoleTable::new(&config.roles),
            codes: CodeGenerator::new(config.code.length, config.code.alphabet),
            store,
            clock,
            config,
            tokens,
            hasher,
            cipher,
            outbox: Notify::new(),
            user_gate: gate::UserGate::new(),
            job_counts_cache: status::JobCountsCache::default(),
        }
    }

    /// Rebuilds every projection from the event log; returns how many events were folded.
    pub async fn rebuild_projections(&self) -> Result<usize> {
        let fold = |events: &[crate::domain::events::StoredEvent]| {
            crate::domain::projection::fold(events).map_err(|e| e.to_string())
        };
        Ok(self.store.rebuild_projections(&fold).await?)
    }

    pub fn mint_token(&self, user_id: &UserId, ttl: Duration) -> Result<String> {
        let now = self.clock.now();
        Ok(self
            .tokens
            .mint(user_id.as_str(), &self.ids.next(now), now, ttl)?)
    }

    /// The user with this id, whatever its state; an id that cannot exist is "not found" like a missing one.
    pub(crate) async fn load_user(&self, user_id: &str) -> Result<User> {
        let id = UserId::parse(user_id).ok_or(DomainError::UserNotFound)?;
        Ok(self
            .store
            .user(&id)
            .await?
            .ok_or(DomainError::UserNotFound)?)
    }

    /// A fresh code: the plaintext (to send or return) and what the domain stores (hash and lifetime).
    /// For an active test number, the code is its configured one.
    fn issue_code(&self, number: Option<&PhoneNumber>, returned: bool) -> (PlainCode, IssuedCode) {
        let test_code = number
            .and_then(|n| self.config.limits.policy.test_number(n, self.clock.now()))
            .map(|t| t.code.clone());
        let plain = test_code.unwrap_or_else(|| self.codes.generate(&mut rand::rng()));
        let issued = IssuedCode {
            hash: self.hasher.hash(&plain),
            expiry: Duration::from_std(self.config.code.expiry).unwrap_or(Duration::MAX),
            returned,
        };
        (plain, issued)
    }

    /// The SMS cooldown as it applies now.
    pub(crate) fn cooldown(&self) -> Cooldown {
        Cooldown {
            now: self.clock.now(),
            wait: Duration::from_std(self.config.limits.resend_cooldown).unwrap_or(Duration::MAX),
        }
    }

    /// When the user's pending code expires and the next SMS may go, as of now.
    pub fn code_times(
        &self,
        user: &crate::domain::user::User,
    ) -> Option<crate::domain::user::CodeTimes> {
        user.code_times(self.cooldown())
    }

    /// A number the SMS rules let be set (and later sent a code).
    pub(crate) fn sms_number(&self, phone: &str) -> Result<PhoneNumber> {
        let number = PhoneNumber::parse(phone)?;
        self.config.limits.policy.check(&number, self.clock.now())?;
        Ok(number)
    }

    pub(crate) fn sms_available(&self) -> Result<()> {
        if self.config.sms.provider == SmsProviderKind::None {
            return Err(ServiceError::NoSmsProvider);
        }
        Ok(())
    }
}

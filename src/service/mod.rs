//! The application layer: loads state, asks the domain to decide, and commits the outcome. It knows
//! neither HTTP nor SQL; the API calls it and it calls the `Store`.

mod bootstrap;
mod orgs;
mod phone;
mod users;

use std::sync::Arc;

use chrono::Duration;
use tokio::sync::Notify;

use crate::auth::{TokenError, TokenService};
use crate::config::{Config, SmsProviderKind};
use crate::crypto::{CryptoError, JobCipher};
use crate::domain::DomainError;
use crate::domain::clock::Clock;
use crate::domain::code::{CodeGenerator, CodeHasher, PlainCode};
use crate::domain::events::{AGGREGATE_USER, NewEvent, encode};
use crate::domain::ids::IdGenerator;
use crate::domain::permission::RoleTable;
use crate::domain::user::{IssuedCode, User, UserEvent, UserState};
use crate::store::{Commit, NewSmsJob, SmsQuota, Store, StoreError};

pub use bootstrap::BootstrapOutcome;
pub use orgs::NewOrgAdmin;
pub use phone::{SetPhoneV2, Target};
pub use users::{NewHuman, NewHumanPhone, NewMachine};

/// How often a command reloads and decides again after another writer got to the same user first.
const MAX_CONFLICT_RETRIES: usize = 10;

/// A short random pause before retrying after a conflict, growing with each attempt, so that writers
/// racing for the same user do not collide again in lockstep.
pub async fn pause_after_conflict(attempt: usize) {
    let ceiling_ms = 1u64 << attempt.min(6);
    tokio::time::sleep(std::time::Duration::from_millis(rand::random_range(
        0..=ceiling_ms,
    )))
    .await;
}

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
    #[error("gave up after repeated concurrent modifications")]
    Aborted,
    #[error("database unavailable: {0}")]
    Unavailable(String),
    #[error("internal error: {0}")]
    Internal(String),
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
            // Only commits that carry a quota can exceed it, and `commit_user` handles those.
            StoreError::QuotaExceeded => ServiceError::Internal("unexpected SMS quota".into()),
            // Only the delivery worker updates jobs.
            StoreError::LeaseLost => ServiceError::Internal("unexpected job lease".into()),
            StoreError::Unavailable(m) => ServiceError::Unavailable(m.to_string()),
            StoreError::Internal(m) => ServiceError::Internal(m.to_string()),
        }
    }
}

impl From<CryptoError> for ServiceError {
    fn from(e: CryptoError) -> Self {
        match e {
            CryptoError::Store(s) => s.into(),
            other => ServiceError::Internal(other.to_string()),
        }
    }
}

impl From<TokenError> for ServiceError {
    fn from(e: TokenError) -> Self {
        match e {
            TokenError::Signing(m) => ServiceError::Internal(m),
            other => ServiceError::Unauthenticated(AuthFailure::Token(other)),
        }
    }
}

/// Builds the envelope for an event of any aggregate.
pub(crate) fn envelope<E: serde::Serialize>(
    aggregate: (&'static str, &str),
    sequence: i64,
    event: &E,
    owner: &str,
    creator: &str,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<NewEvent> {
    let (event_type, payload) = encode(event).map_err(|e| ServiceError::Internal(e.to_string()))?;
    Ok(NewEvent {
        aggregate_type: aggregate.0,
        aggregate_id: aggregate.1.to_owned(),
        sequence,
        event_type,
        payload,
        resource_owner: owner.to_owned(),
        creator: creator.to_owned(),
        created_at: now,
    })
}

pub type Result<T, E = ServiceError> = std::result::Result<T, E>;

/// An authenticated caller: a user of this installation that exists and is active.
#[derive(Debug, Clone)]
pub struct Caller {
    pub user_id: String,
    pub org_id: String,
}

/// The result of a write: the user as it is now (for the details object) and whether the write created it.
#[derive(Debug, Clone)]
pub struct Written {
    pub user: User,
    pub created: bool,
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
}

/// Personal access tokens to put on record (added) or take off (removed) with a user's events.
#[derive(Debug, Default)]
struct PatChanges {
    added: Vec<crate::store::PatRecord>,
    removed: Vec<String>,
}

/// What a user command wants written: events, and the code to queue for SMS if one is to be sent.
struct Plan<T> {
    events: Vec<UserEvent>,
    sms: Option<PlainCode>,
    pats: PatChanges,
    /// Returned after the commit: a refusal that still records events (a wrong code) is an `Err` here.
    outcome: std::result::Result<T, DomainError>,
}

impl<T> Plan<T> {
    fn ok(events: Vec<UserEvent>, value: T) -> Self {
        Self {
            events,
            sms: None,
            pats: PatChanges::default(),
            outcome: Ok(value),
        }
    }
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
        Self {
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
        }
    }

    /// Resolves a bearer token to its user, who must exist and be active.
    pub async fn authenticate(&self, authorization: Option<&str>) -> Result<Caller> {
        let header =
            authorization.ok_or(ServiceError::Unauthenticated(AuthFailure::HeaderMissing))?;
        let token = header
            .strip_prefix("Bearer ")
            .ok_or(ServiceError::Unauthenticated(AuthFailure::InvalidHeader))?;
        let verified = self.tokens.verify(token.trim(), self.clock.now())?;
        if verified.personal {
            let on_record = self.store.pat(&verified.token_id).await?;
            if on_record.is_none_or(|p| p.user_id != verified.user_id) {
                return Err(ServiceError::Unauthenticated(AuthFailure::PatRemoved(
                    verified.token_id,
                )));
            }
        }
        match self.store.user(&verified.user_id).await? {
            Some(user) if user.state == UserState::Active => Ok(Caller {
                user_id: user.id,
                org_id: user.org_id,
            }),
            _ => Err(ServiceError::Unauthenticated(AuthFailure::UserNotActive(
                verified.user_id,
            ))),
        }
    }

    /// The org a call acts in: the one named by `x-zitadel-orgid` (which must exist), else the caller's own.
    pub async fn context_org(&self, caller: &Caller, header: Option<&str>) -> Result<String> {
        match header {
            Some(id) => match self.store.org(id).await? {
                Some(org) => Ok(org.id),
                None => Err(ServiceError::OrgFromHeaderNotFound),
            },
            None => Ok(caller.org_id.clone()),
        }
    }

    pub(crate) async fn require(
        &self,
        caller: &Caller,
        permission: &str,
        org_id: &str,
    ) -> Result<()> {
        let memberships = self.store.memberships(&caller.user_id).await?;
        if self.roles.allows(&memberships, permission, org_id) {
            Ok(())
        } else {
            Err(DomainError::PermissionDenied.into())
        }
    }

    pub(crate) async fn require_instance_wide(
        &self,
        caller: &Caller,
        permission: &str,
    ) -> Result<()> {
        let memberships = self.store.memberships(&caller.user_id).await?;
        if self.roles.allows_instance_wide(&memberships, permission) {
            Ok(())
        } else {
            Err(DomainError::PermissionDenied.into())
        }
    }

    /// Acting on a user that holds roles (deleting it, minting its tokens) needs `permission` in each scope it
    /// holds them in, so that an org's user manager cannot take over or lock out an instance administrator.
    pub(crate) async fn require_covering(
        &self,
        caller: &Caller,
        target_id: &str,
        permission: &str,
    ) -> Result<()> {
        let target = self.store.memberships(target_id).await?;
        if target.is_empty() {
            return Ok(());
        }
        let own = self.store.memberships(&caller.user_id).await?;
        if self.roles.covers(&own, &target, permission) {
            Ok(())
        } else {
            Err(DomainError::PermissionDenied.into())
        }
    }

    /// Self-service needs no permission; acting on someone else needs `permission` in their org.
    pub(crate) async fn require_unless_self(
        &self,
        caller: &Caller,
        user: &User,
        permission: &str,
    ) -> Result<()> {
        if caller.user_id == user.id {
            return Ok(());
        }
        self.require(caller, permission, &user.org_id).await
    }

    /// Rebuilds every projection from the event log; returns how many events were folded.
    pub async fn rebuild_projections(&self) -> Result<usize> {
        let fold = |events: &[crate::domain::events::StoredEvent]| {
            crate::domain::projection::fold(events).map_err(|e| e.to_string())
        };
        Ok(self.store.rebuild_projections(&fold).await?)
    }

    pub fn mint_token(&self, user_id: &str, ttl: Duration) -> Result<String> {
        let now = self.clock.now();
        Ok(self.tokens.mint(user_id, &self.ids.next(now), now, ttl)?)
    }

    /// A fresh code: the plaintext (to send or return) and what the domain stores (hash and lifetime).
    fn issue_code(&self, returned: bool) -> (PlainCode, IssuedCode) {
        let plain = self.codes.generate(&mut rand::rng());
        let issued = IssuedCode {
            hash: self.hasher.hash(&plain),
            expiry: Duration::seconds(
                i64::try_from(self.config.code.expiry_secs).unwrap_or(i64::MAX / 1_000_000_000),
            ),
            returned,
        };
        (plain, issued)
    }

    /// The wait between two SMS codes for one user (zero: no cooldown).
    pub(crate) fn resend_cooldown(&self) -> Duration {
        Duration::seconds(
            i64::try_from(self.config.limits.resend_cooldown_secs).unwrap_or(i64::MAX / 1000),
        )
    }

    fn sms_available(&self) -> Result<()> {
        if self.config.sms.provider == SmsProviderKind::None {
            return Err(ServiceError::NoSmsProvider);
        }
        Ok(())
    }

    /// Load the user, decide, and append; on a concurrent append to the same user, start over on fresh state.
    async fn update_user<T>(
        &self,
        user_id: &str,
        creator: &str,
        loaded: Option<User>,
        decide: impl Fn(&User) -> Result<Plan<T>>,
    ) -> Result<(Written, T)> {
        let mut loaded = loaded;
        for attempt in 0..MAX_CONFLICT_RETRIES {
            // The first round may use the state the caller already loaded for its checks.
            let user = match loaded.take() {
                Some(user) => user,
                None => self
                    .store
                    .user(user_id)
                    .await?
                    .ok_or(ServiceError::Domain(DomainError::UserNotFound))?,
            };
            let plan = decide(&user)?;
            if plan.sms.is_some() {
                self.sms_available()?;
            }
            let org_id = user.org_id.clone();
            match self
                .commit_user(Some(user), user_id, &org_id, creator, &plan)
                .await
            {
                Ok(written) => {
                    let value = plan.outcome?;
                    return Ok((written, value));
                }
                Err(ServiceError::Aborted) => pause_after_conflict(attempt).await,
                Err(e) => return Err(e),
            }
        }
        Err(ServiceError::Aborted)
    }

    /// Appends the plan's events to `user` (None: a new user `user_id` in `org_id`) with the projection and any
    /// SMS job in one transaction. A lost race surfaces as `Aborted` for the caller to retry.
    async fn commit_user<T>(
        &self,
        user: Option<User>,
        user_id: &str,
        org_id: &str,
        creator: &str,
        plan: &Plan<T>,
    ) -> Result<Written> {
        if plan.events.is_empty() {
            return match user {
                Some(user) => Ok(Written {
                    user,
                    created: false,
                }),
                None => Err(ServiceError::Internal("a new user needs events".into())),
            };
        }
        let now = self.clock.now();
        let created = user.is_none();
        let mut sequence = user.as_ref().map_or(0, |u| u.sequence);
        let mut state = user;
        let mut events = Vec::with_capacity(plan.events.len());
        for event in &plan.events {
            sequence += 1;
            let meta = crate::domain::events::EventMeta {
                sequence,
                created_at: now,
            };
            state = User::apply(state, user_id, org_id, event, meta);
            events.push(envelope(
                (AGGREGATE_USER, user_id),
                sequence,
                event,
                org_id,
                creator,
                now,
            )?);
        }
        let user =
            state.ok_or_else(|| ServiceError::Internal("events did not create the user".into()))?;
        let mut commit = Commit {
            events,
            users: vec![user.clone()],
            pats_added: plan.pats.added.clone(),
            pats_removed: plan.pats.removed.clone(),
            ..Commit::default()
        };
        if let Some(code) = &plan.sms {
            let job = self.sms_job(&user, code, now)?;
            let cap = self.config.limits.max_sends_per_phone_per_day;
            if cap > 0 {
                commit.sms_quota = Some(SmsQuota {
                    phone: job.phone.clone(),
                    day: now.format("%Y-%m-%d").to_string(),
                    limit: i64::from(cap),
                });
            }
            commit.jobs.push(job);
        }
        match self.store.commit(commit).await {
            Ok(()) => {}
            Err(StoreError::QuotaExceeded) => {
                let midnight = (now.date_naive() + chrono::Days::new(1))
                    .and_time(chrono::NaiveTime::MIN)
                    .and_utc();
                let retry_after_secs = u64::try_from((midnight - now).num_seconds())
                    .unwrap_or(1)
                    .max(1);
                return Err(ServiceError::DailyCapReached { retry_after_secs });
            }
            Err(e) => return Err(e.into()),
        }
        if plan.sms.is_some() {
            self.outbox.notify_one();
        }
        Ok(Written { user, created })
    }

    fn sms_job(
        &self,
        user: &User,
        code: &PlainCode,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<NewSmsJob> {
        let phone = user
            .phone()
            .ok_or_else(|| ServiceError::Internal("SMS without phone".into()))?;
        let pending = phone
            .code
            .as_ref()
            .ok_or_else(|| ServiceError::Internal("SMS without code".into()))?;
        Ok(NewSmsJob {
            id: self.ids.next(now),
            user_id: user.id.clone(),
            code_sequence: pending.sequence,
            phone: phone.number.clone(),
            encrypted_code: self.cipher.seal(code)?,
            language: user
                .human()
                .map(|h| h.preferred_language.clone())
                .unwrap_or_default(),
            expires_at: pending.expires_at,
            created_at: now,
        })
    }
}

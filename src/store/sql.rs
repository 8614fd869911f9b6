//! The SQL both backends share. Rows map to domain types here, once; `store_impl!` writes the `Store`
//! implementation for a concrete sqlx database, so each backend compiles the same statements.

use sqlx::FromRow;

use super::{SmsJob, StoreError, from_micros, micros};
use crate::domain::events::StoredEvent;
use crate::domain::org::{Membership, Org, Scope};
use crate::domain::user::{
    Delivery, Human, Machine, PendingCode, Phone, User, UserKind, UserState,
};

pub(crate) const USER_COLUMNS: &str = "id, org_id, username, state, kind, given_name, family_name, display_name, \
     nick_name, preferred_language, email, email_verified, machine_name, machine_description, phone, phone_verified, \
     code_sequence, code_hash, code_created_at, code_expires_at, code_attempts, code_delivery, sequence, created_at, \
     changed_at, last_sms_at";

/// Every column after `id` is overwritten: the row is the aggregate's latest fold.
pub(crate) const UPSERT_USER: &str = "INSERT INTO users (id, org_id, username, state, kind, given_name, family_name, \
     display_name, nick_name, preferred_language, email, email_verified, machine_name, machine_description, phone, \
     phone_verified, code_sequence, code_hash, code_created_at, code_expires_at, code_attempts, code_delivery, \
     sequence, created_at, changed_at, last_sms_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, \
     $14, $15, $16, $17, $18, $19, $20, $21, $22, $23, $24, $25, $26) ON CONFLICT (id) DO UPDATE SET \
     org_id = excluded.org_id, \
     username = excluded.username, state = excluded.state, kind = excluded.kind, given_name = excluded.given_name, \
     family_name = excluded.family_name, display_name = excluded.display_name, nick_name = excluded.nick_name, \
     preferred_language = excluded.preferred_language, email = excluded.email, \
     email_verified = excluded.email_verified, machine_name = excluded.machine_name, \
     machine_description = excluded.machine_description, phone = excluded.phone, \
     phone_verified = excluded.phone_verified, code_sequence = excluded.code_sequence, \
     code_hash = excluded.code_hash, code_created_at = excluded.code_created_at, \
     code_expires_at = excluded.code_expires_at, code_attempts = excluded.code_attempts, \
     code_delivery = excluded.code_delivery, sequence = excluded.sequence, created_at = excluded.created_at, \
     changed_at = excluded.changed_at, last_sms_at = excluded.last_sms_at";

pub(crate) const EVENT_COLUMNS: &str = "position, aggregate_type, aggregate_id, sequence, event_type, payload, resource_owner, creator, created_at";

pub(crate) const JOB_COLUMNS: &str = "id, user_id, code_sequence, phone, encrypted_code, language, attempts, expires_at, created_at, locked_until";

#[derive(Debug, FromRow)]
pub(crate) struct UserRow {
    pub id: String,
    pub org_id: String,
    pub username: String,
    pub state: String,
    pub kind: String,
    pub given_name: String,
    pub family_name: String,
    pub display_name: String,
    pub nick_name: String,
    pub preferred_language: String,
    pub email: String,
    pub email_verified: bool,
    pub machine_name: String,
    pub machine_description: String,
    pub phone: Option<String>,
    pub phone_verified: bool,
    pub code_sequence: Option<i64>,
    pub code_hash: Option<String>,
    pub code_created_at: Option<i64>,
    pub code_expires_at: Option<i64>,
    pub code_attempts: Option<i64>,
    pub code_delivery: Option<String>,
    pub sequence: i64,
    pub created_at: i64,
    pub changed_at: i64,
    pub last_sms_at: Option<i64>,
}

impl UserRow {
    pub fn into_user(self) -> Result<User, StoreError> {
        let state =
            UserState::parse(&self.state).ok_or_else(|| StoreError::corrupt("users.state"))?;
        let kind = match self.kind.as_str() {
            "human" => {
                let code = match (self.code_sequence, self.code_hash) {
                    (Some(sequence), Some(hash)) => Some(PendingCode {
                        sequence,
                        hash,
                        created_at: from_micros(self.code_created_at.unwrap_or_default()),
                        expires_at: from_micros(self.code_expires_at.unwrap_or_default()),
                        attempts: u32::try_from(self.code_attempts.unwrap_or_default())
                            .unwrap_or(u32::MAX),
                        delivery: self
                            .code_delivery
                            .as_deref()
                            .and_then(Delivery::parse)
                            .ok_or_else(|| StoreError::corrupt("users.code_delivery"))?,
                    }),
                    _ => None,
                };
                UserKind::Human(Human {
                    given_name: self.given_name,
                    family_name: self.family_name,
                    display_name: self.display_name,
                    nick_name: self.nick_name,
                    preferred_language: self.preferred_language,
                    email: self.email,
                    email_verified: self.email_verified,
                    phone: self.phone.map(|number| Phone {
                        number,
                        verified: self.phone_verified,
                        code,
                    }),
                    last_sms_at: self.last_sms_at.map(from_micros),
                })
            }
            "machine" => UserKind::Machine(Machine {
                name: self.machine_name,
                description: self.machine_description,
            }),
            _ => return Err(StoreError::corrupt("users.kind")),
        };
        Ok(User {
            id: self.id,
            org_id: self.org_id,
            username: self.username,
            state,
            kind,
            sequence: self.sequence,
            created_at: from_micros(self.created_at),
            changed_at: from_micros(self.changed_at),
        })
    }

    pub fn from_user(u: &User) -> Self {
        let empty = String::new;
        let (human, machine) = match &u.kind {
            UserKind::Human(h) => (Some(h), None),
            UserKind::Machine(m) => (None, Some(m)),
        };
        let phone = human.and_then(|h| h.phone.as_ref());
        let code = phone.and_then(|p| p.code.as_ref());
        UserRow {
            id: u.id.clone(),
            org_id: u.org_id.clone(),
            username: u.username.clone(),
            state: u.state.as_str().to_owned(),
            kind: if human.is_some() { "human" } else { "machine" }.to_owned(),
            given_name: human.map_or_else(empty, |h| h.given_name.clone()),
            family_name: human.map_or_else(empty, |h| h.family_name.clone()),
            display_name: human.map_or_else(empty, |h| h.display_name.clone()),
            nick_name: human.map_or_else(empty, |h| h.nick_name.clone()),
            preferred_language: human.map_or_else(empty, |h| h.preferred_language.clone()),
            email: human.map_or_else(empty, |h| h.email.clone()),
            email_verified: human.is_some_and(|h| h.email_verified),
            machine_name: machine.map_or_else(empty, |m| m.name.clone()),
            machine_description: machine.map_or_else(empty, |m| m.description.clone()),
            phone: phone.map(|p| p.number.clone()),
            phone_verified: phone.is_some_and(|p| p.verified),
            code_sequence: code.map(|c| c.sequence),
            code_hash: code.map(|c| c.hash.clone()),
            code_created_at: code.map(|c| micros(c.created_at)),
            code_expires_at: code.map(|c| micros(c.expires_at)),
            code_attempts: code.map(|c| i64::from(c.attempts)),
            code_delivery: code.map(|c| c.delivery.as_str().to_owned()),
            sequence: u.sequence,
            created_at: micros(u.created_at),
            changed_at: micros(u.changed_at),
            last_sms_at: human.and_then(|h| h.last_sms_at).map(micros),
        }
    }
}

#[derive(Debug, FromRow)]
pub(crate) struct OrgRow {
    pub id: String,
    pub name: String,
    pub sequence: i64,
    pub created_at: i64,
    pub changed_at: i64,
}

impl From<OrgRow> for Org {
    fn from(r: OrgRow) -> Self {
        Org {
            id: r.id,
            name: r.name,
            sequence: r.sequence,
            created_at: from_micros(r.created_at),
            changed_at: from_micros(r.changed_at),
        }
    }
}

#[derive(Debug, FromRow)]
pub(crate) struct MembershipRow {
    pub user_id: String,
    pub scope: String,
    pub roles: String,
}

impl MembershipRow {
    pub fn into_membership(self) -> Result<Membership, StoreError> {
        Ok(Membership {
            user_id: self.user_id,
            scope: Scope::from_key(&self.scope),
            roles: serde_json::from_str(&self.roles)
                .map_err(|e| StoreError::corrupt_because("memberships.roles", e))?,
        })
    }
}

#[derive(Debug, FromRow)]
pub(crate) struct EventRow {
    pub position: i64,
    pub aggregate_type: String,
    pub aggregate_id: String,
    pub sequence: i64,
    pub event_type: String,
    pub payload: Option<String>,
    pub resource_owner: String,
    pub creator: String,
    pub created_at: i64,
}

impl EventRow {
    pub fn into_event(self) -> Result<StoredEvent, StoreError> {
        let payload = match self.payload {
            Some(p) => Some(
                serde_json::from_str(&p)
                    .map_err(|e| StoreError::corrupt_because("events.payload", e))?,
            ),
            None => None,
        };
        Ok(StoredEvent {
            position: self.position,
            aggregate_type: self.aggregate_type,
            aggregate_id: self.aggregate_id,
            sequence: self.sequence,
            event_type: self.event_type,
            payload,
            resource_owner: self.resource_owner,
            creator: self.creator,
            created_at: from_micros(self.created_at),
        })
    }
}

#[derive(Debug, FromRow)]
pub(crate) struct JobRow {
    pub id: String,
    pub user_id: String,
    pub code_sequence: i64,
    pub phone: String,
    pub encrypted_code: String,
    pub language: String,
    pub attempts: i64,
    pub expires_at: i64,
    pub created_at: i64,
    pub locked_until: i64,
}

impl From<JobRow> for SmsJob {
    fn from(r: JobRow) -> Self {
        SmsJob {
            id: r.id,
            user_id: r.user_id,
            code_sequence: r.code_sequence,
            phone: r.phone,
            encrypted_code: r.encrypted_code,
            language: r.language,
            attempts: r.attempts,
            expires_at: from_micros(r.expires_at),
            created_at: from_micros(r.created_at),
            lease_until: from_micros(r.locked_until),
        }
    }
}

/// Implements `Store` for `$store` (which has a `pool: sqlx::Pool<$db>`), opening write transactions with
/// `$begin`, leasing jobs with the `$claim` statement, and keeping appends out during a rebuild with
/// `$lock_events` (empty where `$begin` already excludes other writers).
macro_rules! store_impl {
    ($store:ty, $db:ty, $begin:expr, $claim:expr, $lock_events:expr) => {
        impl $store {
            async fn upsert_user(
                conn: &mut <$db as sqlx::Database>::Connection,
                u: &$crate::domain::user::User,
            ) -> Result<(), $crate::store::StoreError> {
                let r = $crate::store::sql::UserRow::from_user(u);
                sqlx::query($crate::store::sql::UPSERT_USER)
                    .bind(r.id)
                    .bind(r.org_id)
                    .bind(r.username)
                    .bind(r.state)
                    .bind(r.kind)
                    .bind(r.given_name)
                    .bind(r.family_name)
                    .bind(r.display_name)
                    .bind(r.nick_name)
                    .bind(r.preferred_language)
                    .bind(r.email)
                    .bind(r.email_verified)
                    .bind(r.machine_name)
                    .bind(r.machine_description)
                    .bind(r.phone)
                    .bind(r.phone_verified)
                    .bind(r.code_sequence)
                    .bind(r.code_hash)
                    .bind(r.code_created_at)
                    .bind(r.code_expires_at)
                    .bind(r.code_attempts)
                    .bind(r.code_delivery)
                    .bind(r.sequence)
                    .bind(r.created_at)
                    .bind(r.changed_at)
                    .bind(r.last_sms_at)
                    .execute(&mut *conn)
                    .await?;
                Ok(())
            }

            async fn upsert_org(
                conn: &mut <$db as sqlx::Database>::Connection,
                o: &$crate::domain::org::Org,
            ) -> Result<(), $crate::store::StoreError> {
                use $crate::store::micros;
                sqlx::query(
                    "INSERT INTO orgs (id, name, sequence, created_at, changed_at) VALUES ($1, $2, $3, $4, $5) \
                     ON CONFLICT (id) DO UPDATE SET name = excluded.name, sequence = excluded.sequence, \
                     changed_at = excluded.changed_at",
                )
                .bind(&o.id)
                .bind(&o.name)
                .bind(o.sequence)
                .bind(micros(o.created_at))
                .bind(micros(o.changed_at))
                .execute(&mut *conn)
                .await?;
                Ok(())
            }

            async fn upsert_membership(
                conn: &mut <$db as sqlx::Database>::Connection,
                m: &$crate::domain::org::Membership,
            ) -> Result<(), $crate::store::StoreError> {
                let roles = serde_json::to_string(&m.roles)
                    .map_err(|e| $crate::store::StoreError::Internal(Box::new(e)))?;
                sqlx::query(
                    "INSERT INTO memberships (user_id, scope, roles) VALUES ($1, $2, $3) \
                     ON CONFLICT (user_id, scope) DO UPDATE SET roles = excluded.roles",
                )
                .bind(&m.user_id)
                .bind(m.scope.key())
                .bind(roles)
                .execute(&mut *conn)
                .await?;
                Ok(())
            }

            async fn insert_pat(
                conn: &mut <$db as sqlx::Database>::Connection,
                p: &$crate::store::PatRecord,
            ) -> Result<(), $crate::store::StoreError> {
                sqlx::query("INSERT INTO personal_access_tokens (token_id, user_id, expires_at) VALUES ($1, $2, $3)")
                    .bind(&p.token_id)
                    .bind(&p.user_id)
                    .bind($crate::store::micros(p.expires_at))
                    .execute(&mut *conn)
                    .await?;
                Ok(())
            }

            async fn insert_instance(
                conn: &mut <$db as sqlx::Database>::Connection,
                i: &$crate::store::InstanceInfo,
            ) -> Result<(), $crate::store::StoreError> {
                sqlx::query("INSERT INTO instance (id, default_org_id, admin_user_id) VALUES ($1, $2, $3)")
                    .bind($crate::domain::events::INSTANCE_ID)
                    .bind(&i.default_org_id)
                    .bind(&i.admin_user_id)
                    .execute(&mut *conn)
                    .await?;
                Ok(())
            }
        }

        #[async_trait::async_trait]
        impl $crate::store::Store for $store {
            fn backend(&self) -> &'static str {
                Self::BACKEND
            }

            async fn ping(&self) -> Result<(), $crate::store::StoreError> {
                sqlx::query("SELECT 1").execute(&self.pool).await?;
                Ok(())
            }

            async fn instance(&self) -> Result<Option<$crate::store::InstanceInfo>, $crate::store::StoreError> {
                let row: Option<(String, String)> =
                    sqlx::query_as("SELECT default_org_id, admin_user_id FROM instance WHERE id = $1")
                        .bind($crate::domain::events::INSTANCE_ID)
                        .fetch_optional(&self.pool)
                        .await?;
                Ok(row.map(|(default_org_id, admin_user_id)| $crate::store::InstanceInfo {
                    default_org_id,
                    admin_user_id,
                }))
            }

            async fn user(
                &self,
                id: &str,
            ) -> Result<Option<$crate::domain::user::User>, $crate::store::StoreError> {
                let sql = format!("SELECT {} FROM users WHERE id = $1", $crate::store::sql::USER_COLUMNS);
                let row: Option<$crate::store::sql::UserRow> =
                    sqlx::query_as(&sql).bind(id).fetch_optional(&self.pool).await?;
                row.map($crate::store::sql::UserRow::into_user).transpose()
            }

            async fn username_taken(&self, username: &str) -> Result<bool, $crate::store::StoreError> {
                // COUNT(*) is BIGINT on both backends (a bare `1` is INT4 on Postgres).
                let (n,): (i64,) = sqlx::query_as(
                    "SELECT COUNT(*) FROM users WHERE lower(username) = lower($1) AND state <> 'removed'",
                )
                .bind(username)
                .fetch_one(&self.pool)
                .await?;
                Ok(n > 0)
            }

            async fn org(
                &self,
                id: &str,
            ) -> Result<Option<$crate::domain::org::Org>, $crate::store::StoreError> {
                let row: Option<$crate::store::sql::OrgRow> =
                    sqlx::query_as("SELECT id, name, sequence, created_at, changed_at FROM orgs WHERE id = $1")
                        .bind(id)
                        .fetch_optional(&self.pool)
                        .await?;
                Ok(row.map(Into::into))
            }

            async fn org_name_taken(&self, name: &str) -> Result<bool, $crate::store::StoreError> {
                let (n,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM orgs WHERE lower(name) = lower($1)")
                    .bind(name)
                    .fetch_one(&self.pool)
                    .await?;
                Ok(n > 0)
            }

            async fn memberships(
                &self,
                user_id: &str,
            ) -> Result<Vec<$crate::domain::org::Membership>, $crate::store::StoreError> {
                let rows: Vec<$crate::store::sql::MembershipRow> =
                    sqlx::query_as("SELECT user_id, scope, roles FROM memberships WHERE user_id = $1")
                        .bind(user_id)
                        .fetch_all(&self.pool)
                        .await?;
                rows.into_iter()
                    .map($crate::store::sql::MembershipRow::into_membership)
                    .collect()
            }

            async fn pat(
                &self,
                token_id: &str,
            ) -> Result<Option<$crate::store::PatRecord>, $crate::store::StoreError> {
                let row: Option<(String, String, i64)> = sqlx::query_as(
                    "SELECT token_id, user_id, expires_at FROM personal_access_tokens WHERE token_id = $1",
                )
                .bind(token_id)
                .fetch_optional(&self.pool)
                .await?;
                Ok(row.map(|(token_id, user_id, expires_at)| $crate::store::PatRecord {
                    token_id,
                    user_id,
                    expires_at: $crate::store::from_micros(expires_at),
                }))
            }

            async fn commit(&self, commit: $crate::store::Commit) -> Result<(), $crate::store::StoreError> {
                use $crate::store::micros;
                let mut tx = self.pool.begin_with($begin).await?;
                for e in &commit.events {
                    let payload = e.payload.as_ref().map(|p| p.to_string());
                    sqlx::query(
                        "INSERT INTO events (aggregate_type, aggregate_id, sequence, event_type, payload, \
                         resource_owner, creator, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                    )
                    .bind(e.aggregate_type)
                    .bind(&e.aggregate_id)
                    .bind(e.sequence)
                    .bind(&e.event_type)
                    .bind(payload)
                    .bind(&e.resource_owner)
                    .bind(&e.creator)
                    .bind(micros(e.created_at))
                    .execute(&mut *tx)
                    .await?;
                }
                for u in &commit.users {
                    Self::upsert_user(&mut tx, u).await?;
                }
                for o in &commit.orgs {
                    Self::upsert_org(&mut tx, o).await?;
                }
                for m in &commit.memberships {
                    Self::upsert_membership(&mut tx, m).await?;
                }
                if let Some(i) = &commit.instance {
                    Self::insert_instance(&mut tx, i).await?;
                }
                for p in &commit.pats_added {
                    Self::insert_pat(&mut tx, p).await?;
                }
                for token_id in &commit.pats_removed {
                    sqlx::query("DELETE FROM personal_access_tokens WHERE token_id = $1")
                        .bind(token_id)
                        .execute(&mut *tx)
                        .await?;
                }
                for j in &commit.jobs {
                    sqlx::query(
                        "INSERT INTO sms_jobs (id, user_id, code_sequence, phone, encrypted_code, language, state, \
                         attempts, next_attempt_at, locked_until, expires_at, last_error, created_at, updated_at) \
                         VALUES ($1, $2, $3, $4, $5, $6, 'pending', 0, $7, 0, $8, NULL, $7, $7)",
                    )
                    .bind(&j.id)
                    .bind(&j.user_id)
                    .bind(j.code_sequence)
                    .bind(&j.phone)
                    .bind(&j.encrypted_code)
                    .bind(&j.language)
                    .bind(micros(j.created_at))
                    .bind(micros(j.expires_at))
                    .execute(&mut *tx)
                    .await?;
                }
                if let Some(q) = &commit.sms_quota {
                    // Counts the send only while the number is under its cap; no row back means the cap is
                    // reached, and dropping the transaction undoes everything above.
                    let counted: Option<(i64,)> = sqlx::query_as(
                        "INSERT INTO sms_daily (phone, day, count) VALUES ($1, $2, 1) ON CONFLICT (phone, day) \
                         DO UPDATE SET count = sms_daily.count + 1 WHERE sms_daily.count < $3 RETURNING count",
                    )
                    .bind(&q.phone)
                    .bind(&q.day)
                    .bind(q.limit)
                    .fetch_optional(&mut *tx)
                    .await?;
                    if counted.is_none() {
                        return Err($crate::store::StoreError::QuotaExceeded);
                    }
                }
                for j in &commit.job_updates {
                    // A settled job no longer needs its code: the sealed copy is wiped. The update applies only
                    // under the lease it was made for, so a worker that overran its lease cannot undo another's work.
                    let updated = sqlx::query(
                        "UPDATE sms_jobs SET state = $2, attempts = $3, next_attempt_at = $4, last_error = $5, \
                         updated_at = $6, locked_until = 0, \
                         encrypted_code = CASE WHEN $2 = 'pending' THEN encrypted_code ELSE '' END \
                         WHERE id = $1 AND locked_until = $7",
                    )
                    .bind(&j.id)
                    .bind(j.state.as_str())
                    .bind(j.attempts)
                    .bind(micros(j.next_attempt_at))
                    .bind(&j.last_error)
                    .bind(micros(j.updated_at))
                    .bind(micros(j.lease_until))
                    .execute(&mut *tx)
                    .await?;
                    if updated.rows_affected() != 1 {
                        return Err($crate::store::StoreError::LeaseLost);
                    }
                }
                tx.commit().await?;
                Ok(())
            }

            async fn secret(
                &self,
                name: &str,
                candidate: &str,
                now: chrono::DateTime<chrono::Utc>,
            ) -> Result<String, $crate::store::StoreError> {
                sqlx::query(
                    "INSERT INTO secrets (name, value, created_at) VALUES ($1, $2, $3) ON CONFLICT (name) DO NOTHING",
                )
                .bind(name)
                .bind(candidate)
                .bind($crate::store::micros(now))
                .execute(&self.pool)
                .await?;
                let (value,): (String,) = sqlx::query_as("SELECT value FROM secrets WHERE name = $1")
                    .bind(name)
                    .fetch_one(&self.pool)
                    .await?;
                Ok(value)
            }

            async fn events(
                &self,
                aggregate_id: &str,
            ) -> Result<Vec<$crate::domain::events::StoredEvent>, $crate::store::StoreError> {
                let sql = format!(
                    "SELECT {} FROM events WHERE aggregate_id = $1 ORDER BY sequence",
                    $crate::store::sql::EVENT_COLUMNS
                );
                let rows: Vec<$crate::store::sql::EventRow> =
                    sqlx::query_as(&sql).bind(aggregate_id).fetch_all(&self.pool).await?;
                rows.into_iter().map($crate::store::sql::EventRow::into_event).collect()
            }

            async fn last_sequence(&self, aggregate_id: &str) -> Result<i64, $crate::store::StoreError> {
                let row: (Option<i64>,) = sqlx::query_as("SELECT MAX(sequence) FROM events WHERE aggregate_id = $1")
                    .bind(aggregate_id)
                    .fetch_one(&self.pool)
                    .await?;
                Ok(row.0.unwrap_or(0))
            }

            async fn claim_jobs(
                &self,
                now: chrono::DateTime<chrono::Utc>,
                lease_until: chrono::DateTime<chrono::Utc>,
                limit: i64,
            ) -> Result<Vec<$crate::store::SmsJob>, $crate::store::StoreError> {
                let sql = format!("{} RETURNING {}", $claim, $crate::store::sql::JOB_COLUMNS);
                let rows: Vec<$crate::store::sql::JobRow> = sqlx::query_as(&sql)
                    .bind($crate::store::micros(lease_until))
                    .bind($crate::store::micros(now))
                    .bind(limit)
                    .fetch_all(&self.pool)
                    .await?;
                Ok(rows.into_iter().map(Into::into).collect())
            }

            async fn job_counts(&self) -> Result<$crate::store::JobCounts, $crate::store::StoreError> {
                let rows: Vec<(String, i64)> =
                    sqlx::query_as("SELECT state, COUNT(*) FROM sms_jobs GROUP BY state")
                        .fetch_all(&self.pool)
                        .await?;
                let mut counts = $crate::store::JobCounts::default();
                for (state, n) in rows {
                    match state.as_str() {
                        "pending" => counts.pending = n,
                        "sent" => counts.sent = n,
                        "failed" => counts.failed = n,
                        "dropped" => counts.dropped = n,
                        _ => {}
                    }
                }
                Ok(counts)
            }

            async fn next_job_due(
                &self,
            ) -> Result<Option<chrono::DateTime<chrono::Utc>>, $crate::store::StoreError> {
                let row: (Option<i64>,) = sqlx::query_as(
                    "SELECT MIN(CASE WHEN locked_until > next_attempt_at THEN locked_until ELSE next_attempt_at END) \
                     FROM sms_jobs WHERE state = 'pending'",
                )
                .fetch_one(&self.pool)
                .await?;
                Ok(row.0.map($crate::store::from_micros))
            }

            async fn projections(&self) -> Result<$crate::store::Projections, $crate::store::StoreError> {
                let sql = format!("SELECT {} FROM users", $crate::store::sql::USER_COLUMNS);
                let users: Vec<$crate::store::sql::UserRow> = sqlx::query_as(&sql).fetch_all(&self.pool).await?;
                let orgs: Vec<$crate::store::sql::OrgRow> =
                    sqlx::query_as("SELECT id, name, sequence, created_at, changed_at FROM orgs")
                        .fetch_all(&self.pool)
                        .await?;
                let memberships: Vec<$crate::store::sql::MembershipRow> =
                    sqlx::query_as("SELECT user_id, scope, roles FROM memberships").fetch_all(&self.pool).await?;
                let pats: Vec<(String, String, i64)> =
                    sqlx::query_as("SELECT token_id, user_id, expires_at FROM personal_access_tokens")
                        .fetch_all(&self.pool)
                        .await?;
                Ok($crate::store::Projections {
                    pats: pats
                        .into_iter()
                        .map(|(token_id, user_id, expires_at)| $crate::store::PatRecord {
                            token_id,
                            user_id,
                            expires_at: $crate::store::from_micros(expires_at),
                        })
                        .collect(),
                    instance: $crate::store::Store::instance(self).await?,
                    orgs: orgs.into_iter().map(Into::into).collect(),
                    users: users
                        .into_iter()
                        .map($crate::store::sql::UserRow::into_user)
                        .collect::<Result<_, _>>()?,
                    memberships: memberships
                        .into_iter()
                        .map($crate::store::sql::MembershipRow::into_membership)
                        .collect::<Result<_, _>>()?,
                }
                .sorted())
            }

            async fn rebuild_projections(
                &self,
                fold: &$crate::store::RebuildFold,
            ) -> Result<usize, $crate::store::StoreError> {
                let mut tx = self.pool.begin_with($begin).await?;
                let lock: &str = $lock_events;
                if !lock.is_empty() {
                    sqlx::query(lock).execute(&mut *tx).await?;
                }
                let sql = format!("SELECT {} FROM events ORDER BY position", $crate::store::sql::EVENT_COLUMNS);
                let rows: Vec<$crate::store::sql::EventRow> = sqlx::query_as(&sql).fetch_all(&mut *tx).await?;
                let events = rows
                    .into_iter()
                    .map($crate::store::sql::EventRow::into_event)
                    .collect::<Result<Vec<_>, _>>()?;
                let projections = fold(&events).map_err($crate::store::StoreError::internal)?;
                for table in ["users", "orgs", "memberships", "instance", "personal_access_tokens"] {
                    sqlx::query(&format!("DELETE FROM {table}")).execute(&mut *tx).await?;
                }
                if let Some(i) = &projections.instance {
                    Self::insert_instance(&mut tx, i).await?;
                }
                for o in &projections.orgs {
                    Self::upsert_org(&mut tx, o).await?;
                }
                for u in &projections.users {
                    Self::upsert_user(&mut tx, u).await?;
                }
                for m in &projections.memberships {
                    Self::upsert_membership(&mut tx, m).await?;
                }
                for p in &projections.pats {
                    Self::insert_pat(&mut tx, p).await?;
                }
                tx.commit().await?;
                Ok(events.len())
            }

            async fn close(&self) {
                self.pool.close().await;
            }
        }
    };
}

pub(crate) use store_impl;

//! The glue between the shared statements (`queries`) and a concrete sqlx database: `store_impl!` writes the
//! `Store` implementation for one backend, so both compile the same statements and conversions. Only binding,
//! fetching and the few backend-specific statements live here; what the SQL says is in `queries.rs`, what a row
//! means is in `rows.rs`. (A macro, because sqlx's traits make one generic body over both databases
//! unreadable; rustfmt does not format macro bodies, so keep this one short.)

/// Implements `Store` for `$store` (which has `pool` and `write_pool: sqlx::Pool<$db>`, and `writer: Writer`), opening write
/// transactions with `$begin`, leasing jobs with the `$claim` statement, and keeping appends out during a
/// rebuild with `$lock_events` (empty where `$begin` already excludes other writers).
macro_rules! store_impl {
    ($store:ty, $db:ty, $begin:expr, $claim:expr, $lock_events:expr) => {
        impl $store {
            /// The writer's batch: every commit in its own savepoint of one transaction.
            fn batch_writer(pool: sqlx::Pool<$db>) -> $crate::store::writer::WriteBatch {
                Box::new(move |commits| {
                    let pool = pool.clone();
                    Box::pin(async move { Self::write_batch(&pool, &commits).await })
                })
            }

            async fn write_batch(
                pool: &sqlx::Pool<$db>,
                commits: &[$crate::store::Commit],
            ) -> $crate::store::writer::BatchOutcome {
                let mut tx = pool.begin_with($begin).await?;
                if let [commit] = commits {
                    // Alone in its transaction: no savepoint needed, a failure undoes just this commit.
                    if let Err(e) = Self::apply(&mut tx, commit).await {
                        tx.rollback().await?;
                        return Ok(vec![Err(e)]);
                    }
                    tx.commit().await?;
                    return Ok(vec![Ok(())]);
                }
                let mut outcomes = Vec::with_capacity(commits.len());
                for commit in commits {
                    let mut savepoint = sqlx::Acquire::begin(&mut tx).await?;
                    match Self::apply(&mut savepoint, commit).await {
                        Ok(()) => {
                            savepoint.commit().await?;
                            outcomes.push(Ok(()));
                        }
                        Err(e) => {
                            savepoint.rollback().await?;
                            outcomes.push(Err(e));
                        }
                    }
                }
                tx.commit().await?;
                Ok(outcomes)
            }

            /// Everything one commit writes; the caller's transaction or savepoint makes it all or nothing.
            async fn apply(
                conn: &mut <$db as sqlx::Database>::Connection,
                commit: &$crate::store::Commit,
            ) -> Result<(), $crate::store::StoreError> {
                use $crate::store::queries as q;
                use $crate::store::rows::micros;
                for e in &commit.events {
                    sqlx::query(q::INSERT_EVENT)
                        .bind(e.aggregate_type)
                        .bind(&e.aggregate_id)
                        .bind(e.sequence)
                        .bind(&e.event_type)
                        .bind(e.payload.as_ref().map(|p| p.to_string()))
                        .bind(&e.resource_owner)
                        .bind(&e.creator)
                        .bind(micros(e.created_at))
                        .execute(&mut *conn)
                        .await?;
                }
                Self::write_rows(conn, &commit.users, &commit.orgs, &commit.memberships).await?;
                if let Some(i) = &commit.instance {
                    Self::insert_instance(conn, i).await?;
                }
                for p in &commit.pats_added {
                    Self::insert_pat(conn, p).await?;
                }
                for token_id in &commit.pats_removed {
                    sqlx::query(q::DELETE_PAT)
                        .bind(token_id)
                        .execute(&mut *conn)
                        .await?;
                }
                for j in &commit.jobs {
                    sqlx::query(q::INSERT_JOB)
                        .bind(&j.id)
                        .bind(&j.user_id)
                        .bind(j.code_sequence)
                        .bind(&j.phone)
                        .bind(&j.encrypted_code)
                        .bind(&j.language)
                        .bind(micros(j.created_at))
                        .bind(micros(j.expires_at))
                        .execute(&mut *conn)
                        .await?;
                }
                if let Some(quota) = &commit.sms_quota {
                    let counted: Option<(i64,)> = sqlx::query_as(q::COUNT_DAILY_SMS)
                        .bind(&quota.phone)
                        .bind(&quota.day)
                        .bind(quota.limit)
                        .fetch_optional(&mut *conn)
                        .await?;
                    if counted.is_none() {
                        return Err($crate::store::StoreError::QuotaExceeded);
                    }
                }
                for j in &commit.job_updates {
                    let updated = sqlx::query(q::UPDATE_JOB)
                        .bind(&j.id)
                        .bind(j.state.as_str())
                        .bind(j.attempts)
                        .bind(micros(j.next_attempt_at))
                        .bind(&j.last_error)
                        .bind(micros(j.updated_at))
                        .bind(micros(j.lease_until))
                        .execute(&mut *conn)
                        .await?;
                    if updated.rows_affected() != 1 {
                        return Err($crate::store::StoreError::LeaseLost);
                    }
                }
                Ok(())
            }

            async fn write_rows(
                conn: &mut <$db as sqlx::Database>::Connection,
                users: &[$crate::domain::user::User],
                orgs: &[$crate::domain::org::Org],
                memberships: &[$crate::domain::org::Membership],
            ) -> Result<(), $crate::store::StoreError> {
                use $crate::store::queries as q;
                use $crate::store::rows::micros;
                for u in users {
                    let r = $crate::store::rows::UserRow::from_user(u);
                    sqlx::query(q::UPSERT_USER)
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
                }
                for o in orgs {
                    sqlx::query(q::UPSERT_ORG)
                        .bind(o.id.as_str())
                        .bind(o.name.as_str())
                        .bind(o.sequence)
                        .bind(micros(o.created_at))
                        .bind(micros(o.changed_at))
                        .execute(&mut *conn)
                        .await?;
                }
                for m in memberships {
                    let roles = serde_json::to_string(&m.roles)
                        .map_err(|e| $crate::store::StoreError::Internal(Box::new(e)))?;
                    sqlx::query(q::UPSERT_MEMBERSHIP)
                        .bind(m.user_id.as_str())
                        .bind(m.scope.key())
                        .bind(roles)
                        .execute(&mut *conn)
                        .await?;
                }
                Ok(())
            }

            async fn insert_pat(
                conn: &mut <$db as sqlx::Database>::Connection,
                p: &$crate::store::PatRecord,
            ) -> Result<(), $crate::store::StoreError> {
                sqlx::query($crate::store::queries::INSERT_PAT)
                    .bind(&p.token_id)
                    .bind(p.user_id.as_str())
                    .bind($crate::store::rows::micros(p.expires_at))
                    .execute(&mut *conn)
                    .await?;
                Ok(())
            }

            async fn insert_instance(
                conn: &mut <$db as sqlx::Database>::Connection,
                i: &$crate::store::InstanceInfo,
            ) -> Result<(), $crate::store::StoreError> {
                sqlx::query($crate::store::queries::INSERT_INSTANCE)
                    .bind($crate::domain::events::INSTANCE_ID)
                    .bind(i.default_org_id.as_str())
                    .bind(i.admin_user_id.as_str())
                    .execute(&mut *conn)
                    .await?;
                Ok(())
            }
        }

        $crate::store::sql::store_reads!($store, $db, $begin, $claim, $lock_events);
    };
}

pub(crate) use super::sql_reads::store_reads;
pub(crate) use store_impl;

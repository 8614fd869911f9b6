//! The `Store` trait for one backend (see `sql.rs`): reads, the commit handed to the writer, job leases and
//! the rebuild. Every method runs in a tracing span named for it; no span records secrets or phone numbers.

macro_rules! store_reads {
    ($store:ty, $db:ty, $begin:expr, $claim:expr, $lock_events:expr) => {
        #[async_trait::async_trait]
        impl $crate::store::Store for $store {
            fn backend(&self) -> &'static str {
                Self::BACKEND
            }

            #[tracing::instrument(name = "store.ping", skip_all)]
            async fn ping(&self) -> Result<(), $crate::store::StoreError> {
                sqlx::query($crate::store::queries::PING).execute(&self.pool).await?;
                Ok(())
            }

            #[tracing::instrument(name = "store.instance", skip_all)]
            async fn instance(&self) -> Result<Option<$crate::store::InstanceInfo>, $crate::store::StoreError> {
                let row: Option<(String, String)> = sqlx::query_as($crate::store::queries::SELECT_INSTANCE)
                    .bind($crate::domain::events::INSTANCE_ID)
                    .fetch_optional(&self.pool)
                    .await?;
                Ok(row.map($crate::store::rows::into_instance))
            }

            #[tracing::instrument(name = "store.user", skip_all, fields(user = %id))]
            async fn user(
                &self,
                id: &$crate::domain::ids::UserId,
            ) -> Result<Option<$crate::domain::user::User>, $crate::store::StoreError> {
                let row: Option<$crate::store::rows::UserRow> = sqlx::query_as($crate::store::queries::SELECT_USER)
                    .bind(id.as_str())
                    .fetch_optional(&self.pool)
                    .await?;
                row.map($crate::store::rows::UserRow::into_user).transpose()
            }

            #[tracing::instrument(name = "store.username_taken", skip_all)]
            async fn username_taken(&self, username: &str) -> Result<bool, $crate::store::StoreError> {
                let (n,): (i64,) = sqlx::query_as($crate::store::queries::USERNAME_TAKEN)
                    .bind(username)
                    .fetch_one(&self.pool)
                    .await?;
                Ok(n > 0)
            }

            #[tracing::instrument(name = "store.org", skip_all, fields(org = %id))]
            async fn org(
                &self,
                id: &$crate::domain::ids::OrgId,
            ) -> Result<Option<$crate::domain::org::Org>, $crate::store::StoreError> {
                let row: Option<$crate::store::rows::OrgRow> = sqlx::query_as($crate::store::queries::SELECT_ORG)
                    .bind(id.as_str())
                    .fetch_optional(&self.pool)
                    .await?;
                row.map($crate::store::rows::OrgRow::into_org).transpose()
            }

            #[tracing::instrument(name = "store.org_name_taken", skip_all)]
            async fn org_name_taken(&self, name: &str) -> Result<bool, $crate::store::StoreError> {
                let (n,): (i64,) = sqlx::query_as($crate::store::queries::ORG_NAME_TAKEN)
                    .bind(name)
                    .fetch_one(&self.pool)
                    .await?;
                Ok(n > 0)
            }

            #[tracing::instrument(name = "store.memberships", skip_all, fields(user = %user_id))]
            async fn memberships(
                &self,
                user_id: &$crate::domain::ids::UserId,
            ) -> Result<Vec<$crate::domain::org::Membership>, $crate::store::StoreError> {
                let rows: Vec<$crate::store::rows::MembershipRow> =
                    sqlx::query_as($crate::store::queries::SELECT_MEMBERSHIPS)
                        .bind(user_id.as_str())
                        .fetch_all(&self.pool)
                        .await?;
                rows.into_iter().map($crate::store::rows::MembershipRow::into_membership).collect()
            }

            #[tracing::instrument(name = "store.pat", skip_all)]
            async fn pat(&self, token_id: &str) -> Result<Option<$crate::store::PatRecord>, $crate::store::StoreError> {
                let row: Option<$crate::store::rows::PatRow> = sqlx::query_as($crate::store::queries::SELECT_PAT)
                    .bind(token_id)
                    .fetch_optional(&self.pool)
                    .await?;
                row.map($crate::store::rows::into_pat).transpose()
            }

            #[tracing::instrument(name = "store.commit", skip_all, fields(events = commit.events.len()))]
            async fn commit(&self, commit: $crate::store::Commit) -> Result<(), $crate::store::StoreError> {
                self.writer.commit(commit).await
            }

            #[tracing::instrument(name = "store.secret", skip_all, fields(name))]
            async fn secret(
                &self,
                name: &str,
                candidate: &str,
                now: chrono::DateTime<chrono::Utc>,
            ) -> Result<String, $crate::store::StoreError> {
                sqlx::query($crate::store::queries::INSERT_SECRET)
                    .bind(name)
                    .bind(candidate)
                    .bind($crate::store::rows::micros(now))
                    .execute(&self.pool)
                    .await?;
                let (value,): (String,) = sqlx::query_as($crate::store::queries::SELECT_SECRET)
                    .bind(name)
                    .fetch_one(&self.pool)
                    .await?;
                Ok(value)
            }

            #[tracing::instrument(name = "store.events", skip_all, fields(aggregate = aggregate_id))]
            async fn events(
                &self,
                aggregate_id: &str,
            ) -> Result<Vec<$crate::domain::events::StoredEvent>, $crate::store::StoreError> {
                let rows: Vec<$crate::store::rows::EventRow> =
                    sqlx::query_as($crate::store::queries::SELECT_AGGREGATE_EVENTS)
                        .bind(aggregate_id)
                        .fetch_all(&self.pool)
                        .await?;
                rows.into_iter().map($crate::store::rows::EventRow::into_event).collect()
            }

            #[tracing::instrument(name = "store.last_sequence", skip_all, fields(aggregate = aggregate_id))]
            async fn last_sequence(&self, aggregate_id: &str) -> Result<i64, $crate::store::StoreError> {
                let row: (Option<i64>,) = sqlx::query_as($crate::store::queries::LAST_SEQUENCE)
                    .bind(aggregate_id)
                    .fetch_one(&self.pool)
                    .await?;
                Ok(row.0.unwrap_or(0))
            }

            #[tracing::instrument(name = "store.claim_jobs", skip_all, fields(limit))]
            async fn claim_jobs(
                &self,
                now: chrono::DateTime<chrono::Utc>,
                lease_until: chrono::DateTime<chrono::Utc>,
                limit: i64,
            ) -> Result<Vec<$crate::store::SmsJob>, $crate::store::StoreError> {
                let sql = format!("{} RETURNING {}", $claim, $crate::store::queries::JOB_COLUMNS);
                let rows: Vec<$crate::store::rows::JobRow> = sqlx::query_as(&sql)
                    .bind($crate::store::rows::micros(lease_until))
                    .bind($crate::store::rows::micros(now))
                    .bind(limit)
                    .fetch_all(&self.pool)
                    .await?;
                rows.into_iter().map($crate::store::rows::JobRow::into_job).collect()
            }

            #[tracing::instrument(name = "store.job_counts", skip_all)]
            async fn job_counts(&self) -> Result<$crate::store::JobCounts, $crate::store::StoreError> {
                let rows: Vec<(String, i64)> =
                    sqlx::query_as($crate::store::queries::JOB_COUNTS).fetch_all(&self.pool).await?;
                Ok($crate::store::JobCounts::from_rows(rows))
            }

            #[tracing::instrument(name = "store.next_job_due", skip_all)]
            async fn next_job_due(&self) -> Result<Option<chrono::DateTime<chrono::Utc>>, $crate::store::StoreError> {
                let row: (Option<i64>,) =
                    sqlx::query_as($crate::store::queries::NEXT_JOB_DUE).fetch_one(&self.pool).await?;
                row.0.map(|t| $crate::store::rows::from_micros(t, "sms_jobs.next_attempt_at")).transpose()
            }

            #[tracing::instrument(name = "store.projections", skip_all)]
            async fn projections(&self) -> Result<$crate::store::Projections, $crate::store::StoreError> {
                use $crate::store::queries as q;
                use $crate::store::rows;
                let users: Vec<rows::UserRow> = sqlx::query_as(q::SELECT_ALL_USERS).fetch_all(&self.pool).await?;
                let orgs: Vec<rows::OrgRow> = sqlx::query_as(q::SELECT_ALL_ORGS).fetch_all(&self.pool).await?;
                let memberships: Vec<rows::MembershipRow> =
                    sqlx::query_as(q::SELECT_ALL_MEMBERSHIPS).fetch_all(&self.pool).await?;
                let pats: Vec<rows::PatRow> = sqlx::query_as(q::SELECT_ALL_PATS).fetch_all(&self.pool).await?;
                Ok($crate::store::Projections {
                    pats: pats.into_iter().map(rows::into_pat).collect::<Result<_, _>>()?,
                    instance: $crate::store::Store::instance(self).await?,
                    orgs: orgs.into_iter().map(rows::OrgRow::into_org).collect::<Result<_, _>>()?,
                    users: users.into_iter().map(rows::UserRow::into_user).collect::<Result<_, _>>()?,
                    memberships: memberships
                        .into_iter()
                        .map(rows::MembershipRow::into_membership)
                        .collect::<Result<_, _>>()?,
                }
                .sorted())
            }

            #[tracing::instrument(name = "store.rebuild_projections", skip_all)]
            async fn rebuild_projections(
                &self,
                fold: &$crate::store::RebuildFold,
            ) -> Result<usize, $crate::store::StoreError> {
                use $crate::store::queries as q;
                let mut tx = self.pool.begin_with($begin).await?;
                let lock: &str = $lock_events;
                if !lock.is_empty() {
                    sqlx::query(lock).execute(&mut *tx).await?;
                }
                let rows: Vec<$crate::store::rows::EventRow> =
                    sqlx::query_as(q::SELECT_ALL_EVENTS).fetch_all(&mut *tx).await?;
                let events = rows
                    .into_iter()
                    .map($crate::store::rows::EventRow::into_event)
                    .collect::<Result<Vec<_>, _>>()?;
                let projections = fold(&events).map_err(|e| $crate::store::StoreError::Internal(e.into()))?;
                for table in q::PROJECTION_TABLES {
                    sqlx::query(&format!("DELETE FROM {table}")).execute(&mut *tx).await?;
                }
                if let Some(i) = &projections.instance {
                    Self::insert_instance(&mut tx, i).await?;
                }
                Self::write_rows(&mut tx, &projections.users, &projections.orgs, &projections.memberships).await?;
                for p in &projections.pats {
                    Self::insert_pat(&mut tx, p).await?;
                }
                tx.commit().await?;
                Ok(events.len())
            }

            async fn close(&self) {
                self.pool.close().await;
                self.write_pool.close().await;
            }
        }
    };
}

pub(crate) use store_reads;

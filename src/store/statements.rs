//! What a commit writes, as a list of statements with their parameters, built once and run by whichever
//! driver the backend uses (sqlx for Postgres, the in-process SQLite connection for SQLite), so the two
//! never disagree on what a commit means.

use super::rows::{UserRow, micros, roles_json};
use super::{Commit, InstanceInfo, JobUpdate, NewSmsJob, OrgSmsQuota, PatRecord, SmsQuota};
use super::{StoreError, queries};
use crate::domain::events::{INSTANCE_ID, NewEvent};
use crate::domain::org::{Membership, Org};
use crate::domain::user::User;

/// One bound parameter. NULLs keep their type: Postgres needs it to bind them.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Param {
    Text(String),
    OptText(Option<String>),
    Int(i64),
    OptInt(Option<i64>),
    Bool(bool),
}

/// What a statement must do for its commit to stand; otherwise the commit is undone with the error given.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Expect {
    Anything,
    /// A row back (a counter under its cap).
    ARow(fn() -> StoreError),
    /// Exactly one row changed (a job still under this lease).
    OneChange(fn() -> StoreError),
}

/// Whether a statement runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum When {
    Always,
    /// Only if the statement before it changed no row: the general form of a write that the one before
    /// tried in a cheaper form.
    NothingChangedBefore,
}

/// A statement from `queries`; `params[i]` binds `$i+1`.
#[derive(Debug, Clone)]
pub(crate) struct Statement {
    pub sql: &'static str,
    pub params: Vec<Param>,
    pub expect: Expect,
    pub when: When,
}

impl Statement {
    pub(crate) fn new(sql: &'static str, params: Vec<Param>) -> Self {
        Self {
            sql,
            params,
            expect: Expect::Anything,
            when: When::Always,
        }
    }

    /// This statement, run only if the one before it changed no row.
    fn otherwise(self) -> Self {
        Self {
            when: When::NothingChangedBefore,
            ..self
        }
    }

    /// Whether this statement is skipped, given how many rows the one before it changed.
    pub fn skipped_after(&self, changed_before: u64) -> bool {
        self.when == When::NothingChangedBefore && changed_before > 0
    }
}

/// Everything one commit writes, in the order it is written.
pub(crate) fn commit_statements(commit: &Commit) -> Result<Vec<Statement>, StoreError> {
    let mut out = Vec::with_capacity(
        commit.events.len() + commit.users.len() + commit.jobs.len() + commit.job_updates.len() + 2,
    );
    out.extend(commit.events.iter().map(insert_event));
    for user in &commit.users {
        let upsert = upsert_user(user);
        out.push(Statement::new(
            queries::UPDATE_USER_KEEPING_KEYS,
            upsert.params.clone(),
        ));
        out.push(upsert.otherwise());
    }
    out.extend(commit.orgs.iter().map(upsert_org));
    for m in &commit.memberships {
        out.push(upsert_membership(m)?);
    }
    out.extend(commit.instance.iter().map(insert_instance));
    out.extend(commit.pats_added.iter().map(insert_pat));
    out.extend(commit.pats_removed.iter().map(|id| delete_pat(id)));
    for job in &commit.jobs {
        out.push(replace_queued_job(job));
        out.push(insert_job(job).otherwise());
    }
    out.extend(commit.sms_quota.iter().map(count_sms));
    out.extend(commit.org_sms_quota.iter().map(count_org_sms));
    out.extend(commit.job_updates.iter().map(update_job));
    Ok(out)
}

pub(crate) fn insert_event(e: &NewEvent) -> Statement {
    Statement::new(
        queries::INSERT_EVENT,
        vec![
            Param::Text(e.aggregate_type.to_owned()),
            Param::Text(e.aggregate_id.clone()),
            Param::Int(e.sequence),
            Param::Text(e.event_type.clone()),
            Param::OptText(e.payload.as_ref().map(|p| p.to_string())),
            Param::Text(e.resource_owner.clone()),
            Param::Text(e.creator.clone()),
            Param::Int(micros(e.created_at)),
        ],
    )
}

pub(crate) fn upsert_user(u: &User) -> Statement {
    let r = UserRow::from_user(u);
    Statement::new(
        queries::UPSERT_USER,
        vec![
            Param::Text(r.id),
            Param::Text(r.org_id),
            Param::Text(r.username),
            Param::Text(r.state),
            Param::Text(r.kind),
            Param::Text(r.given_name),
            Param::Text(r.family_name),
            Param::Text(r.display_name),
            Param::Text(r.nick_name),
            Param::Text(r.preferred_language),
            Param::Text(r.email),
            Param::Bool(r.email_verified),
            Param::Text(r.machine_name),
            Param::Text(r.machine_description),
            Param::OptText(r.phone),
            Param::Bool(r.phone_verified),
            Param::OptInt(r.code_sequence),
            Param::OptText(r.code_hash),
            Param::OptInt(r.code_created_at),
            Param::OptInt(r.code_expires_at),
            Param::OptInt(r.code_attempts),
            Param::OptText(r.code_delivery),
            Param::Int(r.sequence),
            Param::Int(r.created_at),
            Param::Int(r.changed_at),
            Param::OptInt(r.last_sms_at),
        ],
    )
}

pub(crate) fn upsert_org(o: &Org) -> Statement {
    Statement::new(
        queries::UPSERT_ORG,
        vec![
            Param::Text(o.id.to_string()),
            Param::Text(o.name.to_string()),
            Param::Int(o.sequence),
            Param::Int(micros(o.created_at)),
            Param::Int(micros(o.changed_at)),
        ],
    )
}

pub(crate) fn upsert_membership(m: &Membership) -> Result<Statement, StoreError> {
    Ok(Statement::new(
        queries::UPSERT_MEMBERSHIP,
        vec![
            Param::Text(m.user_id.to_string()),
            Param::Text(m.scope.key().to_owned()),
            Param::Text(roles_json(m)?),
        ],
    ))
}

pub(crate) fn insert_instance(i: &InstanceInfo) -> Statement {
    Statement::new(
        queries::INSERT_INSTANCE,
        vec![
            Param::Text(INSTANCE_ID.to_owned()),
            Param::Text(i.default_org_id.to_string()),
            Param::Text(i.admin_user_id.to_string()),
        ],
    )
}

pub(crate) fn insert_pat(p: &PatRecord) -> Statement {
    Statement::new(
        queries::INSERT_PAT,
        vec![
            Param::Text(p.token_id.clone()),
            Param::Text(p.user_id.to_string()),
            Param::Int(micros(p.expires_at)),
        ],
    )
}

fn delete_pat(token_id: &str) -> Statement {
    Statement::new(queries::DELETE_PAT, vec![Param::Text(token_id.to_owned())])
}

/// `INSERT_JOB`'s parameters without the id: the job rewritten keeps its own.
fn replace_queued_job(j: &NewSmsJob) -> Statement {
    let mut params = insert_job(j).params;
    params.remove(0);
    Statement::new(queries::REPLACE_QUEUED_JOB, params)
}

fn insert_job(j: &NewSmsJob) -> Statement {
    Statement::new(
        queries::INSERT_JOB,
        vec![
            Param::Text(j.id.clone()),
            Param::Text(j.user_id.clone()),
            Param::Int(j.code_sequence),
            Param::Text(j.phone.clone()),
            Param::Text(j.encrypted_code.clone()),
            Param::Text(j.language.clone()),
            Param::Int(micros(j.created_at)),
            Param::Int(micros(j.expires_at)),
        ],
    )
}

/// Counts one SMS against the number's daily cap; `QuotaExceeded` (the whole commit undone) at the cap.
fn count_sms(q: &SmsQuota) -> Statement {
    Statement {
        expect: Expect::ARow(|| StoreError::QuotaExceeded),
        ..Statement::new(
            queries::COUNT_SMS,
            vec![
                Param::Text(q.phone.clone()),
                Param::Text(q.day.clone()),
                Param::Int(q.limit),
            ],
        )
    }
}

/// Counts one SMS against the organization's daily budget; `OrgQuotaExceeded` when it is spent.
fn count_org_sms(q: &OrgSmsQuota) -> Statement {
    Statement {
        expect: Expect::ARow(|| StoreError::OrgQuotaExceeded),
        ..Statement::new(
            queries::COUNT_ORG_SMS,
            vec![
                Param::Text(q.org_id.clone()),
                Param::Text(q.day.clone()),
                Param::Int(q.limit),
            ],
        )
    }
}

/// `LeaseLost` when the job is no longer leased under `j.lease_until`.
fn update_job(j: &JobUpdate) -> Statement {
    Statement {
        expect: Expect::OneChange(|| StoreError::LeaseLost),
        ..Statement::new(
            queries::UPDATE_JOB,
            vec![
                Param::Text(j.id.clone()),
                Param::Text(j.state.as_str().to_owned()),
                Param::Int(j.attempts),
                Param::Int(micros(j.next_attempt_at)),
                Param::OptText(j.last_error.clone()),
                Param::Int(micros(j.updated_at)),
                Param::Int(micros(j.lease_until)),
            ],
        )
    }
}

/// Every projection row of a rebuild, after `RESET_PROJECTIONS`.
pub(crate) fn projection_statements(p: &super::Projections) -> Result<Vec<Statement>, StoreError> {
    let mut out = Vec::new();
    out.extend(p.instance.iter().map(insert_instance));
    out.extend(p.orgs.iter().map(upsert_org));
    out.extend(p.users.iter().map(upsert_user));
    for m in &p.memberships {
        out.push(upsert_membership(m)?);
    }
    out.extend(p.pats.iter().map(insert_pat));
    Ok(out)
}

//! Rows read through the in-process connection, into the same row types sqlx fills (`rows`), so both drivers
//! share one conversion to domain values.

use rusqlite::Row;

use crate::store::rows::{JobRow, MembershipRow, OrgRow, PatRow, UserMembershipRow, UserRow};

pub(super) fn user(row: &Row) -> rusqlite::Result<UserRow> {
    Ok(UserRow {
        id: row.get("id")?,
        org_id: row.get("org_id")?,
        username: row.get("username")?,
        state: row.get("state")?,
        kind: row.get("kind")?,
        given_name: row.get("given_name")?,
        family_name: row.get("family_name")?,
        display_name: row.get("display_name")?,
        nick_name: row.get("nick_name")?,
        preferred_language: row.get("preferred_language")?,
        email: row.get("email")?,
        email_verified: row.get("email_verified")?,
        machine_name: row.get("machine_name")?,
        machine_description: row.get("machine_description")?,
        phone: row.get("phone")?,
        phone_verified: row.get("phone_verified")?,
        code_sequence: row.get("code_sequence")?,
        code_hash: row.get("code_hash")?,
        code_created_at: row.get("code_created_at")?,
        code_expires_at: row.get("code_expires_at")?,
        code_attempts: row.get("code_attempts")?,
        code_delivery: row.get("code_delivery")?,
        sequence: row.get("sequence")?,
        created_at: row.get("created_at")?,
        changed_at: row.get("changed_at")?,
        last_sms_at: row.get("last_sms_at")?,
    })
}

/// A user joined to one of its memberships (`SELECT_USER_WITH_MEMBERSHIPS`; NULLs when it has none).
pub(super) fn user_with_membership(row: &Row) -> rusqlite::Result<UserMembershipRow> {
    Ok(UserMembershipRow {
        user: user(row)?,
        membership_scope: row.get("membership_scope")?,
        membership_roles: row.get("membership_roles")?,
    })
}

pub(super) fn membership(row: &Row) -> rusqlite::Result<MembershipRow> {
    Ok(MembershipRow {
        user_id: row.get("user_id")?,
        scope: row.get("scope")?,
        roles: row.get("roles")?,
    })
}

pub(super) fn org(row: &Row) -> rusqlite::Result<OrgRow> {
    Ok(OrgRow {
        id: row.get("id")?,
        name: row.get("name")?,
        sequence: row.get("sequence")?,
        created_at: row.get("created_at")?,
        changed_at: row.get("changed_at")?,
    })
}

pub(super) fn pat(row: &Row) -> rusqlite::Result<PatRow> {
    Ok(PatRow {
        token_id: row.get("token_id")?,
        user_id: row.get("user_id")?,
        expires_at: row.get("expires_at")?,
    })
}

pub(super) fn job(row: &Row) -> rusqlite::Result<JobRow> {
    Ok(JobRow {
        id: row.get("id")?,
        user_id: row.get("user_id")?,
        code_sequence: row.get("code_sequence")?,
        phone: row.get("phone")?,
        encrypted_code: row.get("encrypted_code")?,
        language: row.get("language")?,
        attempts: row.get("attempts")?,
        expires_at: row.get("expires_at")?,
        created_at: row.get("created_at")?,
        locked_until: row.get("locked_until")?,
    })
}

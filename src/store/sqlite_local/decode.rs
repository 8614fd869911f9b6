//! Rows read through the in-process connection, into the same row types sqlx fills (`rows`), so both drivers
//! share one conversion to domain values. Columns are taken by position, in the order the statements in
//! `queries` select them (the test below holds the two together): looking each up by name cost more than
//! the read itself.

use rusqlite::Row;

use crate::store::rows::{JobRow, MembershipRow, OrgRow, PatRow, UserMembershipRow, UserRow};

/// The columns of a user, before any joined ones.
const USER_COLUMNS: usize = 26;

pub(super) fn user(row: &Row) -> rusqlite::Result<UserRow> {
    Ok(UserRow {
        id: row.get(0)?,
        org_id: row.get(1)?,
        username: row.get(2)?,
        state: row.get(3)?,
        kind: row.get(4)?,
        given_name: row.get(5)?,
        family_name: row.get(6)?,
        display_name: row.get(7)?,
        nick_name: row.get(8)?,
        preferred_language: row.get(9)?,
        email: row.get(10)?,
        email_verified: row.get(11)?,
        machine_name: row.get(12)?,
        machine_description: row.get(13)?,
        phone: row.get(14)?,
        phone_verified: row.get(15)?,
        code_sequence: row.get(16)?,
        code_hash: row.get(17)?,
        code_created_at: row.get(18)?,
        code_expires_at: row.get(19)?,
        code_attempts: row.get(20)?,
        code_delivery: row.get(21)?,
        sequence: row.get(22)?,
        created_at: row.get(23)?,
        changed_at: row.get(24)?,
        last_sms_at: row.get(25)?,
    })
}

/// A user joined to one of its memberships (`SELECT_USER_WITH_MEMBERSHIPS`; NULLs when it has none).
pub(super) fn user_with_membership(row: &Row) -> rusqlite::Result<UserMembershipRow> {
    Ok(UserMembershipRow {
        user: user(row)?,
        membership_scope: row.get(USER_COLUMNS)?,
        membership_roles: row.get(USER_COLUMNS + 1)?,
    })
}

pub(super) fn membership(row: &Row) -> rusqlite::Result<MembershipRow> {
    Ok(MembershipRow {
        user_id: row.get(0)?,
        scope: row.get(1)?,
        roles: row.get(2)?,
    })
}

pub(super) fn org(row: &Row) -> rusqlite::Result<OrgRow> {
    Ok(OrgRow {
        id: row.get(0)?,
        name: row.get(1)?,
        sequence: row.get(2)?,
        created_at: row.get(3)?,
        changed_at: row.get(4)?,
    })
}

pub(super) fn pat(row: &Row) -> rusqlite::Result<PatRow> {
    Ok(PatRow {
        token_id: row.get(0)?,
        user_id: row.get(1)?,
        expires_at: row.get(2)?,
    })
}

pub(super) fn job(row: &Row) -> rusqlite::Result<JobRow> {
    Ok(JobRow {
        id: row.get(0)?,
        user_id: row.get(1)?,
        code_sequence: row.get(2)?,
        phone: row.get(3)?,
        encrypted_code: row.get(4)?,
        language: row.get(5)?,
        attempts: row.get(6)?,
        expires_at: row.get(7)?,
        created_at: row.get(8)?,
        locked_until: row.get(9)?,
    })
}

#[cfg(test)]
mod tests {
    use rusqlite::Connection;

    use super::super::test_schema::migrated_for_tests as migrated;
    use crate::store::queries;

    fn columns(connection: &Connection, sql: &str) -> Vec<String> {
        let statement = connection.prepare(sql).unwrap();
        statement
            .column_names()
            .into_iter()
            .map(str::to_owned)
            .collect()
    }

    /// What SQLite's planner does with `sql`, one step per line.
    fn plan(connection: &Connection, sql: &str) -> String {
        let mut statement = connection
            .prepare(&format!("EXPLAIN QUERY PLAN {sql}"))
            .unwrap();
        // Parameters left unbound are NULL: the plan does not depend on them.
        let mut rows = statement.raw_query();
        let mut steps = Vec::new();
        while let Some(row) = rows.next().unwrap() {
            steps.push(row.get::<_, String>(3).unwrap());
        }
        steps.join("\n")
    }

    /// The statements every resend runs find their rows by key, never by scanning a table or all due jobs.
    #[test]
    fn the_resend_writes_find_their_rows_by_key() {
        let c = migrated();
        let replace = plan(&c, queries::REPLACE_QUEUED_JOB);
        assert!(
            replace.contains("sqlite_autoindex_sms_jobs_1 (id=?)")
                && replace.contains("sms_jobs_pending_by_user (user_id=?)")
                && !replace.contains("sms_jobs_due"),
            "{replace}"
        );
        let user = plan(&c, queries::UPDATE_USER_KEEPING_KEYS);
        assert!(user.contains("(id=?)") && !user.contains("SCAN"), "{user}");
        let stamp = plan(&c, queries::BUMP_WRITE_STAMP);
        assert!(stamp.contains("INTEGER PRIMARY KEY (rowid=?)"), "{stamp}");
    }

    /// Each decoder reads the columns of its statement in the order the row type declares its fields.
    #[test]
    fn decoders_read_the_columns_their_statements_select() {
        let c = migrated();
        let user = [
            "id",
            "org_id",
            "username",
            "state",
            "kind",
            "given_name",
            "family_name",
            "display_name",
            "nick_name",
            "preferred_language",
            "email",
            "email_verified",
            "machine_name",
            "machine_description",
            "phone",
            "phone_verified",
            "code_sequence",
            "code_hash",
            "code_created_at",
            "code_expires_at",
            "code_attempts",
            "code_delivery",
            "sequence",
            "created_at",
            "changed_at",
            "last_sms_at",
        ];
        assert_eq!(user.len(), super::USER_COLUMNS);
        assert_eq!(columns(&c, queries::SELECT_USER), user);
        let joined: Vec<&str> = user
            .iter()
            .copied()
            .chain(["membership_scope", "membership_roles"])
            .collect();
        assert_eq!(columns(&c, queries::SELECT_USER_WITH_MEMBERSHIPS), joined);
        assert_eq!(
            columns(&c, queries::SELECT_MEMBERSHIPS_OF_USER),
            ["user_id", "scope", "roles"]
        );
        assert_eq!(
            columns(&c, queries::SELECT_ORG),
            ["id", "name", "sequence", "created_at", "changed_at"]
        );
        assert_eq!(
            columns(&c, queries::SELECT_PAT),
            ["token_id", "user_id", "expires_at"]
        );
        assert_eq!(
            columns(&c, queries::CLAIM_JOBS_SQLITE),
            [
                "id",
                "user_id",
                "code_sequence",
                "phone",
                "encrypted_code",
                "language",
                "attempts",
                "expires_at",
                "created_at",
                "locked_until",
            ]
        );
    }
}

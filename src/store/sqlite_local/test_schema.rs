//! The schema the migrations leave, for the tests of this module's SQL.

use rusqlite::Connection;

/// An in-memory database with the schema the migrations leave.
pub(super) fn migrated_for_tests() -> Connection {
    let connection = Connection::open_in_memory().unwrap();
    for migration in [
        include_str!("../../../migrations/sqlite/0001_init.sql"),
        include_str!("../../../migrations/sqlite/0002_send_limits.sql"),
        include_str!("../../../migrations/sqlite/0003_personal_access_tokens.sql"),
        include_str!("../../../migrations/sqlite/0004_org_sms_budget.sql"),
        include_str!("../../../migrations/sqlite/0005_pending_jobs_by_user.sql"),
        include_str!("../../../migrations/sqlite/0006_write_stamp.sql"),
        include_str!("../../../migrations/sqlite/0007_drop_users_org.sql"),
    ] {
        connection.execute_batch(migration).unwrap();
    }
    connection
}

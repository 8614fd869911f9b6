//! Where a test's data lives: SQLite in the app's temporary directory, or a Postgres database of its own.

use anyhow::{Context, Result};
use sqlx::Connection;

#[derive(Debug, Clone)]
pub enum Backend {
    Sqlite,
    /// A database created for this test: (server URL, database name).
    Postgres {
        server: String,
        database: String,
    },
}

impl Backend {
    pub async fn fresh_postgres(server: &str) -> Result<Self> {
        let database = format!("pv_test_{:016x}", rand::random::<u64>());
        let mut conn = sqlx::PgConnection::connect(server)
            .await
            .context("cannot reach the test Postgres")?;
        sqlx::query(&format!("CREATE DATABASE {database}"))
            .execute(&mut conn)
            .await?;
        conn.close().await?;
        Ok(Backend::Postgres {
            server: server.to_owned(),
            database,
        })
    }

    pub fn url(&self) -> Option<String> {
        match self {
            Backend::Sqlite => None,
            Backend::Postgres { server, database } => Some(with_database(server, database)),
        }
    }

    pub async fn cleanup(&self) {
        if let Backend::Postgres { server, database } = self
            && let Ok(mut conn) = sqlx::PgConnection::connect(server).await
        {
            let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS {database} WITH (FORCE)"))
                .execute(&mut conn)
                .await;
        }
    }
}

/// The server URL with its database name replaced.
fn with_database(server: &str, database: &str) -> String {
    let (base, query) = match server.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (server, None),
    };
    let scheme_end = base.find("://").map_or(0, |i| i + 3);
    let host_part = match base[scheme_end..].find('/') {
        Some(i) => &base[..scheme_end + i],
        None => base,
    };
    match query {
        Some(q) => format!("{host_part}/{database}?{q}"),
        None => format!("{host_part}/{database}"),
    }
}

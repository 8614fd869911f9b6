//! HTTP integration suite: drives the real router over a real database. Every test runs against SQLite and
//! against Postgres; the Postgres variants need PHONEVERIFY_TEST_POSTGRES_URL (a server URL whose user may
//! create databases) and are reported as ignored without it.

mod helpers;
#[path = "../support/server.rs"]
mod server;
#[path = "../support/signature.rs"]
mod signature;

mod auth;
mod changes;
mod cross_process_reads;
mod delivery;
mod external_issuers;
mod group_commit;
mod input_policy;
mod lifecycle;
mod limits;
mod metrics;
mod multiprocess;
mod phone_v1;
mod phone_v2;
mod postgres_plans;
mod providers;
mod rpc;
mod service_accounts;
mod sms_pumping;
mod store_contract;
mod users;
mod wire;

use std::future::Future;
use std::pin::Pin;

use helpers::Backend;
use libtest_mimic::{Arguments, Trial};

type TestFn = fn(Backend) -> Pin<Box<dyn Future<Output = anyhow::Result<()>>>>;

/// Defines a module's `tests()`: its tests, each an `async fn(Backend) -> anyhow::Result<()>`, named
/// `suite::f`. `suite!(suite; f, g, ...)`; the submodules of a suite register under the suite's name.
macro_rules! suite {
    ($m:ident; $($f:ident),* $(,)?) => {
        pub fn tests() -> Vec<(&'static str, crate::TestFn)> {
            vec![$((concat!(stringify!($m), "::", stringify!($f)), (|b| Box::pin($f(b))) as crate::TestFn)),*]
        }
    };
}

fn all_tests() -> Vec<(&'static str, TestFn)> {
    let mut tests = Vec::new();
    tests.extend(auth::tests());
    tests.extend(phone_v1::tests());
    tests.extend(phone_v2::tests());
    tests.extend(users::tests());
    tests.extend(wire::tests());
    tests.extend(delivery::tests());
    tests.extend(lifecycle::tests());
    tests.extend(limits::tests());
    tests.extend(providers::tests());
    tests.extend(multiprocess::tests());
    tests.extend(store_contract::tests());
    tests.extend(group_commit::tests());
    tests.extend(rpc::tests());
    tests.extend(input_policy::tests());
    tests.extend(changes::tests());
    tests.extend(metrics::tests());
    tests.extend(sms_pumping::tests());
    tests.extend(external_issuers::tests());
    tests.extend(service_accounts::tests());
    tests.extend(cross_process_reads::tests());
    tests
}

pub(crate) use suite;

fn main() {
    let args = Arguments::from_args();
    let pg = std::env::var("PHONEVERIFY_TEST_POSTGRES_URL")
        .ok()
        .filter(|s| !s.is_empty());
    let mut trials = Vec::new();
    for (name, f) in all_tests() {
        trials.push(trial(format!("sqlite::{name}"), None, f, false));
        trials.push(trial(
            format!("postgres::{name}"),
            pg.clone(),
            f,
            pg.is_none(),
        ));
    }
    // What only Postgres has to show.
    for (name, f) in postgres_plans::tests() {
        trials.push(trial(
            format!("postgres::{name}"),
            pg.clone(),
            f,
            pg.is_none(),
        ));
    }
    libtest_mimic::run(&args, trials).exit();
}

fn trial(name: String, pg_server: Option<String>, f: TestFn, ignored: bool) -> Trial {
    let is_pg = name.starts_with("postgres::");
    Trial::test(name, move || {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .map_err(|e| e.to_string())?;
        rt.block_on(async move {
            let backend = if is_pg {
                let server = pg_server.ok_or("PHONEVERIFY_TEST_POSTGRES_URL is not set")?;
                Backend::fresh_postgres(&server)
                    .await
                    .map_err(|e| format!("{e:#}"))?
            } else {
                Backend::Sqlite
            };
            let result = f(backend.clone()).await;
            backend.cleanup().await;
            result.map_err(|e| format!("{e:#}").into())
        })
    })
    .with_ignored_flag(ignored)
}

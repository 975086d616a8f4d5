//! How many statements a login costs, counted from sqlx's own record of every statement it
//! runs (target `sqlx::query`), on SQLite and PostgreSQL: a successful login and a failed
//! one each take at most three beyond the hash. On PostgreSQL each statement is one round
//! trip once prepared on its connection; on SQLite the statements of a step share one
//! transaction. Its own test binary, because the count is process-wide: nothing else may
//! run beside it.

#[allow(dead_code)]
#[path = "service/support.rs"]
mod support;
#[allow(dead_code)]
#[path = "service/test_database.rs"]
mod test_database;

use std::sync::{Arc, Mutex};

use http::StatusCode;
use tracing::field::{Field, Visit};
use tracing_subscriber::layer::{Context, SubscriberExt};
use tracing_subscriber::{Layer, Registry};

use support::{STRONG, TestApp, test_config};

/// The summary of every statement sqlx ran, in order.
#[derive(Clone, Default)]
struct Statements(Arc<Mutex<Vec<String>>>);

impl Statements {
    fn take(&self) -> Vec<String> {
        std::mem::take(&mut self.0.lock().unwrap())
    }
}

struct Summary(String);

impl Visit for Summary {
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "summary" {
            self.0 = value.to_owned();
        }
    }
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "summary" {
            self.0 = format!("{value:?}");
        }
    }
}

impl<S: tracing::Subscriber> Layer<S> for Statements {
    fn on_event(&self, event: &tracing::Event<'_>, _: Context<'_, S>) {
        if event.metadata().target() == "sqlx::query" {
            let mut summary = Summary(String::new());
            event.record(&mut summary);
            self.0.lock().unwrap().push(summary.0);
        }
    }
}

/// Statements of one good and one wrong login, after a first login that prepared them.
async fn count(app: &TestApp, statements: &Statements, db: &str) {
    assert_eq!(
        app.register("roundtrip", "rt@example.com", STRONG)
            .await
            .status,
        StatusCode::CREATED
    );
    app.login("roundtrip", STRONG).await;
    app.login_from("roundtrip", "not the password", "127.0.0.1:40000")
        .await;
    // Wait for anything started before (cleanups at start) to be done.
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    statements.take();

    app.login("roundtrip", STRONG).await;
    let good = statements.take();
    let reply = app
        .login_from("roundtrip", "not the password", "127.0.0.1:40000")
        .await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    let wrong = statements.take();
    eprintln!("{db}: good login {good:#?}\n{db}: wrong password {wrong:#?}");
    // SQLite runs the gate's two counters, and the finish's three writes, each as one
    // transaction of separate statements (it has no writes in `WITH`).
    let (good_limit, wrong_limit) = if db == "PostgreSQL" { (3, 3) } else { (6, 4) };
    assert!(good.len() <= good_limit, "{db}: a good login ran {good:#?}");
    assert!(
        wrong.len() <= wrong_limit,
        "{db}: a wrong one ran {wrong:#?}"
    );
}

#[tokio::test]
async fn a_login_costs_three_round_trips() {
    let statements = Statements::default();
    let subscriber = Registry::default().with(
        statements.clone().with_filter(
            tracing_subscriber::filter::Targets::new()
                .with_target("sqlx::query", tracing::Level::TRACE),
        ),
    );
    tracing::subscriber::set_global_default(subscriber).unwrap();

    // The new-browser check runs after the answer (`accounts/browsers.rs`): not part of
    // what a login costs, and counted by its own tests.
    let config = |dir: &std::path::Path, url: Option<String>| palisade_service::Config {
        notify_new_sign_in: false,
        ..test_config(dir, url)
    };
    let dir = tempfile::tempdir().unwrap();
    let app = TestApp::with_config(config(dir.path(), None), dir).await;
    count(&app, &statements, "SQLite").await;

    let Some(db) = test_database::TestDatabase::create("login round trips on PostgreSQL").await
    else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let app = TestApp::with_config(config(dir.path(), Some(db.url.clone())), dir).await;
    count(&app, &statements, "PostgreSQL").await;
    drop(app);
    db.drop_db().await;
}

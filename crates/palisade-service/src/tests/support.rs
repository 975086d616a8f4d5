//! A service on a fresh database, and request helpers.

use std::net::SocketAddr;
use std::sync::atomic::Ordering;

use axum::Router;
use axum::body::{Body, to_bytes};
use axum::extract::ConnectInfo;
use http::{HeaderMap, Request, StatusCode, header};
use serde_json::Value;
use tower::ServiceExt;

use crate::clock::{Clock, ManualClock, system_now};
use crate::config::Config;
use crate::service::build_with_clock;
use crate::state::AppState;

pub(crate) const ORIGIN: &str = "http://127.0.0.1:8080";
pub(crate) const STRONG: &str = "gravel orbit violet canteen";

pub(crate) struct TestApp {
    pub(crate) router: Router,
    pub(crate) state: AppState,
    pub(crate) config: Config,
    /// The service's clock, which stands still until a test moves it.
    pub(crate) clock: ManualClock,
    pub(crate) _dir: tempfile::TempDir,
}

pub(crate) fn test_config(dir: &std::path::Path, database_url: Option<String>) -> Config {
    Config {
        data_dir: dir.to_owned(),
        database_url: database_url.map(crate::config::Redacted::new),
        // Cheap hashing keeps the tests fast; the benchmarks use the real parameters.
        argon2_memory_kib: 256,
        argon2_iterations: 1,
        ..Config::default()
    }
}

impl TestApp {
    pub(crate) async fn sqlite() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let config = test_config(dir.path(), None);
        Self::with_config(config, dir).await
    }

    pub(crate) async fn with_config(config: Config, dir: tempfile::TempDir) -> Self {
        let (clock, hand) = Clock::manual(system_now());
        Self::with_clock(config, dir, clock, hand).await
    }

    /// A service on `config` whose time is `clock` (two instances can share one).
    pub(crate) async fn with_clock(
        config: Config,
        dir: tempfile::TempDir,
        clock: Clock,
        hand: ManualClock,
    ) -> Self {
        let state = build_with_clock(&config, clock).await.unwrap().state;
        let router = crate::app::app(state.clone(), crate::app::shield_config(&config).unwrap());
        Self {
            router,
            state,
            config,
            clock: hand,
            _dir: dir,
        }
    }

    pub(crate) fn hashes(&self) -> u64 {
        self.state.accounts.hashes_done.load(Ordering::Relaxed)
    }

    pub(crate) async fn send(&self, req: Request<Body>) -> Reply {
        let response = self.router.clone().oneshot(req).await.unwrap();
        let (parts, body) = response.into_parts();
        let bytes = to_bytes(body, 1 << 22).await.unwrap();
        Reply {
            status: parts.status,
            headers: parts.headers,
            body: String::from_utf8_lossy(&bytes).into_owned(),
        }
    }

    pub(crate) async fn json(
        &self,
        method: &str,
        path: &str,
        body: Option<Value>,
        token: Option<&str>,
    ) -> Reply {
        self.send(req(
            method,
            path,
            body.map(|b| ("application/json", b.to_string())),
            token,
            "127.0.0.1:40000",
        ))
        .await
    }

    pub(crate) async fn register(&self, username: &str, email: &str, password: &str) -> Reply {
        self.json(
            "POST",
            "/api/v1/register",
            Some(serde_json::json!({"username": username, "email": email, "password": password})),
            None,
        )
        .await
    }

    pub(crate) async fn login_from(&self, identifier: &str, password: &str, client: &str) -> Reply {
        let body = serde_json::json!({"identifier": identifier, "password": password}).to_string();
        self.send(req(
            "POST",
            "/api/v1/login",
            Some(("application/json", body)),
            None,
            client,
        ))
        .await
    }

    pub(crate) async fn login(&self, identifier: &str, password: &str) -> String {
        let reply = self
            .login_from(identifier, password, "127.0.0.1:40000")
            .await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
        reply.json()["token"].as_str().unwrap().to_owned()
    }
}

/// A request from `client` over HTTPS.
pub(crate) fn req(
    method: &str,
    path: &str,
    body: Option<(&str, String)>,
    token: Option<&str>,
    client: &str,
) -> Request<Body> {
    let mut builder = Request::builder()
        .method(method)
        .uri(path)
        .header("origin", ORIGIN)
        .header(header::USER_AGENT, "palisade-tests");
    if let Some(token) = token {
        builder = builder.header(header::AUTHORIZATION, format!("Bearer {token}"));
    }
    let body = match body {
        Some((content_type, text)) => {
            builder = builder.header(header::CONTENT_TYPE, content_type);
            Body::from(text)
        }
        None => Body::empty(),
    };
    let mut request = builder.body(body).unwrap();
    request
        .extensions_mut()
        .insert(ConnectInfo(client.parse::<SocketAddr>().unwrap()));
    // As if it came through the TLS listener: remote test clients are not refused for
    // plain HTTP (that is the shield's own test).
    request
        .extensions_mut()
        .insert(palisade::http::ConnectionScheme::Https);
    request
}

/// A form post with a session cookie.
pub(crate) fn form(
    path: &str,
    fields: &[(&str, &str)],
    cookie: Option<&str>,
    client: &str,
) -> Request<Body> {
    let body = serde_urlencoded::to_string(fields).unwrap();
    let mut request = req(
        "POST",
        path,
        Some(("application/x-www-form-urlencoded", body)),
        None,
        client,
    );
    if let Some(cookie) = cookie {
        request.headers_mut().insert(
            header::COOKIE,
            format!("{}={cookie}", crate::sessions::SESSION_COOKIE)
                .parse()
                .unwrap(),
        );
    }
    request
}

pub(crate) fn page_get(path: &str, cookie: Option<&str>) -> Request<Body> {
    let mut request = req("GET", path, None, None, "127.0.0.1:40000");
    if let Some(cookie) = cookie {
        request.headers_mut().insert(
            header::COOKIE,
            format!("{}={cookie}", crate::sessions::SESSION_COOKIE)
                .parse()
                .unwrap(),
        );
    }
    request
}

#[derive(Debug)]
pub(crate) struct Reply {
    pub(crate) status: StatusCode,
    pub(crate) headers: HeaderMap,
    pub(crate) body: String,
}

impl Reply {
    pub(crate) fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or(Value::Null)
    }

    pub(crate) fn cookie(&self) -> Option<String> {
        self.headers
            .get_all(header::SET_COOKIE)
            .iter()
            .find_map(|v| {
                let v = v.to_str().ok()?;
                let rest = v.strip_prefix(&format!("{}=", crate::sessions::SESSION_COOKIE))?;
                let value = rest.split(';').next()?;
                (!value.is_empty()).then(|| value.to_owned())
            })
    }
}

/// Tables whose size the tests look at.
#[derive(Debug, Clone, Copy)]
pub(crate) enum CountedTable {
    Users,
    Sessions,
    CspReports,
}

/// What the tests read straight from the database, beside the service's own queries.
pub(crate) trait StoreProbe {
    async fn count_rows(&self, table: CountedTable) -> Result<i64, sqlx::Error>;
    async fn audit_events_named(&self, event: &str) -> Result<i64, sqlx::Error>;
}

impl StoreProbe for crate::store::Store {
    async fn count_rows(&self, table: CountedTable) -> Result<i64, sqlx::Error> {
        let sql = match table {
            CountedTable::Users => "SELECT COUNT(*) FROM users",
            CountedTable::Sessions => "SELECT COUNT(*) FROM sessions",
            CountedTable::CspReports => "SELECT COUNT(*) FROM csp_reports",
        };
        sqlx::query_scalar::<_, i64>(sql)
            .fetch_one(self.pool())
            .await
    }

    async fn audit_events_named(&self, event: &str) -> Result<i64, sqlx::Error> {
        sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM audit_events WHERE event = $1")
            .bind(event)
            .fetch_one(self.pool())
            .await
    }
}

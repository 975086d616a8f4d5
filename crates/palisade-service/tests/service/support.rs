//! A service on a fresh database through the library's public face, request helpers, and
//! the tests' own connection to the same database (to look at rows, or to break things).

use std::net::SocketAddr;

use axum::Router;
use axum::body::{Body, to_bytes};
use axum::extract::ConnectInfo;
use http::{HeaderMap, Request, StatusCode, header};
use palisade_service::config::Redacted;
use palisade_service::{Clock, Config, ManualClock, Service, build_with_clock};
use serde_json::Value;
use sqlx::AnyPool;
use tower::ServiceExt;

pub(crate) const ORIGIN: &str = "http://127.0.0.1:8080";
pub(crate) const STRONG: &str = "gravel orbit violet canteen";

pub(crate) struct TestApp {
    pub(crate) router: Router,
    pub(crate) service: Service,
    pub(crate) config: Config,
    /// The service's clock, which stands still until a test moves it.
    pub(crate) clock: ManualClock,
    /// The tests' own connection to the service's database.
    pub(crate) db: AnyPool,
    pub(crate) _dir: tempfile::TempDir,
}

/// Seconds since the Unix epoch, from the service's own system clock.
pub(crate) fn now() -> i64 {
    Clock::system().now()
}

/// Why the service refused to start on `config` (it must refuse).
pub(crate) async fn start_error(config: &Config) -> String {
    match palisade_service::build(config).await {
        Ok(_) => panic!("the service started"),
        Err(e) => e,
    }
}

pub(crate) fn test_config(dir: &std::path::Path, database_url: Option<String>) -> Config {
    Config {
        data_dir: dir.to_owned(),
        database_url: database_url.map(Redacted::new),
        // Cheap hashing keeps the tests fast; the benchmarks use the real parameters.
        argon2_memory_kib: 256,
        argon2_iterations: 1,
        ..Config::default()
    }
}

/// A user row as the tests read it.
#[derive(Debug, sqlx::FromRow)]
pub(crate) struct UserRecord {
    pub(crate) id: i64,
    pub(crate) username: String,
    pub(crate) display_name: Option<String>,
    #[sqlx(try_from = "String")]
    pub(crate) password_hash: HashText,
}

/// A stored password hash as the tests read it: compared and inspected, never printed.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct HashText(String);

impl HashText {
    pub(crate) fn as_str(&self) -> &str {
        &self.0
    }
}

impl From<String> for HashText {
    fn from(hash: String) -> Self {
        Self(hash)
    }
}

impl std::fmt::Debug for HashText {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("HashText([redacted])")
    }
}

/// The associated data a vault value is sealed with: owner and name (pinned here, so a
/// change of the stored format shows).
pub(crate) fn aad(owner: i64, name: &str) -> Vec<u8> {
    format!("palisade-vault\0{owner}\0{name}").into_bytes()
}

/// Replaces a file with `bytes`, readable by its owner only (like the service's key files).
pub(crate) fn write_private(path: &std::path::Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::write(path, bytes)?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
}

impl TestApp {
    pub(crate) async fn sqlite() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let config = test_config(dir.path(), None);
        Self::with_config(config, dir).await
    }

    pub(crate) async fn with_config(config: Config, dir: tempfile::TempDir) -> Self {
        let (clock, hand) = Clock::manual(now());
        Self::with_clock(config, dir, clock, hand).await
    }

    /// A service on `config` whose time is `clock` (two instances can share one).
    pub(crate) async fn with_clock(
        config: Config,
        dir: tempfile::TempDir,
        clock: Clock,
        hand: ManualClock,
    ) -> Self {
        let service = build_with_clock(&config, clock).await.unwrap();
        let router = service.router(&config).unwrap();
        sqlx::any::install_default_drivers();
        let url = match &config.database_url {
            Some(url) => url.expose(str::to_owned),
            None => format!("sqlite://{}", config.data_dir.join("palisade.db").display()),
        };
        // Lazy: a test that never looks at rows never connects (its database may need a
        // client certificate only the service has).
        let db = AnyPool::connect_lazy(&url).unwrap();
        Self {
            router,
            service,
            config,
            clock: hand,
            db,
            _dir: dir,
        }
    }

    /// After the tests changed the database behind the service's back (as another instance
    /// or the admin CLI would): an instance trusts a session it read for at most 500 ms,
    /// so this waits that out (the revocation tests hold instances to the bound).
    pub(crate) async fn changed_elsewhere(&self) {
        tokio::time::sleep(std::time::Duration::from_millis(600)).await;
    }

    /// Passwords hashed so far, by the service's own count.
    pub(crate) fn hashes(&self) -> u64 {
        self.service.passwords_hashed()
    }

    pub(crate) async fn users(&self) -> Result<Vec<UserRecord>, sqlx::Error> {
        sqlx::query_as::<_, UserRecord>(
            "SELECT id, username, display_name, password_hash FROM users ORDER BY id",
        )
        .fetch_all(&self.db)
        .await
    }

    pub(crate) async fn user_named(&self, name: &str) -> UserRecord {
        sqlx::query_as::<_, UserRecord>(
            "SELECT id, username, display_name, password_hash FROM users WHERE username = $1",
        )
        .bind(name)
        .fetch_one(&self.db)
        .await
        .unwrap()
    }

    pub(crate) async fn max_legacy_cost(&self) -> Result<i64, sqlx::Error> {
        let max = sqlx::query_scalar::<_, Option<i64>>("SELECT MAX(legacy_cost) FROM users")
            .fetch_one(&self.db)
            .await?;
        Ok(max.unwrap_or(0))
    }

    pub(crate) async fn secrets_per_key(&self) -> Result<Vec<(String, i64)>, sqlx::Error> {
        sqlx::query_as::<_, (String, i64)>(
            "SELECT key_id, COUNT(*) FROM secrets GROUP BY key_id ORDER BY key_id",
        )
        .fetch_all(&self.db)
        .await
    }

    pub(crate) async fn secret_names(&self, owner: i64) -> Result<Vec<String>, sqlx::Error> {
        sqlx::query_scalar::<_, String>("SELECT name FROM secrets WHERE owner_id = $1")
            .bind(owner)
            .fetch_all(&self.db)
            .await
    }

    pub(crate) async fn count_rows(&self, table: CountedTable) -> Result<i64, sqlx::Error> {
        let sql = match table {
            CountedTable::Users => "SELECT COUNT(*) FROM users",
            CountedTable::Sessions => "SELECT COUNT(*) FROM sessions",
            CountedTable::CspReports => "SELECT COUNT(*) FROM csp_reports",
        };
        sqlx::query_scalar::<_, i64>(sql).fetch_one(&self.db).await
    }

    pub(crate) async fn audit_events_named(&self, event: &str) -> Result<i64, sqlx::Error> {
        sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM audit_events WHERE event = $1")
            .bind(event)
            .fetch_one(&self.db)
            .await
    }

    /// Takes a table away, so that the next statement on it fails inside the service.
    pub(crate) async fn break_table(&self, table: BrokenTable) {
        let sql = match table {
            BrokenTable::Sessions => "ALTER TABLE sessions RENAME TO sessions_gone",
        };
        sqlx::query(sql).execute(&self.db).await.unwrap();
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

    /// The id of a session of `token`'s user, as its list shows it: `token`'s own
    /// (`current`) or another one.
    pub(crate) async fn session_id(&self, token: &str, current: bool) -> String {
        self.json("GET", "/api/v1/sessions", None, Some(token))
            .await
            .json()
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["current"] == current)
            .unwrap()["id"]
            .as_str()
            .unwrap()
            .to_owned()
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

/// The form token a page's forms carry (the first one).
pub(crate) fn form_token(page: &str) -> String {
    page.split("name=\"csrf\" value=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("a form token in the page")
        .to_owned()
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
            format!("{}={cookie}", palisade_service::SESSION_COOKIE)
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
            format!("{}={cookie}", palisade_service::SESSION_COOKIE)
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
                let rest = v.strip_prefix(&format!("{}=", palisade_service::SESSION_COOKIE))?;
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

/// Tables a test can take away.
#[derive(Debug, Clone, Copy)]
pub(crate) enum BrokenTable {
    Sessions,
}

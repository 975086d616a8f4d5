//! The database: SQLite by default, PostgreSQL with `DATABASE_URL`; one set of literal SQL
//! queries with bind parameters for both (through sqlx's `Any` driver).

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::{AnyPool, Executor};

use zeroize::Zeroizing;

use crate::config::{Config, Redacted};

static SQLITE_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("migrations/sqlite");
static POSTGRES_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("migrations/postgres");

/// The connection pool and what it is connected to.
#[derive(Debug, Clone)]
pub(crate) struct Db {
    pub(crate) pool: AnyPool,
    /// A description safe to print (no password).
    pub(crate) describe: String,
}

/// Connects (creating the SQLite file and data directory if needed) and migrates.
pub(crate) async fn connect(config: &Config) -> Result<Db, String> {
    sqlx::any::install_default_drivers();
    match &config.database_url {
        Some(url) if config.uses_postgres() => connect_postgres(config, url).await,
        Some(_) => Err(
            "configuration: database_url must be a postgres:// URL (SQLite needs no URL)".into(),
        ),
        None => connect_sqlite(&config.data_dir).await,
    }
}

async fn connect_sqlite(data_dir: &Path) -> Result<Db, String> {
    crate::keys::ensure_private_dir(data_dir)?;
    let path = data_dir.join("palisade.db");
    let url = format!("sqlite://{}?mode=rwc", path.display());
    let options = AnyConnectOptions::from_str(&url).map_err(|e| format!("database: {e}"))?;
    let pool = AnyPoolOptions::new()
        .max_connections(8)
        .after_connect(|conn, _meta| {
            Box::pin(async move {
                // WAL lets readers run beside the writer; synchronous=FULL makes every
                // acknowledged commit durable even across a power cut, not only a crash.
                conn.execute("PRAGMA journal_mode = WAL").await?;
                conn.execute("PRAGMA synchronous = FULL").await?;
                conn.execute("PRAGMA busy_timeout = 5000").await?;
                conn.execute("PRAGMA foreign_keys = ON").await?;
                Ok(())
            })
        })
        .connect_with(options)
        .await
        .map_err(|e| format!("database {}: {e}", path.display()))?;
    restrict_file(&path);
    SQLITE_MIGRATIONS
        .run(&pool)
        .await
        .map_err(migration_error)?;
    Ok(Db {
        pool,
        describe: format!("SQLite at {}", path.display()),
    })
}

/// Migrations only go forward: a database that a newer palisade migrated is not opened by
/// an older one, and the message says what to do instead.
fn migration_error(e: sqlx::migrate::MigrateError) -> String {
    match e {
        sqlx::migrate::MigrateError::VersionMissing(version) => format!(
            "database migrations: the database has migration {version}, which this palisade does not know: a newer palisade migrated it, and migrations are forward only. Run that version (or newer), or restore a backup taken before the upgrade"
        ),
        other => format!("database migrations: {other}"),
    }
}

fn restrict_file(path: &Path) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let _ = std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600));
    }
}

/// The URL with its password replaced, for messages.
pub(crate) fn redact(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut parsed) => {
            if parsed.password().is_some() {
                let _ = parsed.set_password(Some("redacted"));
            }
            parsed.to_string()
        }
        Err(_) => "[unparseable database URL]".into(),
    }
}

/// Refuses a PostgreSQL server off loopback unless TLS verifies its certificate and host.
pub(crate) fn check_postgres_tls(url: &str, allow_insecure: bool) -> Result<(), String> {
    let parsed = url::Url::parse(url)
        .map_err(|_| "configuration: database_url is not a valid URL".to_owned())?;
    let host = parsed.host_str().unwrap_or("");
    let loopback = host.is_empty()
        || host == "localhost"
        || host
            .trim_matches(['[', ']'])
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback());
    let sslmode = parsed
        .query_pairs()
        .find(|(k, _)| k == "sslmode")
        .map(|(_, v)| v.into_owned());
    if loopback || sslmode.as_deref() == Some("verify-full") {
        return Ok(());
    }
    if allow_insecure {
        tracing::warn!(
            "DATABASE TLS IS NOT VERIFIED: allow_insecure_database_tls is set; the database password and data can be intercepted"
        );
        return Ok(());
    }
    Err(format!(
        "configuration: database_url points at {host}, which is not loopback: add sslmode=verify-full \
         (certificate and host verified), or set allow_insecure_database_tls=true to accept the risk"
    ))
}

async fn connect_postgres(config: &Config, url: &Redacted) -> Result<Db, String> {
    let url = url.expose(|u| Zeroizing::new(u.to_owned()));
    check_postgres_tls(&url, config.allow_insecure_database_tls)?;
    let shown = redact(&url);
    let options = {
        let connect_url = postgres_url(config, &url)?;
        // The pool keeps this copy (ordinary memory) to reconnect; ours is zeroized here.
        AnyConnectOptions::from_str(&connect_url)
            .map_err(|_| format!("database {shown}: invalid URL"))?
    };
    let pool = AnyPoolOptions::new()
        .max_connections(16)
        // During an outage a request waits this long for a connection, then gets 503.
        .acquire_timeout(Duration::from_secs(3))
        .connect_with(options)
        .await
        .map_err(|e| format!("database {shown}: {e}"))?;
    POSTGRES_MIGRATIONS
        .run(&pool)
        .await
        .map_err(migration_error)?;
    Ok(Db {
        pool,
        describe: format!("PostgreSQL at {shown}"),
    })
}

/// The URL the pool connects with: `database_url`, plus the client certificate and the
/// password opened from `database_password_token` when they are configured.
fn postgres_url(config: &Config, url: &str) -> Result<Zeroizing<String>, String> {
    let mut parsed = url::Url::parse(url)
        .map_err(|_| "configuration: database_url is not a valid URL".to_owned())?;
    if let (Some(cert), Some(key)) = (&config.database_tls_cert, &config.database_tls_key) {
        std::fs::File::open(cert).map_err(|e| {
            format!(
                "configuration: database_tls_cert: {} cannot be read: {e}",
                cert.display()
            )
        })?;
        palisade::secret::ensure_private_file(key)
            .map_err(|e| format!("configuration: database_tls_key: {e}"))?;
        let path = |p: &Path| {
            p.to_str()
                .map(str::to_owned)
                .ok_or_else(|| format!("configuration: {} is not UTF-8", p.display()))
        };
        parsed
            .query_pairs_mut()
            .append_pair("sslcert", &path(cert)?)
            .append_pair("sslkey", &path(key)?);
    }
    let Some(token) = &config.database_password_token else {
        return Ok(Zeroizing::new(String::from(parsed)));
    };
    if parsed.password().is_some() {
        return Err("configuration: database_url holds a password and database_password_token is set: give the password one way only".into());
    }
    if parsed.username().is_empty() {
        return Err(
            "configuration: database_password_token needs a user name in database_url".into(),
        );
    }
    let password = crate::keys::open_setting_token(config, "database_password_token", token)?;
    Ok(password.expose(|p| with_password(parsed.as_str(), p)))
}

/// `scheme://user@rest` with `:password` after the user, built in one allocation of its
/// final size so that no unzeroized partial copy of the password is left behind.
pub(crate) fn with_password(url: &str, password: &str) -> Zeroizing<String> {
    let encoded: Zeroizing<String> = {
        let mut e = Zeroizing::new(String::with_capacity(password.len() * 3));
        for piece in
            percent_encoding::utf8_percent_encode(password, percent_encoding::NON_ALPHANUMERIC)
        {
            e.push_str(piece);
        }
        e
    };
    // The user name is percent-encoded, so the first '@' after the scheme ends it.
    let start = url.find("://").map_or(0, |i| i + 3);
    let at = url[start..].find('@').map_or(start, |i| start + i);
    let mut out = Zeroizing::new(String::with_capacity(url.len() + 1 + encoded.len()));
    out.push_str(&url[..at]);
    out.push(':');
    out.push_str(&encoded);
    out.push_str(&url[at..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remote_postgres_needs_verified_tls() {
        assert!(check_postgres_tls("postgres://u:p@127.0.0.1/db", false).is_ok());
        assert!(check_postgres_tls("postgres://u:p@localhost/db", false).is_ok());
        assert!(check_postgres_tls("postgres://u:p@[::1]/db", false).is_ok());
        let err = check_postgres_tls("postgres://u:hunter2@db.example.com/db", false).unwrap_err();
        assert!(err.contains("sslmode=verify-full") && !err.contains("hunter2"));
        assert!(
            check_postgres_tls("postgres://u:p@db.example.com/db?sslmode=require", false).is_err()
        );
        assert!(
            check_postgres_tls(
                "postgres://u:p@db.example.com/db?sslmode=verify-full",
                false
            )
            .is_ok()
        );
        assert!(check_postgres_tls("postgres://u:p@db.example.com/db", true).is_ok());
    }

    #[test]
    fn redaction_hides_the_password() {
        let shown = redact("postgres://alice:s3cr3t@db.example.com:5432/app");
        assert!(!shown.contains("s3cr3t"));
        assert!(shown.contains("alice") && shown.contains("redacted"));
    }

    #[test]
    fn the_password_is_spliced_in_encoded() {
        let url = with_password("postgres://app@db.example.com:5432/x?a=b", "p@ss:w/rd é");
        assert_eq!(
            url.as_str(),
            "postgres://app:p%40ss%3Aw%2Frd%20%C3%A9@db.example.com:5432/x?a=b"
        );
        let parsed = url::Url::parse(&url).unwrap();
        assert_eq!(parsed.username(), "app");
        assert_eq!(
            percent_encoding::percent_decode_str(parsed.password().unwrap())
                .decode_utf8()
                .unwrap(),
            "p@ss:w/rd é"
        );
    }
}

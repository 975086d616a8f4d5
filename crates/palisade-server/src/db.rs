//! The database: SQLite by default, PostgreSQL with `DATABASE_URL`; one set of literal SQL
//! queries with bind parameters for both (through sqlx's `Any` driver).

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::{AnyPool, Executor};

use crate::config::Config;

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
        Some(url) if config.uses_postgres() => {
            connect_postgres(url, config.allow_insecure_database_tls).await
        }
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
        .map_err(|e| format!("database migrations: {e}"))?;
    Ok(Db {
        pool,
        describe: format!("SQLite at {}", path.display()),
    })
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

async fn connect_postgres(url: &str, allow_insecure: bool) -> Result<Db, String> {
    check_postgres_tls(url, allow_insecure)?;
    let options = AnyConnectOptions::from_str(url)
        .map_err(|_| format!("database {}: invalid URL", redact(url)))?;
    let pool = AnyPoolOptions::new()
        .max_connections(16)
        .acquire_timeout(Duration::from_secs(10))
        .connect_with(options)
        .await
        .map_err(|e| format!("database {}: {e}", redact(url)))?;
    POSTGRES_MIGRATIONS
        .run(&pool)
        .await
        .map_err(|e| format!("database migrations: {e}"))?;
    Ok(Db {
        pool,
        describe: format!("PostgreSQL at {}", redact(url)),
    })
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
}

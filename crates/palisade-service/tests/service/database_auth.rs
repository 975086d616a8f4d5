//! Reaching PostgreSQL without a plaintext password: a client certificate, or a password
//! kept as a Fernet token under the keyring. A PostgreSQL cluster of the test's own, with
//! TLS and `hostssl … cert` in its pg_hba.conf, on a port of its own.

use std::path::{Path, PathBuf};
use std::process::Command;

use palisade::secret::{FernetKey, Keyring};
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};

use super::support::*;
use palisade_service::config::{Config, Redacted};

const DB_PASSWORD: &str = "Wombat-7731-db-password";

/// A running cluster; stopped on drop.
struct TlsCluster {
    dir: tempfile::TempDir,
    bin: PathBuf,
    port: u16,
    as_postgres: bool,
}

impl TlsCluster {
    /// Starts one, or says why not: `None` (SKIPPED) without the PostgreSQL server
    /// binaries, unless CI=true.
    fn start() -> Option<Self> {
        let bin = std::fs::read_dir("/usr/lib/postgresql").ok().and_then(|d| {
            d.flatten()
                .map(|e| e.path().join("bin"))
                .find(|b| b.join("pg_ctl").is_file())
        });
        let Some(bin) = bin else {
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "the PostgreSQL server binaries are missing (CI=true)"
            );
            eprintln!("SKIPPED database authentication tests: no /usr/lib/postgresql/*/bin/pg_ctl");
            return None;
        };
        let as_postgres = Command::new("id")
            .arg("-u")
            .output()
            .is_ok_and(|o| o.stdout.starts_with(b"0\n"));
        let dir = tempfile::Builder::new()
            .prefix("palisade-pg")
            .tempdir_in("/tmp")
            .unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let cluster = Self {
            dir,
            bin,
            port,
            as_postgres,
        };
        cluster.write_certificates();
        let data = cluster.pg_dir().join("data");
        cluster.run(
            "initdb",
            &[
                "-D",
                data.to_str().unwrap(),
                "-U",
                "postgres",
                "--auth=trust",
            ],
        );
        let pg = cluster.pg_dir();
        let conf = format!(
            "port = {port}\nlisten_addresses = '127.0.0.1'\nunix_socket_directories = '{sock}'\n\
             ssl = on\nssl_cert_file = '{pg}/server.crt'\nssl_key_file = '{pg}/server.key'\n\
             ssl_ca_file = '{pg}/ca.crt'\nfsync = off\n",
            sock = pg.display(),
            pg = pg.display()
        );
        append(&data.join("postgresql.conf"), &conf);
        std::fs::write(
            data.join("pg_hba.conf"),
            "local all postgres trust\n\
             hostssl all certuser 127.0.0.1/32 cert\n\
             hostssl all pwuser 127.0.0.1/32 scram-sha-256\n",
        )
        .unwrap();
        cluster.run(
            "pg_ctl",
            &[
                "-D",
                data.to_str().unwrap(),
                "-l",
                pg.join("log").to_str().unwrap(),
                "-w",
                "start",
            ],
        );
        for sql in [
            "CREATE ROLE certuser LOGIN".to_owned(),
            format!("CREATE ROLE pwuser LOGIN PASSWORD '{DB_PASSWORD}'"),
            "CREATE DATABASE certdb OWNER certuser".to_owned(),
            "CREATE DATABASE pwdb OWNER pwuser".to_owned(),
        ] {
            let port = cluster.port.to_string();
            cluster.run(
                "psql",
                &[
                    "-h",
                    pg.to_str().unwrap(),
                    "-p",
                    &port,
                    "-U",
                    "postgres",
                    "-d",
                    "postgres",
                    "-v",
                    "ON_ERROR_STOP=1",
                    "-c",
                    &sql,
                ],
            );
        }
        Some(cluster)
    }

    /// The cluster's own folder, which the postgres user owns.
    fn pg_dir(&self) -> PathBuf {
        self.dir.path().join("pg")
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn run(&self, program: &str, args: &[&str]) {
        let program = self.bin.join(program);
        let output = if self.as_postgres {
            Command::new("runuser")
                .args(["-u", "postgres", "--"])
                .arg(&program)
                .args(args)
                .output()
        } else {
            Command::new(&program).args(args).output()
        }
        .unwrap();
        assert!(
            output.status.success(),
            "{} failed: {}{}",
            program.display(),
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }

    /// A CA, the server's certificate (for 127.0.0.1), and a client certificate for
    /// `certuser`, all made here.
    fn write_certificates(&self) {
        let pg = self.pg_dir();
        std::fs::create_dir(&pg).unwrap();
        let ca_key = KeyPair::generate().unwrap();
        let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca.distinguished_name
            .push(DnType::CommonName, "palisade test CA");
        let ca_cert = ca.self_signed(&ca_key).unwrap();
        let issuer = Issuer::new(ca, ca_key);
        let server_key = KeyPair::generate().unwrap();
        let server = CertificateParams::new(vec!["127.0.0.1".to_owned(), "localhost".to_owned()])
            .unwrap()
            .signed_by(&server_key, &issuer)
            .unwrap();
        let client_key = KeyPair::generate().unwrap();
        let mut client = CertificateParams::new(Vec::<String>::new()).unwrap();
        client
            .distinguished_name
            .push(DnType::CommonName, "certuser");
        let client = client.signed_by(&client_key, &issuer).unwrap();
        for (path, text, mode) in [
            (pg.join("ca.crt"), ca_cert.pem(), 0o644),
            (pg.join("server.crt"), server.pem(), 0o644),
            (pg.join("server.key"), server_key.serialize_pem(), 0o600),
            (self.path("ca.crt"), ca_cert.pem(), 0o644),
            (self.path("client.crt"), client.pem(), 0o644),
            (self.path("client.key"), client_key.serialize_pem(), 0o600),
        ] {
            std::fs::write(&path, text).unwrap();
            set_mode(&path, mode);
        }
        set_mode(self.dir.path(), 0o755);
        if self.as_postgres {
            let status = Command::new("chown")
                .args(["-R", "postgres:postgres"])
                .arg(&pg)
                .status()
                .unwrap();
            assert!(status.success());
        }
    }

    fn url(&self, user: &str, database: &str) -> String {
        format!(
            "postgres://{user}@127.0.0.1:{}/{database}?sslmode=verify-full&sslrootcert={}",
            self.port,
            self.path("ca.crt").display()
        )
    }
}

impl Drop for TlsCluster {
    fn drop(&mut self) {
        let data = self.pg_dir().join("data");
        let program = self.bin.join("pg_ctl");
        let args = ["-D", data.to_str().unwrap_or(""), "-m", "immediate", "stop"];
        let _ = if self.as_postgres {
            Command::new("runuser")
                .args(["-u", "postgres", "--"])
                .arg(&program)
                .args(args)
                .output()
        } else {
            Command::new(&program).args(args).output()
        };
    }
}

fn append(path: &Path, text: &str) {
    use std::io::Write;
    let mut file = std::fs::OpenOptions::new().append(true).open(path).unwrap();
    file.write_all(text.as_bytes()).unwrap();
}

fn set_mode(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

/// A data directory with a key file, and the configuration for `url`.
fn config_for(url: String) -> (Config, tempfile::TempDir, Keyring) {
    let dir = tempfile::tempdir().unwrap();
    let keyring = Keyring::new(vec![FernetKey::generate().unwrap()]).unwrap();
    keyring.write_new_file(&dir.path().join("keys")).unwrap();
    (test_config(dir.path(), Some(url)), dir, keyring)
}

/// Why the start was refused, which must not show the password.
async fn refused(config: &Config) -> String {
    let e = start_error(config).await;
    assert!(!e.contains(DB_PASSWORD), "the password shows: {e}");
    e
}

#[tokio::test]
async fn postgres_without_a_plaintext_password() {
    let Some(cluster) = TlsCluster::start() else {
        return;
    };

    // A client certificate: no password anywhere.
    let (mut config, dir, _) = config_for(cluster.url("certuser", "certdb"));
    config.database_tls_cert = Some(cluster.path("client.crt"));
    config.database_tls_key = Some(cluster.path("client.key"));
    let app = TestApp::with_config(config.clone(), dir).await;
    let reply = app.register("cert-user", "cert@example.com", STRONG).await;
    assert_eq!(reply.status, http::StatusCode::CREATED, "{}", reply.body);
    drop(app);

    // Without the certificate the server refuses (pg_hba says cert).
    let (mut bare, _dir2, _) = config_for(cluster.url("certuser", "certdb"));
    bare.database_tls_cert = None;
    bare.database_tls_key = None;
    refused(&bare).await;

    // A missing client key, a world-readable one: refused before connecting, naming it.
    let (mut missing, _d3, _) = config_for(cluster.url("certuser", "certdb"));
    missing.database_tls_cert = Some(cluster.path("client.crt"));
    missing.database_tls_key = Some(cluster.path("no-such.key"));
    let err = refused(&missing).await;
    assert!(err.contains("database_tls_key"), "{err}");
    let loose = cluster.path("loose.key");
    std::fs::copy(cluster.path("client.key"), &loose).unwrap();
    set_mode(&loose, 0o644);
    missing.database_tls_key = Some(loose);
    let err = refused(&missing).await;
    assert!(
        err.contains("database_tls_key") && err.contains("0644"),
        "{err}"
    );

    // The password as a token under the keyring.
    let (mut config, dir, keyring) = config_for(cluster.url("pwuser", "pwdb"));
    let token = keyring.encrypt(DB_PASSWORD.as_bytes()).unwrap();
    config.database_password_token = Some(Redacted::new(token.clone()));
    assert!(!format!("{config:?}").contains(&token));
    let app = TestApp::with_config(config.clone(), dir).await;
    let reply = app
        .register("token-user", "token@example.com", STRONG)
        .await;
    assert_eq!(reply.status, http::StatusCode::CREATED, "{}", reply.body);
    drop(app);

    // No token: the server asks for the password, and the start fails.
    let (bare, _d4, _) = config_for(cluster.url("pwuser", "pwdb"));
    refused(&bare).await;
    // A damaged token, and one made with a key that is not in the keyring.
    let (mut wrong, _d5, _) = config_for(cluster.url("pwuser", "pwdb"));
    wrong.database_password_token = Some(Redacted::new("gAAAAAB-not-a-token".into()));
    let err = refused(&wrong).await;
    assert!(err.contains("database_password_token"), "{err}");
    wrong.database_password_token = Some(Redacted::new(token.clone()));
    let err = refused(&wrong).await;
    assert!(
        err.contains("database_password_token") && err.contains("another key"),
        "{err}"
    );
    assert!(!err.contains(&token));
    // A password in the URL as well as a token: refused, naming both.
    let (mut both, _d6, keyring) = config_for(
        cluster
            .url("pwuser", "pwdb")
            .replace("pwuser@", &format!("pwuser:{DB_PASSWORD}@")),
    );
    both.database_password_token = Some(Redacted::new(
        keyring.encrypt(DB_PASSWORD.as_bytes()).unwrap(),
    ));
    let err = refused(&both).await;
    assert!(
        err.contains("database_url") && err.contains("database_password_token"),
        "{err}"
    );
}

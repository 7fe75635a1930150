//! How the PostgreSQL sink reaches its server: libpq's `sslmode` and `sslrootcert` (sqlx
//! with rustls), the encryption policy on top, the sink's schema as every connection's
//! `search_path`, and the recorded migrations.
//!
//! | `sslmode` | encrypted | certificate checked | host name checked |
//! |---|---|---|---|
//! | `disable` | no (loopback and Unix sockets only) | — | — |
//! | `allow`, `prefer` | when the server offers it (loopback only: it may fall back to plain) | no | no |
//! | `require` | yes | only against `sslrootcert` when one is given (then as `verify-ca`) | no |
//! | `verify-ca` | yes | yes | yes (sqlx 0.8 checks it too, stricter than libpq: sqlx issue #3793, fixed in 0.9, which pgmq does not support yet) |
//! | `verify-full` | yes | yes | yes |
//!
//! Without `sslmode`, loopback hosts and Unix sockets connect plain (`disable`) and every
//! other host uses `verify-full`, against the webpki (Mozilla) roots plus `sslrootcert`.
//! Nothing but the TLS request is sent before the handshake. A password missing from the URL
//! is read from `PGPASSWORD` (or `~/.pgpass`).

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

use sqlx::migrate::Migrator;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions, PgSslMode};
use sqlx::{Connection, Executor, PgConnection};

use super::statements::{quote_ident, CREATE_STAGE};
use super::SINK;
use crate::SinkError;

/// The sink's tables, one file per version under `migrations/postgres`; applied versions are
/// recorded in `_sqlx_migrations` (in the sink's schema), under an advisory lock.
static MIGRATOR: Migrator = sqlx::migrate!("./migrations/postgres");

/// Connections the sink keeps open (one page commit holds one).
const POOL_SIZE: u32 = 4;

/// A parsed connection URL with the encryption policy applied.
#[derive(Clone)]
pub(crate) struct Target {
    pub(crate) options: PgConnectOptions,
    /// `host:port/db`, for messages (never the password).
    pub(crate) label: String,
}

impl fmt::Debug for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Target")
            .field("label", &self.label)
            .field("ssl_mode", &self.options.get_ssl_mode())
            .finish_non_exhaustive()
    }
}

pub(super) fn config_error(detail: String) -> SinkError {
    SinkError::Config { sink: SINK, detail }
}

/// A driver error as the sink reports it, naming what it was doing.
pub(crate) fn db(action: &'static str) -> impl Fn(sqlx::Error) -> SinkError {
    move |e| SinkError::database(SINK, action, Driver::new(e))
}

/// A driver error whose message carries its causes (a TLS error's own says only "TLS").
#[derive(Debug)]
pub(crate) struct Driver {
    message: String,
    source: sqlx::Error,
}

impl Driver {
    pub(crate) fn new(source: sqlx::Error) -> Self {
        let mut message = source.to_string();
        let mut cause = std::error::Error::source(&source);
        while let Some(err) = cause {
            let text = err.to_string();
            if !message.ends_with(&text) {
                message.push_str(": ");
                message.push_str(&text);
            }
            cause = err.source();
        }
        Self { message, source }
    }
}

impl fmt::Display for Driver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Driver {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.source)
    }
}

fn parse_mode(text: &str) -> Result<PgSslMode, SinkError> {
    Ok(match text {
        "disable" => PgSslMode::Disable,
        "allow" => PgSslMode::Allow,
        "prefer" => PgSslMode::Prefer,
        "require" => PgSslMode::Require,
        "verify-ca" => PgSslMode::VerifyCa,
        "verify-full" => PgSslMode::VerifyFull,
        other => {
            return Err(config_error(format!(
                "sslmode {other:?} is not one of disable, allow, prefer, require, verify-ca, verify-full"
            )))
        }
    })
}

impl Target {
    /// Parses a `postgres://` URL and applies the policy above.
    pub(crate) fn parse(url: &str) -> Result<Self, SinkError> {
        let parsed = url::Url::parse(url).map_err(|e| {
            config_error(format!("the connection URL is not a postgres:// URL: {e}"))
        })?;
        if !matches!(parsed.scheme(), "postgres" | "postgresql") {
            return Err(config_error(format!(
                "the connection URL starts with {}://, not postgres://",
                parsed.scheme()
            )));
        }
        let (mut requested, mut root) = (None, false);
        for (key, value) in parsed.query_pairs() {
            match key.as_ref() {
                "sslmode" | "ssl-mode" => requested = Some(parse_mode(&value)?),
                "sslrootcert" | "ssl-root-cert" | "ssl-ca" => root = true,
                _ => {}
            }
        }
        let options = PgConnectOptions::from_str(url)
            .map_err(|e| config_error(format!("the connection URL is not valid: {e}")))?;
        let local = is_local(&options);
        let mode = match requested {
            Some(PgSslMode::Require) if root => PgSslMode::VerifyCa,
            Some(mode) => mode,
            None if local => PgSslMode::Disable,
            None => PgSslMode::VerifyFull,
        };
        if !local
            && matches!(
                mode,
                PgSslMode::Disable | PgSslMode::Allow | PgSslMode::Prefer
            )
        {
            return Err(config_error(format!(
                "sslmode={} to a host that is not loopback would let the connection go unencrypted; \
                 use sslmode=verify-full (the default), verify-ca or require",
                requested.map(mode_name).unwrap_or("disable")
            )));
        }
        let label = describe(&options);
        Ok(Self {
            options: options.ssl_mode(mode),
            label,
        })
    }

    #[cfg(test)]
    fn mode(&self) -> PgSslMode {
        self.options.get_ssl_mode()
    }

    /// One connection now (its failure is the caller's error at once, not after a pool's
    /// retries), with `schema` created and migrated.
    pub(crate) async fn prepare(&self, schema: Option<&str>) -> Result<(), SinkError> {
        let mut conn = self.connect_one().await?;
        if let Some(schema) = schema {
            // Two `CREATE SCHEMA IF NOT EXISTS` at once can both try to create it: one
            // process at a time (the lock goes with the connection).
            sqlx::query("SELECT pg_advisory_lock(hashtext('affiliate schema'))")
                .execute(&mut conn)
                .await
                .map_err(db("creating the schema"))?;
            conn.execute(format!("CREATE SCHEMA IF NOT EXISTS {}", quote_ident(schema)).as_str())
                .await
                .map_err(db("creating the schema"))?;
        }
        drop(conn);
        let mut conn = self.in_schema(schema).connect_one().await?;
        MIGRATOR.run(&mut conn).await.map_err(|e| {
            SinkError::database(SINK, "migrating the tables", Driver::new(e.into()))
        })?;
        conn.close()
            .await
            .map_err(db("closing the setup connection"))
    }

    /// Connects once and hangs up: the server answers and accepts the credentials.
    pub(crate) async fn check(&self) -> Result<(), SinkError> {
        let conn = self.connect_one().await?;
        conn.close()
            .await
            .map_err(db("closing the check connection"))
    }

    /// The same target with `schema` first in every connection's `search_path`.
    pub(crate) fn in_schema(&self, schema: Option<&str>) -> Self {
        let mut target = self.clone();
        if let Some(schema) = schema {
            target.options = target
                .options
                .options([("search_path", quote_ident(schema))]);
        }
        target
    }

    async fn connect_one(&self) -> Result<PgConnection, SinkError> {
        PgConnection::connect_with(&self.options)
            .await
            .map_err(|e| SinkError::Database {
                sink: SINK,
                action: "connecting",
                source: format!("{}: {}", self.label, Driver::new(e)).into(),
            })
    }

    /// A pool of connections, each with its staging table.
    pub(crate) fn pool(&self) -> PgPool {
        PgPoolOptions::new()
            .max_connections(POOL_SIZE)
            .after_connect(|conn, _| {
                Box::pin(async move { conn.execute(CREATE_STAGE).await.map(drop) })
            })
            .connect_lazy_with(self.options.clone())
    }
}

fn mode_name(mode: PgSslMode) -> &'static str {
    match mode {
        PgSslMode::Disable => "disable",
        PgSslMode::Allow => "allow",
        PgSslMode::Prefer => "prefer",
        PgSslMode::Require => "require",
        PgSslMode::VerifyCa => "verify-ca",
        PgSslMode::VerifyFull => "verify-full",
    }
}

/// True for a Unix socket, `localhost` and loopback addresses.
fn is_local(options: &PgConnectOptions) -> bool {
    if options.get_socket().is_some() {
        return true;
    }
    let host = options.get_host();
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    host.starts_with('/')
        || host.eq_ignore_ascii_case("localhost")
        || bare.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// `host:port/db` for messages (never the password).
fn describe(options: &PgConnectOptions) -> String {
    let host = match options.get_socket() {
        Some(path) => path.display().to_string(),
        None => options.get_host().to_owned(),
    };
    format!(
        "{host}:{}/{}",
        options.get_port(),
        options.get_database().unwrap_or("")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_defaults_to_plain_and_remote_to_verify_full() {
        let local = Target::parse("postgres://me@127.0.0.1:5432/db").unwrap();
        assert!(matches!(local.mode(), PgSslMode::Disable));
        assert_eq!(local.label, "127.0.0.1:5432/db");
        let remote = Target::parse("postgres://me@db.example.com/db").unwrap();
        assert!(matches!(remote.mode(), PgSslMode::VerifyFull));
        let ipv6 = Target::parse("postgres://me@[::1]/db").unwrap();
        assert!(matches!(ipv6.mode(), PgSslMode::Disable));
    }

    #[test]
    fn require_with_a_root_checks_the_chain_like_libpq() {
        let t = Target::parse(
            "postgres://me@db.example.com/db?sslmode=require&sslrootcert=%2Ftmp%2Fca.pem",
        )
        .unwrap();
        assert!(matches!(t.mode(), PgSslMode::VerifyCa));
        let bare = Target::parse("postgres://me@db.example.com/db?sslmode=require").unwrap();
        assert!(matches!(bare.mode(), PgSslMode::Require));
    }

    #[test]
    fn plain_connections_to_remote_hosts_are_refused() {
        for mode in ["disable", "allow", "prefer"] {
            let err = Target::parse(&format!("postgres://me@db.example.com/db?sslmode={mode}"))
                .unwrap_err();
            assert!(err.to_string().contains("unencrypted"), "{err}");
            assert!(
                err.to_string().contains(&format!("sslmode={mode}")),
                "{err}"
            );
        }
        let bad = Target::parse("postgres://me@db.example.com/db?sslmode=maybe").unwrap_err();
        assert!(bad.to_string().contains("is not one of"), "{bad}");
        let other = Target::parse("mysql://me@db.example.com/db").unwrap_err();
        assert!(other.to_string().contains("not postgres://"), "{other}");
    }

    #[test]
    fn the_label_never_shows_the_password() {
        let t = Target::parse("postgres://me:hunter2@127.0.0.1:5432/db").unwrap();
        assert!(!format!("{t:?} {}", t.label).contains("hunter2"));
    }
}

//! How the PostgreSQL sink reaches its server: libpq's `sslmode` and `sslrootcert`, with
//! rustls.
//!
//! | `sslmode` | encrypted | certificate checked | host name checked |
//! |---|---|---|---|
//! | `disable` | no (loopback and Unix sockets only) | — | — |
//! | `prefer` | when the server offers it (loopback only: it may fall back to plain) | no | no |
//! | `require` | yes | only against `sslrootcert` when one is given (then as `verify-ca`) | no |
//! | `verify-ca` | yes | yes | no |
//! | `verify-full` | yes | yes | yes |
//!
//! Without `sslmode`, loopback hosts and Unix sockets connect plain (`disable`) and every
//! other host uses `verify-full`, against `sslrootcert` or the webpki (Mozilla) roots.
//! Nothing but the TLS request is sent before the handshake; the password, when there is
//! one, comes from the URL (read from the environment by the caller) or `PGPASSWORD`.

use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};
use rustls_pki_types::pem::PemObject;
use tokio_postgres::config::{Host, SslMode as WireSslMode};
use tokio_postgres::Config;

use crate::SinkError;

use super::SINK;

/// libpq's `sslmode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum SslMode {
    Disable,
    Prefer,
    Require,
    VerifyCa,
    VerifyFull,
}

impl SslMode {
    fn parse(text: &str) -> Result<Self, SinkError> {
        Ok(match text {
            "disable" => SslMode::Disable,
            "prefer" | "allow" => SslMode::Prefer,
            "require" => SslMode::Require,
            "verify-ca" => SslMode::VerifyCa,
            "verify-full" => SslMode::VerifyFull,
            other => {
                return Err(config_error(format!(
                "sslmode {other:?} is not one of disable, prefer, require, verify-ca, verify-full"
            )))
            }
        })
    }
}

/// A parsed connection URL with its TLS settings taken out.
#[derive(Debug)]
pub(super) struct Target {
    pub(super) config: Config,
    pub(super) mode: SslMode,
    root: Option<PathBuf>,
}

fn config_error(detail: String) -> SinkError {
    SinkError::Config { sink: SINK, detail }
}

impl Target {
    /// Parses `url`, taking `sslmode` and `sslrootcert` out of its query (tokio-postgres
    /// knows neither `verify-ca` nor `verify-full`).
    pub(super) fn parse(url: &str) -> Result<Self, SinkError> {
        let (rest, mut mode, mut root) = take_tls_params(url)?;
        let mut config: Config = rest
            .parse()
            .map_err(|e| config_error(format!("the connection string is not valid: {e}")))?;
        if config.get_password().is_none() {
            if let Some(password) = std::env::var("PGPASSWORD").ok().filter(|p| !p.is_empty()) {
                config.password(password);
            }
        }
        let local = all_local(&config);
        let mode = match mode.take() {
            Some(mode) => mode,
            None if local => SslMode::Disable,
            None => SslMode::VerifyFull,
        };
        if !local && matches!(mode, SslMode::Disable | SslMode::Prefer) {
            return Err(config_error(format!(
                "sslmode={} to a host that is not loopback would let the connection go unencrypted; \
                 use sslmode=verify-full (the default), verify-ca or require",
                if mode == SslMode::Disable { "disable" } else { "prefer" }
            )));
        }
        config.ssl_mode(match mode {
            SslMode::Disable => WireSslMode::Disable,
            SslMode::Prefer => WireSslMode::Prefer,
            _ => WireSslMode::Require,
        });
        Ok(Self {
            config,
            mode,
            root: root.take(),
        })
    }

    /// The rustls settings the mode asks for, or `None` for a plain connection.
    pub(super) fn tls(&self) -> Result<Option<ClientConfig>, SinkError> {
        if self.mode == SslMode::Disable {
            return Ok(None);
        }
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = ClientConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(|e| config_error(format!("TLS setup: {e}")))?;
        let roots = Arc::new(self.roots()?);
        let verify_ca = matches!(self.mode, SslMode::VerifyCa)
            || (matches!(self.mode, SslMode::Require | SslMode::Prefer) && self.root.is_some());
        let config = if self.mode == SslMode::VerifyFull {
            builder.with_root_certificates(roots).with_no_client_auth()
        } else {
            let chain = WebPkiServerVerifier::builder_with_provider(roots, provider.clone())
                .build()
                .map_err(|e| config_error(format!("TLS setup: {e}")))?;
            let verifier = Relaxed {
                chain,
                check_chain: verify_ca,
            };
            builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(verifier))
                .with_no_client_auth()
        };
        Ok(Some(config))
    }

    /// `sslrootcert`'s certificates, or the webpki roots.
    fn roots(&self) -> Result<RootCertStore, SinkError> {
        let mut store = RootCertStore::empty();
        let Some(path) = &self.root else {
            store.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
            return Ok(store);
        };
        let unreadable = |e: &dyn std::fmt::Display| {
            config_error(format!("sslrootcert {}: {e}", path.display()))
        };
        let certs = CertificateDer::pem_file_iter(path).map_err(|e| unreadable(&e))?;
        for cert in certs {
            let cert = cert.map_err(|e| unreadable(&e))?;
            store.add(cert).map_err(|e| unreadable(&e))?;
        }
        if store.is_empty() {
            return Err(unreadable(&"no certificate in the file"));
        }
        Ok(store)
    }
}

/// Splits `sslmode` and `sslrootcert` off a URL's query (key=value strings are passed on
/// as they are: their `sslmode` must then be one tokio-postgres knows).
fn take_tls_params(url: &str) -> Result<(String, Option<SslMode>, Option<PathBuf>), SinkError> {
    let Some((base, query)) = url.split_once('?') else {
        return Ok((url.to_owned(), None, None));
    };
    let (mut mode, mut root, mut kept) = (None, None, Vec::new());
    for pair in query.split('&') {
        match pair.split_once('=') {
            Some(("sslmode", value)) => mode = Some(SslMode::parse(value)?),
            Some(("sslrootcert", value)) => root = Some(PathBuf::from(decode(value))),
            _ => kept.push(pair),
        }
    }
    let rest = if kept.is_empty() {
        base.to_owned()
    } else {
        format!("{base}?{}", kept.join("&"))
    };
    Ok((rest, mode, root))
}

/// `%2F` and friends in a query value.
fn decode(value: &str) -> String {
    url::form_urlencoded::parse(format!("v={value}").as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_else(|| value.to_owned())
}

/// True when every host is loopback or a Unix socket.
fn all_local(config: &Config) -> bool {
    let hosts_local = config.get_hosts().iter().all(|host| match host {
        Host::Tcp(name) => {
            name.eq_ignore_ascii_case("localhost")
                || name.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
        }
        #[cfg(unix)]
        Host::Unix(_) => true,
    });
    hosts_local && config.get_hostaddrs().iter().all(IpAddr::is_loopback)
}

/// `verify-ca` (the chain is checked, the host name is not) or `require` without a root
/// (nothing is checked but the handshake's signatures: encrypted, not authenticated).
#[derive(Debug)]
struct Relaxed {
    chain: Arc<WebPkiServerVerifier>,
    check_chain: bool,
}

impl ServerCertVerifier for Relaxed {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        if !self.check_chain {
            return Ok(ServerCertVerified::assertion());
        }
        match self
            .chain
            .verify_server_cert(end_entity, intermediates, server_name, ocsp, now)
        {
            Err(rustls::Error::InvalidCertificate(rustls::CertificateError::NotValidForName))
            | Err(rustls::Error::InvalidCertificate(
                rustls::CertificateError::NotValidForNameContext { .. },
            )) => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.chain.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.chain.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.chain.supported_verify_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_defaults_to_plain_and_remote_to_verify_full() {
        let local = Target::parse("postgres://me@127.0.0.1:5432/db").unwrap();
        assert_eq!(local.mode, SslMode::Disable);
        let remote = Target::parse("postgres://me@db.example.com/db").unwrap();
        assert_eq!(remote.mode, SslMode::VerifyFull);
        assert!(remote.tls().unwrap().is_some());
    }

    #[test]
    fn tls_parameters_are_taken_out_of_the_url() {
        let t = Target::parse(
            "postgres://me@db.example.com/db?sslmode=verify-ca&sslrootcert=%2Ftmp%2Fca.pem&application_name=x",
        )
        .unwrap();
        assert_eq!(t.mode, SslMode::VerifyCa);
        assert_eq!(t.root, Some(PathBuf::from("/tmp/ca.pem")));
        assert_eq!(t.config.get_application_name(), Some("x"));
    }

    #[test]
    fn plain_connections_to_remote_hosts_are_refused() {
        for mode in ["disable", "prefer"] {
            let err = Target::parse(&format!("postgres://me@db.example.com/db?sslmode={mode}"))
                .unwrap_err();
            assert!(err.to_string().contains("unencrypted"), "{err}");
        }
        let bad = Target::parse("postgres://me@db.example.com/db?sslmode=maybe").unwrap_err();
        assert!(bad.to_string().contains("is not one of"), "{bad}");
    }
}

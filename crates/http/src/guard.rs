//! Credentials go over TLS, or to this machine.

use std::net::IpAddr;

use url::{Host, Url};

/// A URL that credentials must not be sent to.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "refusing to send credentials to {scheme}://{host}: plain HTTP is only allowed to loopback"
)]
pub struct InsecureUrl {
    /// The URL's scheme.
    pub scheme: String,
    /// The URL's host.
    pub host: String,
}

/// True for `localhost`, `127.0.0.0/8` and `::1`.
pub fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(Host::Ipv4(ip)) => IpAddr::V4(ip).is_loopback(),
        Some(Host::Ipv6(ip)) => IpAddr::V6(ip).is_loopback(),
        None => false,
    }
}

/// Accepts `https://` anywhere and `http://` to loopback only.
///
/// ```
/// use affiliate_http::{ensure_secure, Url};
/// assert!(ensure_secure(&Url::parse("https://api.triport.io").unwrap()).is_ok());
/// assert!(ensure_secure(&Url::parse("http://127.0.0.1:8080").unwrap()).is_ok());
/// assert!(ensure_secure(&Url::parse("http://api.triport.io").unwrap()).is_err());
/// ```
pub fn ensure_secure(url: &Url) -> Result<(), InsecureUrl> {
    if url.scheme() == "https" || (url.scheme() == "http" && is_loopback(url)) {
        Ok(())
    } else {
        Err(InsecureUrl {
            scheme: url.scheme().to_owned(),
            host: url.host_str().unwrap_or_default().to_owned(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table() {
        let cases = [
            ("https://example.com", true),
            ("http://localhost:1", true),
            ("http://LOCALHOST", true),
            ("http://127.9.9.9", true),
            ("http://[::1]:80", true),
            ("http://10.0.0.1", false),
            ("http://example.com", false),
            ("ftp://127.0.0.1", false),
        ];
        for (url, ok) in cases {
            assert_eq!(
                ensure_secure(&Url::parse(url).unwrap()).is_ok(),
                ok,
                "{url}"
            );
        }
    }
}

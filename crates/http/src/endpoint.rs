//! Building request URLs from a configurable base URL, once.

use url::Url;

/// A query built once: the decoded form (what CoinW signs) and the encoded form (what is
/// sent). Both keep the insertion order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Query {
    pairs: Vec<(String, String)>,
}

impl Query {
    /// An empty query.
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends `key=value`.
    pub fn push(mut self, key: &str, value: impl ToString) -> Self {
        self.pairs.push((key.to_owned(), value.to_string()));
        self
    }

    /// Appends `key=value` when `value` is `Some`.
    pub fn push_opt(self, key: &str, value: Option<impl ToString>) -> Self {
        match value {
            Some(v) => self.push(key, v),
            None => self,
        }
    }

    /// `k=v&k2=v2` with nothing escaped (the form signatures cover).
    pub fn decoded(&self) -> String {
        self.join(|s| s.to_owned())
    }

    /// `k=v&k2=v2` percent-encoded for the wire (space as `%20`).
    pub fn encoded(&self) -> String {
        self.join(encode_component)
    }

    /// True when no pair was added.
    pub fn is_empty(&self) -> bool {
        self.pairs.is_empty()
    }

    fn join(&self, f: impl Fn(&str) -> String) -> String {
        self.pairs
            .iter()
            .map(|(k, v)| format!("{}={}", f(k), f(v)))
            .collect::<Vec<_>>()
            .join("&")
    }
}

/// Percent-encodes everything but RFC 3986 unreserved characters and `:`.
fn encode_component(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' | b':' => {
                out.push(b as char)
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// `base` + `path` + `?query`, keeping any path prefix of `base`
/// (`http://host/prefix` + `/v1/x` → `http://host/prefix/v1/x`).
///
/// ```
/// use affiliate_http::{endpoint, Query, Url};
/// let base = Url::parse("http://127.0.0.1:9/mock/").unwrap();
/// let url = endpoint(&base, "/v1/items", &Query::new().push("t", "a b"));
/// assert_eq!(url.as_str(), "http://127.0.0.1:9/mock/v1/items?t=a%20b");
/// ```
pub fn endpoint(base: &Url, path: &str, query: &Query) -> Url {
    let mut url = base.clone();
    let prefix = base.path().trim_end_matches('/');
    url.set_path(&format!("{prefix}/{}", path.trim_start_matches('/')));
    let encoded = query.encoded();
    url.set_query((!encoded.is_empty()).then_some(encoded.as_str()));
    url
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decoded_and_encoded_keep_order() {
        let q = Query::new()
            .push("pageNo", 1)
            .push("startTime", "2021-09-09 13:43:18")
            .push("pagination[offset]", 0)
            .push_opt("uid", None::<u64>);
        assert_eq!(
            q.decoded(),
            "pageNo=1&startTime=2021-09-09 13:43:18&pagination[offset]=0"
        );
        assert_eq!(
            q.encoded(),
            "pageNo=1&startTime=2021-09-09%2013:43:18&pagination%5Boffset%5D=0"
        );
    }

    #[test]
    fn base_without_prefix() {
        let base = Url::parse("https://api.triport.io").unwrap();
        let url = endpoint(&base, "/v1/referrals/invitees", &Query::new());
        assert_eq!(url.as_str(), "https://api.triport.io/v1/referrals/invitees");
    }
}

//! The configured Prefactor client and its one request path.

use std::fmt;
use std::sync::Arc;

use affiliate_core::{SourceError, SourceId};
use affiliate_http::{endpoint, Fetched, HttpClient, NoHooks, Query, RequestSpec, Secret, Url};
use serde::de::DeserializeOwned;

use crate::PrefactorError;

/// The `sorting` parameter: a field and a direction, sent as `field` or `-field`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Sorting {
    /// The field sorted by (`id`, `inserted_at`, ...).
    pub field: String,
    /// Descending when true.
    pub descending: bool,
}

impl Sorting {
    /// Parses `field` / `-field`; `None` when the field is empty or not `[a-z0-9_]`.
    ///
    /// ```
    /// use affiliate_prefactor::Sorting;
    /// let s = Sorting::parse("-inserted_at").unwrap();
    /// assert_eq!((s.field.as_str(), s.descending), ("inserted_at", true));
    /// assert_eq!(s.to_string(), "-inserted_at");
    /// assert!(Sorting::parse("--id").is_none());
    /// ```
    pub fn parse(text: &str) -> Option<Self> {
        let (field, descending) = match text.strip_prefix('-') {
            Some(rest) => (rest, true),
            None => (text, false),
        };
        let valid = !field.is_empty()
            && field
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
        valid.then(|| Self {
            field: field.to_owned(),
            descending,
        })
    }

    /// `asc` or `desc`, as the response's `sorting.direction` says it.
    pub fn direction(&self) -> &'static str {
        if self.descending {
            "desc"
        } else {
            "asc"
        }
    }

    /// True for the orders in which new invites land at the end of the list: ascending
    /// `id` (PFIDs are time-ordered) or ascending `inserted_at`.
    pub fn is_creation_order(&self) -> bool {
        !self.descending && matches!(self.field.as_str(), "id" | "inserted_at")
    }
}

impl fmt::Display for Sorting {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.descending {
            f.write_str("-")?;
        }
        f.write_str(&self.field)
    }
}

/// A Prefactor account's admin user invites through
/// [`InviteeSource`](affiliate_core::InviteeSource). Built with
/// [`PrefactorBuilder`](crate::PrefactorBuilder). Cheap to clone (clones share the
/// connection pool, counters and rate limit); `Debug` never shows the token.
#[derive(Debug, Clone)]
pub struct PrefactorClient {
    pub(crate) shared: Arc<Shared>,
}

/// What every clone of one client shares.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) id: SourceId,
    pub(crate) base_url: Url,
    pub(crate) token: Secret,
    pub(crate) account_id: Option<String>,
    pub(crate) sorting: Sorting,
    pub(crate) page_size: u32,
    pub(crate) idempotency_key: Option<String>,
    pub(crate) http: HttpClient,
}

impl PrefactorClient {
    /// Provider and account label of the records.
    pub fn id(&self) -> &SourceId {
        &self.shared.id
    }

    /// The configured rows per page.
    pub fn page_size(&self) -> u32 {
        self.shared.page_size
    }

    /// The sorting sent with every request.
    pub fn sorting(&self) -> &Sorting {
        &self.shared.sorting
    }

    /// The account listed, when one was configured (otherwise the token's own).
    pub fn account_id(&self) -> Option<&str> {
        self.shared.account_id.as_deref()
    }

    /// Sends an authenticated GET of `/api/v1{path}` and decodes a success body as `T`;
    /// also returns the request label and the attempts made, for errors found in the body.
    pub(crate) async fn get_json<T: DeserializeOwned>(
        &self,
        path: &str,
        query: &Query,
    ) -> Result<Fetched<T>, SourceError> {
        let url = endpoint(&self.shared.base_url, &format!("/api/v1{path}"), query);
        let spec = RequestSpec::get(url);
        let label = spec.label();
        let spec = spec.bearer_auth(&self.shared.token).map_err(|_| {
            let err = "the token contains characters not allowed in a header";
            self.fail(PrefactorError::Config(err.into()), &label, 0)
        })?;
        self.shared
            .http
            .get_json::<T, PrefactorError>(&spec, &NoHooks)
            .await
    }

    /// Wraps an error with provider, request and attempts.
    pub(crate) fn fail(&self, err: PrefactorError, request: &str, attempts: u32) -> SourceError {
        self.shared.http.fail(err, request, attempts)
    }
}

//! The configured Triport client and its one request path.

use std::sync::Arc;

use affiliate_core::{SourceError, SourceId};
use affiliate_http::{endpoint, HeaderName, HttpClient, Query, RequestSpec, Secret, Url};
use serde::de::DeserializeOwned;

use crate::hooks::EnvelopeInSuccess;
use crate::TriportError;

/// A Triport account: invitees through [`InviteeSource`](affiliate_core::InviteeSource),
/// one user's operator view through [`TriportClient::get_user`].
/// Built with [`TriportBuilder`](crate::TriportBuilder). Cheap to clone (clones share the
/// connection pool, counters and rate limit); `Debug` never shows a credential.
#[derive(Debug, Clone)]
pub struct TriportClient {
    pub(crate) shared: Arc<Shared>,
}

/// What every clone of one client shares.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) id: SourceId,
    pub(crate) base_url: Url,
    pub(crate) session: Option<Secret>,
    pub(crate) admin_token: Option<Secret>,
    pub(crate) limit: u32,
    pub(crate) http: HttpClient,
}

/// Which credential a request carries.
pub(crate) enum Credential<'a> {
    /// `Cookie: nl_session=…`
    Session(&'a Secret),
    /// `X-Admin-Token: …`
    AdminToken(&'a Secret),
}

impl TriportClient {
    /// The configured rows per page.
    pub fn limit(&self) -> u32 {
        self.shared.limit
    }

    /// Sends a GET with `credential` and decodes a success body as `T`.
    pub(crate) async fn get_json<T: DeserializeOwned>(
        &self,
        path: &str,
        query: &Query,
        credential: Credential<'_>,
    ) -> Result<T, SourceError> {
        let spec = RequestSpec::get(endpoint(&self.shared.base_url, path, query));
        let label = spec.label();
        let spec = match credential {
            Credential::Session(s) => spec.secret_header(
                HeaderName::from_static("cookie"),
                &Secret::new(format!("nl_session={}", s.expose())),
            ),
            Credential::AdminToken(t) => {
                spec.secret_header(HeaderName::from_static("x-admin-token"), t)
            }
        }
        .map_err(|_| {
            let err = "a credential contains characters not allowed in a header";
            self.fail(TriportError::Config(err.into()), &label, 0)
        })?;
        let fetched = self
            .shared
            .http
            .get_json::<T, TriportError>(&spec, &EnvelopeInSuccess);
        Ok(fetched.await?.value)
    }

    /// Wraps an error with provider, request and attempts.
    pub(crate) fn fail(&self, err: TriportError, request: &str, attempts: u32) -> SourceError {
        self.shared.http.fail(err, request, attempts)
    }
}

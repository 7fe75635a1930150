//! The configured Census client and its one request path.

use std::sync::Arc;

use affiliate_core::{SourceError, SourceId};
use affiliate_http::{endpoint, Fetched, HttpClient, NoHooks, Query, RequestSpec, Secret, Url};
use serde::de::DeserializeOwned;

use crate::{CensusError, Order};

/// A Census organization's invitations through
/// [`InviteeSource`](affiliate_core::InviteeSource). Built with
/// [`CensusBuilder`](crate::CensusBuilder). Cheap to clone (clones share the connection
/// pool, counters and rate limit); `Debug` never shows the token.
#[derive(Debug, Clone)]
pub struct CensusClient {
    pub(crate) shared: Arc<Shared>,
}

/// What every clone of one client shares.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) id: SourceId,
    pub(crate) base_url: Url,
    pub(crate) token: Secret,
    pub(crate) per_page: u32,
    pub(crate) order: Order,
    pub(crate) http: HttpClient,
}

impl CensusClient {
    /// Provider and account label of the records.
    pub fn id(&self) -> &SourceId {
        &self.shared.id
    }

    /// The base URL requests go to (region default or override).
    pub fn base_url(&self) -> &Url {
        &self.shared.base_url
    }

    /// The configured rows per page.
    pub fn per_page(&self) -> u32 {
        self.shared.per_page
    }

    /// The configured order.
    pub fn order(&self) -> Order {
        self.shared.order
    }

    /// Sends an authenticated GET of `/api/v1{path}` and decodes a success body as `T`,
    /// with the request label and the attempts made, for errors found in the body.
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
            self.fail(CensusError::Config(err.into()), &label, 0)
        })?;
        self.shared
            .http
            .get_json::<T, CensusError>(&spec, &NoHooks)
            .await
    }

    /// Wraps an error with provider, request and attempts.
    pub(crate) fn fail(&self, err: CensusError, request: &str, attempts: u32) -> SourceError {
        self.shared.http.fail(err, request, attempts)
    }
}

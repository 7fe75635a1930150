//! The configured Census client and its one request path.

use affiliate_core::{SourceError, SourceId};
use affiliate_http::{endpoint, HttpClient, NoHooks, Query, RequestSpec, Secret, Url};
use serde::de::DeserializeOwned;

use crate::{CensusError, Order};

/// A Census organization's invitations through
/// [`InviteeSource`](affiliate_core::InviteeSource). Built with
/// [`CensusBuilder`](crate::CensusBuilder). `Debug` never shows the token.
#[derive(Debug, Clone)]
pub struct CensusClient {
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
        &self.id
    }

    /// The base URL requests go to (region default or override).
    pub fn base_url(&self) -> &Url {
        &self.base_url
    }

    /// The configured rows per page.
    pub fn per_page(&self) -> u32 {
        self.per_page
    }

    /// The configured order.
    pub fn order(&self) -> Order {
        self.order
    }

    /// Sends an authenticated GET of `/api/v1{path}` and decodes a success body as `T`;
    /// also returns the request label and the attempts made, for errors found in the body.
    pub(crate) async fn get_json<T: DeserializeOwned>(
        &self,
        path: &str,
        query: &Query,
    ) -> Result<(T, String, u32), SourceError> {
        let url = endpoint(&self.base_url, &format!("/api/v1{path}"), query);
        let spec = RequestSpec::get(url);
        let label = spec.label();
        let spec = spec.bearer_auth(&self.token).map_err(|_| {
            self.fail(
                CensusError::Config("the token contains characters not allowed in a header".into()),
                &label,
                0,
            )
        })?;
        let ok = self
            .http
            .get_json::<T, CensusError>(&spec, &NoHooks)
            .await
            .map_err(|f| self.fail(f.error, &f.request, f.attempts))?;
        Ok((ok.value, label, ok.attempts))
    }

    /// Wraps an error with provider, request and attempts.
    pub(crate) fn fail(&self, err: CensusError, request: &str, attempts: u32) -> SourceError {
        SourceError::from_adapter(self.id.provider.clone(), err)
            .with_request(request)
            .with_attempts(attempts)
    }
}

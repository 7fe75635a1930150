//! `provider = "census"` in a configuration file.

use affiliate_core::InviteeSource;
use affiliate_http::config::{
    built, ConfigIssue, Env, Issues, ProviderConfig, SecretKey, SourceConfig, SourceSettings,
};
use serde::Deserialize;

use crate::{CensusBuilder, Order, Region, MAX_PER_PAGE};

/// The variable the personal access token is read from by default.
pub const TOKEN_ENV: &str = "CENSUS_TOKEN";
/// The variable a base-URL override is read from when the file gives none.
pub const BASE_URL_ENV: &str = "CENSUS_BASE_URL";
/// The variable [`CensusBuilder::from_env`] reads the region from.
pub const REGION_ENV: &str = "CENSUS_REGION";

const TOKEN: SecretKey = SecretKey {
    key: "token_env",
    default_var: TOKEN_ENV,
    what: "the Census personal access token",
};

/// Census's own keys of a `[[source]]` (the shared ones are [`SourceSettings`]).
///
/// ```
/// use affiliate_http::config::SourceConfig;
/// use affiliate_census::CensusConfig;
///
/// let config: CensusConfig = serde_json::from_str(r#"{"region": "mars"}"#).unwrap();
/// assert_eq!(config.check()[0].key, "region");
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct CensusConfig {
    /// `us` (default) or `eu`: selects the base URL.
    pub region: Option<String>,
    /// `asc` (default: new invitations land at the end) or `desc`.
    pub order: Option<String>,
    /// Rows per page, `1..=`[`MAX_PER_PAGE`] (default [`crate::DEFAULT_PER_PAGE`]).
    pub per_page: Option<i64>,
    /// The variable holding the personal access token (default [`TOKEN_ENV`]).
    pub token_env: Option<String>,
}

impl CensusConfig {
    fn region(&self) -> Option<Result<Region, String>> {
        let text = self.region.as_deref()?;
        Some(
            text.parse::<Region>()
                .map_err(|_| format!("{text:?} is neither \"us\" nor \"eu\"")),
        )
    }

    fn order(&self) -> Option<Result<Order, String>> {
        let text = self.order.as_deref()?;
        Some(match text.to_ascii_lowercase().as_str() {
            "asc" => Ok(Order::Asc),
            "desc" => Ok(Order::Desc),
            _ => Err(format!("{text:?} is neither \"asc\" nor \"desc\"")),
        })
    }
}

impl SourceConfig for CensusConfig {
    fn check(&self) -> Vec<ConfigIssue> {
        let mut issues = Issues::new();
        issues.check_some(
            "region",
            self.region(),
            "write region = \"us\" (the default) or region = \"eu\"",
        );
        issues.check_some(
            "order",
            self.order(),
            "write order = \"asc\" (the default: new invitations land at the end) or \"desc\"",
        );
        issues.page_size("per_page", self.per_page, MAX_PER_PAGE);
        issues.secret_var(TOKEN, self.token_env.as_deref());
        issues.into_vec()
    }

    fn build(
        &self,
        settings: &SourceSettings,
        env: &dyn Env,
    ) -> Result<Box<dyn InviteeSource>, Vec<ConfigIssue>> {
        let mut issues = Issues::new();
        let token = issues.secret(env, TOKEN, self.token_env.as_deref());
        let mut builder = CensusBuilder::new();
        if let Some(Ok(region)) = self.region() {
            builder = builder.with_region(region);
        }
        let mut builder = settings.apply(builder, BASE_URL_ENV, env);
        if let Some(token) = issues.finish(token)? {
            builder = builder.with_token(token);
        }
        if let Some(Ok(order)) = self.order() {
            builder = builder.with_order(order);
        }
        if let Some(size) = self.per_page.and_then(|s| u32::try_from(s).ok()) {
            builder = builder.with_per_page(size);
        }
        Ok(Box::new(built(builder.build())?))
    }
}

impl ProviderConfig for CensusConfig {
    const NAME: &'static str = "census";
    const SECRETS: &'static [SecretKey] = &[TOKEN];
}

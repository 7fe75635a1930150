//! Configuring a [`CensusClient`].

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

use affiliate_core::Provider;
use affiliate_http::config::{Env, ProcessEnv};
use affiliate_http::{AdaptiveRate, ClientConfig, Connection, Secret, SourceBuilder};

use crate::client::Shared;
use crate::config::{BASE_URL_ENV, REGION_ENV, TOKEN_ENV};
use crate::{CensusClient, CensusError};

/// Rows per page by default: the documented maximum.
pub const DEFAULT_PER_PAGE: u32 = 100;
/// Largest `per_page` Census accepts ("It can't exceed 100").
pub const MAX_PER_PAGE: u32 = 100;

/// Where the Census organization lives; selects the base URL.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Region {
    /// `https://app.getcensus.com`.
    #[default]
    Us,
    /// `https://app-eu.getcensus.com`.
    Eu,
}

impl Region {
    /// The region's base URL (paths are appended under `/api/v1`).
    pub fn base_url(&self) -> &'static str {
        match self {
            Region::Us => "https://app.getcensus.com",
            Region::Eu => "https://app-eu.getcensus.com",
        }
    }
}

impl FromStr for Region {
    type Err = CensusError;

    /// `us` or `eu`, any case.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "us" => Ok(Region::Us),
            "eu" => Ok(Region::Eu),
            _ => Err(CensusError::Config(format!(
                "region {s:?} is neither \"us\" nor \"eu\""
            ))),
        }
    }
}

/// The `order` parameter: by creation time.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum Order {
    /// Oldest first (the default here): new invitations land at the end of the list, so
    /// pages already read do not shift.
    #[default]
    Asc,
    /// Newest first (the API's own default).
    Desc,
}

impl Order {
    /// `asc` or `desc`.
    pub fn as_str(&self) -> &'static str {
        match self {
            Order::Asc => "asc",
            Order::Desc => "desc",
        }
    }
}

impl fmt::Display for Order {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Builds a [`CensusClient`]; nothing is validated until [`CensusBuilder::build`].
///
/// ```
/// use affiliate_census::{CensusBuilder, Order, Region, SourceBuilder};
///
/// let client = CensusBuilder::new()
///     .with_token("census_pat")
///     .with_region(Region::Eu)
///     .with_order(Order::Desc)
///     .with_label("acme")
///     .build()
///     .unwrap();
/// assert_eq!(client.base_url().as_str(), "https://app-eu.getcensus.com/");
/// assert!(!format!("{client:?}").contains("census_pat"));
///
/// let err = CensusBuilder::new().with_token("t").with_per_page(101).build().unwrap_err();
/// assert!(err.to_string().contains("per_page"));
/// ```
#[derive(Debug, Clone)]
pub struct CensusBuilder {
    connection: Connection,
    /// A `CENSUS_REGION` that is neither `us` nor `eu`, reported by `build()`.
    invalid_region: Option<String>,
    token: Option<Secret>,
    per_page: u32,
    order: Order,
}

/// The transport settings a Census client starts with: Census documents no rate limit
/// for this API, so the adaptive rate ([`affiliate_http::AdaptiveRate`]) learns it: from
/// 20 requests/s up while answers are healthy, cut to 0.7× on a 429 or 503.
pub fn default_client_config() -> ClientConfig {
    ClientConfig::default().with_adaptive_rate(AdaptiveRate::default())
}

impl Default for CensusBuilder {
    fn default() -> Self {
        Self {
            connection: Connection::new(Region::Us.base_url(), default_client_config()),
            invalid_region: None,
            token: None,
            per_page: DEFAULT_PER_PAGE,
            order: Order::Asc,
        }
    }
}

impl SourceBuilder for CensusBuilder {
    fn connection(&mut self) -> &mut Connection {
        &mut self.connection
    }
}

impl CensusBuilder {
    /// Defaults: US region, `per_page` 100, `order=asc`, [`default_client_config`], no
    /// token. Paths are appended to the base URL under `/api/v1`.
    pub fn new() -> Self {
        Self::default()
    }

    /// Reads `CENSUS_TOKEN`, `CENSUS_REGION` (`us`/`eu`) and `CENSUS_BASE_URL` when set.
    /// An unrecognised region is reported by [`CensusBuilder::build`].
    pub fn from_env() -> Self {
        let env = ProcessEnv;
        let mut builder = Self::new();
        if let Some(token) = env.var(TOKEN_ENV) {
            builder = builder.with_token(token);
        }
        if let Some(region) = env.var(REGION_ENV) {
            match region.parse() {
                Ok(region) => builder = builder.with_region(region),
                // Reported by build() instead of silently using the US.
                Err(_) => builder.invalid_region = Some(region),
            }
        }
        if let Some(url) = env.var(BASE_URL_ENV) {
            builder = builder.with_base_url(url);
        }
        builder
    }

    /// Selects the region's base URL (default US). A base URL set with
    /// [`SourceBuilder::with_base_url`] wins.
    pub fn with_region(mut self, region: Region) -> Self {
        self.connection.set_default_base_url(region.base_url());
        self.invalid_region = None;
        self
    }

    /// The personal access token sent as `Authorization: Bearer …`. Invitations are an
    /// organization API: a workspace API key does not work, and the token's user must be an
    /// admin.
    pub fn with_token(mut self, token: impl Into<Secret>) -> Self {
        self.token = Some(token.into());
        self
    }

    /// Rows per page, 1..=100 (checked by [`CensusBuilder::build`]).
    pub fn with_per_page(mut self, per_page: u32) -> Self {
        self.per_page = per_page;
        self
    }

    /// Listing order by creation time (default [`Order::Asc`]).
    pub fn with_order(mut self, order: Order) -> Self {
        self.order = order;
        self
    }

    /// Validates and builds. Fails without a token, on a `per_page` outside 1..=100, an
    /// unknown `CENSUS_REGION`, an unparsable base URL, or a plain-HTTP, non-loopback base
    /// URL.
    pub fn build(self) -> Result<CensusClient, CensusError> {
        if let Some(region) = &self.invalid_region {
            return Err(CensusError::Config(format!(
                "CENSUS_REGION {region:?} is neither \"us\" nor \"eu\""
            )));
        }
        let Some(token) = self.token else {
            return Err(CensusError::MissingCredential(
                "Census personal access token (CENSUS_TOKEN)",
            ));
        };
        if !(1..=MAX_PER_PAGE).contains(&self.per_page) {
            return Err(CensusError::Config(format!(
                "per_page must be within 1..={MAX_PER_PAGE} (got {})",
                self.per_page
            )));
        }
        let connected = self.connection.open(Provider::Census, "default", true)?;
        Ok(CensusClient {
            shared: Arc::new(Shared {
                id: connected.id,
                base_url: connected.base_url,
                token,
                per_page: self.per_page,
                order: self.order,
                http: connected.http,
            }),
        })
    }
}

//! # affiliate-census
//!
//! Reads Census (now Fivetran Activations) organization invitations,
//! `GET {base}/api/v1/invitations` (seed 004), through the core page driver.
//!
//! * Auth: `Authorization: Bearer <personal access token>` (`CENSUS_TOKEN`). The seed's
//!   "basicAuth" is a rendering artifact of the Fivetran-hosted page; its own request
//!   example, and the Census reference, use Bearer.
//! * Region: [`Region::Us`] (`https://app.getcensus.com`) or [`Region::Eu`]
//!   (`https://app-eu.getcensus.com`), or any base URL.
//! * Paging: `page` (one-based), `per_page` (1..=100, default 100) and `order` (`asc` by
//!   default, so new invitations land at the end, which the listing re-reads last). The
//!   first page's `pagination.total_records` lets the driver fetch the remaining pages
//!   concurrently. Each pagination object is checked first: a page that is not the one asked
//!   for, a `per_page` other than the one sent, or a `next_page` that does not advance end
//!   the listing with [`CensusError::Pagination`] instead of a loop.
//! * Errors are undocumented: the message is the body's `message` when there is one, the
//!   raw body otherwise; 401, 403, 404, 422, 429 and 5xx are distinct variants.
//!
//! `claimed_at` set → joined, else invited; `role` is kept as sent (unknown roles too);
//! `claimed_by_id` and `associated_workspace_invitations` are kept in
//! [`Invitee::extra`](affiliate_core::Invitee::extra).
//!
//! The endpoint was deprecated upstream on 2026-05-01 in favour of Fivetran's Users API;
//! this crate stays small so a successor adapter can join it.
//!
//! ```no_run
//! use futures::TryStreamExt;
//! use affiliate_core::{InviteeSource, Scope};
//! use affiliate_census::{CensusBuilder, Region};
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! // CENSUS_TOKEN (and optionally CENSUS_REGION, CENSUS_BASE_URL) from the environment.
//! let census = CensusBuilder::from_env().with_region(Region::Eu).build()?;
//! let invitations: Vec<_> = census.invitees(Scope::full()).try_collect().await?;
//! println!("{} invitations", invitations.len());
//! # Ok(()) }
//! ```
#![warn(missing_docs, missing_debug_implementations, unreachable_pub)]
#![deny(rustdoc::broken_intra_doc_links)]

mod builder;
mod client;
mod config;
mod error;
mod invitees;

pub use affiliate_http::SourceBuilder;
pub use builder::{
    default_client_config, CensusBuilder, Order, Region, DEFAULT_PER_PAGE, MAX_PER_PAGE,
};
pub use client::CensusClient;
pub use config::{CensusConfig, BASE_URL_ENV, REGION_ENV, TOKEN_ENV};
pub use error::CensusError;

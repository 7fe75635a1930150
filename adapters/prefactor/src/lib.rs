//! # affiliate-prefactor
//!
//! Reads Prefactor's admin user invites, `GET {base}/api/v1/admin_user_invite` (seed 003),
//! through the core page driver.
//!
//! * Auth: `Authorization: Bearer <API token>` (`PREFACTOR_TOKEN`).
//! * Paging: `pagination[offset]` (zero-based) and `pagination[page_size]` (1..=100) with an
//!   explicit `sorting` (`id` by default, `-id` for descending). The response's pagination
//!   object gives `item_count`, so once the first page is in, the driver fetches the
//!   remaining pages concurrently; with the default ascending `id` order (PFIDs are
//!   time-ordered) new invites land at the end, which the driver re-reads last.
//! * Every pagination object is checked before it is trusted: negative numbers, a page that
//!   is not the one asked for, `item_start`/`item_end` that do not match the rows, or a
//!   `next_page_offset` that does not advance end the listing with
//!   [`PrefactorError::Pagination`] instead of a loop.
//! * Errors: the envelope `{status: "error", code, message}` maps one variant per documented
//!   `code` (plus `validation_errors` with its `errors` map, and unknown codes kept
//!   verbatim).
//!
//! Statuses map `pending` → invited, `used` → joined, `revoked` → revoked (anything else is
//! kept verbatim); `invite_url` and `type` are kept in [`Invitee::extra`](affiliate_core::Invitee::extra).
//!
//! ```no_run
//! use futures::TryStreamExt;
//! use affiliate_core::{InviteeSource, Scope};
//! use affiliate_prefactor::PrefactorBuilder;
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! // PREFACTOR_TOKEN (and optionally PREFACTOR_BASE_URL, PREFACTOR_ACCOUNT_ID) from the environment.
//! let prefactor = PrefactorBuilder::from_env().build()?;
//! let invites: Vec<_> = prefactor.invitees(Scope::full()).try_collect().await?;
//! println!("{} admin invites", invites.len());
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
    default_client_config, PrefactorBuilder, DEFAULT_BASE_URL, DEFAULT_PAGE_SIZE, DEFAULT_SORTING,
    MAX_IDEMPOTENCY_KEY, MAX_PAGE_SIZE,
};
pub use client::{PrefactorClient, Sorting};
pub use config::{PrefactorConfig, ACCOUNT_ID_ENV, BASE_URL_ENV, TOKEN_ENV};
pub use error::{ApiDetails, PrefactorError};

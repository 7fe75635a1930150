//! # affiliate-triport
//!
//! Reads Triport's console referrals: `GET /v1/referrals/invitees` (offset/limit, newest
//! first, no total; authenticated by the console session cookie `nl_session`) through the
//! core page driver, and the operator view `GET /v1/admin/referrals/users/{user_id}`
//! (authenticated by `X-Admin-Token`).
//!
//! ```no_run
//! use futures::TryStreamExt;
//! use affiliate_core::{InviteeSource, Scope};
//! use affiliate_triport::{SourceBuilder, TriportBuilder};
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! // TRIPORT_SESSION (and optionally TRIPORT_ADMIN_TOKEN, TRIPORT_BASE_URL) from the environment.
//! let triport = TriportBuilder::from_env().with_label("main").build()?;
//! let invitees: Vec<_> = triport.invitees(Scope::full()).try_collect().await?;
//! println!("{} invitees", invitees.len());
//! let view = triport.get_user("3f8c2a1e-9b4d-4c7a-8e21-6f0a1b2c3d4e").await?;
//! println!("{} ({} bps)", view.tier_label, view.rate_bps);
//! # Ok(()) }
//! ```
#![warn(missing_docs, missing_debug_implementations, unreachable_pub)]
#![deny(rustdoc::broken_intra_doc_links)]

mod admin;
mod builder;
mod client;
mod config;
mod error;
mod hooks;
mod invitees;

pub use admin::{Attribution, AttributionEvent, Balance, OperatorView};
pub use affiliate_http::SourceBuilder;
pub use builder::{
    default_client_config, TriportBuilder, DEFAULT_BASE_URL, DEFAULT_LIMIT, MAX_LIMIT,
};
pub use client::TriportClient;
pub use config::{TriportConfig, ADMIN_TOKEN_ENV, BASE_URL_ENV, SESSION_ENV};
pub use error::{ApiDetails, TriportError};
pub use invitees::parse_invitees;

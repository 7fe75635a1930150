//! # affiliate
//!
//! Pull referral and invitee records from many affiliate/invite APIs and get them back as
//! one clean, typed, de-duplicated stream of [`Invitee`]s.
//!
//! This facade re-exports the core model and driver ([`core`]), the shared transport
//! ([`http`]) and each provider adapter behind its own cargo feature.
//!
//! ```no_run
//! use futures::TryStreamExt;
//! use affiliate::{InviteeSource, Scope};
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let triport = affiliate::triport::TriportBuilder::from_env().build()?;
//! let mut stream = triport.invitees(Scope::full());
//! while let Some(invitee) = stream.try_next().await? {
//!     println!("{} {}", invitee.id, invitee.status);
//! }
//! # Ok(()) }
//! ```
#![warn(missing_docs, missing_debug_implementations, unreachable_pub)]
#![deny(rustdoc::broken_intra_doc_links)]

pub use affiliate_core as core;
pub use affiliate_core::{
    driver, AdapterError, Cursor, ErrorKind, Invitee, InviteeSource, InviteeStatus, Page, Position,
    Provider, Scope, SourceError, SourceId, Strategy, Window,
};
pub use affiliate_http as http;
pub use affiliate_http::SourceBuilder;

/// Triport console referrals and operator view.
#[cfg(feature = "triport")]
pub use affiliate_triport as triport;

/// CoinW partner (affiliate) invited-user list: signed requests, registration windows.
#[cfg(feature = "coinw")]
pub use affiliate_coinw as coinw;

/// Prefactor admin user invites.
#[cfg(feature = "prefactor")]
pub use affiliate_prefactor as prefactor;

/// Census (Fivetran Activations) organization invitations.
#[cfg(feature = "census")]
pub use affiliate_census as census;

/// The sync engine: many sources into one exactly-once, resumable sink.
#[cfg(feature = "sync")]
pub use affiliate_sync as sync;

/// The README's examples, compiled and run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../../../README.md")]
pub struct ReadmeDoctests;

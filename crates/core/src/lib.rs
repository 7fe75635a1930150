//! # affiliate-core
//!
//! The provider-independent heart of `affiliate`: the [`Invitee`] model every adapter
//! normalises into, the [`InviteeSource`] trait an adapter implements (one page at a time),
//! plain-data [`Cursor`]s that can be checkpointed, and the page [`driver`] that turns any
//! source into a de-duplicated [`Stream`](futures::Stream) of invitees.
//!
//! This crate does no I/O: HTTP lives in `affiliate-http`, persistence in `affiliate-sync`.
//!
//! ```
//! use affiliate_core::{Invitee, InviteeStatus, Provider, SourceId};
//!
//! let source = SourceId::new(Provider::Triport, "main");
//! let invitee = Invitee::new(source, "3f8c2a1e-9b4d-4c7a-8e21-6f0a1b2c3d4e", InviteeStatus::Joined);
//! assert_eq!(invitee.source.provider.as_str(), "triport");
//! ```
#![warn(missing_docs, missing_debug_implementations, unreachable_pub)]
#![deny(rustdoc::broken_intra_doc_links)]

mod cursor;
pub mod driver;
mod error;
mod invitee;
mod provider;
pub mod rfc3339;
mod source;
pub mod time_text;

pub use cursor::{Cursor, Position, Window};
pub use error::{AdapterError, ErrorKind, SourceError};
pub use invitee::{Invitee, InviteeStatus};
pub use provider::{Provider, SourceId};
pub use source::{InviteeSource, Page, Scope, Strategy, TransportStats};

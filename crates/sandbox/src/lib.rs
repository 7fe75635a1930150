//! # affiliate-sandbox
//!
//! Local emulators of the providers `affiliate` reads, written from the provider documents
//! (never from an adapter's types), used by tests, the demo and the benchmarks.
//!
//! Each emulator serves deterministic, seeded data of any size (rows are computed from
//! their position, never materialised as JSON), binds `127.0.0.1` on an ephemeral port,
//! and has knobs for latency, injected [`Fault`]s, [`Drift`] (sign-ups arriving at the
//! head, deletions) and a server-side [`RateLimit`]. Tests read the ground truth (and the
//! [`RequestRecord`] log) from the running emulator, and can change old records between runs.
//!
//! ```no_run
//! use affiliate_sandbox::triport::{TriportEmulator, TriportConfig};
//!
//! # async fn run() -> std::io::Result<()> {
//! let triport = TriportEmulator::start(TriportConfig::new(1_000)).await?;
//! println!("Triport on {} with session {}", triport.base_url(), triport.session());
//! assert_eq!(triport.ids_newest_first().len(), 1_000);
//! # Ok(()) }
//! ```
#![warn(missing_docs, missing_debug_implementations, unreachable_pub)]
#![deny(rustdoc::broken_intra_doc_links)]

pub mod census;
pub mod coinw;
mod dataset;
mod emulator;
mod faults;
mod generate;
pub mod prefactor;
mod ratelimit;
mod server;
mod support;
pub mod triport;

pub use dataset::{Dataset, Drift};
pub use emulator::Emulator;
pub use faults::{Fault, FaultPlan};
pub use ratelimit::{RateLimit, RequestRecord, Throttling};
pub use server::Running;

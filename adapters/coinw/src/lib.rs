//! # affiliate-coinw
//!
//! Reads CoinW's affiliate endpoint "Get Directly Invited User List",
//! `GET /api/v3/patener/openapi/v1/partner/invitation/user/list`, through the core page
//! driver:
//!
//! * every request is **signed** per attempt ([`signing`]): `Base64(HMAC-SHA256(secret,
//!   timestamp + "GET" + path + "?" + decoded query))` in the headers `api_key`, `timestamp`
//!   and `sign`; the timestamp follows CoinW's clock as its answers' `Date` header shows it
//!   (a local clock up to 10 minutes off is corrected for, and a request refused as stale
//!   after the estimate moved is signed again);
//! * a listing covers `[since, until]`, `until` frozen when it is planned, split into
//!   registration-time **windows** ([`window`]; calendar months in the provider's offset by
//!   default), each an independent slice paged with `pageNo`/`pageSize` whose first page's
//!   `total` drives concurrent fetching of the rest; planning splits windows holding more
//!   than a cap;
//! * CoinW's zone-less times are read and written in a **required** UTC offset ([`zone`]);
//! * `code` (string or number) is mapped to [`CoinwError`]; the throttling code `29001`
//!   inside an HTTP 200 is retried by the transport with backoff.
//!
//! ```no_run
//! use futures::TryStreamExt;
//! use affiliate_core::{InviteeSource, Scope};
//! use affiliate_coinw::{CoinwBuilder, SourceBuilder};
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! // COINW_API_KEY and COINW_SECRET_KEY (optionally COINW_BASE_URL) from the environment.
//! let coinw = CoinwBuilder::from_env()
//!     .with_utc_offset("+08:00")
//!     .with_label("main")
//!     .build()?;
//! let invitees: Vec<_> = coinw.invitees(Scope::full()).try_collect().await?;
//! for invitee in &invitees {
//!     println!("{} joined {:?}", invitee.id, invitee.joined_at);
//! }
//! # Ok(()) }
//! ```
//!
//! ## Design notes
//!
//! * **Time zone.** `registerTime`, `startTime` and `endTime` carry no zone and CoinW
//!   documents none, so [`CoinwBuilder::build`] refuses to run without an offset
//!   ([`CoinwBuilder::with_utc_offset`]); there is no silent default.
//! * **Windows.** Calendar windows in that offset (one month by default,
//!   [`WindowLength`]), inclusive edges one second apart (CoinW's times have second
//!   resolution), newest first. `until` is frozen when a listing is planned: sign-ups stamped
//!   later belong to the next run. A CoinW clock running *behind* ours could stamp a sign-up
//!   made during the run inside the newest window; the driver extends a window's plan when
//!   a later page reports a larger total, and re-reads a window whose total changed.
//! * **Split cap.** The core driver cannot split a slice once it runs, so splitting happens
//!   while planning: [`InviteeSource::plan`](affiliate_core::InviteeSource::plan) probes
//!   `total` with `pageSize=1` requests top-down (the whole range, then runs of it cut
//!   along window edges) until a run of windows holds at most
//!   [`CoinwBuilder::with_split_cap`] rows (read as one slice) or none (dropped), and halves
//!   a single window above the cap recursively. The newest window is always a slice of
//!   its own (the listing reads it again at the end for sign-ups made meanwhile). A sparse history (100,000 rows over 276
//!   monthly windows) plans in about 22 probes and reads in about 100 full pages, where a
//!   probe and a page per month took 552 requests. [`CoinwClient::probe_windows`] returns the planned windows and their sizes,
//!   for callers who want to see them before reading.
//! * **Sanity check.** A row registered outside the requested window fails the page
//!   ([`CoinwError::OutsideWindow`]): it would mean the server ignored the window, and
//!   windows could then no longer guarantee each record once.
//! * **Throttling.** `29001` arrives in an HTTP 200; the signing hook's body check makes the
//!   transport retry it with jittered exponential backoff (each attempt re-signed with a
//!   fresh timestamp), and halves the adaptive rate ([`default_adaptive_rate`]: from
//!   10 requests/s, never above [`MAX_RATE`]), because CoinW escalates repeated throttling
//!   to bans.
#![warn(missing_docs, missing_debug_implementations, unreachable_pub)]
#![deny(rustdoc::broken_intra_doc_links)]

mod builder;
mod client;
mod config;
mod error;
mod invitees;
mod sign;
mod skew;
pub mod window;
pub mod zone;

/// Request signing (the clock it reads is [`Clock`]).
pub mod signing {
    pub use crate::sign::{prehash, sign};
}

pub use affiliate_http::SourceBuilder;
pub use builder::{
    default_adaptive_rate, default_client_config, default_since_date, CoinwBuilder,
    DEFAULT_BASE_URL, DEFAULT_PAGE_SIZE, DEFAULT_SPLIT_CAP, MAX_PAGE_SIZE, MAX_RATE,
};
pub use client::{CoinwClient, LIST_PATH};
pub use config::{
    CoinwConfig, NumberOrText, API_KEY_ENV, BASE_URL_ENV, SECRET_KEY_ENV, UTC_OFFSET_ENV,
};
pub use error::CoinwError;
pub use invitees::ProbedWindow;
pub use sign::{Clock, FixedClock, SystemClock};
pub use window::WindowLength;

//! What every emulator exposes to tests, so one conformance suite can drive them all.

use crate::{Drift, FaultPlan, RateLimit, RequestRecord, Throttling};

/// The test-facing surface shared by every provider emulator.
pub trait Emulator: Send + Sync {
    /// `http://127.0.0.1:PORT` (the adapter's base-URL override).
    fn base_url(&self) -> String;
    /// Ground truth: the provider ids of every live record, in the provider's default order.
    fn ids(&self) -> Vec<String>;
    /// Adds `count` records now, where the provider puts new ones (the newest).
    fn insert_newest(&self, count: u64);
    /// Deletes the record at 0-based position `n` of [`Emulator::ids`]; false if none.
    fn delete_at(&self, n: u64) -> bool;
    /// Replaces the fault plan.
    fn set_faults(&self, faults: FaultPlan);
    /// Replaces the drift applied after each list request.
    fn set_drift(&self, drift: Drift);
    /// Serves at most `rows` rows a page whatever the request asks, without saying so
    /// (`None`: what is asked); see [`Dataset::set_page_clamp`](crate::Dataset::set_page_clamp).
    fn set_page_clamp(&self, rows: Option<u64>);
    /// Replaces the server-side rate limit (`None`: unlimited); every bucket starts full.
    fn set_rate_limit(&self, limit: Option<RateLimit>);
    /// Every request received so far, as `METHOD /path?query` (throttled ones included).
    fn requests(&self) -> Vec<String>;
    /// Every request received so far with its arrival time and whether the rate limit
    /// answered it, in arrival order.
    fn request_log(&self) -> Vec<RequestRecord>;
    /// How many requests the rate limit served and how many it throttled.
    fn throttling(&self) -> Throttling;
}

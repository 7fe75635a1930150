//! The rate every request of one credential shares: a policy ([`RatePolicy`]: adaptive,
//! fixed or none), the limiter that enforces it ([`RateLimiter`]), and what it reports
//! ([`RateStats`]).
//!
//! Whatever the policy, the limiter honours what the server says: a `Retry-After` on a
//! throttling answer, or a quota header announcing nothing left, holds back **every**
//! request of the credential until the time named (capped by the retry policy's
//! `max_retry_after`), not only the retry of the request that was refused.

mod adaptive;
mod bucket;
mod quota_headers;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, SystemTime};

use reqwest::header::HeaderMap;
use tokio::time::Instant;

pub use adaptive::AdaptiveRate;

use adaptive::Controller;
use bucket::Bucket;
use quota_headers::QuotaHeaders;

/// Sustained rate plus burst, as providers document their limits.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RateLimit {
    /// Requests per second on average.
    pub per_second: f64,
    /// Requests allowed back to back after a quiet spell.
    pub burst: u32,
}

impl RateLimit {
    /// `per_second` sustained with a burst of `burst`.
    pub fn new(per_second: f64, burst: u32) -> Self {
        Self { per_second, burst }
    }
}

/// How fast one credential's requests may go.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum RatePolicy {
    /// Learn the rate from the answers (the default; see [`AdaptiveRate`]).
    Adaptive(AdaptiveRate),
    /// A fixed cap (`rate_limit = N` in a configuration file).
    Fixed(RateLimit),
    /// No client-side pacing beyond what the server's `Retry-After` asks (tests, emulators).
    Unlimited,
}

impl Default for RatePolicy {
    fn default() -> Self {
        Self::Adaptive(AdaptiveRate::default())
    }
}

/// What the limiter has done so far, for run reports.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
#[non_exhaustive]
pub struct RateStats {
    /// The rate requests are paced at now (`None`: unlimited).
    pub per_second: Option<f64>,
    /// Answers that said "too fast" (429, 503, or an adapter's throttling body).
    pub throttled: u64,
}

/// What one answer tells the limiter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Signal {
    /// A success: the rate may grow.
    Healthy,
    /// Too fast: cut the rate.
    Throttled,
    /// Neither (another error, a transport failure).
    Neutral,
}

/// The rate limiter shared by every request made with one credential.
#[derive(Debug)]
pub struct RateLimiter {
    policy: RatePolicy,
    origin: Instant,
    throttled: AtomicU64,
    state: Mutex<State>,
}

#[derive(Debug)]
struct State {
    bucket: Option<Bucket>,
    controller: Option<Controller>,
    /// No request leaves before this (a `Retry-After`, or a quota with nothing left).
    paused_until: Option<Instant>,
    /// A rate the server's quota headers allow until the window resets (what is left over
    /// the time to the reset).
    quota_cap: Option<(f64, Instant)>,
    /// The sustained rate of the server's announced policy (quota over window), once seen.
    policy_cap: Option<f64>,
}

impl RateLimiter {
    /// A limiter for `policy`. A fixed limit starts with its burst available; an adaptive
    /// one with a tenth of a second's worth.
    pub fn new(policy: RatePolicy) -> Self {
        let (bucket, controller) = match policy {
            RatePolicy::Unlimited => (None, None),
            RatePolicy::Fixed(limit) => (Some(Bucket::full(limit.per_second, limit.burst)), None),
            RatePolicy::Adaptive(config) => {
                let controller = Controller::new(config);
                let rate = controller.rate();
                (
                    Some(Bucket::full(rate, adaptive_burst(rate))),
                    Some(controller),
                )
            }
        };
        Self {
            policy,
            origin: Instant::now(),
            throttled: AtomicU64::new(0),
            state: Mutex::new(State {
                bucket,
                controller,
                paused_until: None,
                quota_cap: None,
                policy_cap: None,
            }),
        }
    }

    /// The policy it enforces.
    pub fn policy(&self) -> RatePolicy {
        self.policy
    }

    /// The current rate and the throttling answers seen.
    pub fn stats(&self) -> RateStats {
        let state = self.lock();
        RateStats {
            per_second: state.bucket.as_ref().map(Bucket::per_second),
            throttled: self.throttled.load(Ordering::Relaxed),
        }
    }

    /// Waits until one more request may be sent; returns when it left.
    pub async fn acquire(&self) -> Instant {
        loop {
            let wait = {
                let mut state = self.lock();
                let now = Instant::now();
                let at = self.seconds(now);
                match state.wait(now, at) {
                    None => {
                        if let Some(c) = state.controller.as_mut() {
                            c.on_send(at);
                        }
                        return now;
                    }
                    Some(wait) => wait,
                }
            };
            tokio::time::sleep(wait).await;
        }
    }

    /// What the answer to a request that left at `sent` said, and the pause (a throttle's
    /// `Retry-After`) every request of the credential then waits for.
    pub(crate) fn feedback(&self, sent: Instant, signal: Signal, pause: Option<Duration>) {
        if signal == Signal::Throttled {
            self.throttled.fetch_add(1, Ordering::Relaxed);
        }
        if let Some(wait) = pause {
            self.pause(wait);
        }
        let (sent, now) = (self.seconds(sent), self.seconds(Instant::now()));
        let mut state = self.lock();
        let Some(controller) = state.controller.as_mut() else {
            return;
        };
        let cut = match signal {
            Signal::Healthy => {
                controller.on_healthy(now);
                false
            }
            Signal::Throttled => controller.on_throttle(sent, now, pause.map(|p| p.as_secs_f64())),
            Signal::Neutral => return,
        };
        state.follow_controller(cut);
    }

    /// Holds every request back for `wait` (a `Retry-After`).
    pub(crate) fn pause(&self, wait: Duration) {
        let until = Instant::now() + wait;
        let at = self.seconds(until);
        let mut state = self.lock();
        state.paused_until = Some(state.paused_until.map_or(until, |p| p.max(until)));
        if let Some(controller) = state.controller.as_mut() {
            controller.on_pause(at);
        }
    }

    /// Reads the quota headers of an answer: nothing left pauses until the reset (at most
    /// `max_wait`); an adaptive rate also keeps under what is left until then, and under the
    /// policy's rate when the server names one.
    pub(crate) fn observe_quota(&self, headers: &HeaderMap, max_wait: Duration) {
        let Some(quota) = QuotaHeaders::read(headers, SystemTime::now()) else {
            return;
        };
        let reset = quota.reset.map(|r| r.min(max_wait));
        if let (Some(0), Some(reset)) = (quota.remaining, reset) {
            self.pause(reset);
            return;
        }
        let mut state = self.lock();
        if let (Some(left), Some(reset)) = (quota.remaining, reset) {
            if !reset.is_zero() {
                let allowed = left as f64 / reset.as_secs_f64();
                state.quota_cap = Some((allowed, Instant::now() + reset));
            }
        }
        state.policy_cap = quota.policy_rate.or(state.policy_cap);
        state.follow_controller(false);
    }

    fn seconds(&self, at: Instant) -> f64 {
        at.saturating_duration_since(self.origin).as_secs_f64()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
impl RateLimiter {
    /// The wait the limiter chooses for a request sent now (taking its token when it need
    /// not wait): tests check the delay itself instead of a clock's progress.
    pub(crate) fn next_wait(&self) -> Option<Duration> {
        let now = Instant::now();
        self.lock().wait(now, self.seconds(now))
    }
}

impl State {
    /// How long the next request must wait (taking its token when it need not); `at` is
    /// `now` on the controller's clock.
    fn wait(&mut self, now: Instant, at: f64) -> Option<Duration> {
        if let Some(until) = self.paused_until {
            if until > now {
                return Some(until - now);
            }
            self.paused_until = None;
        }
        if self.quota_cap.is_some_and(|(_, until)| until <= now) {
            self.quota_cap = None;
            self.follow_controller(false);
        }
        let wait = self.bucket.as_ref().and_then(|b| b.try_take().err());
        if wait.is_some() {
            if let Some(c) = self.controller.as_mut() {
                c.on_wait(at);
            }
        }
        wait
    }

    /// Paces at the controller's rate under the quota's caps (nothing to do for a fixed or
    /// no limit): a new, empty bucket when the rate was `cut` or moved by more than 5 %, so
    /// small steps do not churn buckets.
    fn follow_controller(&mut self, cut: bool) {
        let Some(rate) = self.controller.as_ref().map(Controller::rate) else {
            return;
        };
        let caps = [self.quota_cap.map(|(cap, _)| cap), self.policy_cap];
        let rate = caps.into_iter().flatten().fold(rate, f64::min);
        let current = self.bucket.as_ref().map_or(0.0, Bucket::per_second);
        // Empty even when the rate grew: a bucket handing out a token at once on every
        // rebuild let CoinW's climb after a throttle run ahead of its rate, and its served
        // rate at R = 50 fell from 0.87 R to 0.76 R (measured in BENCHMARKS.md).
        if cut || (rate - current).abs() > 0.05 * current {
            self.bucket = Some(Bucket::empty(rate, adaptive_burst(rate)));
        }
    }
}

/// An adaptive bucket's burst: a tenth of a second's worth, at least one.
fn adaptive_burst(rate: f64) -> u32 {
    (rate / 10.0).round().clamp(1.0, 1000.0) as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Sends `count` requests as fast as the limiter lets them, each answered healthily.
    async fn send_healthy(limiter: &RateLimiter, count: u32) {
        for _ in 0..count {
            let at = limiter.acquire().await;
            limiter.feedback(at, Signal::Healthy, None);
        }
    }

    fn rate(limiter: &RateLimiter) -> f64 {
        limiter.stats().per_second.expect("a paced rate")
    }

    #[tokio::test(start_paused = true)]
    async fn fixed_burst_then_sustained_rate() {
        let limiter = RateLimiter::new(RatePolicy::Fixed(RateLimit::new(10.0, 5)));
        for _ in 0..5 {
            assert_eq!(limiter.next_wait(), None, "the burst is free");
        }
        assert_eq!(
            limiter.next_wait(),
            Some(Duration::from_millis(100)),
            "then one token per 100 ms"
        );
        tokio::time::advance(Duration::from_millis(100)).await;
        assert_eq!(limiter.next_wait(), None);
        assert_eq!(limiter.stats().per_second, Some(10.0));
    }

    #[tokio::test(start_paused = true)]
    async fn adaptive_grows_while_healthy_and_cuts_on_a_throttle() {
        let limiter = RateLimiter::new(RatePolicy::default());
        assert_eq!(rate(&limiter), 20.0, "the safe start");
        send_healthy(&limiter, 100).await;
        let grown = rate(&limiter);
        assert!(grown > 40.0, "100 healthy answers while paced: {grown}");
        let before = limiter.stats().per_second.unwrap();
        let at = limiter.acquire().await;
        limiter.feedback(at, Signal::Throttled, None);
        let cut = limiter.stats().per_second.unwrap();
        // The bucket follows the controller within 5 %, so `before` may lag it that much.
        assert!(cut <= before * 0.7 * 1.05, "cut to 0.7×: {before} → {cut}");
        limiter.feedback(at, Signal::Throttled, None);
        let after = limiter.stats();
        assert_eq!(after.throttled, 2, "every throttling answer is counted");
        assert_eq!(
            after.per_second,
            Some(cut),
            "the second answer of the burst did not cut again"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_pause_holds_every_request_even_unlimited_ones() {
        let limiter = RateLimiter::new(RatePolicy::Unlimited);
        assert_eq!(limiter.next_wait(), None);
        limiter.pause(Duration::from_secs(1));
        assert_eq!(limiter.next_wait(), Some(Duration::from_secs(1)));
        limiter.pause(Duration::from_millis(10));
        assert_eq!(
            limiter.next_wait(),
            Some(Duration::from_secs(1)),
            "a shorter pause does not cut a longer one short"
        );
        tokio::time::advance(Duration::from_secs(1)).await;
        assert_eq!(limiter.next_wait(), None);
        assert_eq!(limiter.stats().per_second, None);
    }

    #[tokio::test(start_paused = true)]
    async fn an_exhausted_quota_pauses_until_its_reset() {
        let limiter = RateLimiter::new(RatePolicy::Unlimited);
        let mut h = HeaderMap::new();
        h.insert("x-ratelimit-remaining", "0".parse().unwrap());
        h.insert("x-ratelimit-reset", "3".parse().unwrap());
        limiter.observe_quota(&h, Duration::from_secs(60));
        assert_eq!(limiter.next_wait(), Some(Duration::from_secs(3)));
        h.insert("x-ratelimit-reset", "3600".parse().unwrap());
        limiter.observe_quota(&h, Duration::from_secs(60));
        assert_eq!(
            limiter.next_wait(),
            Some(Duration::from_secs(60)),
            "capped at max_wait"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn an_adaptive_rate_keeps_under_what_the_quota_has_left_and_its_policy() {
        let limiter = RateLimiter::new(RatePolicy::default());
        let mut h = HeaderMap::new();
        h.insert("ratelimit-remaining", "4".parse().unwrap());
        h.insert("ratelimit-reset", "2".parse().unwrap());
        h.insert("ratelimit-policy", "100;w=10".parse().unwrap());
        limiter.observe_quota(&h, Duration::from_secs(60));
        assert_eq!(
            rate(&limiter),
            2.0,
            "4 left over 2 s, under the policy's 10/s"
        );
        tokio::time::advance(Duration::from_secs(3)).await;
        limiter.next_wait();
        assert_eq!(
            rate(&limiter),
            10.0,
            "past the reset, the policy's rate still holds"
        );
    }
}

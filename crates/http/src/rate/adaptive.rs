//! How fast to go when nobody says: the adaptive rate's settings ([`AdaptiveRate`]) and
//! its controller, which is pure arithmetic on a clock reading so it can be tested exactly.
//!
//! # Why this algorithm
//!
//! Three designs were weighed:
//!
//! * The **AWS SDKs' `adaptive` retry mode**: a token bucket whose fill rate follows CUBIC
//!   (the TCP congestion-control curve) on throttling answers: cut to β × the rate at the
//!   throttle, climb back along a cubic that is flat near the old rate (so it stays just under
//!   a limit it found) and convex beyond it (so it finds a raised limit quickly), and never
//!   more than twice the rate actually sent.
//! * **Netflix `concurrency-limits`** (AIMD, Gradient2): they limit *concurrency* from
//!   latency. Our pages are already pipelined by a bounded driver, and the APIs here limit
//!   *requests per second per credential*, so a latency signal would mostly measure the
//!   server's load, not its quota.
//! * **Google SRE, client-side throttling**: reject locally with probability
//!   `max(0, (requests − K·accepts) / (requests + 1))`. It protects an overloaded backend
//!   from a fleet of clients, but a batch sync has no request it may drop: every page must be
//!   fetched, so it must be *delayed*, which is what a bucket does.
//!
//! So the limiter is AWS's design with four changes. It starts at a safe rate and, until the
//! first throttle, grows like TCP slow start (each healthy answer adds
//! [`AdaptiveRate::slow_start_step`] requests/s, so the rate multiplies while the server keeps
//! up) instead of running unlimited until the first throttle. CUBIC's constant is scaled
//! by the throttled rate, so the climb back takes [`AdaptiveRate::recovery`] whatever the
//! rate (AWS's fixed constant takes 2 s back to 10 requests/s but 7 s back to 400). A cut
//! starts from what the server accepted (healthy answers counted since the last pause), not
//! from a rate that overshot it. And a throttle naming a pause (`Retry-After`) costs that
//! whole pause, so the climb after it lasts at least eight pauses and levels off a tenth
//! under what the server accepted: throttles come further apart (measured against a 50/s
//! server answering `Retry-After: 1`: 0.84 R served with a 4 s climb, 0.82-0.88 R with
//! eight pauses, 0.88-0.91 R with the plateau a tenth under).
//! A burst of throttling answers to requests that were already in flight cuts once.
//! The bucket itself is [`governor`]'s.

use std::time::Duration;

/// The adaptive rate's settings: where it starts, how it grows, how hard it cuts.
///
/// ```
/// use std::time::Duration;
/// use affiliate_http::AdaptiveRate;
///
/// // Stay under 50 requests/s whatever the server allows; halve on every throttle.
/// let careful = AdaptiveRate::default().with_ceiling(50.0).with_backoff(0.5);
/// assert_eq!(careful.ceiling, Some(50.0));
/// assert_eq!(careful.recovery, Duration::from_secs(4));
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
pub struct AdaptiveRate {
    /// Requests per second before anything was learnt (default 20).
    pub initial: f64,
    /// Never faster than this (default none: as fast as the server answers healthily).
    pub ceiling: Option<f64>,
    /// Never slower than this (default 0.5 requests/s).
    pub floor: f64,
    /// The fraction of the rate kept on a throttling answer, β (default 0.7, as AWS).
    pub backoff: f64,
    /// How long the climb back to the rate that was throttled takes (default 4 s).
    pub recovery: Duration,
    /// Requests/s added per healthy answer before the first throttle (default 14): while
    /// the rate holds requests back, every answer adding 14 doubles it about every 50 ms
    /// (TCP's slow start doubles per round trip), so a listing at 20 ms and 8 in flight
    /// reaches the 400/s it can use in about a quarter of a second. The cap of twice the
    /// send rate measured per 0.1 s keeps a rate nobody uses from growing.
    pub slow_start_step: f64,
}

impl Default for AdaptiveRate {
    fn default() -> Self {
        Self {
            initial: 20.0,
            ceiling: None,
            floor: 0.5,
            backoff: 0.7,
            recovery: Duration::from_secs(4),
            slow_start_step: 14.0,
        }
    }
}

impl AdaptiveRate {
    /// Starts at `per_second`.
    pub fn with_initial(mut self, per_second: f64) -> Self {
        self.initial = per_second;
        self
    }

    /// Never faster than `per_second`.
    pub fn with_ceiling(mut self, per_second: f64) -> Self {
        self.ceiling = Some(per_second);
        self
    }

    /// Keeps `fraction` of the rate on a throttling answer (clamped to 0.1..=0.95).
    pub fn with_backoff(mut self, fraction: f64) -> Self {
        self.backoff = fraction;
        self
    }

    /// Takes `recovery` to climb back to the throttled rate.
    pub fn with_recovery(mut self, recovery: Duration) -> Self {
        self.recovery = recovery;
        self
    }

    /// Adds `per_answer` requests/s per healthy answer until the first throttle.
    pub fn with_slow_start_step(mut self, per_answer: f64) -> Self {
        self.slow_start_step = per_answer;
        self
    }

    /// The settings with every number in a usable range.
    fn sane(self) -> Self {
        let positive = |v: f64, or: f64| if v.is_finite() && v > 0.0 { v } else { or };
        let floor = positive(self.floor, 0.5);
        let ceiling = self.ceiling.map(|c| positive(c, floor).max(floor));
        let initial = positive(self.initial, 20.0).max(floor);
        Self {
            initial: ceiling.map_or(initial, |c| initial.min(c)),
            ceiling,
            floor,
            backoff: if self.backoff.is_finite() {
                self.backoff.clamp(0.1, 0.95)
            } else {
                0.7
            },
            recovery: self.recovery.max(Duration::from_millis(100)),
            slow_start_step: positive(self.slow_start_step, 0.0),
        }
    }
}

/// How many of a throttle's named pauses the climb back to the throttled rate lasts at
/// least (see [`Controller::on_throttle`]).
const PAUSES_PER_RECOVERY: f64 = 8.0;

/// Where the climb after a throttle naming a pause levels off, as a fraction of what the
/// server accepted before it. Reaching the limit again costs a whole pause (50 requests at
/// 50/s behind a `Retry-After: 1`), staying a tenth under it costs a tenth, and CUBIC's
/// convex part past the plateau still finds a raised limit. Measured against a 50/s server
/// answering `Retry-After: 1`: plateau at the accepted rate 0.82-0.85 R (four runs), at
/// 0.95 of it 0.86 (three), at 0.9 of it 0.88-0.91 (four); against 400/s, 0.93 / 0.92 /
/// 0.91 (0.91 twice).
const PAUSED_PLATEAU: f64 = 0.9;

/// The send rate actually achieved: requests per bucket of `bucket` seconds, smoothed
/// (AWS's `measured_tx_rate`, per half second).
#[derive(Debug, Clone, Copy)]
struct Meter {
    bucket: f64,
    bucket_start: f64,
    count: u32,
    rate: f64,
    /// Whether a bucket closed since the last restart: the rate measures the time since.
    fresh: bool,
}

impl Meter {
    const SMOOTH: f64 = 0.8;

    /// Drops the bucket being counted and starts the next one at `at`, keeping the rate;
    /// events before `at` are not counted.
    fn restart_at(&mut self, at: f64) {
        self.bucket_start = self.bucket_start.max(at);
        self.count = 0;
        self.fresh = false;
    }

    fn new(bucket: f64) -> Self {
        Self {
            bucket,
            bucket_start: 0.0,
            count: 0,
            rate: 0.0,
            fresh: false,
        }
    }

    fn record(&mut self, now: f64) {
        if now < self.bucket_start {
            return;
        }
        self.count += 1;
        let elapsed = now - self.bucket_start;
        if elapsed >= self.bucket {
            let current = f64::from(self.count) / elapsed;
            self.rate = if self.rate == 0.0 {
                current
            } else {
                Self::SMOOTH * current + (1.0 - Self::SMOOTH) * self.rate
            };
            self.bucket_start = now;
            self.count = 0;
            self.fresh = true;
        }
    }
}

/// Where the controller is: growing from the start, or climbing back after a throttle.
#[derive(Debug, Clone, Copy)]
enum Phase {
    SlowStart,
    /// `w_max` was the rate when the throttle came `at` (seconds on the controller's clock);
    /// the climb back to it takes `recovery` seconds.
    Cubic {
        w_max: f64,
        at: f64,
        recovery: f64,
    },
}

/// The adaptive rate over time; times are seconds since the limiter was made.
#[derive(Debug, Clone)]
pub(crate) struct Controller {
    config: AdaptiveRate,
    rate: f64,
    phase: Phase,
    /// The send rate per half second: caps the climb after a throttle, as AWS's does.
    meter: Meter,
    /// The send rate per tenth of a second: caps the slow start, which doubles every 50 ms
    /// and would outrun a half-second measurement.
    fast_meter: Meter,
    /// Healthy answers per tenth of a second: what the server accepted just before a
    /// throttle ends the slow start.
    accepted: Meter,
    /// Healthy answers per half second: what the server accepted just before a later
    /// throttle, steadier than the tenth-second count at the rates CUBIC climbs at.
    accepted_steady: Meter,
    /// When the rate was last cut: answers to requests sent before it do not cut again.
    cut_at: f64,
    /// When a request last had to wait for the bucket: the rate only grows while it is the
    /// bottleneck (RFC 7661's rule for an application-limited sender).
    limited_at: f64,
}

impl Controller {
    pub(crate) fn new(config: AdaptiveRate) -> Self {
        let config = config.sane();
        Self {
            rate: config.initial,
            config,
            phase: Phase::SlowStart,
            meter: Meter::new(0.5),
            fast_meter: Meter::new(0.1),
            accepted: Meter::new(0.1),
            accepted_steady: Meter::new(0.5),
            cut_at: f64::NEG_INFINITY,
            limited_at: f64::NEG_INFINITY,
        }
    }

    /// The rate to send at now.
    pub(crate) fn rate(&self) -> f64 {
        self.rate
    }

    /// A request left at `now`.
    pub(crate) fn on_send(&mut self, now: f64) {
        self.meter.record(now);
        self.fast_meter.record(now);
    }

    /// Every request waits until `until` (a `Retry-After`): the accepted counts start a new
    /// bucket there, so a measurement never spans the pause (it would read as a server that
    /// accepted a fraction of what it does).
    pub(crate) fn on_pause(&mut self, until: f64) {
        for meter in [&mut self.accepted, &mut self.accepted_steady] {
            meter.restart_at(until);
        }
    }

    /// A request had to wait for its token at `now`: the rate is what holds the sender back.
    pub(crate) fn on_wait(&mut self, now: f64) {
        self.limited_at = now;
    }

    /// A healthy answer arrived at `now`: grow, if the rate was holding the sender back
    /// within the last second.
    pub(crate) fn on_healthy(&mut self, now: f64) {
        self.accepted.record(now);
        self.accepted_steady.record(now);
        if now - self.limited_at > 1.0 {
            return;
        }
        let (target, meter) = match self.phase {
            Phase::SlowStart => (self.rate + self.config.slow_start_step, &self.fast_meter),
            Phase::Cubic {
                w_max,
                at,
                recovery: k,
            } => {
                let scale = (1.0 - self.config.backoff) / k.powi(3);
                (w_max * (1.0 + scale * (now - at - k).powi(3)), &self.meter)
            }
        };
        // Never grow past twice what was actually sent (once a bucket was measured):
        // a rate nobody uses is not evidence. The cap only holds growth back; it never
        // lowers the rate, since a pause (a Retry-After) also lowers the measurement.
        let used = match meter.rate {
            0.0 => f64::INFINITY,
            measured => (2.0 * measured).max(self.config.initial),
        };
        self.rate = self.clamp(self.rate.max(target.min(used)));
    }

    /// A throttling answer to a request sent at `sent` arrived at `now`, naming a `pause`
    /// (its `Retry-After`, in seconds) or none. Returns true when it cut the rate (false: an
    /// earlier answer of the same burst already did).
    ///
    /// A throttle that names a pause costs the whole pause (no request may leave sooner), so
    /// the climb back takes at least [`PAUSES_PER_RECOVERY`] pauses: throttles come that much
    /// further apart, and the pauses stay a small share of the time.
    pub(crate) fn on_throttle(&mut self, sent: f64, now: f64, pause: Option<f64>) -> bool {
        if sent <= self.cut_at {
            return false;
        }
        // AWS takes min(measured send rate, rate) here. We take min(rate, what the server
        // accepted): a rate past what was answered healthily is an overshoot (a slow start
        // doubling every 50 ms runs far past the limit before the first throttle returns,
        // and a climb above a limit drains the server's burst before it says so), and
        // cutting from it would land CUBIC's plateau above the limit, throttled again soon.
        let accepted = match self.phase {
            Phase::SlowStart => &self.accepted,
            Phase::Cubic { .. } => &self.accepted_steady,
        };
        // Only a count since the last pause says what the server accepts now.
        let w_max = if accepted.fresh {
            self.rate.min(accepted.rate)
        } else {
            self.rate
        };
        let w_max = match pause {
            Some(_) => w_max * PAUSED_PLATEAU,
            None => w_max,
        };
        self.rate = self.clamp(w_max * self.config.backoff);
        let recovery = self.config.recovery.as_secs_f64();
        self.phase = Phase::Cubic {
            w_max,
            at: now,
            recovery: pause.map_or(recovery, |p| recovery.max(PAUSES_PER_RECOVERY * p)),
        };
        self.cut_at = now;
        true
    }

    fn clamp(&self, rate: f64) -> f64 {
        let capped = self.config.ceiling.map_or(rate, |c| rate.min(c));
        capped.max(self.config.floor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Sends as fast as the rate allows (every request waits for its token) and gets healthy
    /// answers, for `secs` seconds from `from`.
    fn run(c: &mut Controller, from: f64, secs: f64) -> f64 {
        let mut t = from;
        while t < from + secs {
            c.on_wait(t);
            c.on_send(t);
            c.on_healthy(t);
            t += 1.0 / c.rate();
        }
        t
    }

    #[test]
    fn slow_start_multiplies_while_answers_are_healthy() {
        let mut c = Controller::new(AdaptiveRate::default());
        assert_eq!(c.rate(), 20.0);
        run(&mut c, 0.0, 1.0);
        assert!(
            c.rate() > 20.0 * 2f64.powi(8),
            "doubling about every 50-100 ms (the measured cap) for a second: {}",
            c.rate()
        );
    }

    #[test]
    fn a_rate_nobody_waits_for_does_not_grow() {
        let mut c = Controller::new(AdaptiveRate::default());
        // Answers arrive, but only 5 requests a second leave (the caller is the bottleneck).
        for i in 0..100 {
            let t = f64::from(i) * 0.2;
            c.on_send(t);
            c.on_healthy(t);
        }
        assert_eq!(c.rate(), 20.0, "stayed at the start");
    }

    #[test]
    fn a_rate_stops_growing_once_the_sent_rate_is_measured() {
        let mut c = Controller::new(AdaptiveRate::default());
        // Every request waits, but answers keep coming faster than requests leave (a test
        // of the cap alone): 10 answers per request, 10 requests a second.
        let mut at_one_second = 0.0;
        for i in 0..40 {
            let t = f64::from(i) * 0.1;
            c.on_wait(t);
            c.on_send(t);
            for _ in 0..10 {
                c.on_healthy(t);
            }
            if i == 10 {
                at_one_second = c.rate();
            }
        }
        assert_eq!(c.rate(), at_one_second, "no growth once 10/s was measured");
    }

    #[test]
    fn a_throttle_cuts_to_beta_once_per_burst_then_cubic_climbs_back_in_recovery() {
        // A gentle slow start, so three seconds of it end at a rate a test can step through.
        let mut c = Controller::new(AdaptiveRate::default().with_slow_start_step(2.0));
        let t = run(&mut c, 0.0, 3.0);
        // Every request was answered healthily, so what was accepted is what was sent, a
        // little behind the growing rate.
        let before = c.rate().min(c.accepted.rate);
        assert!(before > c.rate() * 0.8, "{before} vs {}", c.rate());
        assert!(c.on_throttle(t - 0.01, t, None));
        assert!((c.rate() - before * 0.7).abs() < 1e-9, "cut to 0.7×");
        assert!(
            !c.on_throttle(t - 0.005, t + 0.01, None),
            "same burst: one cut"
        );
        let cut = c.rate();
        let half = run(&mut c, t + 0.01, 2.0);
        assert!(
            c.rate() > cut && c.rate() < before,
            "half way: between the cut and the old rate"
        );
        let after = run(&mut c, half, 2.0);
        assert!(
            (c.rate() - before).abs() / before < 0.05,
            "back to the old rate after the 4 s recovery: {} vs {before}",
            c.rate()
        );
        run(&mut c, after, 4.0);
        assert!(c.rate() > before * 1.2, "then probes above it");
        assert!(
            c.on_throttle(after + 2.0, after + 2.1, None),
            "a later throttle cuts again"
        );
    }

    #[test]
    fn a_throttle_naming_a_pause_climbs_back_over_eight_pauses_to_under_the_limit() {
        let mut c = Controller::new(AdaptiveRate::default().with_slow_start_step(2.0));
        let t = run(&mut c, 0.0, 3.0);
        // The climb levels off a tenth under what was accepted.
        let before = c.rate().min(c.accepted.rate) * PAUSED_PLATEAU;
        assert!(c.on_throttle(t - 0.01, t, Some(1.0)));
        let four = run(&mut c, t, 4.0);
        assert!(
            c.rate() < before * 0.97,
            "4 s (the plain recovery) in, still well under the old rate: {} vs {before}",
            c.rate()
        );
        run(&mut c, four, 4.0);
        assert!(
            (c.rate() - before).abs() / before < 0.05,
            "back after 8 pauses of 1 s: {} vs {before}",
            c.rate()
        );
    }

    #[test]
    fn what_was_accepted_is_not_measured_across_a_pause() {
        let mut c = Controller::new(AdaptiveRate::default());
        let fifty_a_second = |c: &mut Controller, from: f64, n: u32| {
            for i in 0..n {
                c.on_healthy(from + f64::from(i) * 0.02);
            }
        };
        fifty_a_second(&mut c, 0.0, 51);
        // A second's pause; an answer to a request in flight lands inside it.
        c.on_pause(2.0);
        c.on_healthy(1.5);
        fifty_a_second(&mut c, 2.0, 27);
        let steady = c.accepted_steady.rate;
        assert!(
            (steady - 50.0).abs() < 3.0,
            "50/s before and after the pause, not 26 answers over 1.5 s: {steady}"
        );
    }

    #[test]
    fn a_throttle_right_after_a_pause_cuts_from_the_rate_not_from_an_old_count() {
        let mut c = Controller::new(AdaptiveRate::default());
        c.rate = 100.0;
        assert!(c.on_throttle(0.0, 0.0, Some(1.0)));
        for i in 0..50 {
            c.on_healthy(f64::from(i) * 0.02);
        }
        c.on_pause(1.0);
        c.rate = 300.0;
        // 50 ms after the pause: no count since it closed.
        assert!(c.on_throttle(1.01, 1.05, Some(1.0)));
        let cut = 0.7 * PAUSED_PLATEAU * 300.0;
        assert!(
            (c.rate() - cut).abs() < 1e-9,
            "0.7 × 0.9 × 300: {}",
            c.rate()
        );
    }

    #[test]
    fn the_first_cut_starts_from_what_the_server_accepted_not_from_an_overshoot() {
        let mut c = Controller::new(AdaptiveRate::default());
        // The rate has run far ahead while the server kept accepting 50 a second.
        c.rate = 400.0;
        for i in 0..100 {
            c.accepted.record(f64::from(i) * 0.02);
        }
        assert!((c.accepted.rate - 50.0).abs() < 2.0, "{}", c.accepted.rate);
        assert!(c.on_throttle(1.99, 2.0, None));
        assert!(
            (c.rate() - 0.7 * c.accepted.rate).abs() < 1e-9,
            "0.7 × the accepted 50/s, not 0.7 × 400: {}",
            c.rate()
        );
    }

    #[test]
    fn ceiling_and_floor_hold() {
        let mut c = Controller::new(AdaptiveRate::default().with_ceiling(30.0));
        run(&mut c, 0.0, 5.0);
        assert_eq!(c.rate(), 30.0);
        for i in 0..20 {
            let t = 10.0 + f64::from(i);
            c.on_throttle(t, t, None);
        }
        assert_eq!(c.rate(), 0.5, "floor");
    }

    #[test]
    fn nonsense_settings_become_usable_ones() {
        let c = Controller::new(AdaptiveRate {
            initial: f64::NAN,
            ceiling: Some(-1.0),
            floor: 0.0,
            backoff: 7.0,
            recovery: Duration::ZERO,
            slow_start_step: -3.0,
        });
        assert_eq!(c.config.floor, 0.5);
        assert_eq!(c.config.ceiling, Some(0.5));
        assert_eq!(c.rate(), 0.5);
        assert_eq!(c.config.backoff, 0.95);
        assert_eq!(c.config.slow_start_step, 0.0);
    }
}

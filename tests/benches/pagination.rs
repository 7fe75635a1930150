//! Does pagination reach the latency bound? With per-request latency L, concurrency C and a
//! rate limit R, listing P pages should take close to max(P/R, ceil(P/C)·L). Prints the
//! measured time, the bound and their ratio for each scenario.
//!
//! `cargo bench -p affiliate-tests --bench pagination` (`AFFILIATE_BENCH_ONLY=census` runs the
//! scenarios whose name contains `census`)

use std::sync::Arc;
use std::time::{Duration, Instant};

use affiliate_core::driver::{invitees, DriverOptions};
use affiliate_core::InviteeSource;
use affiliate_core::Scope;
use affiliate_http::{RateLimit, SourceBuilder};
use affiliate_sandbox::census::{CensusConfig, CensusEmulator};
use affiliate_sandbox::triport::{TriportConfig, TriportEmulator};
use affiliate_sandbox::Emulator;
use futures::StreamExt;

#[derive(Clone, Copy)]
enum Provider {
    /// Newest-first offsets, no total: speculative prefetch.
    Triport,
    /// Page numbers with a total: the rest fetched concurrently after page 1.
    Census,
}

struct Scenario {
    name: &'static str,
    provider: Provider,
    rows: u64,
    latency: Duration,
    concurrency: usize,
    pace: Pace,
}

/// The client-side rate of a scenario.
#[derive(Clone, Copy)]
enum Pace {
    /// None at all: the bound is the latency's.
    Unlimited,
    /// A fixed rate R: the bound is max(P/R, latency's).
    Fixed(f64),
    /// The adapter's default (adaptive, starting at 20/s): measured against the latency's
    /// bound, so the ratio shows what learning the rate costs.
    Default,
}

/// The scenario's client-side rate.
fn limited<B: SourceBuilder>(builder: B, pace: Pace) -> B {
    match pace {
        Pace::Fixed(rate) => builder.with_rate_limit(RateLimit::new(rate, 1)),
        Pace::Unlimited => builder.without_rate_limit(),
        Pace::Default => builder,
    }
}

async fn run(s: &Scenario) {
    let (emu, source): (Box<dyn Emulator>, Arc<dyn InviteeSource>) = match s.provider {
        Provider::Triport => {
            let emu = TriportEmulator::start(TriportConfig::new(s.rows).latency(s.latency))
                .await
                .expect("emulator");
            let builder = affiliate_triport::TriportBuilder::new()
                .with_base_url(emu.base_url())
                .with_session(emu.session());
            let source = limited(builder, s.pace).build().expect("client");
            (Box::new(emu), Arc::new(source))
        }
        Provider::Census => {
            let emu = CensusEmulator::start(CensusConfig::new(s.rows).latency(s.latency))
                .await
                .expect("emulator");
            let builder = affiliate_census::CensusBuilder::new()
                .with_base_url(emu.base_url())
                .with_token(emu.token());
            let source = limited(builder, s.pace).build().expect("client");
            (Box::new(emu), Arc::new(source))
        }
    };
    let options = DriverOptions::default().with_concurrency(s.concurrency);
    let started = Instant::now();
    let count = invitees(source, Scope::full(), options)
        .fold(0u64, |n, r| async move { n + u64::from(r.is_ok()) })
        .await;
    let elapsed = started.elapsed().as_secs_f64();
    assert_eq!(count, s.rows, "{}: every row listed", s.name);
    // P from the data, not from the requests sent (speculative pages the listing threw
    // away would flatter the ratio): the pages the strategy needs, plus its final re-read.
    let pages = match s.provider {
        // 200 rows a page, overlapping by one row; then the head is read again.
        Provider::Triport => 1 + s.rows.saturating_sub(200).div_ceil(199) + 1,
        // The newest page (the pin), the 100-row pages below it, then the newest page again
        // with the pages of the first round (asked for before the pin's answer) read again.
        Provider::Census => {
            let ascending = s.rows.saturating_sub(100).div_ceil(100);
            let first_round = ascending.min(s.concurrency as u64 - 1);
            1 + ascending + 1 + first_round
        }
    } as f64;
    let sent = emu.requests().len();
    let latency_bound = (pages / s.concurrency as f64).ceil() * s.latency.as_secs_f64();
    let rate_bound = match s.pace {
        Pace::Fixed(r) => pages / r,
        Pace::Unlimited | Pace::Default => 0.0,
    };
    let bound = latency_bound.max(rate_bound);
    println!(
        "{:<44} pages={:>4} sent={sent:>4} L={:>3}ms C={} R={:>5} measured={:>7.3}s bound={:>7.3}s ratio={:.2}",
        s.name,
        pages,
        s.latency.as_millis(),
        s.concurrency,
        match s.pace {
            Pace::Fixed(r) => format!("{r}/s"),
            Pace::Unlimited => "none".to_owned(),
            Pace::Default => "adaptive".to_owned(),
        },
        elapsed,
        bound,
        elapsed / bound
    );
}

#[tokio::main]
async fn main() {
    let scenarios = [
        Scenario {
            provider: Provider::Triport,
            name: "triport newest-first, latency-bound, C=1",
            rows: 199 * 40,
            latency: Duration::from_millis(20),
            concurrency: 1,
            pace: Pace::Unlimited,
        },
        Scenario {
            provider: Provider::Triport,
            name: "triport newest-first, latency-bound, C=4",
            rows: 199 * 80,
            latency: Duration::from_millis(20),
            concurrency: 4,
            pace: Pace::Unlimited,
        },
        Scenario {
            provider: Provider::Triport,
            name: "triport newest-first, latency-bound, C=8",
            rows: 199 * 160,
            latency: Duration::from_millis(20),
            concurrency: 8,
            pace: Pace::Unlimited,
        },
        Scenario {
            provider: Provider::Triport,
            name: "triport newest-first, rate-bound 50/s, C=8",
            rows: 199 * 100,
            latency: Duration::from_millis(20),
            concurrency: 8,
            pace: Pace::Fixed(50.0),
        },
        Scenario {
            provider: Provider::Census,
            name: "census counted, latency-bound, C=4",
            rows: 100 * 80,
            latency: Duration::from_millis(20),
            concurrency: 4,
            pace: Pace::Unlimited,
        },
        Scenario {
            provider: Provider::Census,
            name: "census counted, latency-bound, C=8",
            rows: 100 * 160,
            latency: Duration::from_millis(20),
            concurrency: 8,
            pace: Pace::Unlimited,
        },
        Scenario {
            provider: Provider::Census,
            name: "census counted, rate-bound 50/s, C=8",
            rows: 100 * 100,
            latency: Duration::from_millis(20),
            concurrency: 8,
            pace: Pace::Fixed(50.0),
        },
        Scenario {
            provider: Provider::Triport,
            name: "triport newest-first, default rate, C=4",
            rows: 199 * 500,
            latency: Duration::from_millis(20),
            concurrency: 4,
            pace: Pace::Default,
        },
        Scenario {
            provider: Provider::Triport,
            name: "triport newest-first, default rate, C=8",
            rows: 199 * 1000,
            latency: Duration::from_millis(20),
            concurrency: 8,
            pace: Pace::Default,
        },
        Scenario {
            provider: Provider::Census,
            name: "census counted, default rate, C=4",
            rows: 100 * 1000,
            latency: Duration::from_millis(20),
            concurrency: 4,
            pace: Pace::Default,
        },
        Scenario {
            provider: Provider::Census,
            name: "census counted, default rate, C=8",
            rows: 100 * 1000,
            latency: Duration::from_millis(20),
            concurrency: 8,
            pace: Pace::Default,
        },
    ];
    // `AFFILIATE_BENCH_ONLY=census` runs the scenarios whose name contains it.
    let only = std::env::var("AFFILIATE_BENCH_ONLY").unwrap_or_default();
    for s in scenarios.iter().filter(|s| s.name.contains(&only)) {
        run(s).await;
    }
}

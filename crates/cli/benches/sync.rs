//! `affiliate sync` measured as a user runs it: the built binary in a child process, against
//! the four emulators in this process. Prints its numbers; asserts only that every record
//! arrived exactly once (a fast wrong answer is not a result).
//!
//! ```text
//! cargo bench -p affiliate-cli --bench sync                 # every scenario
//! cargo bench -p affiliate-cli --bench sync -- defaults     # default config vs rate_limit = 1000
//! cargo bench -p affiliate-cli --bench sync -- throttled    # emulators enforcing R = 50 and 400 req/s
//! cargo bench -p affiliate-cli --bench sync -- footprint    # peak RSS and CPU per record, 10k and 1M
//! cargo bench -p affiliate-cli --bench sync -- profile      # 100k into NDJSON under callgrind
//! AFFILIATE_BENCH_SINK=sqlite cargo bench -p affiliate-cli --bench sync -- profile  # into SQLite
//! AFFILIATE_BENCH_ONLY=coinw,50 cargo bench -p affiliate-cli --bench sync -- throttled  # a subset
//! ```
//!
//! The child's CPU time (user + system) comes from `wait4`'s resource usage and its peak RSS
//! from `/proc/PID/status` (`VmHWM`), so the emulators' own work in this process is not
//! counted.

#[path = "../tests/common/mod.rs"]
mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use affiliate_sandbox::{Emulator, RateLimit, RequestRecord};
use common::*;

/// What one child run cost.
struct Measured {
    wall: f64,
    /// User + system CPU seconds.
    cpu: f64,
    /// System CPU seconds alone (syscalls: writes, fsyncs, sockets).
    sys: f64,
    peak_rss_mib: f64,
    stderr: String,
}

/// Runs the binary with `args` and `env` to completion and measures it; panics on a failed
/// run (its numbers would mean nothing).
async fn measure(args: Vec<String>, env: Vec<(String, String)>) -> Measured {
    tokio::task::spawn_blocking(move || {
        let mut cmd = command(&args, &env);
        cmd.stdout(Stdio::null()).stderr(Stdio::piped());
        let started = Instant::now();
        // Reaped by `wait4` below (which also returns its resource usage).
        #[allow(clippy::zombie_processes)]
        let mut child = cmd.spawn().expect("spawn affiliate");
        let hwm = watch_high_water_mark(child.id());
        let stderr = std::io::read_to_string(child.stderr.take().expect("stderr")).expect("read");
        let (status, usage) = wait4(child.id());
        let peak_kib = hwm.join().expect("watcher");
        let wall = started.elapsed().as_secs_f64();
        assert_eq!(status, 0, "affiliate exited with {status}:\n{stderr}");
        let seconds = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
        Measured {
            wall,
            cpu: seconds(usage.ru_utime) + seconds(usage.ru_stime),
            sys: seconds(usage.ru_stime),
            peak_rss_mib: peak_kib as f64 / 1024.0,
            stderr,
        }
    })
    .await
    .expect("join")
}

/// Reads `VmHWM` (the peak RSS of the running program) of `pid` every millisecond until it is gone,
/// returning the last value in KiB. Not `wait4`'s `ru_maxrss`: Linux carries the RSS a
/// process had before `exec` into it, so a child forked from this bench (which holds a
/// million emulated rows) would report this bench's size.
fn watch_high_water_mark(pid: u32) -> std::thread::JoinHandle<u64> {
    std::thread::spawn(move || {
        let path = format!("/proc/{pid}/status");
        let mut peak = 0;
        while let Ok(status) = std::fs::read_to_string(&path) {
            if status.contains("State:\tZ") {
                break;
            }
            let hwm = status
                .lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok());
            peak = hwm.unwrap_or(peak).max(peak);
            // VmHWM only grows, so the last reading before exit misses at most the final
            // millisecond (at 50 ms, a 0.1 s run was read once, before it had loaded).
            std::thread::sleep(Duration::from_millis(1));
        }
        assert!(
            peak > 1024,
            "the child's peak RSS was never read ({peak} KiB)"
        );
        peak
    })
}

/// Waits for `pid` and returns its exit code and resource usage.
fn wait4(pid: u32) -> (i32, libc::rusage) {
    let mut status = 0;
    // SAFETY: rusage is plain old data; wait4 fills it for our own child.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let pid = libc::pid_t::try_from(pid).expect("pid");
    // SAFETY: pid is a child of this process that nobody else waits for.
    let reaped = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    assert_eq!(reaped, pid, "wait4");
    let code = if libc::WIFEXITED(status) {
        libc::WEXITSTATUS(status)
    } else {
        -1
    };
    (code, usage)
}

/// A config for the sandbox: the providers' largest pages (or `page` rows when given),
/// CoinW windows of a month, and `rate_limit = rate` on every source, or no rate key at all
/// (the adaptive default).
fn config(sandbox: &Sandbox, page: Option<u32>, rate: Option<u32>) -> String {
    let text = match page {
        Some(page) => sandbox.config(page, 1000, "1 month", ""),
        None => sandbox
            .config(100, 1000, "1 month", "")
            .replacen("limit = 100", "limit = 200", 1)
            .replacen("page_size = 100", "page_size = 1000", 1),
    };
    match rate {
        Some(rate) => text.replace("rate_limit = 1000", &format!("rate_limit = {rate}")),
        None => text.replace("rate_limit = 1000\n", ""),
    }
}

/// `config` with only `provider`'s source.
fn only(config: &str, provider: &str) -> String {
    let mut parts = config.split("[[source]]");
    let head = parts.next().unwrap_or_default().to_owned();
    let wanted = format!("provider = \"{provider}\"");
    parts
        .filter(|part| part.contains(&wanted))
        .fold(head, |text, part| text + "[[source]]" + part)
}

/// Syncs the sandbox with `config` into `out` (`ndjson:` or `sqlite://`) and checks every
/// record of the providers configured arrived exactly once.
async fn sync(sandbox: &Sandbox, dir: &Path, name: &str, config: &str, sqlite: bool) -> Measured {
    let text = config;
    let config = write(dir, &format!("{name}.toml"), text);
    let path = dir.join(format!("{name}.{}", if sqlite { "db" } else { "ndjson" }));
    let out = if sqlite {
        format!("sqlite://{}", path.display())
    } else {
        format!("ndjson:{}", path.display())
    };
    let cmd = args(&[
        "sync",
        "--config",
        &config.display().to_string(),
        "--out",
        &out,
    ]);
    let measured = measure(cmd, sandbox.env()).await;
    let stored = if sqlite {
        db_ids(&path)
    } else {
        ndjson_ids(&path)
    };
    let mut truth = sandbox.truth();
    truth.retain(|provider, _| text.contains(&format!("provider = \"{provider}\"")));
    assert_ids_exactly_once(&stored, &truth);
    measured
}

/// The summary table the binary printed (from its `sync into` line on).
fn summary(stderr: &str) -> &str {
    stderr.find("sync into").map_or(stderr, |at| &stderr[at..])
}

/// Default config against rate_limit = 1000, 100k invitees per provider, no server limit.
async fn defaults() {
    let rows = 100_000;
    let sandbox = Sandbox::start(rows, Duration::ZERO).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let fixed = sync(
        &sandbox,
        dir.path(),
        "fixed",
        &config(&sandbox, None, Some(1000)),
        false,
    )
    .await;
    let default = sync(
        &sandbox,
        dir.path(),
        "default",
        &config(&sandbox, None, None),
        false,
    )
    .await;
    println!("## defaults: {rows} x 4 invitees, 0 ms, no server limit, into NDJSON");
    println!(
        "rate_limit = 1000: {:.1}s\n{}",
        fixed.wall,
        summary(&fixed.stderr)
    );
    println!(
        "default config:    {:.1}s\n{}",
        default.wall,
        summary(&default.stderr)
    );
    println!(
        "default / rate_limit=1000 = {:.2} (target <= 1.5)\n",
        default.wall / fixed.wall
    );
}

/// What one emulator saw under its rate limit.
struct Served {
    requests: usize,
    throttled: usize,
    achieved: f64,
    early_retries: usize,
    during_retry_after: usize,
}

/// Reads a request log: the rate served after the first 5 s, the throttled share, and (with
/// a `Retry-After`) retries of a throttled request sooner than it allowed, and other
/// requests that arrived more than 50 ms after a throttle but before its `Retry-After`.
fn served(log: &[RequestRecord], retry_after: Option<Duration>) -> Served {
    let start = log.first().map(|r| r.arrived).expect("requests");
    let end = log.last().map(|r| r.arrived).expect("requests");
    let warm = start + Duration::from_secs(5);
    let after_warm = log
        .iter()
        .filter(|r| r.arrived >= warm && !r.throttled)
        .count();
    let window = end.saturating_duration_since(warm).as_secs_f64();
    let (mut early, mut during) = (0, 0);
    if let Some(wait) = retry_after {
        for (i, t) in log.iter().enumerate().filter(|(_, r)| r.throttled) {
            let later = &log[i + 1..];
            if let Some(retry) = later.iter().find(|r| r.line == t.line) {
                early += usize::from(retry.arrived < t.arrived + wait);
            }
            during += later
                .iter()
                .filter(|r| r.arrived > t.arrived + Duration::from_millis(50))
                .filter(|r| r.arrived < t.arrived + wait)
                .count();
        }
    }
    Served {
        requests: log.len(),
        throttled: log.iter().filter(|r| r.throttled).count(),
        achieved: if window > 0.0 {
            after_warm as f64 / window
        } else {
            0.0
        },
        early_retries: early,
        during_retry_after: during,
    }
}

/// Emulators enforcing R requests/s per credential (burst R/10), default client config,
/// one provider at a time (so each has the machine to itself); CoinW also with
/// `max_rate = 1000`, since its default ceiling of 50/s is below R = 400 by design.
async fn throttled() {
    // `AFFILIATE_BENCH_ONLY=coinw,50` keeps the named providers and rates (either list may
    // be left out).
    let filter = std::env::var("AFFILIATE_BENCH_ONLY").unwrap_or_default();
    let (rates, providers): (Vec<&str>, Vec<&str>) = filter
        .split(',')
        .filter(|w| !w.is_empty())
        .partition(|w| w.parse::<u32>().is_ok());
    let kept = |list: &[&str], name: &str| list.is_empty() || list.contains(&name);
    for rate in [50_u32, 400] {
        if !kept(&rates, &rate.to_string()) {
            continue;
        }
        // About 20 s of requests per provider at pages of 10 rows.
        let rows = u64::from(rate) * 200;
        let sandbox = Sandbox::start(rows, Duration::ZERO).await;
        let burst = (rate / 10).max(1);
        let limit = RateLimit::new(f64::from(rate), burst);
        let second = Some(Duration::from_secs(1));
        let runs: [(&str, &str, &dyn Emulator, Option<Duration>); 5] = [
            ("triport", "", &sandbox.triport, second),
            ("coinw", "", &sandbox.coinw, None),
            ("coinw", "max_rate = 1000", &sandbox.coinw, None),
            ("prefactor", "", &sandbox.prefactor, None),
            ("census", "", &sandbox.census, None),
        ];
        println!(
            "## throttled: server limit R = {rate}/s per credential (burst {burst}), {rows} invitees in pages of 10, default config, one provider at a time"
        );
        println!(
            "{:<26} {:>7} {:>8} {:>9} {:>10} {:>8} {:>7} {:>12} {:>13}",
            "provider",
            "wall s",
            "requests",
            "throttled",
            "throttled%",
            "req/s",
            "x R",
            "final rate",
            "early/during"
        );
        let dir = tempfile::tempdir().expect("tempdir");
        for (i, (provider, extra, emulator, retry_after)) in runs.into_iter().enumerate() {
            if !kept(&providers, provider) {
                continue;
            }
            let already = emulator.request_log().len();
            // Every bucket starts full again.
            emulator.set_rate_limit(Some(limit));
            let mut text = only(&config(&sandbox, Some(10), None), provider);
            text.push_str(extra);
            text.push('\n');
            let run = sync(&sandbox, dir.path(), &format!("throttled{i}"), &text, false).await;
            let s = served(&emulator.request_log()[already..], retry_after);
            let rate_column = summary(&run.stderr)
                .lines()
                .find(|l| l.starts_with(provider))
                .and_then(|l| l.split_whitespace().rev().nth(1))
                .unwrap_or("?")
                .to_owned();
            println!(
                "{:<26} {:>7.1} {:>8} {:>9} {:>9.2}% {:>8.1} {:>7.2} {:>12} {:>13}",
                format!("{provider} {extra}"),
                run.wall,
                s.requests,
                s.throttled,
                100.0 * s.throttled as f64 / s.requests as f64,
                s.achieved,
                s.achieved / f64::from(rate),
                rate_column,
                retry_after.map_or("-".to_owned(), |_| format!(
                    "{}/{}",
                    s.early_retries, s.during_retry_after
                )),
            );
        }
        println!();
    }
}

/// Peak RSS and CPU per record of full syncs of 10k and 1M invitees into NDJSON and SQLite.
async fn footprint() {
    let mut peaks: BTreeMap<(&str, u64), f64> = BTreeMap::new();
    println!("## footprint: full sync, rate_limit = 1000, largest pages, 0 ms");
    println!(
        "{:<8} {:>10} {:>8} {:>10} {:>9} {:>9} {:>13}",
        "sink", "invitees", "wall s", "peak MiB", "cpu s", "of it sys", "cpu us/record"
    );
    for total in [10_000_u64, 1_000_000] {
        let sandbox = Sandbox::start(total / 4, Duration::ZERO).await;
        let dir = tempfile::tempdir().expect("tempdir");
        let text = config(&sandbox, None, Some(1000));
        for (sink, sqlite) in [("ndjson", false), ("sqlite", true)] {
            let m = sync(&sandbox, dir.path(), sink, &text, sqlite).await;
            println!(
                "{sink:<8} {total:>10} {:>8.1} {:>10.1} {:>9.2} {:>9.2} {:>13.2}",
                m.wall,
                m.peak_rss_mib,
                m.cpu,
                m.sys,
                m.cpu * 1e6 / total as f64
            );
            peaks.insert((sink, total), m.peak_rss_mib);
        }
    }
    for sink in ["ndjson", "sqlite"] {
        let (small, large) = (peaks[&(sink, 10_000)], peaks[&(sink, 1_000_000)]);
        println!(
            "{sink}: 1M peak {large:.1} MiB (target <= 64); 1.2 x 10k + 10 MiB = {:.1} MiB",
            1.2 * small + 10.0
        );
    }
    println!();
}

/// One full sync of 25k invitees per provider into NDJSON (`AFFILIATE_BENCH_SINK=sqlite`:
/// into SQLite) with the binary under `valgrind --tool=callgrind` (instruction counts are
/// repeatable on a noisy machine); prints where the profile went (read it with
/// `callgrind_annotate`).
async fn profile() {
    let sqlite = std::env::var("AFFILIATE_BENCH_SINK").is_ok_and(|sink| sink == "sqlite");
    let sandbox = Sandbox::start(25_000, Duration::ZERO).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let config = write(
        dir.path(),
        "profile.toml",
        &config(&sandbox, None, Some(1000)),
    );
    let out = if sqlite {
        format!("sqlite://{}", dir.path().join("profile.db").display())
    } else {
        format!("ndjson:{}", dir.path().join("profile.ndjson").display())
    };
    let profile = std::env::temp_dir().join("affiliate-sync.callgrind");
    let mut cmd = command(&[], &sandbox.env());
    let mut valgrind = std::process::Command::new("valgrind");
    valgrind
        .arg("--tool=callgrind")
        .arg(format!("--callgrind-out-file={}", profile.display()))
        .arg(cmd.get_program())
        .args([
            "sync",
            "--config",
            &config.display().to_string(),
            "--out",
            &out,
        ])
        .envs(cmd.get_envs().filter_map(|(k, v)| Some((k, v?))))
        .stdin(Stdio::null());
    cmd.env_clear();
    let status = tokio::task::spawn_blocking(move || valgrind.status())
        .await
        .expect("join")
        .expect("run valgrind");
    assert!(status.success(), "valgrind: {status}");
    println!(
        "## profile: 100,000 invitees into {} under callgrind: {}\n",
        if sqlite { "SQLite" } else { "NDJSON" },
        profile.display()
    );
}

#[tokio::main]
async fn main() {
    let chosen: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let wants = |name: &str| chosen.is_empty() || chosen.iter().any(|c| c == name);
    if wants("defaults") {
        defaults().await;
    }
    if wants("throttled") {
        throttled().await;
    }
    if wants("footprint") {
        footprint().await;
    }
    // Minutes under valgrind: only when asked for by name.
    if chosen.iter().any(|c| c == "profile") {
        profile().await;
    }
}

//! Memory as a listing grows from 10 thousand to 1 million invitees. Each size runs in a
//! fresh child process (peak RSS only grows); prints the peak RSS per size.
//!
//! `cargo bench -p affiliate-tests --bench memory`

use affiliate_http::SourceBuilder;
use std::process::Command;
use std::sync::Arc;

use affiliate_core::driver::{invitees, DriverOptions};
use affiliate_core::Scope;
use affiliate_sandbox::triport::{TriportConfig, TriportEmulator};
use futures::StreamExt;

fn peak_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1).and_then(|v| v.parse().ok()))
        })
        .unwrap_or(0)
}

async fn child(rows: u64) {
    let emu = TriportEmulator::start(TriportConfig::new(rows))
        .await
        .expect("emulator");
    let source = affiliate_triport::TriportBuilder::new()
        .with_base_url(emu.base_url())
        .with_session(emu.session())
        .build()
        .expect("client");
    let count = invitees(Arc::new(source), Scope::full(), DriverOptions::default())
        .fold(0u64, |n, r| async move { n + u64::from(r.is_ok()) })
        .await;
    assert_eq!(count, rows);
    println!("{rows} {}", peak_rss_kib());
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(pos) = args.iter().position(|a| a == "--child") {
        let rows: u64 = args
            .get(pos + 1)
            .and_then(|v| v.parse().ok())
            .expect("row count");
        tokio::runtime::Runtime::new()
            .expect("runtime")
            .block_on(child(rows));
        return;
    }
    println!(
        "{:>10} {:>14} {:>16}",
        "invitees", "peak RSS (MiB)", "bytes/invitee"
    );
    let mut base = None;
    for rows in [10_000u64, 100_000, 1_000_000] {
        let out = Command::new(&args[0])
            .args(["--child", &rows.to_string()])
            .output()
            .expect("child runs");
        // A failed child (a panic) must not print as 0 MiB of growth.
        assert!(
            out.status.success(),
            "the {rows}-invitee child failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        let text = String::from_utf8_lossy(&out.stdout);
        let kib: u64 = text
            .split_whitespace()
            .nth(1)
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("the child printed no peak RSS: {text:?}"));
        let growth = base.map_or(0.0, |b: u64| {
            (kib.saturating_sub(b) * 1024) as f64 / (rows - 10_000) as f64
        });
        base.get_or_insert(kib);
        println!("{rows:>10} {:>14.1} {:>16.1}", kib as f64 / 1024.0, growth);
    }
}

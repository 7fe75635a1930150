//! `sync.deadline` from the config file, end to end: a Census server that never finishes a
//! chunked body (behind a fault proxy) cannot hold `affiliate sync` past the deadline the
//! file sets, the run exits 1 and says which limit ended it, and the next run resumes it.

mod common;

use std::time::Duration;

use affiliate_sandbox::census::{CensusConfig, CensusEmulator};
use affiliate_tests::proxy::{FaultProxy, Wire};
use common::*;

/// A config syncing Census at `base_url` in pages of 10, with `deadline` for the whole
/// source (the request timeout stays the transport's default, longer than the deadline).
fn config(base_url: &str, deadline: &str) -> String {
    format!(
        r#"[sync]
deadline = "{deadline}"

[[source]]
provider = "census"
label = "slow"
base_url = "{base_url}"
per_page = 10
"#
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_that_never_ends_cannot_hold_the_cli_past_the_configured_deadline() {
    let emu = CensusEmulator::start(CensusConfig::new(40))
        .await
        .expect("census emulator");
    // One answer passes (the first round asks for four pages at once); the others never
    // finish their bodies.
    let mut script = vec![Wire::Pass];
    script.extend(std::iter::repeat_n(Wire::NeverEnds, 8));
    let proxy = FaultProxy::start(&emu.base_url(), script)
        .await
        .expect("proxy");
    let dir = tempfile::tempdir().expect("tempdir");
    let file = write(
        dir.path(),
        "affiliate.toml",
        &config(&proxy.base_url(), "2s"),
    );
    let db = dir.path().join("slow.db");
    let out_url = format!("sqlite://{}", db.display());
    let sync = args(&[
        "sync",
        "--config",
        file.to_str().unwrap_or_default(),
        "--out",
        &out_url,
    ]);
    let env = vec![("CENSUS_TOKEN".to_owned(), emu.token().to_owned())];
    // Only a guard against a hang: the assertions below say which limit ended the run.
    let out = tokio::time::timeout(Duration::from_secs(50), run(sync.clone(), env.clone()))
        .await
        .expect("the deadline ended the run before the request timeout could");
    let text = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(
        text.contains("census:slow: the source's deadline of 2s passed while paging"),
        "{text}"
    );
    assert!(
        !text.contains("timed out"),
        "a request timeout ended it: {text}"
    );
    assert_eq!(runs_in_progress(&db), 1, "the run stays open to resume");

    // The next run, straight to the server, resumes and lands every record once.
    write(dir.path(), "affiliate.toml", &config(&emu.base_url(), "2s"));
    let out = run(sync, env).await;
    let text = stderr(&out);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(text.contains("census:slow: resuming a full run"), "{text}");
    let mut truth = emu.ids_newest_first();
    truth.sort();
    assert_exactly_once(&db, &[("census".to_owned(), truth)].into());
}

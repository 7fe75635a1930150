//! Decoding + normalising a page must be at least as fast as decoding the same bytes into
//! `serde_json::Value`. Prints both throughputs and their ratio.
//!
//! `cargo bench -p affiliate-tests --bench decode`

use std::hint::black_box;
use std::time::Instant;

use affiliate_core::{Provider, SourceId};
use affiliate_sandbox::triport::{TriportConfig, TriportEmulator};

const ROUNDS: u32 = 2_000;

fn time(mut f: impl FnMut()) -> f64 {
    for _ in 0..50 {
        f();
    }
    let started = Instant::now();
    for _ in 0..ROUNDS {
        f();
    }
    started.elapsed().as_secs_f64() / f64::from(ROUNDS)
}

#[tokio::main]
async fn main() {
    let emu = TriportEmulator::start(TriportConfig::new(1_000))
        .await
        .expect("emulator");
    let body = reqwest_body(&emu).await;
    let source = SourceId::new(Provider::Triport, "bench");
    let rows = affiliate_triport::parse_invitees(&source, &body)
        .expect("valid page")
        .len();
    let typed = time(|| {
        black_box(affiliate_triport::parse_invitees(&source, black_box(&body)).expect("valid"));
    });
    let value = time(|| {
        black_box(serde_json::from_slice::<serde_json::Value>(black_box(&body)).expect("valid"));
    });
    let mb = body.len() as f64 / 1e6;
    println!("triport page: {rows} rows, {} bytes", body.len());
    println!(
        "decode+normalise into Invitee: {:>8.1} µs/page {:>7.1} MB/s",
        typed * 1e6,
        mb / typed
    );
    println!(
        "decode into serde_json::Value: {:>8.1} µs/page {:>7.1} MB/s",
        value * 1e6,
        mb / value
    );
    println!(
        "ratio (Value time / typed time): {:.2} (>= 1.00 meets the bar)",
        value / typed
    );
}

async fn reqwest_body(emu: &TriportEmulator) -> Vec<u8> {
    use affiliate_http::{HeaderName, HttpClient, NoHooks, RequestSpec, Secret, Url};
    let http =
        HttpClient::new(affiliate_core::Provider::Triport, Default::default()).expect("client");
    let url = Url::parse(&format!(
        "{}/v1/referrals/invitees?limit=200&offset=0",
        emu.base_url()
    ))
    .expect("url");
    let spec = RequestSpec::get(url)
        .secret_header(
            HeaderName::from_static("cookie"),
            &Secret::new(format!("nl_session={}", emu.session())),
        )
        .expect("header");
    let page = http.get_json::<Box<serde_json::value::RawValue>, affiliate_triport::TriportError>(
        &spec, &NoHooks,
    );
    page.await.expect("page").value.get().as_bytes().to_vec()
}

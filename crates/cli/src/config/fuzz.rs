//! The config parser against fuzzed files: arbitrary bytes, byte edits of real config files
//! and real files with one line's value replaced by another TOML value (so inputs get past
//! the TOML parser to the checks). Every input must parse into a config or a list of errors
//! naming their keys, and resolving a parsed config must not panic either.
//!
//! The long run fuzzes for `AFFILIATE_FUZZ_SECONDS` (default 60):
//! `AFFILIATE_FUZZ_SECONDS=60 cargo test --release -p affiliate-cli --bin affiliate config::fuzz -- --ignored --nocapture`

use std::collections::HashMap;
use std::path::Path;

use affiliate_tests::fuzzing::{bodies, fuzz, within_cap, Counting};
use proptest::prelude::*;

use super::Config;

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// Real files: the README's example, and every key set once.
const SEEDS: [&str; 3] = [
    r#"[sync]
mode = "incremental"
overlap = "1h"
refresh = "24h"
fail_fast = false
deadline = "6h"
email = "hash"
email_salt_env = "AFFILIATE_EMAIL_SALT"

[output]
url = "sqlite://affiliate.db"

[[source]]
provider = "triport"
label = "main"
limit = 200
rate_limit = 10

[[source]]
provider = "coinw"
utc_offset = "+08:00"
page_size = 1000
window = "month"
max_rate = 40
"#,
    r#"[[source]]
provider = "prefactor"
account_id = "acct_1"
page_size = 100
sorting = "created_at"
token_env = "PF_TOKEN"

[[source]]
provider = "census"
region = "eu"
per_page = 100
order = "desc"
base_url = "http://127.0.0.1:9"
"#,
    r#"[output]
url_env = "AFFILIATE_OUTPUT_URL"
schema = "affiliate"
[[source]]
provider = "triport"
session = "literal"
"#,
];

/// Every variable a source may read, set: resolving reaches the adapters' builders.
fn env() -> HashMap<String, String> {
    [
        "TRIPORT_SESSION",
        "TRIPORT_ADMIN_TOKEN",
        "PREFACTOR_TOKEN",
        "PF_TOKEN",
        "CENSUS_TOKEN",
        "COINW_API_KEY",
        "COINW_SECRET_KEY",
        "AFFILIATE_EMAIL_SALT",
    ]
    .into_iter()
    .map(|k| (k.to_owned(), "fuzz-value".to_owned()))
    .collect()
}

/// TOML values of every type, in and out of range.
fn toml_value() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>().prop_map(|s| format!("{s:?}")),
        any::<i64>().prop_map(|n| n.to_string()),
        any::<f64>().prop_map(|n| format!("{n:?}")),
        any::<bool>().prop_map(|b| b.to_string()),
        Just("1979-05-27T07:32:00Z".to_owned()),
        Just("[1, \"two\", [3]]".to_owned()),
        Just("{ a = 1, b = { c = \"d\" } }".to_owned()),
        Just("\"\"".to_owned()),
        Just("\"-5s\"".to_owned()),
        Just("\"99999999999999999999d\"".to_owned()),
    ]
}

/// A seed with the value of its `pick`-th `key = value` line replaced.
fn grafted() -> impl Strategy<Value = Vec<u8>> {
    (
        proptest::sample::select(SEEDS.to_vec()),
        any::<usize>(),
        toml_value(),
    )
        .prop_map(|(seed, pick, value)| {
            let lines: Vec<&str> = seed.lines().collect();
            let assignments: Vec<usize> = (0..lines.len())
                .filter(|i| lines[*i].contains(" = "))
                .collect();
            let target = assignments[pick % assignments.len()];
            lines
                .iter()
                .enumerate()
                .map(|(i, line)| match line.split_once(" = ") {
                    Some((key, _)) if i == target => format!("{key} = {value}\n"),
                    _ => format!("{line}\n"),
                })
                .collect::<String>()
                .into_bytes()
        })
}

fn run(long: bool) -> u64 {
    let seeds = SEEDS.iter().map(|s| s.as_bytes().to_vec()).collect();
    let env = env();
    let inputs = prop_oneof![1 => bodies(seeds), 1 => grafted()];
    fuzz("config parser", long, inputs, |bytes| {
        let text = String::from_utf8_lossy(&bytes);
        within_cap(|| match Config::parse(Path::new("fuzz.toml"), &text) {
            Ok(config) => {
                if let Err(errors) = config.resolve(&env) {
                    assert!(!errors.errors.is_empty(), "an error list with no error");
                    let _ = errors.to_string();
                }
            }
            Err(errors) => {
                assert!(!errors.errors.is_empty(), "an error list with no error");
                let _ = errors.to_string();
            }
        })
    })
}

#[test]
fn the_config_parser_survives_fuzzed_files() {
    run(false);
}

#[test]
#[ignore = "long: AFFILIATE_FUZZ_SECONDS (default 60)"]
fn the_config_parser_survives_fuzzed_files_long() {
    run(true);
}

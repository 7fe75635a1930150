//! Every configuration error ends with exit code 2 and a message naming the file, the key
//! and the fix, from both `affiliate config check` and `affiliate sync`; secrets written
//! in the wrong place are never echoed.

mod common;

use std::path::Path;

use common::*;

/// One broken configuration.
struct Case {
    name: &'static str,
    toml: &'static str,
    /// The key the message must name.
    key: &'static str,
    /// Text that must not appear (a secret).
    secret: Option<&'static str>,
    /// Also (or only) a `config check` failure: false for errors only `sync` can see.
    check_too: bool,
}

const CASES: &[Case] = &[
    Case {
        name: "missing utc_offset",
        toml: "[[source]]\nprovider = \"coinw\"\nlabel = \"main\"\n",
        key: "source[0].utc_offset",
        secret: None,
        check_too: true,
    },
    Case {
        name: "literal secret",
        toml: "[[source]]\nprovider = \"triport\"\nsession = \"s3cr3t-cookie-value\"\n",
        key: "source[0].session",
        secret: Some("s3cr3t-cookie-value"),
        check_too: true,
    },
    Case {
        name: "literal token in a later source",
        toml: "[[source]]\nprovider = \"triport\"\n\n[[source]]\nprovider = \"census\"\ntoken = \"census-pat-123456\"\n",
        key: "source[1].token",
        secret: Some("census-pat-123456"),
        check_too: true,
    },
    Case {
        name: "unknown provider",
        toml: "[[source]]\nprovider = \"binance\"\n",
        key: "source[0].provider",
        secret: None,
        check_too: true,
    },
    Case {
        name: "unknown key",
        toml: "[[source]]\nprovider = \"triport\"\nlimt = 50\n",
        key: "source[0].limt",
        secret: None,
        check_too: true,
    },
    Case {
        name: "a key of another provider",
        toml: "[[source]]\nprovider = \"census\"\nutc_offset = \"+08:00\"\n",
        key: "source[0].utc_offset",
        secret: None,
        check_too: true,
    },
    Case {
        name: "bad limit",
        toml: "[[source]]\nprovider = \"triport\"\nlimit = 500\n",
        key: "source[0].limit",
        secret: None,
        check_too: true,
    },
    Case {
        name: "wrong type",
        toml: "[[source]]\nprovider = \"prefactor\"\npage_size = \"ten\"\n",
        key: "source[0].page_size",
        secret: None,
        check_too: true,
    },
    Case {
        name: "bad utc_offset",
        toml: "[[source]]\nprovider = \"coinw\"\nutc_offset = \"Asia/Shanghai\"\n",
        key: "source[0].utc_offset",
        secret: None,
        check_too: true,
    },
    Case {
        name: "bad window",
        toml: "[[source]]\nprovider = \"coinw\"\nutc_offset = \"+08:00\"\nwindow = \"fortnightly\"\n",
        key: "source[0].window",
        secret: None,
        check_too: true,
    },
    Case {
        name: "plain http to a remote host",
        toml: "[[source]]\nprovider = \"triport\"\nbase_url = \"http://api.example.com\"\n",
        key: "source[0].base_url",
        secret: None,
        check_too: true,
    },
    Case {
        name: "a secret pasted into an _env key",
        toml: "[[source]]\nprovider = \"triport\"\nsession_env = \"nl-session:9f8e7d6c5b\"\n",
        key: "source[0].session_env",
        secret: Some("9f8e7d6c5b"),
        check_too: true,
    },
    Case {
        name: "missing env var",
        toml: "[[source]]\nprovider = \"triport\"\nlabel = \"main\"\n",
        key: "source[0].session_env",
        secret: None,
        check_too: true,
    },
    Case {
        name: "missing env var named in the file",
        toml: "[[source]]\nprovider = \"coinw\"\nutc_offset = \"Z\"\napi_key_env = \"ACME_COINW_KEY\"\n",
        key: "source[0].api_key_env",
        secret: None,
        check_too: true,
    },
    Case {
        name: "bad output URL",
        toml: "[output]\nurl = \"ftp://example.com/x\"\n\n[[source]]\nprovider = \"triport\"\n",
        key: "output.url",
        secret: None,
        check_too: true,
    },
    Case {
        name: "password in the output URL",
        toml: "[output]\nurl = \"postgres://me:pg-pass-4242@127.0.0.1/db\"\n\n[[source]]\nprovider = \"triport\"\n",
        key: "output.url",
        secret: Some("pg-pass-4242"),
        check_too: true,
    },
    Case {
        name: "unknown table",
        toml: "[sink]\nurl = \"sqlite://x.db\"\n",
        key: "sink",
        secret: None,
        check_too: true,
    },
    Case {
        name: "unknown sync key",
        toml: "[sync]\nmood = \"full\"\n\n[[source]]\nprovider = \"triport\"\n",
        key: "sync.mood",
        secret: None,
        check_too: true,
    },
    Case {
        name: "bad sync mode",
        toml: "[sync]\nmode = \"fast\"\n\n[[source]]\nprovider = \"triport\"\n",
        key: "sync.mode",
        secret: None,
        check_too: true,
    },
    Case {
        name: "email hash without a salt",
        toml: "[sync]\nemail = \"hash\"\n\n[[source]]\nprovider = \"triport\"\n",
        key: "sync.email_salt_env",
        secret: None,
        check_too: true,
    },
    Case {
        name: "literal salt",
        toml: "[sync]\nemail = \"hash\"\nemail_salt = \"pepper-0xdead\"\nemail_salt_env = \"SALT\"\n\n[[source]]\nprovider = \"triport\"\n",
        key: "sync.email_salt",
        secret: Some("pepper-0xdead"),
        check_too: true,
    },
    Case {
        name: "duplicate label",
        toml: "[[source]]\nprovider = \"triport\"\nlabel = \"a\"\n\n[[source]]\nprovider = \"triport\"\nlabel = \"a\"\n",
        key: "source[1].label",
        secret: None,
        check_too: true,
    },
    Case {
        name: "missing provider",
        toml: "[[source]]\nlabel = \"a\"\n",
        key: "source[0].provider",
        secret: None,
        check_too: true,
    },
    Case {
        name: "no source",
        toml: "[sync]\nmode = \"full\"\n",
        key: "source",
        secret: None,
        check_too: true,
    },
];

fn check_output(case: &Case, file: &Path, command: &str, out: &std::process::Output) {
    let text = stderr(out);
    assert_eq!(
        out.status.code(),
        Some(2),
        "{} ({command}): exit code\n{text}",
        case.name
    );
    let file_name = file.display().to_string();
    assert!(
        text.contains(&file_name),
        "{} ({command}): the file is not named\n{text}",
        case.name
    );
    assert!(
        text.contains(&format!("{}: ", case.key)),
        "{} ({command}): the key {} is not named\n{text}",
        case.name,
        case.key
    );
    assert!(
        text.contains("fix: "),
        "{} ({command}): no fix given\n{text}",
        case.name
    );
    if let Some(secret) = case.secret {
        let all = format!("{text}{}", stdout(out));
        assert!(
            !all.contains(secret),
            "{} ({command}): the secret was printed\n{all}",
            case.name
        );
    }
}

#[test]
fn every_config_error_exits_2_naming_file_key_and_fix() {
    let dir = tempfile::tempdir().expect("tempdir");
    for (i, case) in CASES.iter().enumerate() {
        let file = write(dir.path(), &format!("case{i}.toml"), case.toml);
        let path = file.to_str().unwrap_or_default();
        let out = run_now(&["sync", "--config", path, "--out", "-"], &[]);
        check_output(case, &file, "sync", &out);
        assert!(stdout(&out).is_empty(), "{}: rows were written", case.name);
        if case.check_too {
            let out = run_now(&["config", "check", "--config", path], &[]);
            check_output(case, &file, "config check", &out);
        }
    }
}

#[test]
fn coinw_split_cap_takes_a_row_count_or_zero() {
    let dir = tempfile::tempdir().expect("tempdir");
    for (cap, ok) in [("0", true), ("5000", true), ("-5", false)] {
        let toml = format!(
            "[[source]]\nprovider = \"coinw\"\nutc_offset = \"+08:00\"\nsplit_cap = {cap}\n"
        );
        let file = write(dir.path(), &format!("cap{cap}.toml"), &toml);
        let path = file.to_str().unwrap_or_default();
        let out = run_now(&["config", "check", "--no-env", "--config", path], &[]);
        let text = stderr(&out);
        if ok {
            assert_eq!(out.status.code(), Some(0), "split_cap = {cap}: {text}");
        } else {
            assert_eq!(out.status.code(), Some(2), "split_cap = {cap}: {text}");
            assert!(
                text.contains("source[0].split_cap") && text.contains("negative"),
                "{text}"
            );
        }
    }
}

#[test]
fn several_problems_are_reported_together() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = write(
        dir.path(),
        "many.toml",
        "[sync]\nmode = \"fast\"\n\n[[source]]\nprovider = \"coinw\"\nsecret_key = \"x-secret-x\"\n\n[[source]]\nprovider = \"triport\"\nlimit = 0\n",
    );
    let out = run_now(
        &[
            "config",
            "check",
            "--config",
            file.to_str().unwrap_or_default(),
        ],
        &[],
    );
    let text = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{text}");
    for key in [
        "sync.mode",
        "source[0].secret_key",
        "source[0].utc_offset",
        "source[1].limit",
    ] {
        assert!(
            text.contains(&format!("{key}: ")),
            "{key} missing from\n{text}"
        );
    }
    assert!(!text.contains("x-secret-x"));
}

#[test]
fn syntax_errors_name_the_line() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = write(
        dir.path(),
        "syntax.toml",
        "[[source]]\nprovider = \"triport\"\nlimit = = 3\n",
    );
    let out = run_now(
        &[
            "config",
            "check",
            "--config",
            file.to_str().unwrap_or_default(),
        ],
        &[],
    );
    let text = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{text}");
    assert!(text.contains(&format!("{}:3: ", file.display())), "{text}");
}

#[test]
fn a_missing_file_and_bad_usage_exit_2() {
    let out = run_now(&["sync", "--config", "/nonexistent/affiliate.toml"], &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("/nonexistent/affiliate.toml: cannot be read"));
    let out = run_now(&["sync", "--full", "--incremental"], &[]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let out = run_now(&["frobnicate"], &[]);
    assert_eq!(out.status.code(), Some(2));
    let out = run_now(&["report"], &[]);
    assert_eq!(out.status.code(), Some(2), "--db is required");
    let out = run_now(&["--help"], &[]);
    assert_eq!(out.status.code(), Some(0));
    assert!(stdout(&out).contains("demo"));
}

#[test]
fn a_bad_out_flag_exits_2_naming_the_flag() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = write(
        dir.path(),
        "ok.toml",
        "[[source]]\nprovider = \"triport\"\n",
    );
    let out = run_now(
        &[
            "sync",
            "--config",
            file.to_str().unwrap_or_default(),
            "--out",
            "mysql://db",
        ],
        &[("TRIPORT_SESSION", "x")],
    );
    let text = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{text}");
    assert!(text.contains("--out: \"mysql://db\""), "{text}");
    assert!(text.contains("fix: use one of: sqlite://PATH"), "{text}");
}

#[test]
fn a_good_file_checks_out() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = write(
        dir.path(),
        "good.toml",
        r#"
[sync]
mode = "incremental"
overlap = "30m"
fail_fast = false
email = "hash"
email_salt_env = "AFFILIATE_EMAIL_SALT"

[output]
url = "sqlite://affiliate.db"

[[source]]
provider = "triport"
label = "main"
limit = 200
session_env = "TRIPORT_SESSION"

[[source]]
provider = "coinw"
label = "main"
utc_offset = "+08:00"
since = 2023-01-01
window = "1 month"
page_size = 1000
api_key_env = "COINW_API_KEY"
secret_key_env = "COINW_SECRET_KEY"

[[source]]
provider = "prefactor"
label = "acme"
account_id = "013xrzp12g3nqk8ngskn1wtxgka5b0nf"
sorting = "id"
page_size = 100

[[source]]
provider = "census"
label = "acme-eu"
region = "eu"
order = "asc"
per_page = 100
"#,
    );
    let path = file.to_str().unwrap_or_default();
    let env = [
        ("TRIPORT_SESSION", "s"),
        ("COINW_API_KEY", "k"),
        ("COINW_SECRET_KEY", "s"),
        ("PREFACTOR_TOKEN", "t"),
        ("CENSUS_TOKEN", "t"),
        ("AFFILIATE_EMAIL_SALT", "salt"),
    ];
    let out = run_now(&["config", "check", "--config", path], &env);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(
        text.contains("triport:main, coinw:main, prefactor:acme, census:acme-eu"),
        "{text}"
    );
    // Without the variables, only --no-env passes.
    let out = run_now(&["config", "check", "--config", path], &[]);
    assert_eq!(out.status.code(), Some(2));
    let out = run_now(&["config", "check", "--no-env", "--config", path], &[]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
}

/// `affiliate config check --no-env` of `toml`: exit code and standard error.
fn check_text(toml: &str) -> (Option<i32>, String) {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = write(dir.path(), "check.toml", toml);
    let path = file.to_str().unwrap_or_default();
    let out = run_now(&["config", "check", "--no-env", "--config", path], &[]);
    (out.status.code(), stderr(&out))
}

#[test]
fn unknown_keys_get_a_suggestion_from_the_provider_and_shared_keys() {
    let (code, text) = check_text("[[source]]\nprovider = \"triport\"\nlimt = 5\n");
    assert_eq!(code, Some(2), "{text}");
    assert!(
        text.contains("source[0].limt: unknown key for provider \"triport\""),
        "{text}"
    );
    assert!(text.contains("did you mean `limit`?"), "{text}");
    let (_, text) = check_text("[[source]]\nprovider = \"census\"\nbase_ulr = \"https://x\"\n");
    assert!(text.contains("did you mean `base_url`?"), "{text}");
    assert!(
        text.contains(
            "known keys: region, order, per_page, token_env, label, base_url, rate_limit"
        ),
        "{text}"
    );
}

#[test]
fn a_literal_secret_points_at_the_providers_env_key() {
    let (code, text) = check_text("[[source]]\nprovider = \"census\"\ntoken = \"hunter2\"\n");
    assert_eq!(code, Some(2), "{text}");
    assert!(text.contains("token_env = \"CENSUS_TOKEN\""), "{text}");
    assert!(!text.contains("hunter2"), "{text}");
    let (_, text) =
        check_text("[[source]]\nprovider = \"coinw\"\nutc_offset = \"Z\"\nsecret = \"s\"\n");
    assert!(
        text.contains("secret_key_env = \"COINW_SECRET_KEY\""),
        "{text}"
    );
}

#[test]
fn every_problem_of_a_source_is_reported_in_order() {
    let (code, text) = check_text(
        "[[source]]\nprovider = \"coinw\"\npage_size = 0\nwindow = \"weekly\"\nbase_url = \"http://example.com\"\n",
    );
    assert_eq!(code, Some(2), "{text}");
    let at = |key: &str| {
        text.find(&format!("{key}: "))
            .unwrap_or_else(|| panic!("{key} in {text}"))
    };
    let order = [
        at("source[0].utc_offset"),
        at("source[0].window"),
        at("source[0].page_size"),
        at("source[0].base_url"),
    ];
    assert!(order.windows(2).all(|w| w[0] < w[1]), "{text}");
}

#[test]
fn every_missing_secret_variable_is_reported() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = write(
        dir.path(),
        "secrets.toml",
        "[[source]]\nprovider = \"coinw\"\nutc_offset = \"Z\"\nsecret_key_env = \"MY_SECRET\"\n",
    );
    let path = file.to_str().unwrap_or_default();
    let out = run_now(&["config", "check", "--config", path], &[]);
    let text = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{text}");
    assert!(
        text.contains("source[0].api_key_env: environment variable COINW_API_KEY"),
        "{text}"
    );
    assert!(
        text.contains("source[0].secret_key_env: environment variable MY_SECRET"),
        "{text}"
    );
}

#[test]
fn max_rate_is_checked_and_refused_next_to_a_fixed_rate_limit() {
    let (code, text) = check_text("[[source]]\nprovider = \"census\"\nmax_rate = 0\n");
    assert_eq!(code, Some(2), "{text}");
    assert!(
        text.contains("source[0].max_rate: must be a number of requests per second"),
        "{text}"
    );
    let (code, text) =
        check_text("[[source]]\nprovider = \"census\"\nmax_rate = 20\nrate_limit = 5\n");
    assert_eq!(code, Some(2), "{text}");
    assert!(
        text.contains("max_rate: cannot be combined with rate_limit"),
        "{text}"
    );
    let (code, text) = check_text("[[source]]\nprovider = \"census\"\nmax_rate = 20\n");
    assert_eq!(code, Some(0), "{text}");
}

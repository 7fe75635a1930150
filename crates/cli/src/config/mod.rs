//! The configuration file (`affiliate.toml`): reading, checking, and turning it into
//! sources, sync options and an output.
//!
//! ```toml
//! [sync]
//! mode = "incremental"
//! email = "hash"
//! email_salt_env = "AFFILIATE_EMAIL_SALT"
//!
//! [output]
//! url = "sqlite://affiliate.db"
//!
//! [[source]]
//! provider = "triport"
//! label = "main"
//! ```
//!
//! Secrets are never written in the file: each is read from an environment variable that
//! the file may name (each adapter's `*_env` keys). Every error names the file, the
//! key and the fix.

mod error;
#[cfg(test)]
mod fuzz;
mod raw;
mod registry;
mod source;
mod values;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use affiliate::sync::{EmailPolicy, SyncMode, SyncOptions};
use affiliate::InviteeSource;
use chrono::TimeDelta;

pub(crate) use affiliate::http::config::{Env, ProcessEnv};
pub(crate) use error::{ConfigError, ConfigErrors};
pub(crate) use source::{missing_var, SourceSpec};

use raw::RawFile;

/// What happens to email addresses, as configured.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum EmailSetting {
    /// Stored as received.
    Keep,
    /// Salted SHA-256; the salt is read from this variable.
    Hash {
        /// The variable holding the salt.
        salt_env: String,
    },
    /// Not stored.
    Drop,
}

/// `[sync]`, checked.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct SyncSettings {
    /// Full or incremental (the command line may override it).
    pub(crate) mode: SyncMode,
    /// How far before the watermark incremental runs start.
    pub(crate) overlap: TimeDelta,
    /// The longest incremental runs let stored totals age (`None`: never refresh).
    pub(crate) refresh: Option<TimeDelta>,
    /// Stop every source when one fails.
    pub(crate) fail_fast: bool,
    /// The longest one source's part of a run may take (`None`: no limit).
    pub(crate) deadline: Option<std::time::Duration>,
    /// The email policy.
    pub(crate) email: EmailSetting,
}

impl Default for SyncSettings {
    fn default() -> Self {
        Self {
            mode: SyncMode::Full,
            overlap: TimeDelta::hours(1),
            refresh: Some(TimeDelta::hours(24)),
            fail_fast: false,
            deadline: Some(affiliate::sync::DEFAULT_DEADLINE),
            email: EmailSetting::Keep,
        }
    }
}

/// `[output]`, checked.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct OutputSettings {
    /// The output URL written in the file.
    pub(crate) url: Option<String>,
    /// The variable holding the output URL.
    pub(crate) url_env: Option<String>,
    /// PostgreSQL schema.
    pub(crate) schema: Option<String>,
}

/// A checked configuration file.
#[derive(Debug, Clone)]
pub(crate) struct Config {
    /// The file, as given.
    pub(crate) path: PathBuf,
    /// `[sync]`.
    pub(crate) sync: SyncSettings,
    /// `[output]`.
    pub(crate) output: OutputSettings,
    /// The `[[source]]` tables, in file order.
    pub(crate) sources: Vec<SourceSpec>,
}

/// Everything a sync needs from the configuration, with secrets read.
pub(crate) struct Resolved {
    /// One adapter per `[[source]]`.
    pub(crate) sources: Vec<Arc<dyn InviteeSource>>,
    /// Options for the engine.
    pub(crate) options: SyncOptions,
}

impl Config {
    /// Reads and checks `path`; reports every problem it finds (secrets are not read yet).
    pub(crate) fn load(path: &Path) -> Result<Self, ConfigErrors> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            ConfigErrors::one(
                path,
                ConfigError::new("", format!("cannot be read: {e}"))
                    .fix("check the path given with --config"),
            )
        })?;
        Self::parse(path, &text)
    }

    /// Checks the text of a configuration file named `path`.
    pub(crate) fn parse(path: &Path, text: &str) -> Result<Self, ConfigErrors> {
        let fail = |errors: Vec<ConfigError>| ConfigErrors {
            file: path.to_path_buf(),
            errors,
        };
        let deserializer = toml::Deserializer::parse(text).map_err(|e| {
            fail(vec![ConfigError::new(
                "",
                format!("is not valid TOML: {}", e.message()),
            )
            .at_line(line_of(text, e.span()))
            .fix("correct the syntax at that line")])
        })?;
        let raw: RawFile = serde_path_to_error::deserialize(deserializer).map_err(|e| {
            let line = line_of(text, e.inner().span());
            let path = e.path().to_string();
            fail(vec![
                source::serde_error("", "", path, e.inner().message()).at_line(line)
            ])
        })?;
        let mut errors = Vec::new();
        let sync = sync_settings(raw.sync, &mut errors);
        let output = output_settings(raw.output, &mut errors);
        let mut sources: Vec<SourceSpec> = Vec::new();
        for (index, table) in raw.source.into_iter().enumerate() {
            let Some(spec) = SourceSpec::parse(index, table, &mut errors) else {
                continue;
            };
            if let Some(first) = sources
                .iter()
                .find(|s| s.provider == spec.provider && s.label == spec.label)
            {
                errors.push(
                    ConfigError::new(
                        format!("{}.label", spec.key),
                        format!(
                            "{}:{} is already configured by {}",
                            spec.provider, spec.label, first.key
                        ),
                    )
                    .fix("give each account of a provider its own label"),
                );
                continue;
            }
            sources.push(spec);
        }
        if errors.is_empty() && sources.is_empty() {
            errors.push(
                ConfigError::new("source", "no [[source]] is configured")
                    .fix("add one [[source]] table per account, e.g.\n  [[source]]\n  provider = \"triport\"\n  label = \"main\""),
            );
        }
        if errors.is_empty() {
            Ok(Self {
                path: path.to_path_buf(),
                sync,
                output,
                sources,
            })
        } else {
            Err(fail(errors))
        }
    }

    /// Reads the secrets from `env` and builds every source and the engine options,
    /// reporting every missing variable.
    pub(crate) fn resolve(&self, env: &dyn Env) -> Result<Resolved, ConfigErrors> {
        let mut errors = Vec::new();
        let mut sources = Vec::new();
        for spec in &self.sources {
            match spec.build(env) {
                Ok(source) => sources.push(source),
                Err(errs) => errors.extend(errs),
            }
        }
        let email = match &self.sync.email {
            EmailSetting::Keep => EmailPolicy::Keep,
            EmailSetting::Drop => EmailPolicy::Drop,
            EmailSetting::Hash { salt_env } => match env.var(salt_env) {
                Some(salt) => EmailPolicy::hash(salt),
                None => {
                    errors.push(missing_var(
                        "sync.email_salt_env",
                        salt_env,
                        "the salt email addresses are hashed with",
                    ));
                    EmailPolicy::Drop
                }
            },
        };
        if !errors.is_empty() {
            return Err(ConfigErrors {
                file: self.path.clone(),
                errors,
            });
        }
        let options = SyncOptions::default()
            .with_mode(self.sync.mode)
            .with_overlap(self.sync.overlap)
            .with_refresh(self.sync.refresh)
            .with_fail_fast(self.sync.fail_fast)
            .with_deadline(self.sync.deadline)
            .with_email(email);
        Ok(Resolved { sources, options })
    }
}

/// Checks `[sync]`.
fn sync_settings(raw: raw::RawSync, errors: &mut Vec<ConfigError>) -> SyncSettings {
    let mut sync = SyncSettings::default();
    if let Some(mode) = raw.mode {
        match SyncMode::parse(&mode) {
            Some(m) => sync.mode = m,
            None => errors.push(
                ConfigError::new(
                    "sync.mode",
                    format!("{mode:?} is neither \"full\" nor \"incremental\""),
                )
                .fix("write mode = \"full\" (the default) or mode = \"incremental\""),
            ),
        }
    }
    if let Some(overlap) = raw.overlap {
        match values::duration(&overlap) {
            Ok(d) => sync.overlap = d,
            Err(m) => errors.push(
                ConfigError::new("sync.overlap", m).fix("e.g. overlap = \"1h\" (the default)"),
            ),
        }
    }
    match raw.refresh {
        Some(toml::Value::String(never)) if never.trim() == "never" => sync.refresh = None,
        Some(refresh) => match values::duration(&refresh) {
            Ok(d) if d > TimeDelta::zero() => sync.refresh = Some(d),
            Ok(_) => errors.push(
                ConfigError::new("sync.refresh", "must be longer than zero")
                    .fix("e.g. refresh = \"24h\" (the default), or refresh = \"never\""),
            ),
            Err(m) => errors.push(
                ConfigError::new("sync.refresh", m)
                    .fix("e.g. refresh = \"24h\" (the default), or refresh = \"never\""),
            ),
        },
        None => {}
    }
    sync.fail_fast = raw.fail_fast.unwrap_or(false);
    const DEADLINE_FIX: &str = "e.g. deadline = \"6h\" (the default), or deadline = \"none\"";
    match raw.deadline {
        Some(toml::Value::String(none)) if none.trim() == "none" => sync.deadline = None,
        Some(deadline) => match values::duration(&deadline).map(|d| d.to_std()) {
            Ok(Ok(d)) if !d.is_zero() => sync.deadline = Some(d),
            Ok(_) => errors.push(
                ConfigError::new("sync.deadline", "must be longer than zero").fix(DEADLINE_FIX),
            ),
            Err(m) => errors.push(ConfigError::new("sync.deadline", m).fix(DEADLINE_FIX)),
        },
        None => {}
    }
    if raw.email_salt.is_some() {
        errors.push(
            ConfigError::new(
                "sync.email_salt",
                "a secret written into the config file; secrets are only read from environment variables",
            )
            .fix("delete this line, export the salt as an environment variable and name it instead: email_salt_env = \"AFFILIATE_EMAIL_SALT\""),
        );
    }
    let salt_env = raw.email_salt_env.inspect(|var| {
        if let Err(m) = values::env_name(var) {
            errors.push(
                ConfigError::new("sync.email_salt_env", m)
                    .fix("name the variable that holds the salt, e.g. email_salt_env = \"AFFILIATE_EMAIL_SALT\""),
            );
        }
    });
    match raw.email.as_deref().unwrap_or("keep") {
        "keep" => sync.email = EmailSetting::Keep,
        "drop" => sync.email = EmailSetting::Drop,
        "hash" => match salt_env {
            Some(salt_env) => sync.email = EmailSetting::Hash { salt_env },
            None => errors.push(
                ConfigError::new("sync.email_salt_env", "missing: email = \"hash\" needs a salt")
                    .fix("add email_salt_env = \"AFFILIATE_EMAIL_SALT\" and export that variable with a long random value"),
            ),
        },
        other => errors.push(
            ConfigError::new("sync.email", format!("{other:?} is not keep, hash or drop"))
                .fix("write email = \"keep\" (the default), \"hash\" (salted SHA-256) or \"drop\""),
        ),
    }
    sync
}

/// Checks `[output]` (a URL with a password is refused: it is a secret).
fn output_settings(raw: raw::RawOutput, errors: &mut Vec<ConfigError>) -> OutputSettings {
    if raw.url.is_some() && raw.url_env.is_some() {
        errors.push(
            ConfigError::new("output.url_env", "both url and url_env are set")
                .fix("keep one: url for a path, url_env for a URL that carries a password"),
        );
    }
    if let Some(var) = &raw.url_env {
        if let Err(m) = values::env_name(var) {
            errors.push(ConfigError::new("output.url_env", m).fix(
                "name the variable that holds the URL, e.g. url_env = \"AFFILIATE_OUTPUT_URL\"",
            ));
        }
    }
    if let Some(url) = &raw.url {
        match crate::output::Target::parse(url) {
            Ok(target) if target.has_password() => errors.push(
                ConfigError::new("output.url", "the URL carries a password, which is a secret written into the config file")
                    .fix("export the URL as an environment variable and name it instead: url_env = \"AFFILIATE_OUTPUT_URL\""),
            ),
            Ok(_) => {}
            Err(err) => errors.push(ConfigError::new("output.url", err.message).fix(err.fix)),
        }
    }
    OutputSettings {
        url: raw.url,
        url_env: raw.url_env,
        schema: raw.schema,
    }
}

/// The 1-based line of a byte offset's span.
fn line_of(text: &str, span: Option<std::ops::Range<usize>>) -> Option<usize> {
    let start = span?.start.min(text.len());
    Some(
        text.as_bytes()[..start]
            .iter()
            .filter(|b| **b == b'\n')
            .count()
            + 1,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Config, ConfigErrors> {
        Config::parse(Path::new("a.toml"), text)
    }

    fn keys(text: &str) -> Vec<String> {
        match parse(text) {
            Ok(_) => Vec::new(),
            Err(e) => e.errors.into_iter().map(|e| e.key).collect(),
        }
    }

    #[test]
    fn a_full_file() {
        let config = parse(
            r#"
            [sync]
            mode = "incremental"
            overlap = "30m"
            refresh = "6h"
            fail_fast = true
            deadline = "90m"
            email = "hash"
            email_salt_env = "SALT"

            [output]
            url = "sqlite://x.db"

            [[source]]
            provider = "triport"
            label = "main"

            [[source]]
            provider = "census"
            "#,
        )
        .unwrap();
        assert_eq!(config.sync.mode, SyncMode::Incremental);
        assert_eq!(config.sync.overlap, TimeDelta::minutes(30));
        assert_eq!(
            config.sync.deadline,
            Some(std::time::Duration::from_secs(90 * 60))
        );
        assert_eq!(config.sync.refresh, Some(TimeDelta::hours(6)));
        assert_eq!(
            config.sync.email,
            EmailSetting::Hash {
                salt_env: "SALT".into()
            }
        );
        assert_eq!(config.sources.len(), 2);
        assert_eq!(config.sources[1].label, "default");
    }

    #[test]
    fn top_level_and_section_problems_name_their_key() {
        assert_eq!(keys("[sink]\nurl = \"x\""), ["sink"]);
        assert_eq!(
            keys("[sync]\nrefresh = \"soon\"\n[[source]]\nprovider = \"triport\""),
            ["sync.refresh"]
        );
        let never = parse("[sync]\nrefresh = \"never\"\n[[source]]\nprovider = \"triport\"");
        assert_eq!(never.map(|c| c.sync.refresh), Ok(None));
        let unbounded = parse("[sync]\ndeadline = \"none\"\n[[source]]\nprovider = \"triport\"");
        assert_eq!(unbounded.map(|c| c.sync.deadline), Ok(None));
        assert_eq!(
            keys("[sync]\ndeadline = \"0s\"\n[[source]]\nprovider = \"triport\""),
            ["sync.deadline"]
        );
        assert_eq!(
            keys("[sync]\nmood = \"full\"\n[[source]]\nprovider = \"triport\""),
            ["sync.mood"]
        );
        assert_eq!(
            keys("[sync]\nemail = \"hash\"\n[[source]]\nprovider = \"triport\""),
            ["sync.email_salt_env"]
        );
        assert_eq!(
            keys("[output]\nurl = \"ftp://x\"\n[[source]]\nprovider = \"triport\""),
            ["output.url"]
        );
        assert_eq!(keys(""), ["source"]);
    }

    #[test]
    fn syntax_errors_carry_a_line() {
        let err = parse("[[source]]\nprovider = \"triport\"\nlabel = = 3\n").unwrap_err();
        assert_eq!(err.errors[0].line, Some(3), "{err}");
    }

    #[test]
    fn duplicate_labels_are_refused() {
        assert_eq!(
            keys("[[source]]\nprovider = \"triport\"\n[[source]]\nprovider = \"triport\""),
            ["source[1].label"]
        );
    }
}

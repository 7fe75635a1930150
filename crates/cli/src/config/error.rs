//! Configuration errors: which file, which key, what is wrong and how to fix it.

use std::fmt;
use std::path::{Path, PathBuf};

use affiliate::http::config::ConfigIssue;

/// One problem in a configuration file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ConfigError {
    /// The key, as a path (`source[2].label`, `sync.email`); empty for the whole file.
    pub(crate) key: String,
    /// The line the problem is on, when known (1-based).
    pub(crate) line: Option<usize>,
    /// What is wrong.
    pub(crate) message: String,
    /// How to fix it.
    pub(crate) fix: String,
}

impl ConfigError {
    /// A problem with `key`.
    pub(crate) fn new(key: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            key: key.into(),
            line: None,
            message: message.into(),
            fix: String::new(),
        }
    }

    /// Adds how to fix it.
    pub(crate) fn fix(mut self, fix: impl Into<String>) -> Self {
        self.fix = fix.into();
        self
    }

    /// An adapter's problem with a key of the table at `prefix` (`source[2]`).
    pub(crate) fn from_issue(prefix: &str, issue: ConfigIssue) -> Self {
        let key = match (prefix.is_empty(), issue.key.is_empty()) {
            (true, _) => issue.key,
            (false, true) => prefix.to_owned(),
            (false, false) => format!("{prefix}.{}", issue.key),
        };
        Self::new(key, issue.message).fix(issue.fix)
    }

    /// Adds the line the problem is on.
    pub(crate) fn at_line(mut self, line: Option<usize>) -> Self {
        self.line = line;
        self
    }
}

/// Every problem found in one configuration file (at least one).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ConfigErrors {
    /// The file, as given on the command line.
    pub(crate) file: PathBuf,
    /// The problems, in file order where possible.
    pub(crate) errors: Vec<ConfigError>,
}

impl ConfigErrors {
    /// One problem in `file`.
    pub(crate) fn one(file: &Path, error: ConfigError) -> Self {
        Self {
            file: file.to_path_buf(),
            errors: vec![error],
        }
    }
}

impl fmt::Display for ConfigErrors {
    /// One paragraph per problem:
    ///
    /// ```text
    /// affiliate.toml:14: source[2].rate_limit: must be a number of requests per second within (0, 1000] (got 0)
    ///   fix: remove it to use the provider's default, or set e.g. rate_limit = 5
    /// ```
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, err) in self.errors.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{}", self.file.display())?;
            if let Some(line) = err.line {
                write!(f, ":{line}")?;
            }
            if !err.key.is_empty() {
                write!(f, ": {}", err.key)?;
            }
            write!(f, ": {}", err.message)?;
            if !err.fix.is_empty() {
                write!(f, "\n  fix: {}", err.fix)?;
            }
        }
        Ok(())
    }
}

impl std::error::Error for ConfigErrors {}

/// The closest of `candidates` to `word` when it is a plausible typo (Levenshtein
/// distance at most a third of the candidate's length).
pub(crate) fn did_you_mean<'a>(word: &str, candidates: &[&'a str]) -> Option<&'a str> {
    candidates
        .iter()
        .map(|c| (strsim::levenshtein(word, c), *c))
        .filter(|(d, c)| *d <= (c.len() / 3).max(1))
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typos_are_suggested() {
        assert_eq!(did_you_mean("labl", &["label", "base_url"]), Some("label"));
        assert_eq!(
            did_you_mean("base_ulr", &["base_url", "rate_limit"]),
            Some("base_url")
        );
        assert_eq!(did_you_mean("zzz", &["label", "base_url"]), None);
    }

    #[test]
    fn errors_name_file_line_key_and_fix() {
        let errs = ConfigErrors::one(
            Path::new("a.toml"),
            ConfigError::new("source[0].label", "must not be empty")
                .fix("name the account")
                .at_line(Some(4)),
        );
        assert_eq!(
            errs.to_string(),
            "a.toml:4: source[0].label: must not be empty\n  fix: name the account"
        );
    }
}

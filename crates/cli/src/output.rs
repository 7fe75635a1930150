//! Output URLs (`sqlite://PATH`, `ndjson:PATH`, `csv:PATH`, `-`, `postgres://…`) and
//! opening the sink each names.

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;

use affiliate::http::Url;
use affiliate::sync::{FileFormat, FileSink, PostgresSink, Sink, SinkError, SqliteSink};

/// The forms an output URL can take, for messages.
pub(crate) const FORMS: &str =
    "sqlite://PATH, ndjson:PATH, csv:PATH, - (NDJSON on standard output) or postgres://USER@HOST/DB";

/// Where synced rows go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Target {
    /// A SQLite database file.
    Sqlite(PathBuf),
    /// An NDJSON file.
    Ndjson(PathBuf),
    /// A CSV file.
    Csv(PathBuf),
    /// Standard output in this format.
    Stdout(FileFormat),
    /// A PostgreSQL connection URL.
    Postgres(String),
}

/// An output URL that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TargetError {
    /// What is wrong.
    pub(crate) message: String,
    /// How to fix it.
    pub(crate) fix: String,
}

impl fmt::Display for TargetError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}\n  fix: {}", self.message, self.fix)
    }
}

impl Target {
    /// Parses an output URL. A bare path ending in `.db`/`.sqlite`/`.sqlite3`, `.ndjson`/
    /// `.jsonl` or `.csv` is taken as that kind of file.
    pub(crate) fn parse(text: &str) -> Result<Self, TargetError> {
        let text = text.trim();
        let bad = |message: String| TargetError {
            message,
            fix: format!("use one of: {FORMS}"),
        };
        let path = |rest: &str| -> Result<PathBuf, TargetError> {
            if rest.is_empty() {
                Err(bad(format!("{text:?} names no file")))
            } else {
                Ok(PathBuf::from(rest))
            }
        };
        if text == "-" {
            return Ok(Target::Stdout(FileFormat::Ndjson));
        }
        if text.starts_with("postgres://") || text.starts_with("postgresql://") {
            Url::parse(text).map_err(|e| bad(format!("the PostgreSQL URL is not valid: {e}")))?;
            return Ok(Target::Postgres(text.to_owned()));
        }
        if let Some(rest) = text.strip_prefix("sqlite:") {
            return path(rest.strip_prefix("//").unwrap_or(rest)).map(Target::Sqlite);
        }
        for (prefix, format) in [("ndjson:", FileFormat::Ndjson), ("csv:", FileFormat::Csv)] {
            if let Some(rest) = text.strip_prefix(prefix) {
                let rest = rest.strip_prefix("//").unwrap_or(rest);
                if rest == "-" {
                    return Ok(Target::Stdout(format));
                }
                let p = path(rest)?;
                return Ok(match format {
                    FileFormat::Csv => Target::Csv(p),
                    _ => Target::Ndjson(p),
                });
            }
        }
        if text.contains("://") || text.is_empty() {
            return Err(bad(format!("{text:?} is not an output this tool writes")));
        }
        let lower = text.to_ascii_lowercase();
        if [".db", ".sqlite", ".sqlite3"]
            .iter()
            .any(|e| lower.ends_with(e))
        {
            Ok(Target::Sqlite(PathBuf::from(text)))
        } else if lower.ends_with(".ndjson") || lower.ends_with(".jsonl") {
            Ok(Target::Ndjson(PathBuf::from(text)))
        } else if lower.ends_with(".csv") {
            Ok(Target::Csv(PathBuf::from(text)))
        } else {
            Err(bad(format!(
                "{text:?} is not an output URL (and its extension does not say which kind of file it is)"
            )))
        }
    }

    /// True for a PostgreSQL URL carrying a password.
    pub(crate) fn has_password(&self) -> bool {
        match self {
            Target::Postgres(url) => Url::parse(url).is_ok_and(|u| u.password().is_some()),
            _ => false,
        }
    }

    /// Opens the sink (`schema` applies to PostgreSQL only).
    pub(crate) async fn open(&self, schema: Option<&str>) -> Result<Arc<dyn Sink>, SinkError> {
        Ok(match self {
            Target::Sqlite(path) => Arc::new(SqliteSink::open(path).await?),
            Target::Ndjson(path) => Arc::new(FileSink::open(path, FileFormat::Ndjson).await?),
            Target::Csv(path) => Arc::new(FileSink::open(path, FileFormat::Csv).await?),
            Target::Stdout(format) => Arc::new(FileSink::stdout(*format)),
            Target::Postgres(url) => Arc::new(PostgresSink::connect(url, schema).await?),
        })
    }
}

impl fmt::Display for Target {
    /// The target without any password.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Target::Sqlite(p) => write!(f, "sqlite://{}", p.display()),
            Target::Ndjson(p) => write!(f, "ndjson:{}", p.display()),
            Target::Csv(p) => write!(f, "csv:{}", p.display()),
            Target::Stdout(format) => write!(f, "{} on standard output", format.name()),
            Target::Postgres(url) => match Url::parse(url) {
                Ok(mut u) => {
                    if u.password().is_some() {
                        // Setting a password on a postgres:// URL cannot fail.
                        let _ = u.set_password(Some("******"));
                    }
                    write!(f, "{u}")
                }
                Err(_) => f.write_str("postgres://(unparsable)"),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms() {
        let p = |t: &str| Target::parse(t);
        assert_eq!(p("sqlite://a.db"), Ok(Target::Sqlite("a.db".into())));
        assert_eq!(
            p("sqlite:///tmp/a.db"),
            Ok(Target::Sqlite("/tmp/a.db".into()))
        );
        assert_eq!(p("sqlite:a.db"), Ok(Target::Sqlite("a.db".into())));
        assert_eq!(
            p("ndjson:out.ndjson"),
            Ok(Target::Ndjson("out.ndjson".into()))
        );
        assert_eq!(p("csv:-"), Ok(Target::Stdout(FileFormat::Csv)));
        assert_eq!(p("-"), Ok(Target::Stdout(FileFormat::Ndjson)));
        assert_eq!(p("x.sqlite3"), Ok(Target::Sqlite("x.sqlite3".into())));
        assert!(matches!(
            p("postgres://u@127.0.0.1/db"),
            Ok(Target::Postgres(_))
        ));
        assert!(p("ftp://x").is_err());
        assert!(p("sqlite://").is_err());
        assert!(p("notes.txt").is_err());
    }

    #[test]
    fn passwords_are_detected_and_hidden() {
        let t = Target::parse("postgres://u:hunter2@127.0.0.1/db").unwrap();
        assert!(t.has_password());
        assert!(!t.to_string().contains("hunter2"));
        assert!(!Target::parse("postgres://u@127.0.0.1/db")
            .unwrap()
            .has_password());
    }
}

//! How a command ends when it does not succeed, and the exit code for each case.

use std::fmt;
use std::process::ExitCode;

use crate::config::ConfigErrors;

/// A command that did not succeed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Failure {
    /// Bad usage or configuration (exit code 2): nothing was attempted.
    Usage(String),
    /// The command, or some of the sources, failed (exit code 1).
    Failed(String),
    /// Stopped by Ctrl-C or SIGTERM (exit code 130); running the command again resumes.
    Interrupted(String),
}

impl Failure {
    /// The process exit code.
    pub(crate) fn exit_code(&self) -> ExitCode {
        ExitCode::from(match self {
            Failure::Usage(_) => 2,
            Failure::Failed(_) => 1,
            Failure::Interrupted(_) => 130,
        })
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Failure::Usage(m) | Failure::Failed(m) | Failure::Interrupted(m) => f.write_str(m),
        }
    }
}

impl From<ConfigErrors> for Failure {
    fn from(errors: ConfigErrors) -> Self {
        Failure::Usage(errors.to_string())
    }
}

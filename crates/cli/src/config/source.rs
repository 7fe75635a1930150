//! One `[[source]]`: its shared keys ([`SourceSettings`]) and its provider's own keys (the
//! adapter's configuration type, found through the [registry](super::registry)), checked
//! together, then built into a source with its secrets taken from the environment.

use std::sync::Arc;

use affiliate::http::config::{ConfigIssue, Env, SourceConfig, SourceSettings};
use affiliate::InviteeSource;

use super::error::{did_you_mean, ConfigError};
use super::registry::{self, Registered};

/// Keys that would hold a secret in the file, refused with a pointer to their `_env` key.
const LITERAL_SECRETS: [&str; 7] = [
    "session",
    "admin_token",
    "api_key",
    "secret_key",
    "token",
    "password",
    "secret",
];

/// One checked `[[source]]`.
#[derive(Debug, Clone)]
pub(crate) struct SourceSpec {
    /// `source[N]`, for messages.
    pub(crate) key: String,
    /// `provider = "…"`.
    pub(crate) provider: &'static str,
    /// The account label rows are tagged with.
    pub(crate) label: String,
    /// The keys every source shares.
    pub(crate) settings: SourceSettings,
    /// The provider's own keys, as its adapter reads them.
    pub(crate) config: Arc<dyn SourceConfig>,
    /// The provider's own keys as written (for provider commands such as `triport user`).
    pub(crate) table: toml::Table,
}

impl SourceSpec {
    /// Reads `source[index]`, adding every problem found to `errors`.
    pub(crate) fn parse(
        index: usize,
        mut table: toml::Table,
        errors: &mut Vec<ConfigError>,
    ) -> Option<Self> {
        let key = format!("source[{index}]");
        let provider = provider(&key, &table, errors);
        let refused = refuse_literal_secrets(&key, provider, &mut table);
        let refused_secret = !refused.is_empty();
        errors.extend(refused);
        let provider = provider?;
        table.remove("provider");
        dates_as_text(&mut table);
        let before = errors.len();
        let settings = read_settings(&key, provider, &mut table, errors);
        let config = match (provider.read)(toml::Value::Table(table.clone())) {
            Ok(config) => Some(config),
            Err(err) => {
                let message = err.inner().message().to_owned();
                errors.push(serde_error(
                    &key,
                    provider.name,
                    err.path().to_string(),
                    &message,
                ));
                None
            }
        };
        let (settings, config) = (settings?, config?);
        let issues = config.check().into_iter().chain(settings.check());
        errors.extend(issues.map(|issue| ConfigError::from_issue(&key, issue)));
        let label = settings
            .label
            .clone()
            .or_else(|| config.default_label())
            .unwrap_or_else(|| "default".to_owned());
        (errors.len() == before && !refused_secret).then(|| Self {
            key,
            provider: provider.name,
            label,
            settings,
            config: Arc::from(config),
            table,
        })
    }

    /// Builds the adapter, reading its secrets (and, without `base_url`, the provider's
    /// `*_BASE_URL` variable) from `env`. Every missing variable is reported.
    pub(crate) fn build(&self, env: &dyn Env) -> Result<Arc<dyn InviteeSource>, Vec<ConfigError>> {
        let mut settings = self.settings.clone();
        settings.label = Some(self.label.clone());
        self.config
            .build(&settings, env)
            .map(Arc::from)
            .map_err(|issues| self.errors(issues))
    }

    /// The adapter's problems as errors of this source.
    pub(crate) fn errors(&self, issues: Vec<ConfigIssue>) -> Vec<ConfigError> {
        issues
            .into_iter()
            .map(|issue| ConfigError::from_issue(&self.key, issue))
            .collect()
    }
}

/// The registered provider `source[N].provider` names, or a problem.
fn provider(
    key: &str,
    table: &toml::Table,
    errors: &mut Vec<ConfigError>,
) -> Option<&'static Registered> {
    let names = registry::names();
    let example = format!(
        "provider = \"{}\" (or one of: {})",
        names[0],
        names.join(", ")
    );
    let problem = match table.get("provider") {
        None => {
            ConfigError::new(format!("{key}.provider"), "missing").fix(format!("add {example}"))
        }
        Some(toml::Value::String(name)) => match registry::find(name) {
            Some(registered) => return Some(registered),
            None => {
                let hint = did_you_mean(name, &names)
                    .map(|p| format!("did you mean \"{p}\"? "))
                    .unwrap_or_default();
                ConfigError::new(
                    format!("{key}.provider"),
                    format!("unknown provider {name:?}"),
                )
                .fix(format!("{hint}use one of: {}", names.join(", ")))
            }
        },
        Some(other) => ConfigError::new(
            format!("{key}.provider"),
            format!("must be a string, got a {}", other.type_str()),
        )
        .fix(format!("write {example}")),
    };
    errors.push(problem);
    None
}

/// Moves the shared keys out of `table` and reads them.
fn read_settings(
    key: &str,
    provider: &Registered,
    table: &mut toml::Table,
    errors: &mut Vec<ConfigError>,
) -> Option<SourceSettings> {
    let shared: toml::Table = SourceSettings::KEYS
        .iter()
        .filter_map(|k| table.remove(*k).map(|v| ((*k).to_owned(), v)))
        .collect();
    serde_path_to_error::deserialize(toml::Value::Table(shared))
        .map_err(|err| {
            let message = err.inner().message().to_owned();
            errors.push(serde_error(
                key,
                provider.name,
                err.path().to_string(),
                &message,
            ));
        })
        .ok()
}

/// TOML dates and date-times become RFC 3339 text, so adapters read them as strings
/// without knowing the file format.
fn dates_as_text(table: &mut toml::Table) {
    for (_, value) in table.iter_mut() {
        if let toml::Value::Datetime(d) = value {
            *value = toml::Value::String(d.to_string());
        }
    }
}

/// The error for an unset variable named by `key`.
pub(crate) fn missing_var(key: &str, var: &str, what: &str) -> ConfigError {
    ConfigError::from_issue("", ConfigIssue::missing_var(key, var, what))
}

/// Turns a serde message into a config error naming the key; unknown keys get the list
/// of known ones and a suggestion.
pub(crate) fn serde_error(
    prefix: &str,
    provider: &str,
    path: String,
    message: &str,
) -> ConfigError {
    let join = |name: &str| {
        if prefix.is_empty() {
            name.to_owned()
        } else if name.is_empty() || name == "." {
            prefix.to_owned()
        } else {
            format!("{prefix}.{name}")
        }
    };
    if let Some(rest) = message.strip_prefix("unknown field `") {
        let (field, expected) = rest.split_once('`').unwrap_or((rest, ""));
        let shared = if provider.is_empty() {
            &[][..]
        } else {
            &SourceSettings::KEYS[..]
        };
        let known: Vec<&str> = expected
            .split('`')
            .skip(1)
            .step_by(2)
            .chain(shared.iter().copied())
            .filter(|k| !LITERAL_SECRETS.contains(k) && *k != "email_salt")
            .collect();
        let hint = did_you_mean(field, &known)
            .map(|k| format!("did you mean `{k}`? "))
            .unwrap_or_default();
        let parent = if path == "." || path.is_empty() {
            String::new()
        } else {
            path.rsplit_once('.')
                .map(|(p, _)| p.to_owned())
                .unwrap_or_default()
        };
        let place = if !provider.is_empty() {
            format!("for provider {provider:?}")
        } else if parent.is_empty() {
            "at the top level of the file".to_owned()
        } else {
            format!("in [{parent}]")
        };
        let full = if parent.is_empty() {
            join(field)
        } else {
            join(&format!("{parent}.{field}"))
        };
        return ConfigError::new(full, format!("unknown key {place}"))
            .fix(format!("{hint}remove it; known keys: {}", known.join(", ")));
    }
    let message = message
        .replace("expected i64", "expected an integer")
        .replace("expected f64", "expected a number")
        .replace("expected a borrowed string", "expected a string");
    ConfigError::new(join(&path), message).fix("correct the value's type or spelling")
}

/// Refuses keys that would hold a secret, without ever echoing the value.
fn refuse_literal_secrets(
    key: &str,
    provider: Option<&Registered>,
    table: &mut toml::Table,
) -> Vec<ConfigError> {
    let mut errors = Vec::new();
    for name in LITERAL_SECRETS {
        if table.remove(name).is_none() {
            continue;
        }
        let instead = match secret_env_key(provider, name) {
            Some(secret) => format!("{} = \"{}\"", secret.key, secret.default_var),
            None => "the source's matching `_env` key".to_owned(),
        };
        errors.push(
            ConfigError::new(
                format!("{key}.{name}"),
                "a secret written into the config file; secrets are only read from environment variables",
            )
            .fix(format!(
                "delete this line, export the value as an environment variable and name it instead: {instead}"
            )),
        );
    }
    errors
}

/// The `_env` key that replaces a literal secret key: `{name}_env`, else one whose name
/// contains `name`, else the provider's first.
fn secret_env_key(
    provider: Option<&Registered>,
    name: &str,
) -> Option<&'static affiliate::http::config::SecretKey> {
    let secrets = provider?.secrets;
    let exact = format!("{name}_env");
    secrets
        .iter()
        .find(|s| s.key == exact)
        .or_else(|| secrets.iter().find(|s| s.key.contains(name)))
        .or_else(|| secrets.first())
}

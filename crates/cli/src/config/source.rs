//! One `[[source]]`: read and checked per provider, then built into an adapter with its
//! secrets taken from the environment.

use std::sync::Arc;

use affiliate::census::{CensusBuilder, Order, Region};
use affiliate::coinw::{default_client_config, CoinwBuilder, WindowLength};
use affiliate::http::{ensure_secure, ClientConfig, RateLimit, Secret, Url};
use affiliate::prefactor::PrefactorBuilder;
use affiliate::triport::TriportBuilder;
use affiliate::{InviteeSource, Provider};
use serde::de::DeserializeOwned;

use super::error::{did_you_mean, ConfigError};
use super::raw::{RawCensus, RawCoinw, RawPrefactor, RawTriport};
use super::values::{self, Since};
use super::Env;

/// The providers a `[[source]]` can name.
pub(crate) const PROVIDERS: [&str; 4] = ["triport", "coinw", "prefactor", "census"];

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
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct SourceSpec {
    /// `source[N]`, for messages.
    pub(crate) key: String,
    /// The account label rows are tagged with.
    pub(crate) label: String,
    /// Base URL override from the file.
    pub(crate) base_url: Option<String>,
    /// Client-side requests per second, overriding the adapter's default.
    pub(crate) rate_limit: Option<f64>,
    /// Provider settings.
    pub(crate) provider: ProviderSpec,
}

/// Provider-specific settings.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum ProviderSpec {
    /// Triport console invitees.
    Triport(TriportSpec),
    /// CoinW partner invited users.
    Coinw(CoinwSpec),
    /// Prefactor admin invites.
    Prefactor(PrefactorSpec),
    /// Census organization invitations.
    Census(CensusSpec),
}

/// `provider = "triport"`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct TriportSpec {
    /// Rows per page.
    pub(crate) limit: Option<u32>,
    /// Variable holding the session cookie.
    pub(crate) session_env: String,
    /// Variable holding the operator token.
    pub(crate) admin_token_env: String,
}

/// `provider = "coinw"`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct CoinwSpec {
    /// The provider's UTC offset, as written (checked).
    pub(crate) utc_offset: String,
    /// Start of the listing.
    pub(crate) since: Option<Since>,
    /// Window length.
    pub(crate) window: Option<WindowLength>,
    /// Rows per page.
    pub(crate) page_size: Option<u32>,
    /// Only this invitee.
    pub(crate) uid: Option<u64>,
    /// Only this referral code.
    pub(crate) referral_code: Option<String>,
    /// Split cap: `Some(0)` reads windows whole without probing.
    pub(crate) split_cap: Option<u64>,
    /// Variable holding the API key.
    pub(crate) api_key_env: String,
    /// Variable holding the secret key.
    pub(crate) secret_key_env: String,
}

/// `provider = "prefactor"`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct PrefactorSpec {
    /// The account whose invites to list.
    pub(crate) account_id: Option<String>,
    /// Sorting parameter.
    pub(crate) sorting: Option<String>,
    /// Rows per page.
    pub(crate) page_size: Option<u32>,
    /// Variable holding the token.
    pub(crate) token_env: String,
}

/// `provider = "census"`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct CensusSpec {
    /// Region (selects the base URL).
    pub(crate) region: Option<Region>,
    /// Listing order.
    pub(crate) order: Option<Order>,
    /// Rows per page.
    pub(crate) per_page: Option<u32>,
    /// Variable holding the token.
    pub(crate) token_env: String,
}

impl SourceSpec {
    /// The provider.
    pub(crate) fn provider(&self) -> Provider {
        match self.provider {
            ProviderSpec::Triport(_) => Provider::Triport,
            ProviderSpec::Coinw(_) => Provider::Coinw,
            ProviderSpec::Prefactor(_) => Provider::Prefactor,
            ProviderSpec::Census(_) => Provider::Census,
        }
    }

    /// Reads `source[index]`, adding every problem found to `errors`.
    pub(crate) fn parse(
        index: usize,
        mut table: toml::Table,
        errors: &mut Vec<ConfigError>,
    ) -> Option<Self> {
        let key = format!("source[{index}]");
        let provider =
            match table.get("provider") {
                None => {
                    errors.push(ConfigError::new(format!("{key}.provider"), "missing").fix(
                        "add provider = \"triport\" (or \"coinw\", \"prefactor\", \"census\")",
                    ));
                    None
                }
                Some(toml::Value::String(name)) if PROVIDERS.contains(&name.as_str()) => {
                    Some(name.clone())
                }
                Some(toml::Value::String(name)) => {
                    let hint = did_you_mean(name, &PROVIDERS)
                        .map(|p| format!("did you mean \"{p}\"? "))
                        .unwrap_or_default();
                    errors.push(
                        ConfigError::new(
                            format!("{key}.provider"),
                            format!("unknown provider {name:?}"),
                        )
                        .fix(format!("{hint}use one of: {}", PROVIDERS.join(", "))),
                    );
                    None
                }
                Some(other) => {
                    errors.push(
                    ConfigError::new(
                        format!("{key}.provider"),
                        format!("must be a string, got a {}", other.type_str()),
                    )
                    .fix("write provider = \"triport\" (or \"coinw\", \"prefactor\", \"census\")"),
                );
                    None
                }
            };
        let literal_errors = refuse_literal_secrets(&key, provider.as_deref(), &mut table);
        let refused_secret = !literal_errors.is_empty();
        errors.extend(literal_errors);
        let provider = provider?;
        let before = errors.len();
        let spec = match provider.as_str() {
            "triport" => read::<RawTriport>(&key, table, errors)
                .and_then(|raw| Self::triport(&key, raw, errors)),
            "coinw" => {
                read::<RawCoinw>(&key, table, errors).and_then(|raw| Self::coinw(&key, raw, errors))
            }
            "prefactor" => read::<RawPrefactor>(&key, table, errors)
                .and_then(|raw| Self::prefactor(&key, raw, errors)),
            _ => read::<RawCensus>(&key, table, errors)
                .and_then(|raw| Self::census(&key, raw, errors)),
        };
        (errors.len() == before && !refused_secret)
            .then_some(spec)
            .flatten()
    }

    /// The keys every provider shares, checked, around the provider settings.
    fn common(
        key: &str,
        label: Option<String>,
        base_url: Option<String>,
        rate_limit: Option<f64>,
        default_label: String,
        errors: &mut Vec<ConfigError>,
        provider: ProviderSpec,
    ) -> Self {
        let label = label.unwrap_or(default_label);
        if label.trim().is_empty() {
            errors.push(
                ConfigError::new(format!("{key}.label"), "must not be empty")
                    .fix("name the account, e.g. label = \"main\""),
            );
        }
        if let Some(url) = &base_url {
            if let Err(message) = check_base_url(url) {
                errors.push(
                    ConfigError::new(format!("{key}.base_url"), message)
                        .fix("use an https:// URL (plain http:// only to localhost/127.0.0.1), or remove base_url for the provider's production API"),
                );
            }
        }
        if let Some(rate) = rate_limit {
            if !(rate.is_finite() && rate > 0.0 && rate <= 1000.0) {
                errors.push(
                    ConfigError::new(
                        format!("{key}.rate_limit"),
                        format!(
                            "must be a number of requests per second within (0, 1000] (got {rate})"
                        ),
                    )
                    .fix("remove it to use the provider's default, or set e.g. rate_limit = 5"),
                );
            }
        }
        Self {
            key: key.to_owned(),
            label,
            base_url,
            rate_limit,
            provider,
        }
    }

    /// Checks a Triport table.
    fn triport(key: &str, raw: RawTriport, errors: &mut Vec<ConfigError>) -> Option<Self> {
        let spec = TriportSpec {
            limit: page_size(key, "limit", raw.limit, 200, errors),
            session_env: env_key(
                key,
                "session_env",
                raw.session_env,
                "TRIPORT_SESSION",
                errors,
            ),
            admin_token_env: env_key(
                key,
                "admin_token_env",
                raw.admin_token_env,
                "TRIPORT_ADMIN_TOKEN",
                errors,
            ),
        };
        Some(Self::common(
            key,
            raw.label,
            raw.base_url,
            raw.rate_limit,
            "default".into(),
            errors,
            ProviderSpec::Triport(spec),
        ))
    }

    /// Checks a CoinW table.
    fn coinw(key: &str, raw: RawCoinw, errors: &mut Vec<ConfigError>) -> Option<Self> {
        let utc_offset = match raw.utc_offset {
            None => {
                errors.push(
                    ConfigError::new(
                        format!("{key}.utc_offset"),
                        "missing: CoinW's times carry no zone and none is documented, so it must be given",
                    )
                    .fix("add utc_offset = \"+08:00\" with the offset your CoinW account's times are in"),
                );
                String::new()
            }
            Some(text) => {
                if let Err(err) = affiliate::coinw::zone::parse_utc_offset(&text) {
                    errors.push(
                        ConfigError::new(format!("{key}.utc_offset"), err.to_string())
                            .fix("write the offset as \"+08:00\", \"-05:30\" or \"Z\""),
                    );
                }
                text
            }
        };
        let since = raw.since.and_then(|v| {
            values::since(&v)
                .map_err(|m| {
                    errors.push(
                        ConfigError::new(format!("{key}.since"), m)
                            .fix("e.g. since = 2023-01-01 (or remove it to start at 2017-01-01)"),
                    )
                })
                .ok()
        });
        let window = raw.window.and_then(|w| {
            values::window(&w)
                .map_err(|m| {
                    errors.push(
                        ConfigError::new(format!("{key}.window"), m)
                            .fix("e.g. window = \"1 month\" (the default) or window = \"7 days\""),
                    )
                })
                .ok()
        });
        let uid = raw.uid.and_then(|v| {
            let parsed = match &v {
                toml::Value::Integer(n) => u64::try_from(*n).ok(),
                toml::Value::String(s) => s.trim().parse().ok(),
                _ => None,
            };
            if parsed.is_none() {
                errors.push(
                    ConfigError::new(
                        format!("{key}.uid"),
                        "must be a CoinW uid (a non-negative integer)",
                    )
                    .fix("e.g. uid = 1000123, or remove it to list every invitee"),
                );
            }
            parsed
        });
        if raw
            .referral_code
            .as_deref()
            .is_some_and(|c| c.trim().is_empty())
        {
            errors.push(
                ConfigError::new(format!("{key}.referral_code"), "must not be empty")
                    .fix("remove it to list every invitee"),
            );
        }
        let split_cap = match raw.split_cap {
            Some(cap) if cap < 0 => {
                errors.push(
                    ConfigError::new(format!("{key}.split_cap"), format!("{cap} is negative"))
                        .fix("a row count such as 10000, or 0 to read windows whole"),
                );
                None
            }
            other => other.map(|cap| cap as u64),
        };
        let spec = CoinwSpec {
            utc_offset,
            since,
            window,
            page_size: page_size(key, "page_size", raw.page_size, 1000, errors),
            uid,
            referral_code: raw.referral_code,
            split_cap,
            api_key_env: env_key(key, "api_key_env", raw.api_key_env, "COINW_API_KEY", errors),
            secret_key_env: env_key(
                key,
                "secret_key_env",
                raw.secret_key_env,
                "COINW_SECRET_KEY",
                errors,
            ),
        };
        Some(Self::common(
            key,
            raw.label,
            raw.base_url,
            raw.rate_limit,
            "default".into(),
            errors,
            ProviderSpec::Coinw(spec),
        ))
    }

    /// Checks a Prefactor table.
    fn prefactor(key: &str, raw: RawPrefactor, errors: &mut Vec<ConfigError>) -> Option<Self> {
        if let Some(account) = &raw.account_id {
            if account.is_empty() || !account.chars().all(|c| c.is_ascii_alphanumeric()) {
                errors.push(
                    ConfigError::new(
                        format!("{key}.account_id"),
                        format!("{account:?} is not a Prefactor account id (letters and digits)"),
                    )
                    .fix("copy the account id from Prefactor, or remove it to use the token's own account"),
                );
            }
        }
        if let Some(sorting) = &raw.sorting {
            let field = sorting.strip_prefix('-').unwrap_or(sorting);
            if field.is_empty() || !field.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                errors.push(
                    ConfigError::new(
                        format!("{key}.sorting"),
                        format!("{sorting:?} is not a field name (optionally prefixed with '-')"),
                    )
                    .fix("e.g. sorting = \"id\" (the default, creation order) or \"-id\""),
                );
            }
        }
        let default_label = raw.account_id.clone().unwrap_or_else(|| "default".into());
        let spec = PrefactorSpec {
            account_id: raw.account_id,
            sorting: raw.sorting,
            page_size: page_size(key, "page_size", raw.page_size, 100, errors),
            token_env: env_key(key, "token_env", raw.token_env, "PREFACTOR_TOKEN", errors),
        };
        Some(Self::common(
            key,
            raw.label,
            raw.base_url,
            raw.rate_limit,
            default_label,
            errors,
            ProviderSpec::Prefactor(spec),
        ))
    }

    /// Checks a Census table.
    fn census(key: &str, raw: RawCensus, errors: &mut Vec<ConfigError>) -> Option<Self> {
        let region = raw.region.and_then(|r| match r.parse::<Region>() {
            Ok(region) => Some(region),
            Err(_) => {
                errors.push(
                    ConfigError::new(
                        format!("{key}.region"),
                        format!("{r:?} is neither \"us\" nor \"eu\""),
                    )
                    .fix("write region = \"us\" (the default) or region = \"eu\""),
                );
                None
            }
        });
        let order = raw.order.and_then(|o| match o.to_ascii_lowercase().as_str() {
            "asc" => Some(Order::Asc),
            "desc" => Some(Order::Desc),
            _ => {
                errors.push(
                    ConfigError::new(format!("{key}.order"), format!("{o:?} is neither \"asc\" nor \"desc\""))
                        .fix("write order = \"asc\" (the default: new invitations land at the end) or \"desc\""),
                );
                None
            }
        });
        let spec = CensusSpec {
            region,
            order,
            per_page: page_size(key, "per_page", raw.per_page, 100, errors),
            token_env: env_key(key, "token_env", raw.token_env, "CENSUS_TOKEN", errors),
        };
        Some(Self::common(
            key,
            raw.label,
            raw.base_url,
            raw.rate_limit,
            "default".into(),
            errors,
            ProviderSpec::Census(spec),
        ))
    }

    /// The environment variables this source reads its secrets from, with the key naming
    /// each and what it holds (the operator token is not needed to sync and is left out).
    pub(crate) fn secret_vars(&self) -> Vec<(String, &str, &'static str)> {
        let k = |name: &str| format!("{}.{name}", self.key);
        match &self.provider {
            ProviderSpec::Triport(t) => vec![(
                k("session_env"),
                t.session_env.as_str(),
                "the Triport console session cookie (nl_session)",
            )],
            ProviderSpec::Coinw(c) => vec![
                (
                    k("api_key_env"),
                    c.api_key_env.as_str(),
                    "the CoinW API key",
                ),
                (
                    k("secret_key_env"),
                    c.secret_key_env.as_str(),
                    "the CoinW secret key",
                ),
            ],
            ProviderSpec::Prefactor(p) => vec![(
                k("token_env"),
                p.token_env.as_str(),
                "the Prefactor API token",
            )],
            ProviderSpec::Census(c) => vec![(
                k("token_env"),
                c.token_env.as_str(),
                "the Census personal access token",
            )],
        }
    }

    /// Builds the adapter, reading secrets (and, without `base_url`, the provider's
    /// `*_BASE_URL` variable) from `env`. Every missing variable is reported.
    pub(crate) fn build(&self, env: &dyn Env) -> Result<Arc<dyn InviteeSource>, Vec<ConfigError>> {
        let mut secrets = Vec::new();
        let mut errors = Vec::new();
        for (key, var, what) in self.secret_vars() {
            match env.var(var) {
                Some(value) => secrets.push(Secret::new(value)),
                None => errors.push(missing_var(&key, var, what)),
            }
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        let fail = |err: &dyn std::fmt::Display| {
            vec![ConfigError::new(self.key.clone(), err.to_string())
                .fix("correct the source's settings")]
        };
        let base_url = |var: &str| self.base_url.clone().or_else(|| env.var(var));
        let mut secrets = secrets.into_iter();
        let mut next = || secrets.next().unwrap_or_else(|| Secret::new(""));
        Ok(match &self.provider {
            ProviderSpec::Triport(t) => {
                let mut b = TriportBuilder::new()
                    .with_label(&self.label)
                    .with_session(next());
                if let Some(url) = base_url("TRIPORT_BASE_URL") {
                    b = b.with_base_url(url);
                }
                if let Some(limit) = t.limit {
                    b = b.with_limit(limit);
                }
                if let Some(rate) = self.rate_limit {
                    b = b.with_client_config(
                        ClientConfig::default().with_rate_limit(rate_limit(rate)),
                    );
                }
                Arc::new(b.build().map_err(|e| fail(&e))?)
            }
            ProviderSpec::Coinw(c) => {
                let mut b = CoinwBuilder::new()
                    .with_label(&self.label)
                    .with_api_key(next())
                    .with_secret_key(next())
                    .with_utc_offset(&c.utc_offset);
                if let Some(url) = base_url("COINW_BASE_URL") {
                    b = b.with_base_url(url);
                }
                match c.since {
                    Some(Since::Date(d)) => b = b.with_since_date(d),
                    Some(Since::Instant(t)) => b = b.with_since(t),
                    None => {}
                }
                if let Some(w) = c.window {
                    b = b.with_window_length(w);
                }
                if let Some(size) = c.page_size {
                    b = b.with_page_size(size);
                }
                if let Some(uid) = c.uid {
                    b = b.with_uid(uid);
                }
                if let Some(code) = &c.referral_code {
                    b = b.with_referral_code(code);
                }
                match c.split_cap {
                    Some(0) => b = b.without_split(),
                    Some(cap) => b = b.with_split_cap(cap),
                    None => {}
                }
                if let Some(rate) = self.rate_limit {
                    b = b.with_client_config(
                        default_client_config().with_rate_limit(rate_limit(rate)),
                    );
                }
                Arc::new(b.build().map_err(|e| fail(&e))?)
            }
            ProviderSpec::Prefactor(p) => {
                let mut b = PrefactorBuilder::new()
                    .with_label(&self.label)
                    .with_token(next());
                if let Some(url) = base_url("PREFACTOR_BASE_URL") {
                    b = b.with_base_url(url);
                }
                if let Some(account) = &p.account_id {
                    b = b.with_account_id(account);
                }
                if let Some(sorting) = &p.sorting {
                    b = b.with_sorting(sorting);
                }
                if let Some(size) = p.page_size {
                    b = b.with_page_size(size);
                }
                if let Some(rate) = self.rate_limit {
                    b = b.with_client_config(
                        ClientConfig::default().with_rate_limit(rate_limit(rate)),
                    );
                }
                Arc::new(b.build().map_err(|e| fail(&e))?)
            }
            ProviderSpec::Census(c) => {
                let mut b = CensusBuilder::new()
                    .with_label(&self.label)
                    .with_token(next());
                if let Some(region) = c.region {
                    b = b.with_region(region);
                }
                if let Some(url) = base_url("CENSUS_BASE_URL") {
                    b = b.with_base_url(url);
                }
                if let Some(order) = c.order {
                    b = b.with_order(order);
                }
                if let Some(size) = c.per_page {
                    b = b.with_per_page(size);
                }
                if let Some(rate) = self.rate_limit {
                    b = b.with_client_config(
                        ClientConfig::default().with_rate_limit(rate_limit(rate)),
                    );
                }
                Arc::new(b.build().map_err(|e| fail(&e))?)
            }
        })
    }
}

/// The error for an unset secret variable.
pub(crate) fn missing_var(key: &str, var: &str, what: &str) -> ConfigError {
    let setting = key.rsplit('.').next().unwrap_or(key);
    ConfigError::new(
        key,
        format!("environment variable {var} is not set (or empty); it should hold {what}"),
    )
    .fix(format!(
        "export {var}=… before running, or set {setting} to the variable that holds it"
    ))
}

/// `rate` requests per second with a burst of about one second's worth.
fn rate_limit(rate: f64) -> RateLimit {
    // The value was checked to be within (0, 1000].
    RateLimit::new(rate, rate.ceil().clamp(1.0, 1000.0) as u32)
}

/// Deserializes a source table as `T`, naming the key of the first problem.
fn read<T: DeserializeOwned>(
    key: &str,
    table: toml::Table,
    errors: &mut Vec<ConfigError>,
) -> Option<T> {
    let provider = table
        .get("provider")
        .and_then(toml::Value::as_str)
        .unwrap_or_default()
        .to_owned();
    match serde_path_to_error::deserialize::<_, T>(toml::Value::Table(table)) {
        Ok(raw) => Some(raw),
        Err(err) => {
            errors.push(serde_error(
                key,
                &provider,
                err.path().to_string(),
                err.inner().message(),
            ));
            None
        }
    }
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
        let known: Vec<&str> = expected
            .split('`')
            .skip(1)
            .step_by(2)
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

/// A page size within `1..=max`.
fn page_size(
    key: &str,
    name: &str,
    value: Option<i64>,
    max: u32,
    errors: &mut Vec<ConfigError>,
) -> Option<u32> {
    let value = value?;
    match u32::try_from(value) {
        Ok(n) if (1..=max).contains(&n) => Some(n),
        _ => {
            errors.push(
                ConfigError::new(
                    format!("{key}.{name}"),
                    format!("must be within 1..={max} (got {value})"),
                )
                .fix(format!(
                    "set {name} = {max} (the maximum the provider documents) or less"
                )),
            );
            None
        }
    }
}

/// An `*_env` key: the variable name given, or the provider's standard one.
fn env_key(
    key: &str,
    name: &str,
    value: Option<String>,
    default: &str,
    errors: &mut Vec<ConfigError>,
) -> String {
    match value {
        None => default.to_owned(),
        Some(var) => {
            if let Err(message) = values::env_name(&var) {
                errors.push(
                    ConfigError::new(format!("{key}.{name}"), message).fix(format!(
                        "put the secret in an environment variable and name it here, e.g. {name} = \"{default}\""
                    )),
                );
            }
            var
        }
    }
}

/// Refuses keys that would hold a secret, without ever echoing the value.
fn refuse_literal_secrets(
    key: &str,
    provider: Option<&str>,
    table: &mut toml::Table,
) -> Vec<ConfigError> {
    let mut errors = Vec::new();
    for name in LITERAL_SECRETS {
        if table.remove(name).is_none() {
            continue;
        }
        let (env_key, default) = secret_env_key(provider, name);
        errors.push(
            ConfigError::new(
                format!("{key}.{name}"),
                "a secret written into the config file; secrets are only read from environment variables",
            )
            .fix(format!(
                "delete this line, export the value as an environment variable and name it instead: {env_key} = \"{default}\""
            )),
        );
    }
    errors
}

/// The `_env` key and its default variable that replace a literal secret key.
fn secret_env_key(provider: Option<&str>, name: &str) -> (&'static str, &'static str) {
    match (provider, name) {
        (_, "admin_token") => ("admin_token_env", "TRIPORT_ADMIN_TOKEN"),
        (Some("coinw"), "secret_key" | "secret" | "password") => {
            ("secret_key_env", "COINW_SECRET_KEY")
        }
        (Some("coinw"), _) => ("api_key_env", "COINW_API_KEY"),
        (Some("prefactor"), _) => ("token_env", "PREFACTOR_TOKEN"),
        (Some("census"), _) => ("token_env", "CENSUS_TOKEN"),
        (_, "api_key") => ("api_key_env", "COINW_API_KEY"),
        (_, "secret_key") => ("secret_key_env", "COINW_SECRET_KEY"),
        (_, "token") => ("token_env", "PREFACTOR_TOKEN"),
        _ => ("session_env", "TRIPORT_SESSION"),
    }
}

/// Checks a base URL: parsable, http(s), and plain http only to loopback.
pub(crate) fn check_base_url(text: &str) -> Result<(), String> {
    let url = Url::parse(text).map_err(|e| format!("{text:?} is not a URL: {e}"))?;
    if url.scheme() != "https" && url.scheme() != "http" {
        return Err(format!("{text:?} is not an http(s) URL"));
    }
    ensure_secure(&url).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> (Option<SourceSpec>, Vec<ConfigError>) {
        let table: toml::Table = toml::from_str(text).unwrap_or_default();
        let mut errors = Vec::new();
        let spec = SourceSpec::parse(0, table, &mut errors);
        (spec, errors)
    }

    #[test]
    fn a_complete_coinw_source() {
        let (spec, errors) = parse(
            r#"provider = "coinw"
               label = "main"
               utc_offset = "+08:00"
               since = 2024-01-01
               window = "7 days"
               page_size = 500
               uid = "1000001"
               api_key_env = "MY_KEY""#,
        );
        assert!(errors.is_empty(), "{errors:?}");
        let spec = spec.unwrap();
        let ProviderSpec::Coinw(c) = &spec.provider else {
            panic!("{spec:?}")
        };
        assert_eq!(c.window, Some(WindowLength::Days(7)));
        assert_eq!(c.uid, Some(1_000_001));
        assert_eq!(c.api_key_env, "MY_KEY");
        assert_eq!(c.secret_key_env, "COINW_SECRET_KEY");
    }

    #[test]
    fn unknown_keys_are_named_with_a_suggestion() {
        let (spec, errors) = parse("provider = \"triport\"\nlimt = 5");
        assert!(spec.is_none());
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert_eq!(errors[0].key, "source[0].limt");
        assert!(errors[0].fix.contains("did you mean `limit`"), "{errors:?}");
    }

    #[test]
    fn keys_of_another_provider_are_unknown() {
        let (_, errors) = parse("provider = \"triport\"\nutc_offset = \"+08:00\"");
        assert_eq!(errors[0].key, "source[0].utc_offset");
        assert!(errors[0].message.contains("provider \"triport\""));
    }

    #[test]
    fn type_errors_name_the_key() {
        let (_, errors) = parse("provider = \"triport\"\nlimit = \"many\"");
        assert_eq!(errors[0].key, "source[0].limit", "{errors:?}");
    }

    #[test]
    fn literal_secrets_are_refused_without_echo() {
        let (spec, errors) = parse("provider = \"census\"\ntoken = \"hunter2\"");
        assert!(spec.is_none());
        assert_eq!(errors[0].key, "source[0].token");
        assert!(errors[0].fix.contains("token_env = \"CENSUS_TOKEN\""));
        assert!(!format!("{errors:?}").contains("hunter2"));
    }

    #[test]
    fn every_problem_is_reported() {
        let (_, errors) = parse(
            "provider = \"coinw\"\npage_size = 0\nwindow = \"weekly\"\nbase_url = \"http://example.com\"",
        );
        let keys: Vec<_> = errors.iter().map(|e| e.key.as_str()).collect();
        assert_eq!(
            keys,
            [
                "source[0].utc_offset",
                "source[0].window",
                "source[0].page_size",
                "source[0].base_url"
            ]
        );
    }
}

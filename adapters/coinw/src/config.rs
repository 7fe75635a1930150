//! `provider = "coinw"` in a configuration file.

use affiliate_core::InviteeSource;
use affiliate_http::config::{
    built, ConfigIssue, Env, Issues, ProviderConfig, SecretKey, SourceConfig, SourceSettings,
};
use chrono::{DateTime, NaiveDate, Utc};
use serde::Deserialize;

use crate::zone::parse_utc_offset;
use crate::{CoinwBuilder, WindowLength, MAX_PAGE_SIZE};

/// The variable the API key is read from by default.
pub const API_KEY_ENV: &str = "COINW_API_KEY";
/// The variable the secret key is read from by default.
pub const SECRET_KEY_ENV: &str = "COINW_SECRET_KEY";
/// The variable a base-URL override is read from when the file gives none.
pub const BASE_URL_ENV: &str = "COINW_BASE_URL";
/// The variable [`CoinwBuilder::from_env`] reads the UTC offset from.
pub const UTC_OFFSET_ENV: &str = "COINW_UTC_OFFSET";

const API_KEY: SecretKey = SecretKey {
    key: "api_key_env",
    default_var: API_KEY_ENV,
    what: "the CoinW API key",
};
const SECRET_KEY: SecretKey = SecretKey {
    key: "secret_key_env",
    default_var: SECRET_KEY_ENV,
    what: "the CoinW secret key",
};

/// A number, or a number written as text (`uid = 1000123` or `uid = "1000123"`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(untagged)]
pub enum NumberOrText {
    /// Written as a number.
    Number(i64),
    /// Written as text.
    Text(String),
}

/// CoinW's own keys of a `[[source]]` (the shared ones are [`SourceSettings`]).
///
/// ```
/// use affiliate_http::config::SourceConfig;
/// use affiliate_coinw::CoinwConfig;
///
/// // The UTC offset is required: CoinW's times carry no zone.
/// let config: CoinwConfig = serde_json::from_str("{}").unwrap();
/// assert_eq!(config.check()[0].key, "utc_offset");
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct CoinwConfig {
    /// The offset CoinW's times are in (`"+08:00"`); required.
    pub utc_offset: Option<String>,
    /// Start of the listing: a date (midnight in `utc_offset`) or an RFC 3339 instant
    /// (default [`crate::default_since_date`]).
    pub since: Option<String>,
    /// Window length, e.g. `"1 month"` (the default) or `"7 days"`.
    pub window: Option<String>,
    /// Rows per page, `1..=`[`MAX_PAGE_SIZE`] (default [`crate::DEFAULT_PAGE_SIZE`]).
    pub page_size: Option<i64>,
    /// Only this invitee.
    pub uid: Option<NumberOrText>,
    /// Only users registered with this referral code.
    pub referral_code: Option<String>,
    /// Rows above which planning splits a window (default [`crate::DEFAULT_SPLIT_CAP`]);
    /// 0 reads windows whole, unprobed.
    pub split_cap: Option<i64>,
    /// The variable holding the API key (default [`API_KEY_ENV`]).
    pub api_key_env: Option<String>,
    /// The variable holding the secret key (default [`SECRET_KEY_ENV`]).
    pub secret_key_env: Option<String>,
}

/// Where a listing starts, as written.
enum Since {
    Date(NaiveDate),
    Instant(DateTime<Utc>),
}

impl CoinwConfig {
    fn since(&self) -> Option<Result<Since, String>> {
        let text = self.since.as_deref()?.trim();
        if let Ok(date) = NaiveDate::parse_from_str(text, "%Y-%m-%d") {
            return Some(Ok(Since::Date(date)));
        }
        Some(
            DateTime::parse_from_rfc3339(text)
                .map(|t| Since::Instant(t.with_timezone(&Utc)))
                .map_err(|_| format!("{text:?} is neither a date such as 2024-01-01 (midnight in utc_offset) nor an instant such as 2024-01-01T00:00:00Z")),
        )
    }

    fn window(&self) -> Option<Result<WindowLength, String>> {
        self.window.as_deref().map(str::parse)
    }

    fn uid(&self) -> Option<Result<u64, String>> {
        let parsed = match self.uid.as_ref()? {
            NumberOrText::Number(n) => u64::try_from(*n).ok(),
            NumberOrText::Text(t) => t.trim().parse().ok(),
        };
        Some(parsed.ok_or_else(|| "must be a CoinW uid (a non-negative integer)".to_owned()))
    }

    /// Every check but the secrets'.
    fn check_values(&self, issues: &mut Issues) {
        match &self.utc_offset {
            None => issues.push(ConfigIssue::new(
                "utc_offset",
                "missing: CoinW's times carry no zone and none is documented, so it must be given",
                "add utc_offset = \"+08:00\" with the offset your CoinW account's times are in",
            )),
            Some(text) => {
                issues.check(
                    "utc_offset",
                    parse_utc_offset(text),
                    "write the offset as \"+08:00\", \"-05:30\" or \"Z\"",
                );
            }
        }
        issues.check_some(
            "since",
            self.since(),
            "e.g. since = 2023-01-01 (or remove it to start at 2017-01-01)",
        );
        issues.check_some(
            "window",
            self.window(),
            "e.g. window = \"1 month\" (the default) or window = \"7 days\"",
        );
        issues.page_size("page_size", self.page_size, MAX_PAGE_SIZE);
        issues.check_some(
            "uid",
            self.uid(),
            "e.g. uid = 1000123, or remove it to list every invitee",
        );
        if self
            .referral_code
            .as_deref()
            .is_some_and(|c| c.trim().is_empty())
        {
            issues.push(ConfigIssue::new(
                "referral_code",
                "must not be empty",
                "remove it to list every invitee",
            ));
        }
        if let Some(cap) = self.split_cap.filter(|cap| *cap < 0) {
            issues.push(ConfigIssue::new(
                "split_cap",
                format!("{cap} is negative"),
                "a row count such as 10000, or 0 to read windows whole",
            ));
        }
        for (value, key) in [
            (&self.api_key_env, API_KEY),
            (&self.secret_key_env, SECRET_KEY),
        ] {
            if let Some(var) = value {
                issues.env_name(key.key, var);
            }
        }
    }

    /// The builder the values describe (checked ones; secrets not yet set).
    fn builder(&self, settings: &SourceSettings, env: &dyn Env) -> CoinwBuilder {
        let mut b = settings.apply(CoinwBuilder::new(), BASE_URL_ENV, env);
        if let Some(offset) = &self.utc_offset {
            b = b.with_utc_offset(offset);
        }
        match self.since() {
            Some(Ok(Since::Date(d))) => b = b.with_since_date(d),
            Some(Ok(Since::Instant(t))) => b = b.with_since(t),
            _ => {}
        }
        if let Some(Ok(window)) = self.window() {
            b = b.with_window_length(window);
        }
        if let Some(size) = self.page_size.and_then(|s| u32::try_from(s).ok()) {
            b = b.with_page_size(size);
        }
        if let Some(Ok(uid)) = self.uid() {
            b = b.with_uid(uid);
        }
        if let Some(code) = &self.referral_code {
            b = b.with_referral_code(code);
        }
        match self.split_cap.and_then(|c| u64::try_from(c).ok()) {
            Some(0) => b.without_split(),
            Some(cap) => b.with_split_cap(cap),
            None => b,
        }
    }
}

impl SourceConfig for CoinwConfig {
    fn check(&self) -> Vec<ConfigIssue> {
        let mut issues = Issues::new();
        self.check_values(&mut issues);
        issues.into_vec()
    }

    fn build(
        &self,
        settings: &SourceSettings,
        env: &dyn Env,
    ) -> Result<Box<dyn InviteeSource>, Vec<ConfigIssue>> {
        let mut issues = Issues::new();
        let api_key = issues.secret(env, API_KEY, self.api_key_env.as_deref());
        let secret_key = issues.secret(env, SECRET_KEY, self.secret_key_env.as_deref());
        let mut builder = issues.finish(self.builder(settings, env))?;
        if let Some(key) = api_key {
            builder = builder.with_api_key(key);
        }
        if let Some(secret) = secret_key {
            builder = builder.with_secret_key(secret);
        }
        Ok(Box::new(built(builder.build())?))
    }
}

impl ProviderConfig for CoinwConfig {
    const NAME: &'static str = "coinw";
    const SECRETS: &'static [SecretKey] = &[API_KEY, SECRET_KEY];
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(since: &str) -> CoinwConfig {
        CoinwConfig {
            utc_offset: Some("+08:00".into()),
            since: Some(since.into()),
            ..CoinwConfig::default()
        }
    }

    #[test]
    fn since_takes_a_date_or_an_instant() {
        assert!(matches!(
            config("2024-02-03").since(),
            Some(Ok(Since::Date(_)))
        ));
        let Some(Ok(Since::Instant(at))) = config("2024-02-03T04:00:00+02:00").since() else {
            panic!("an instant")
        };
        assert_eq!(at.to_rfc3339(), "2024-02-03T02:00:00+00:00");
        let issues = config("yesterday").check();
        assert_eq!(issues.len(), 1);
        assert_eq!(issues[0].key, "since");
    }
}

//! Configuring a [`CoinwClient`].

use std::sync::Arc;
use std::time::Duration;

use affiliate_core::Provider;
use affiliate_http::config::{Env, ProcessEnv};
use affiliate_http::{
    AdaptiveRate, BackoffConfig, ClientConfig, Connection, HeaderValue, RetryConfig, Secret,
    SourceBuilder,
};
use chrono::{DateTime, FixedOffset, NaiveDate, NaiveTime, Utc};

use crate::client::Shared;
use crate::config::{API_KEY_ENV, BASE_URL_ENV, SECRET_KEY_ENV, UTC_OFFSET_ENV};
use crate::sign::{Clock, ClockHandle};
use crate::window::WindowLength;
use crate::zone::{local_to_utc, parse_utc_offset};
use crate::{CoinwClient, CoinwError};

/// CoinW's production API.
pub const DEFAULT_BASE_URL: &str = "https://api.coinw.com";
/// Rows per page by default: the documented maximum.
pub const DEFAULT_PAGE_SIZE: u32 = 1000;
/// Largest `pageSize` CoinW documents.
pub const MAX_PAGE_SIZE: u32 = 1000;
/// Default split cap: planning reads a run of windows holding at most this many rows as
/// one slice, cuts a run holding more, and halves a single window holding more
/// (recursively).
pub const DEFAULT_SPLIT_CAP: u64 = 10_000;

/// The default start of a listing: 2017-01-01 00:00:00 in the provider's offset. CoinW
/// launched in 2017, so no invitee registered before it.
pub fn default_since_date() -> NaiveDate {
    NaiveDate::from_ymd_opt(2017, 1, 1).unwrap_or(NaiveDate::MIN)
}

/// The ceiling of CoinW's adaptive rate, in requests per second: 80 % of the lowest per-UID
/// limit published for CoinW's other private endpoints (100/s). The partner endpoint has no
/// published limit, and repeated `29001` answers escalate (5 minutes at half rate, then a
/// 30 s ban, then an 8 h blacklist), so this adapter never probes past the published one.
pub const MAX_RATE: f64 = 80.0;

/// CoinW's adaptive rate: conservative where the generic one is brisk. It starts at
/// 10 requests/s (half the generic start), grows by 4 requests/s per healthy answer (under
/// a third of the generic slow start), never exceeds [`MAX_RATE`], halves on a `29001`
/// (instead of keeping 0.7×), and takes 10 s (instead of 4) to climb back to the rate that
/// was throttled, so a throttle is rare and never repeated in a burst.
///
/// The ceiling and the cut are what keep CoinW's ban ladder away; the step only decides how
/// soon the first second reaches the ceiling. It was 2 until 2026-12-06: 0.8 s of a ramp
/// that, once the rest of a sync had got fast, made CoinW alone hold a default sync of
/// 100,000 rows per provider at 1.5x the unthrottled run. A server whose real limit is
/// lower throttles once within the first second either way.
pub fn default_adaptive_rate() -> AdaptiveRate {
    AdaptiveRate::default()
        .with_initial(10.0)
        .with_slow_start_step(4.0)
        .with_ceiling(MAX_RATE)
        .with_backoff(0.5)
        .with_recovery(Duration::from_secs(10))
}

/// The transport settings a CoinW client starts with: [`default_adaptive_rate`], and
/// patient retries: up to 8, with jittered exponential backoff from 500 ms up to 30 s,
/// within 5 minutes (CoinW sends no `Retry-After`).
pub fn default_client_config() -> ClientConfig {
    ClientConfig::default()
        .with_adaptive_rate(default_adaptive_rate())
        .with_retry(RetryConfig {
            backoff: BackoffConfig {
                init_backoff: Duration::from_millis(500),
                max_backoff: Duration::from_secs(30),
                base: 2.0,
            },
            max_retries: 8,
            retry_timeout: Duration::from_secs(300),
            max_decode_retries: 3,
            max_retry_after: Duration::from_secs(60),
        })
}

/// Where a listing starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Since {
    Instant(DateTime<Utc>),
    /// 00:00:00 of that day in the provider's offset.
    LocalDate(NaiveDate),
}

/// Builds a [`CoinwClient`]; nothing is validated until [`CoinwBuilder::build`].
///
/// The UTC offset CoinW's times are in is **required**: CoinW documents none, and a wrong
/// guess would shift every `joined_at` silently.
///
/// ```
/// use affiliate_coinw::{CoinwBuilder, SourceBuilder, WindowLength};
///
/// let client = CoinwBuilder::new()
///     .with_api_key("my-api-key")
///     .with_secret_key("my-secret-key")
///     .with_utc_offset("+08:00")
///     .with_window_length(WindowLength::Days(7))
///     .with_label("main")
///     .build()?;
/// assert_eq!(client.page_size(), 1000);
/// assert!(!format!("{client:?}").contains("my-secret-key"));
///
/// // Refused when built: no offset.
/// let err = CoinwBuilder::new()
///     .with_api_key("k")
///     .with_secret_key("s")
///     .build()
///     .unwrap_err();
/// assert!(err.to_string().contains("UTC offset"));
/// # Ok::<(), affiliate_coinw::CoinwError>(())
/// ```
#[derive(Debug, Clone)]
pub struct CoinwBuilder {
    connection: Connection,
    api_key: Option<Secret>,
    secret_key: Option<Secret>,
    offset: Option<Result<FixedOffset, String>>,
    page_size: u32,
    window: WindowLength,
    uid: Option<String>,
    referral_code: Option<String>,
    since: Since,
    until: Option<DateTime<Utc>>,
    split_cap: Option<u64>,
    clock: ClockHandle,
}

impl Default for CoinwBuilder {
    fn default() -> Self {
        Self {
            connection: Connection::new(DEFAULT_BASE_URL, default_client_config()),
            api_key: None,
            secret_key: None,
            offset: None,
            page_size: DEFAULT_PAGE_SIZE,
            window: WindowLength::default(),
            uid: None,
            referral_code: None,
            since: Since::LocalDate(default_since_date()),
            until: None,
            split_cap: Some(DEFAULT_SPLIT_CAP),
            clock: ClockHandle::default(),
        }
    }
}

impl SourceBuilder for CoinwBuilder {
    fn connection(&mut self) -> &mut Connection {
        &mut self.connection
    }
}

impl CoinwBuilder {
    /// Defaults: production base URL, `pageSize` 1000, monthly windows, since
    /// [`default_since_date`], until "now" at plan time, split cap
    /// [`DEFAULT_SPLIT_CAP`], [`default_client_config`]; no credentials, no offset.
    pub fn new() -> Self {
        Self::default()
    }

    /// Reads `COINW_API_KEY`, `COINW_SECRET_KEY`, `COINW_BASE_URL` and `COINW_UTC_OFFSET`
    /// when set (empty counts as unset).
    pub fn from_env() -> Self {
        let env = ProcessEnv;
        let mut builder = Self::new();
        if let Some(key) = env.var(API_KEY_ENV) {
            builder = builder.with_api_key(key);
        }
        if let Some(secret) = env.var(SECRET_KEY_ENV) {
            builder = builder.with_secret_key(secret);
        }
        if let Some(url) = env.var(BASE_URL_ENV) {
            builder = builder.with_base_url(url);
        }
        if let Some(offset) = env.var(UTC_OFFSET_ENV) {
            builder = builder.with_utc_offset(&offset);
        }
        builder
    }

    /// The API key (sent as the `api_key` header; needs the "Affiliate" permission).
    pub fn with_api_key(mut self, key: impl Into<Secret>) -> Self {
        self.api_key = Some(key.into());
        self
    }

    /// The secret key requests are signed with (never sent).
    pub fn with_secret_key(mut self, secret: impl Into<Secret>) -> Self {
        self.secret_key = Some(secret.into());
        self
    }

    /// The UTC offset CoinW's times are in, as text (`+08:00`, `-05:30`, `Z`, ...). An
    /// unparsable value is reported by [`CoinwBuilder::build`].
    pub fn with_utc_offset(mut self, offset: &str) -> Self {
        self.offset = Some(parse_utc_offset(offset).map_err(|e| e.to_string()));
        self
    }

    /// The UTC offset CoinW's times are in.
    pub fn with_offset(mut self, offset: FixedOffset) -> Self {
        self.offset = Some(Ok(offset));
        self
    }

    /// Rows per page, 1..=1000 (checked by [`CoinwBuilder::build`]).
    pub fn with_page_size(mut self, size: u32) -> Self {
        self.page_size = size;
        self
    }

    /// Length of the calendar windows (default one month; zero is refused).
    pub fn with_window_length(mut self, length: WindowLength) -> Self {
        self.window = length;
        self
    }

    /// Lists only this invitee (CoinW's `uid` filter; must be numeric).
    pub fn with_uid(mut self, uid: impl ToString) -> Self {
        self.uid = Some(uid.to_string());
        self
    }

    /// Lists only users registered with this referral code (`referralCode`).
    pub fn with_referral_code(mut self, code: impl Into<String>) -> Self {
        self.referral_code = Some(code.into());
        self
    }

    /// Lists registrations at or after this instant (default: [`default_since_date`]).
    pub fn with_since(mut self, since: DateTime<Utc>) -> Self {
        self.since = Since::Instant(since);
        self
    }

    /// Lists registrations from 00:00:00 of `date` in the provider's offset.
    pub fn with_since_date(mut self, date: NaiveDate) -> Self {
        self.since = Since::LocalDate(date);
        self
    }

    /// A fixed upper bound (default: the clock's "now" when a listing is planned).
    pub fn with_until(mut self, until: DateTime<Utc>) -> Self {
        self.until = Some(until);
        self
    }

    /// Rows above which planning cuts a run of windows, or halves a single window (at
    /// least 1); runs at or below it are read as one slice.
    pub fn with_split_cap(mut self, cap: u64) -> Self {
        self.split_cap = Some(cap);
        self
    }

    /// Reads every calendar window whole: no size probe per window while planning (one
    /// request fewer per window), and no split of oversized windows.
    pub fn without_split(mut self) -> Self {
        self.split_cap = None;
        self
    }

    /// The clock used for request timestamps and for "now" (tests fix it).
    pub fn with_clock(mut self, clock: impl Clock + 'static) -> Self {
        self.clock = ClockHandle(Arc::new(clock));
        self
    }

    /// Validates and builds. Refuses: a missing key or secret, a missing or unparsable UTC
    /// offset, a page size outside 1..=1000, a zero window length or split cap, a
    /// non-numeric `uid`, an empty `referralCode`, `since` after `until` (or after now), an
    /// unparsable base URL, or a plain-HTTP base URL that is not loopback.
    pub fn build(self) -> Result<CoinwClient, CoinwError> {
        let api_key = self.api_key.ok_or(CoinwError::MissingCredential(
            "CoinW API key (COINW_API_KEY)",
        ))?;
        let secret_key = self.secret_key.ok_or(CoinwError::MissingCredential(
            "CoinW secret key (COINW_SECRET_KEY)",
        ))?;
        if HeaderValue::from_str(api_key.expose()).is_err() {
            return Err(CoinwError::Config(
                "the API key contains characters not allowed in a header".into(),
            ));
        }
        let offset = match self.offset {
            Some(Ok(offset)) => offset,
            Some(Err(message)) => return Err(CoinwError::Config(message)),
            None => {
                return Err(CoinwError::Config(
                    "the UTC offset of CoinW's times is required (e.g. with_utc_offset(\"+08:00\") or COINW_UTC_OFFSET): CoinW's times carry no zone and none is documented".into(),
                ))
            }
        };
        if !(1..=MAX_PAGE_SIZE).contains(&self.page_size) {
            return Err(CoinwError::Config(format!(
                "page size must be within 1..={MAX_PAGE_SIZE} (got {})",
                self.page_size
            )));
        }
        if self.window.is_zero() {
            return Err(CoinwError::Config(format!(
                "the window length must not be zero (got {:?})",
                self.window
            )));
        }
        if self.split_cap == Some(0) {
            return Err(CoinwError::Config(
                "the split cap must be at least 1".into(),
            ));
        }
        let uid = match &self.uid {
            None => None,
            Some(text) => Some(text.trim().parse::<u64>().map_err(|_| {
                CoinwError::Config(format!("uid {text:?} is not numeric; CoinW uids are Longs"))
            })?),
        };
        if self
            .referral_code
            .as_deref()
            .is_some_and(|c| c.trim().is_empty())
        {
            return Err(CoinwError::Config(
                "the referral code must not be empty".into(),
            ));
        }
        let since = match self.since {
            Since::Instant(t) => t,
            Since::LocalDate(d) => local_to_utc(d.and_time(NaiveTime::MIN), offset)
                .ok_or_else(|| CoinwError::Config(format!("since date {d} is out of range")))?,
        };
        let now = DateTime::from_timestamp_millis(self.clock.0.now_millis())
            .ok_or_else(|| CoinwError::Config("the clock is out of range".into()))?;
        let (until, named) = match self.until {
            Some(until) => (until, "until"),
            None => (now, "now"),
        };
        if since > until {
            return Err(CoinwError::Config(format!(
                "since ({since}) is after {named} ({until})"
            )));
        }
        let connected = self.connection.open(Provider::Coinw, "default", true)?;
        Ok(CoinwClient {
            shared: Arc::new(Shared {
                id: connected.id,
                base_url: connected.base_url,
                api_key,
                secret_key,
                offset,
                page_size: self.page_size,
                window: self.window,
                uid,
                referral_code: self.referral_code,
                since,
                until: self.until,
                split_cap: self.split_cap,
                clock: self.clock,
                skew: Default::default(),
                http: connected.http,
            }),
        })
    }
}

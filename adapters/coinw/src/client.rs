//! The configured CoinW client and its one signed request.

use std::sync::Arc;

use affiliate_core::{Invitee, InviteeStatus, Scope, SourceError, SourceId, Window};
use affiliate_http::{endpoint, snippet, DecodeError, HttpClient, Query, RequestSpec, Secret, Url};
use chrono::{DateTime, FixedOffset, Utc};
use serde::{Deserialize, Deserializer};
use serde_json::value::RawValue;

use crate::error::Code;
use crate::sign::{ClockHandle, Signer};
use crate::skew::ClockSkew;
use crate::window::{calendar_windows, WindowLength};
use crate::zone::{from_provider_text, to_provider_text};
use crate::CoinwError;
use std::sync::atomic::AtomicI64;

/// The endpoint's path ("patener" is CoinW's spelling).
pub const LIST_PATH: &str = "/api/v3/patener/openapi/v1/partner/invitation/user/list";

/// A CoinW affiliate account: its directly invited users through
/// [`InviteeSource`](affiliate_core::InviteeSource), one slice per registration window
/// (probed and split at the cap while planning).
///
/// Built with [`CoinwBuilder`](crate::CoinwBuilder). Cheap to clone (clones share the
/// connection pool, counters and rate limit); `Debug` never shows a credential.
#[derive(Debug, Clone)]
pub struct CoinwClient {
    pub(crate) shared: Arc<Shared>,
}

/// What every clone of one client shares.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) id: SourceId,
    pub(crate) base_url: Url,
    pub(crate) api_key: Secret,
    pub(crate) secret_key: Secret,
    pub(crate) offset: FixedOffset,
    pub(crate) page_size: u32,
    pub(crate) window: WindowLength,
    pub(crate) uid: Option<u64>,
    pub(crate) referral_code: Option<String>,
    pub(crate) since: DateTime<Utc>,
    pub(crate) until: Option<DateTime<Utc>>,
    pub(crate) split_cap: Option<u64>,
    pub(crate) clock: ClockHandle,
    /// CoinW's clock minus ours, learnt from its answers.
    pub(crate) skew: ClockSkew,
    pub(crate) http: HttpClient,
}

/// One page, normalised.
#[derive(Debug)]
pub(crate) struct ListPage {
    pub(crate) invitees: Vec<Invitee>,
    pub(crate) total: u64,
}

/// The documented body; `data` is read only once `code` says success.
#[derive(Deserialize)]
struct Envelope {
    code: Code,
    msg: Option<String>,
    message: Option<String>,
    data: Option<Box<RawValue>>,
}

#[derive(Deserialize)]
struct Data {
    #[serde(default)]
    list: Option<Vec<Row>>,
    total: Count,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Row {
    uid: Count,
    register_time: String,
}

/// A Long CoinW may send as a number or a string.
struct Count(u64);

impl<'de> Deserialize<'de> for Count {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Int(u64),
            Text(String),
        }
        match Raw::deserialize(d)? {
            Raw::Int(n) => Ok(Count(n)),
            Raw::Text(s) => s.trim().parse().map(Count).map_err(|_| {
                serde::de::Error::custom(format!("{s:?} is not a non-negative integer"))
            }),
        }
    }
}

impl CoinwClient {
    /// The base URL requests go to.
    pub fn base_url(&self) -> &Url {
        &self.shared.base_url
    }

    /// Rows per page.
    pub fn page_size(&self) -> u32 {
        self.shared.page_size
    }

    /// The UTC offset CoinW's times are read and written in.
    pub fn utc_offset(&self) -> FixedOffset {
        self.shared.offset
    }

    /// The calendar window length.
    pub fn window_length(&self) -> WindowLength {
        self.shared.window
    }

    /// Rows above which planning splits a window (`None`: windows are read whole, unprobed).
    pub fn split_cap(&self) -> Option<u64> {
        self.shared.split_cap
    }

    /// The configured start of a listing.
    pub fn since(&self) -> DateTime<Utc> {
        self.shared.since
    }

    /// The configured fixed upper bound, if any (otherwise "now" at plan time).
    pub fn until(&self) -> Option<DateTime<Utc>> {
        self.shared.until
    }

    /// The `uid` filter, if any.
    pub fn uid(&self) -> Option<u64> {
        self.shared.uid
    }

    /// The `referralCode` filter, if any.
    pub fn referral_code(&self) -> Option<&str> {
        self.shared.referral_code.as_deref()
    }

    /// `[since, until]` of a listing: the later of the configured and the scope's `since`;
    /// the earlier of the configured and the scope's `until`, else the clock's now.
    pub(crate) fn bounds(
        &self,
        scope: &Scope,
    ) -> Result<(DateTime<Utc>, DateTime<Utc>), CoinwError> {
        let since = scope
            .since
            .map_or(self.shared.since, |s| s.max(self.shared.since));
        let until = match (scope.until, self.shared.until) {
            (Some(a), Some(b)) => a.min(b),
            (Some(t), None) | (None, Some(t)) => t,
            (None, None) => DateTime::from_timestamp_millis(self.shared.clock.0.now_millis())
                .ok_or_else(|| CoinwError::Config("the clock is out of range".into()))?,
        };
        Ok((since, until))
    }

    /// The calendar windows a scope covers, newest first, without any request (what
    /// [`InviteeSource::plan`](affiliate_core::InviteeSource::plan) uses).
    pub fn calendar_windows(&self, scope: &Scope) -> Result<Vec<Window>, SourceError> {
        let (since, until) = self.bounds(scope).map_err(|e| self.fail(e, "plan", 0))?;
        calendar_windows(since, until, self.shared.window, self.shared.offset)
            .map_err(|e| self.fail(e, "plan", 0))
    }

    /// The query of one page: built once, signed decoded and sent encoded.
    pub(crate) fn query(&self, window: &Window, page_no: u64, page_size: u32) -> Query {
        Query::new()
            .push("pageNo", page_no)
            .push("pageSize", page_size)
            .push(
                "startTime",
                to_provider_text(window.start, self.shared.offset),
            )
            .push("endTime", to_provider_text(window.end, self.shared.offset))
            .push_opt("uid", self.shared.uid)
            .push_opt("referralCode", self.shared.referral_code.as_deref())
    }

    /// Fetches one page of one window, signed, and normalises it.
    pub(crate) async fn list_page(
        &self,
        window: &Window,
        page_no: u64,
        page_size: u32,
    ) -> Result<ListPage, SourceError> {
        let query = self.query(window, page_no, page_size);
        let spec =
            RequestSpec::get(endpoint(&self.shared.base_url, LIST_PATH, &query)).with_credentials();
        let label = spec.label();
        // The path as sent: a base URL with a path prefix (a proxy) is part of it.
        let signer = Signer {
            api_key: &self.shared.api_key,
            secret_key: &self.shared.secret_key,
            clock: self.shared.clock.0.as_ref(),
            skew: &self.shared.skew,
            signed_with: AtomicI64::new(0),
            path: spec.url.path(),
            query: query.decoded(),
        };
        let fetched = self
            .shared
            .http
            .get_json::<Envelope, CoinwError>(&spec, &signer);
        let fetched = fetched.await?;
        let (envelope, attempts) = (fetched.value, fetched.attempts);
        if !envelope.code.is_success() {
            let err = CoinwError::from_code(
                envelope.code.as_str(),
                envelope.msg.or(envelope.message),
                200,
            );
            return Err(self.fail(err, &label, attempts));
        }
        self.normalise(envelope.data, window)
            .map_err(|e| self.fail(e, &label, attempts))
    }

    fn normalise(
        &self,
        data: Option<Box<RawValue>>,
        window: &Window,
    ) -> Result<ListPage, CoinwError> {
        // A success without `data` (or with `null`) says nothing about the window: reading
        // it as empty would drop the window's rows silently (and planning would skip it).
        let Some(raw) = data.filter(|raw| raw.get().trim() != "null") else {
            return Err(CoinwError::MissingData);
        };
        let data: Data = serde_json::from_str(raw.get()).map_err(|e| {
            CoinwError::Decode(DecodeError {
                status: 200,
                cause: format!("data: {e}"),
                snippet: snippet(raw.get().as_bytes()),
            })
        })?;
        let rows = data.list.unwrap_or_default();
        let mut invitees = Vec::with_capacity(rows.len());
        for row in rows {
            let joined_at = from_provider_text(&row.register_time, self.shared.offset)?;
            let uid = row.uid.0.to_string();
            if joined_at < window.start || joined_at > window.end {
                return Err(CoinwError::OutsideWindow {
                    uid,
                    register_time: row.register_time,
                    window: *window,
                });
            }
            let mut invitee = Invitee::new(self.shared.id.clone(), uid, InviteeStatus::Joined);
            invitee.joined_at = Some(joined_at);
            invitees.push(invitee);
        }
        Ok(ListPage {
            invitees,
            total: data.total.0,
        })
    }

    /// Wraps an error with provider, request and attempts.
    pub(crate) fn fail(&self, err: CoinwError, request: &str, attempts: u32) -> SourceError {
        self.shared.http.fail(err, request, attempts)
    }
}

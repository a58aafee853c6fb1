//! The one poll loop all sources share: schedule, fetch (politely), parse, match brands, store, record health.
//!
//! Per (source, brand) the state lives in `source_state`: cursor (newest `created_at` seen), ETags, next poll
//! time, consecutive failures. A poll pages from newest to older until it passes the cursor (minus an overlap)
//! or reaches `max_pages`, so a restart resumes without gaps, and the unique key absorbs the overlap.
//!
//! Politeness: one shared client (rustls, gzip, timeouts, a User-Agent naming hearsay and the operator's
//! contact), at most `per_host_concurrency` requests in flight per host, conditional GET, `Retry-After` on
//! 429/503, Reddit's `X-Ratelimit-*`, Stack Exchange's `backoff` and Meta's usage headers, exponential backoff with
//! jitter on failure (capped at 6 h), and a body cap.
//!
//! Architecture invariant: a failure of one (source, brand) is recorded on that pair and never stops the others.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use chrono::{DateTime, Datelike as _, Utc};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use reqwest::header::{
    HeaderMap, HeaderValue, AUTHORIZATION, ETAG, IF_MODIFIED_SINCE, IF_NONE_MATCH, LAST_MODIFIED, RETRY_AFTER,
};
use reqwest::StatusCode;
use tokio::sync::{watch, Semaphore};
use tracing::Instrument as _;

use super::graph::ErrorKind as GraphError;
use super::oauth;
use super::requests::{self, Auth, Feed, CURSOR_OVERLAP_SECS};
use super::{parse_payload, ParseContext, ParsedPage};
use crate::config::sources::{BlueskySettings, RedditSettings};
use crate::config::{Config, PlatformSettings, PollingConfig, SourceConfig};
use crate::query::{BrandMatcher, Candidate, MatchText};
use crate::secret::Secret;
use crate::store::{BrandMatch, GivenSentiment, IngestItem, PollRecord, PollStatus, SourceState, Store, StoreError};

/// Longest wait between polls of a failing source.
const MAX_BACKOFF: Duration = Duration::from_secs(6 * 3600);

/// Why a poll failed, by what should happen next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ErrorClass {
    /// Timeouts, connection errors, 5xx: retry with backoff.
    Transient,
    /// 429 / 503 with a wait the platform asked for.
    RateLimited { retry_after: Option<Duration> },
    /// 401 / 403 / 404: the configuration (credentials, ids) needs fixing.
    Config,
    /// The body was not the platform's format: skipped, counted, sampled in the log.
    BadPayload,
}

impl ErrorClass {
    pub fn as_str(&self) -> &'static str {
        match self {
            ErrorClass::Transient => "transient",
            ErrorClass::RateLimited { .. } => "rate_limited",
            ErrorClass::Config => "config",
            ErrorClass::BadPayload => "bad_payload",
        }
    }
}

#[derive(Debug, Clone, thiserror::Error)]
#[error("{message}")]
pub struct PollError {
    pub class: ErrorClass,
    pub http_status: Option<u16>,
    pub message: String,
}

impl PollError {
    fn new(class: ErrorClass, http_status: Option<u16>, message: impl Into<String>) -> Self {
        PollError { class, http_status, message: message.into() }
    }
}

/// What one (source, brand) poll did.
#[derive(Debug, Clone)]
pub struct PollOutcome {
    pub source: String,
    pub brand: String,
    pub seen: usize,
    pub new: u64,
    pub error: Option<PollError>,
}

/// A response that arrived whole.
struct Fetched {
    status: StatusCode,
    headers: HeaderMap,
    body: Vec<u8>,
    /// The platform said its request budget is spent (`X-Ratelimit-Remaining: 0`): wait this long.
    defer: Option<Duration>,
}

/// What a (source, brand) poll that did not fail brought.
struct Gathered {
    seen: usize,
    new: u64,
    not_modified: bool,
    /// Wait at least this long before the next poll (rate-limit budget or quota spent).
    defer: Option<Duration>,
}

/// What stays the same across the pages of one (source, brand) poll.
struct Pair<'a> {
    store: &'a Store,
    source: &'a SourceConfig,
    brand: &'a BrandMatcher,
    /// The cursor minus the overlap: a page reaching back to it is the feed's last.
    since: Option<i64>,
    auth: Option<HeaderValue>,
    /// How `auth` was obtained: an OAuth2 token is asked of the cache for every page instead (`fetch_authorized`).
    auth_kind: Auth,
}

/// Where the paging of one poll goes after a page.
enum Next {
    /// Ask for this page of the same feed.
    Page(String),
    /// This feed is done (read back to the cursor, its last page, not modified, or failed): on to the next one.
    Feed,
    /// A budget is spent: end the poll here. `unread`: pages of this feed were left unasked.
    Stop { unread: bool },
}

/// What one (source, brand) poll has gathered so far, page by page.
struct Progress {
    seen: usize,
    new: u64,
    /// Every feed answered 304 Not Modified.
    all_304: bool,
    /// Newest `created_at` seen, the cursor to be.
    newest: i64,
    first_error: Option<PollError>,
    defer: Option<Duration>,
    /// Every feed was read back to the cursor or its last page, so the cursor may move.
    complete: bool,
    /// ETag and Last-Modified of each feed's first page, by feed key.
    etags: HashMap<String, String>,
    modified: HashMap<String, String>,
}

impl Progress {
    /// A poll starting from the pair's stored state.
    fn resume(st: &SourceState, cursor: Option<i64>) -> Progress {
        let validators = |json: &Option<String>| -> HashMap<String, String> {
            json.as_deref().and_then(|e| serde_json::from_str(e).ok()).unwrap_or_default()
        };
        Progress {
            seen: 0,
            new: 0,
            all_304: true,
            newest: cursor.unwrap_or(i64::MIN),
            first_error: None,
            defer: None,
            complete: true,
            etags: validators(&st.etag),
            modified: validators(&st.last_modified),
        }
    }

    /// A feed failed: the poll goes on with the other feeds, reports the first error, and keeps the cursor.
    fn fail(&mut self, e: PollError) {
        self.first_error.get_or_insert(e);
        self.complete = false;
    }

    /// `If-None-Match` / `If-Modified-Since` from what the feed's first page answered last time.
    fn add_validators(&self, feed_key: &str, headers: &mut HeaderMap) {
        if let Some(v) = self.etags.get(feed_key).and_then(|v| HeaderValue::from_str(v).ok()) {
            headers.insert(IF_NONE_MATCH, v);
        }
        if let Some(v) = self.modified.get(feed_key).and_then(|v| HeaderValue::from_str(v).ok()) {
            headers.insert(IF_MODIFIED_SINCE, v);
        }
    }

    /// Remembers the feed's first page's `ETag` / `Last-Modified` for the next poll.
    fn keep_validators(&mut self, feed_key: &str, headers: &HeaderMap) {
        if let Some(v) = headers.get(ETAG).and_then(|v| v.to_str().ok()) {
            self.etags.insert(feed_key.to_string(), v.to_string());
        }
        if let Some(v) = headers.get(LAST_MODIFIED).and_then(|v| v.to_str().ok()) {
            self.modified.insert(feed_key.to_string(), v.to_string());
        }
    }

    /// Writes validators and (when every feed was read back to it) the new cursor into `st`; the poll's result.
    fn finish(self, st: &mut SourceState, any_feed: bool) -> Result<Gathered, PollError> {
        st.etag = (!self.etags.is_empty()).then(|| serde_json::to_string(&self.etags).unwrap_or_default());
        st.last_modified =
            (!self.modified.is_empty()).then(|| serde_json::to_string(&self.modified).unwrap_or_default());
        if self.complete && self.newest > i64::MIN {
            st.cursor = Some(self.newest.to_string());
        }
        match self.first_error {
            // Partial success still counts as a failure to report, but what was stored stays stored.
            Some(e) => Err(e),
            None => Ok(Gathered {
                seen: self.seen,
                new: self.new,
                not_modified: self.all_304 && any_feed,
                defer: self.defer,
            }),
        }
    }
}

/// Access tokens by source name. Each source has a slot of its own, locked while its token is asked for; the map
/// itself is locked only to find or drop a slot, never across an `.await`.
#[derive(Default)]
struct TokenCache {
    slots: Mutex<HashMap<String, Arc<TokenSlot>>>,
}

/// One source's token and the moment it stops being used (a minute before it expires), or nothing yet.
type TokenSlot = tokio::sync::Mutex<Option<(Secret, Instant)>>;

impl TokenCache {
    fn slot(&self, key: &str) -> Arc<TokenSlot> {
        self.slots.lock().expect("token cache poisoned").entry(key.to_string()).or_default().clone()
    }

    /// The next request for `key` gets a new slot. The old one is emptied too unless a token request holds it
    /// (whose answer is fresh), so that a pair which found the slot before it was dropped does not reuse the
    /// refused token.
    fn forget(&self, key: &str) {
        if let Some(old) = self.slots.lock().expect("token cache poisoned").remove(key) {
            if let Ok(mut held) = old.try_lock() {
                *held = None;
            }
        }
    }
}

/// Shared polling machinery, rebuilt when the config is reloaded.
pub struct Poller {
    client: reqwest::Client,
    sources: Vec<SourceConfig>,
    brands: Vec<BrandMatcher>,
    polling: PollingConfig,
    hosts: Mutex<HashMap<String, Arc<Semaphore>>>,
    /// Access tokens by source name, each until a minute before it expires (`cached_token`).
    tokens: TokenCache,
    /// Draws the jitter of the next poll times; locked only for a draw, never across an `.await`.
    rng: Mutex<SmallRng>,
}

impl Poller {
    pub fn new(config: &Config) -> anyhow::Result<Poller> {
        let ua = format!(
            "hearsay/{} (brand monitoring; +{})",
            env!("CARGO_PKG_VERSION"),
            config.polling.contact.as_deref().unwrap_or("https://github.com/hearsay-monitor/hearsay")
        );
        let client = reqwest::Client::builder()
            .user_agent(ua)
            .timeout(config.polling.timeout.0)
            .connect_timeout(Duration::from_secs(10).min(config.polling.timeout.0))
            .redirect(reqwest::redirect::Policy::limited(5))
            .build()
            .context("cannot build the HTTP client")?;
        for s in config.sources.iter().filter(|s| s.enabled) {
            for w in s.warnings(config.polling.interval) {
                tracing::warn!(source = %s.name, "{w}");
            }
        }
        Ok(Poller {
            client,
            sources: config.sources.clone(),
            brands: config.matchers(),
            polling: config.polling.clone(),
            hosts: Mutex::new(HashMap::new()),
            tokens: TokenCache::default(),
            rng: Mutex::new(SmallRng::from_os_rng()),
        })
    }

    /// Polls every due (source, brand) pair (all of them with `force`), a few at a time. Stops starting new
    /// polls once `shutdown` is set; polls in flight finish and record their state.
    pub async fn poll_due(
        &self,
        store: &Store,
        shutdown: &watch::Receiver<bool>,
        only_source: Option<&str>,
        force: bool,
    ) -> Vec<PollOutcome> {
        use futures::stream::StreamExt;
        let now = Utc::now().timestamp();
        let mut due = Vec::new();
        for s in self.sources.iter().filter(|s| s.enabled && only_source.is_none_or(|n| n == s.name)) {
            for b in self.brands.iter().filter(|b| s.brands.is_empty() || s.brands.iter().any(|n| n == &b.name)) {
                let state = match store.source_state(&s.name, &b.name).await {
                    Ok(st) => st,
                    Err(e) => {
                        tracing::error!(source = %s.name, brand = %b.name, error = %e, "cannot read source state");
                        continue;
                    }
                };
                if force || state.as_ref().is_none_or(|st| st.next_poll_at <= now) {
                    due.push((s, b, state));
                }
            }
        }
        futures::stream::iter(due)
            .take_while(|_| std::future::ready(!*shutdown.borrow()))
            // The span goes with the future (entered at each of its polls, left at each `.await`): a guard held
            // across an `.await` would stay entered while the other polls run on this thread, and their lines would
            // carry this poll's source. It is at ERROR level so that it exists whenever one of its lines is logged:
            // a span the filter leaves out is not created, and `RUST_LOG=warn` would log "poll failed" without
            // saying which source failed.
            .map(|(s, b, st)| {
                let span = tracing::error_span!("poll", source = %s.name, brand = %b.name);
                self.poll_pair(store, s, b, st).instrument(span)
            })
            .buffer_unordered(8)
            .collect()
            .await
    }

    async fn poll_pair(
        &self,
        store: &Store,
        source: &SourceConfig,
        brand: &BrandMatcher,
        state: Option<SourceState>,
    ) -> PollOutcome {
        let started = Utc::now();
        let t0 = Instant::now();
        let mut st = state.unwrap_or_else(|| SourceState {
            source: source.name.clone(),
            brand: brand.name.clone(),
            platform: source.platform().as_str().into(),
            ..SourceState::default()
        });
        let result = self.fetch_brand(store, source, brand, &mut st).await;
        let latency_ms = t0.elapsed().as_millis() as i64;
        let interval = source.interval.unwrap_or(self.polling.interval).0;
        let now = Utc::now().timestamp();
        let (status, seen, new, error) = match &result {
            Ok(g) => {
                st.consecutive_failures = 0;
                st.degraded_since = None;
                st.last_success_at = Some(now);
                st.items_last_poll = Some(g.seen as i64);
                st.new_last_poll = Some(g.new as i64);
                let wait = jitter(interval, 0.1, &mut *self.rng.lock().expect("rng poisoned"))
                    .max(g.defer.unwrap_or_default());
                st.next_poll_at = now + wait.as_secs() as i64;
                (if g.not_modified { PollStatus::NotModified } else { PollStatus::Ok }, g.seen, g.new, None)
            }
            Err(e) => {
                st.consecutive_failures += 1;
                st.last_error = Some(e.message.clone());
                st.last_error_class = Some(e.class.as_str().into());
                st.last_error_at = Some(now);
                if st.consecutive_failures >= i64::from(self.polling.degraded_after) || e.class == ErrorClass::Config {
                    st.degraded_since.get_or_insert(now);
                }
                let failures = st.consecutive_failures as u32;
                let wait = backoff(interval, failures, &e.class, &mut *self.rng.lock().expect("rng poisoned"));
                st.next_poll_at = now + wait.as_secs() as i64;
                match e.class {
                    ErrorClass::Config => {
                        tracing::error!(error = %e.message, "source needs configuration; fix it and reload (SIGHUP)")
                    }
                    _ => {
                        tracing::warn!(error = %e.message, class = e.class.as_str(), retry_in_s = wait.as_secs(), "poll failed")
                    }
                }
                (PollStatus::Error, 0, 0, Some(e.clone()))
            }
        };
        let rec = PollRecord {
            source: source.name.clone(),
            brand: brand.name.clone(),
            started_at: started,
            latency_ms,
            status,
            http_status: error.as_ref().and_then(|e| e.http_status),
            items_seen: seen as i64,
            items_new: new as i64,
            error_class: error.as_ref().map(|e| e.class.as_str().to_string()),
            error: error.as_ref().map(|e| e.message.clone()),
        };
        if let Err(e) = store.save_poll(&st, &rec).await {
            tracing::error!(error = %e, "cannot record poll state");
        }
        PollOutcome { source: source.name.clone(), brand: brand.name.clone(), seen, new, error }
    }

    /// Fetches every feed of the plan, pages back to the cursor, stores matching mentions.
    ///
    /// The cursor only moves forward when every feed was read back to it (or to its last page): a poll cut
    /// short by an error or a rate limit leaves it where it was, so the next poll fills the gap, and the
    /// unique key absorbs what is fetched twice.
    async fn fetch_brand(
        &self,
        store: &Store,
        source: &SourceConfig,
        brand: &BrandMatcher,
        st: &mut SourceState,
    ) -> Result<Gathered, PollError> {
        let cursor: Option<i64> = st.cursor.as_deref().and_then(|c| c.parse().ok());
        let since = cursor.map(|c| c - CURSOR_OVERLAP_SECS);
        let plan = requests::plan(&source.settings, &brand.search_terms(), since);
        let mut progress = Progress::resume(st, cursor);
        // A token within a week of its expiry is this poll's error (so the source shows degraded and alerts) while
        // the poll goes on; an expired one makes no request.
        let expiring = match super::graph::token_expiry(&source.settings, Utc::now()) {
            Some(t) if t.expired => return Err(advised(source, PollError::new(ErrorClass::Config, None, t.message))),
            t => t.map(|t| advised(source, PollError::new(ErrorClass::Config, None, t.message))),
        };
        let auth = self.auth_header(source, plan.auth).await.map_err(|e| advised(source, e))?;
        let pair = Pair { store, source, brand, since, auth, auth_kind: plan.auth };
        'feeds: for (feed_no, feed) in plan.feeds.iter().enumerate() {
            let mut url = feed.url.clone();
            let max_pages = feed.max_pages.unwrap_or(self.polling.max_pages).max(1);
            for page_no in 0..max_pages {
                match self.fetch_page(&pair, feed, &url, page_no, &mut progress).await? {
                    Next::Page(next) => url = next,
                    Next::Feed => continue 'feeds,
                    Next::Stop { unread } => {
                        progress.complete &= !unread && feed_no + 1 == plan.feeds.len();
                        break 'feeds;
                    }
                }
            }
            // Every page asked for had a next one.
            tracing::warn!(
                pages = max_pages,
                "more new mentions than [polling] max_pages pages; older ones of this poll were not fetched"
            );
        }
        if let Some(e) = expiring {
            // Unlike a failed feed, it leaves the cursor free to move: everything was read.
            progress.first_error.get_or_insert(e);
        }
        progress.finish(st, !plan.feeds.is_empty())
    }

    /// One page of one feed: spends quota, fetches (conditionally, on a feed's first page), parses, stores the
    /// mentions that match the brand and accounts for them in `progress`. Says where the paging goes next;
    /// `Err` only for what ends the whole poll at once (the store or the quota table failing).
    async fn fetch_page(
        &self,
        pair: &Pair<'_>,
        feed: &Feed,
        url: &str,
        page_no: u32,
        progress: &mut Progress,
    ) -> Result<Next, PollError> {
        let Pair { store, source, brand, since, .. } = *pair;
        if let Some(wait) = self.spend_quota(store, source, url).await? {
            tracing::info!(
                wait_s = wait.as_secs(),
                "daily quota budget of this source is spent; polling again after the reset"
            );
            progress.defer = progress.defer.max(Some(wait));
            progress.all_304 = false;
            return Ok(Next::Stop { unread: true });
        }
        let mut headers = HeaderMap::new();
        if page_no == 0 {
            progress.add_validators(&feed.key, &mut headers);
        }
        let fetched = match self.fetch_authorized(pair, url, headers).await? {
            Ok(f) => f,
            Err(e) => {
                self.refund_x_posts(store, source, 0).await?;
                progress.fail(advised(source, e));
                return Ok(Next::Feed);
            }
        };
        if fetched.status == StatusCode::NOT_MODIFIED {
            return Ok(Next::Feed);
        }
        progress.all_304 = false;
        if page_no == 0 {
            progress.keep_validators(&feed.key, &fetched.headers);
        }
        let content_type = fetched.headers.get(reqwest::header::CONTENT_TYPE).and_then(|v| v.to_str().ok());
        let ctx = ParseContext {
            base_url: Some(url.to_string()),
            country: feed.country.clone(),
            html: requests::html_selectors(&source.settings),
            fetched_at: Some(Utc::now()),
        };
        let parsed = parse_payload(source.platform(), &fetched.body, content_type, &ctx);
        let returned = parsed.as_ref().map_or(0, |p| p.mentions.len() + p.skipped);
        self.refund_x_posts(store, source, returned).await?;
        let mut page = match parsed {
            Ok(p) => p,
            Err(e) => {
                tracing::warn!(url = %redact_url(url), sample = %String::from_utf8_lossy(&fetched.body[..fetched.body.len().min(200)]), "bad payload");
                progress.fail(PollError::new(ErrorClass::BadPayload, Some(fetched.status.as_u16()), e.to_string()));
                return Ok(Next::Feed);
            }
        };
        if let Some(place) = &feed.location {
            for m in page.mentions.iter_mut().filter(|m| m.location.is_none()) {
                m.location = Some(place.clone());
            }
        }
        progress.seen += page.mentions.len();
        let oldest = page.mentions.iter().map(|m| m.created_at.timestamp()).min();
        let newest = page.mentions.iter().map(|m| m.created_at.timestamp()).max();
        progress.newest = progress.newest.max(newest.unwrap_or(i64::MIN));
        let items = match_brand(&page, source, brand, feed);
        let report = store
            .ingest(&items)
            .await
            .map_err(|e| PollError::new(ErrorClass::Transient, None, format!("cannot store mentions: {e}")))?;
        progress.new += report.inserted;
        let reached_cursor = matches!((oldest, since), (Some(o), Some(s)) if o <= s);
        let next = if reached_cursor || page.mentions.is_empty() {
            None
        } else {
            requests::next_url(feed, page_no + 1, &page, requests::page_size(source.platform()))
        };
        // The platform's own budget signals: stop here and come back when it allows.
        let budget_wait = fetched
            .defer
            .or_else(|| page.hints.quota_remaining.filter(|q| *q <= 0).map(|_| until_next_utc_midnight(Utc::now())));
        if let Some(wait) = budget_wait {
            tracing::info!(wait_s = wait.as_secs(), "request budget spent; polling again after the reset");
            progress.defer = progress.defer.max(Some(wait));
            return Ok(Next::Stop { unread: next.is_some() });
        }
        let Some(next) = next else { return Ok(Next::Feed) };
        if let Some(b) = page.hints.backoff_secs {
            // Stack Exchange: "wait that many seconds before hitting the same method again". Short waits
            // are slept through; a long one ends this poll (a SIGTERM must not wait minutes for it).
            if b > 30 {
                progress.defer = progress.defer.max(Some(Duration::from_secs(b)));
                return Ok(Next::Stop { unread: true });
            }
            tokio::time::sleep(Duration::from_secs(b)).await;
        }
        Ok(Next::Page(next))
    }

    /// One page's GET under the pair's credentials. An OAuth2 source's token comes from the cache for each page, so
    /// that one renewed after a 401 serves the pages after it too. A 401 (the token expired early or was revoked
    /// mid-poll) drops the cached token and the request is made once more with a new one; a 401 or 403 that stays
    /// is the inner `Err`, which the caller gives the platform's advice (`advised`). The outer `Err` (no token to
    /// be had, already advised) ends the poll.
    async fn fetch_authorized(
        &self,
        pair: &Pair<'_>,
        url: &str,
        headers: HeaderMap,
    ) -> Result<Result<Fetched, PollError>, PollError> {
        let url = self.with_query_key(pair.source, url);
        if pair.auth_kind != Auth::OAuth2 {
            let mut headers = headers;
            if let Some(a) = &pair.auth {
                headers.insert(AUTHORIZATION, a.clone());
            }
            return Ok(self.fetch(&url, headers).await);
        }
        let mut retried = false;
        loop {
            let mut with_token = headers.clone();
            let auth = self.auth_header(pair.source, Auth::OAuth2).await.map_err(|e| advised(pair.source, e))?;
            if let Some(a) = auth {
                with_token.insert(AUTHORIZATION, a);
            }
            match self.fetch(&url, with_token).await {
                Err(e) if e.http_status == Some(401) && !retried => {
                    tracing::info!("the access token was refused (HTTP 401); asking for a new one and retrying once");
                    self.forget_token(&pair.source.name);
                    retried = true;
                }
                done => return Ok(done),
            }
        }
    }

    /// Spends a source's own daily quota before a request (YouTube: `search` costs 100 units, `commentThreads`
    /// 1; the day resets at midnight Pacific time). `Some(wait)` when the budget does not allow the request.
    async fn spend_quota(
        &self,
        store: &Store,
        source: &SourceConfig,
        url: &str,
    ) -> Result<Option<Duration>, PollError> {
        let now = Utc::now();
        let (day, wait, cost, limit) = match &source.settings {
            PlatformSettings::YouTube(s) => {
                let (day, wait) = youtube_quota_day(now);
                (day, wait, if url.contains("/search?") { 100 } else { 1 }, i64::from(s.daily_quota))
            }
            // X counts posts read against the plan's monthly cap: a page is reserved at its largest, and what it
            // did not return is given back once it is parsed (`refund_x_posts`).
            PlatformSettings::X(s) => {
                let Some(cap) = s.monthly_cap else { return Ok(None) };
                let (month, wait) = x_cap_month(now);
                (month, wait, i64::from(s.max_results), i64::from(cap))
            }
            _ => return Ok(None),
        };
        let ok = store
            .reserve_quota(&source.name, &day, cost, limit)
            .await
            .map_err(|e| PollError::new(ErrorClass::Transient, None, format!("cannot record quota use: {e}")))?;
        Ok((!ok).then_some(wait))
    }

    /// Gives back the part of an X page's reservation (`max_results` posts) that the page did not return:
    /// X counts the posts it delivers, not the ones asked for.
    async fn refund_x_posts(&self, store: &Store, source: &SourceConfig, returned: usize) -> Result<(), PollError> {
        let PlatformSettings::X(s) = &source.settings else { return Ok(()) };
        if s.monthly_cap.is_none() {
            return Ok(());
        }
        let unused = i64::from(s.max_results) - i64::try_from(returned).unwrap_or(i64::MAX);
        if unused <= 0 {
            return Ok(());
        }
        let (month, _) = x_cap_month(Utc::now());
        store
            .refund_quota(&source.name, &month, unused)
            .await
            .map_err(|e| PollError::new(ErrorClass::Transient, None, format!("cannot record quota use: {e}")))
    }

    /// API keys that travel in the query string (YouTube `key`, Stack Exchange `key`).
    fn with_query_key(&self, source: &SourceConfig, url: &str) -> String {
        let key = match &source.settings {
            PlatformSettings::YouTube(s) => s.api_key.resolve("api_key").ok().flatten(),
            PlatformSettings::StackExchange(s) => s.key.resolve("key").ok().flatten(),
            _ => None,
        };
        match key {
            Some(k) => {
                format!("{url}&key={}", url::form_urlencoded::byte_serialize(k.expose().as_bytes()).collect::<String>())
            }
            None => url.to_string(),
        }
    }

    async fn auth_header(&self, source: &SourceConfig, auth: Auth) -> Result<Option<HeaderValue>, PollError> {
        let bearer = |token: &str| {
            let mut v = HeaderValue::from_str(&format!("Bearer {token}")).map_err(|_| {
                PollError::new(ErrorClass::Config, None, "credential contains characters not allowed in a header")
            })?;
            v.set_sensitive(true);
            Ok::<_, PollError>(Some(v))
        };
        let cfg_err = |e: String| PollError::new(ErrorClass::Config, None, e);
        let graph_token = |keys: &crate::config::sources::SecretKeys| match keys.resolve("access_token") {
            Ok(Some(t)) => bearer(t.expose()),
            Ok(None) => Err(cfg_err("access_token is required".into())),
            Err(e) => Err(cfg_err(e)),
        };
        match (auth, &source.settings) {
            (Auth::None, _) => Ok(None),
            (Auth::Bearer, PlatformSettings::Mastodon(s)) => match s.token.resolve("token").map_err(cfg_err)? {
                Some(t) => bearer(t.expose()),
                None => Ok(None),
            },
            (Auth::Bearer, PlatformSettings::GitHub(s)) => match s.token.resolve("token").map_err(cfg_err)? {
                Some(t) => bearer(t.expose()),
                None => Ok(None),
            },
            (Auth::Bearer, PlatformSettings::Yelp(s)) => match s.api_key.resolve("api_key").map_err(cfg_err)? {
                Some(t) => bearer(t.expose()),
                None => Err(cfg_err("api_key is required".into())),
            },
            (Auth::Bearer, PlatformSettings::X(s)) => match s.bearer_token.resolve("bearer_token").map_err(cfg_err)? {
                Some(t) => bearer(t.expose()),
                None => Err(cfg_err("bearer_token is required".into())),
            },
            // Meta's Graph API takes the token as a bearer token: it never travels in a URL.
            (Auth::Bearer, PlatformSettings::Threads(s)) => graph_token(&s.access_token),
            (Auth::Bearer, PlatformSettings::FacebookPage(s)) => graph_token(&s.access_token),
            (Auth::Bearer, PlatformSettings::Instagram(s)) => graph_token(&s.access_token),
            (Auth::RedditAppOnly, PlatformSettings::Reddit(s)) => {
                let token = self.cached_token(&source.name, || self.reddit_token(s)).await?;
                bearer(token.expose())
            }
            (Auth::BlueskySession, PlatformSettings::Bluesky(s)) => {
                let token = self.cached_token(&source.name, || self.bluesky_session(s)).await?;
                bearer(token.expose())
            }
            (Auth::OAuth2, settings) => {
                let Some(grant) = oauth::Grant::of(settings).map_err(cfg_err)? else { return Ok(None) };
                let token = self.cached_token(&source.name, || self.oauth_token(&grant, settings)).await?;
                bearer(token.expose())
            }
            _ => Ok(None),
        }
    }

    /// The source's token from the cache, or from `get` when there is none still valid. Only the source's own
    /// slot is locked while `get` runs: the pairs of one source (one per brand) wait for the one token request
    /// in flight and share its answer, and other sources' requests go on beside it.
    async fn cached_token<F, Fut>(&self, key: &str, get: F) -> Result<Secret, PollError>
    where
        F: FnOnce() -> Fut,
        Fut: std::future::Future<Output = Result<(Secret, Duration), PollError>>,
    {
        let slot = self.tokens.slot(key);
        let mut slot = slot.lock().await;
        if let Some((t, until)) = slot.as_ref() {
            if Instant::now() < *until {
                return Ok(t.clone());
            }
        }
        let (t, ttl) = get().await?;
        *slot = Some((t.clone(), Instant::now() + ttl.saturating_sub(Duration::from_secs(60))));
        Ok(t)
    }

    /// Drops a source's cached token (a request with it came back 401), so that the next one asks for a new one.
    /// A token request in flight for the source is not waited for: its answer serves those waiting on it.
    fn forget_token(&self, key: &str) {
        self.tokens.forget(key);
    }

    /// An access token from the source's OAuth2 grant (`sources::oauth`). A refused credential is a `config`
    /// error with the endpoint's own words (the caller adds what to do about it, `advised`); a spent budget or a
    /// server error is classified like any other response.
    async fn oauth_token(
        &self,
        grant: &oauth::Grant,
        settings: &PlatformSettings,
    ) -> Result<(Secret, Duration), PollError> {
        let what = format!("{} token request", settings.platform());
        let form = grant.form(Utc::now().timestamp()).map_err(|e| PollError::new(ErrorClass::Config, None, e))?;
        let resp = self.client.post(grant.token_uri()).form(&form).send().await.map_err(|e| transport_error(&e))?;
        let (status, headers) = (resp.status(), resp.headers().clone());
        let bytes = resp.bytes().await.unwrap_or_default();
        if let Some(said) = oauth::refusal(status.as_u16(), &bytes) {
            let message = format!("{what}: HTTP {status}: the credential was refused ({said})");
            return Err(PollError::new(ErrorClass::Config, Some(status.as_u16()), message));
        }
        match oauth::access_token(&bytes) {
            Some(token) if status.is_success() => Ok(token),
            _ => Err(status_error(status, Some(&headers), &what, &bytes)),
        }
    }

    async fn reddit_token(&self, s: &RedditSettings) -> Result<(Secret, Duration), PollError> {
        let secret = s
            .client_secret
            .resolve("client_secret")
            .map_err(|e| PollError::new(ErrorClass::Config, None, e))?
            .ok_or_else(|| PollError::new(ErrorClass::Config, None, "client_secret is required"))?;
        let resp = self
            .client
            .post(&s.auth_url)
            .basic_auth(&s.client_id, Some(secret.expose()))
            .form(&[("grant_type", "client_credentials")])
            .send()
            .await
            .map_err(|e| transport_error(&e))?;
        let (status, headers) = (resp.status(), resp.headers().clone());
        let bytes = resp.bytes().await.unwrap_or_default();
        let body: serde_json::Value = serde_json::from_slice(&bytes).unwrap_or_default();
        if !status.is_success() || body.get("access_token").is_none() {
            return Err(status_error(status, Some(&headers), "Reddit token request", &bytes));
        }
        let token = Secret::new(body["access_token"].as_str().unwrap_or_default());
        let ttl = Duration::from_secs(body["expires_in"].as_u64().unwrap_or(3600));
        Ok((token, ttl))
    }

    async fn bluesky_session(&self, s: &BlueskySettings) -> Result<(Secret, Duration), PollError> {
        let password = s
            .app_password
            .resolve("app_password")
            .map_err(|e| PollError::new(ErrorClass::Config, None, e))?
            .ok_or_else(|| PollError::new(ErrorClass::Config, None, "app_password is required"))?;
        let url = format!("{}/xrpc/com.atproto.server.createSession", s.service.trim_end_matches('/'));
        let resp = self
            .client
            .post(&url)
            .json(&serde_json::json!({"identifier": s.handle, "password": password.expose()}))
            .send()
            .await
            .map_err(|e| transport_error(&e))?;
        let (status, headers) = (resp.status(), resp.headers().clone());
        let bytes = resp.bytes().await.unwrap_or_default();
        let body: serde_json::Value = serde_json::from_slice(&bytes).unwrap_or_default();
        match body.get("accessJwt").and_then(|v| v.as_str()) {
            // Access tokens live about two hours; re-creating the session before then avoids refresh bookkeeping.
            Some(t) if status.is_success() => Ok((Secret::new(t), Duration::from_secs(90 * 60))),
            _ => Err(status_error(status, Some(&headers), "Bluesky createSession", &bytes)),
        }
    }

    /// One GET with per-host concurrency, a body cap, and status classification.
    async fn fetch(&self, url: &str, headers: HeaderMap) -> Result<Fetched, PollError> {
        let host = url::Url::parse(url)
            .map_err(|e| PollError::new(ErrorClass::Config, None, format!("invalid URL {url}: {e}")))?
            .host_str()
            .unwrap_or_default()
            .to_string();
        let sem = {
            let mut hosts = self.hosts.lock().expect("host map poisoned");
            hosts
                .entry(host)
                .or_insert_with(|| Arc::new(Semaphore::new(self.polling.per_host_concurrency.max(1) as usize)))
                .clone()
        };
        let _permit = sem.acquire().await.expect("semaphore never closed");
        let mut resp = self.client.get(url).headers(headers).send().await.map_err(|e| transport_error(&e))?;
        let status = resp.status();
        let headers = resp.headers().clone();
        if status == StatusCode::NOT_MODIFIED {
            return Ok(Fetched { status, headers, body: Vec::new(), defer: None });
        }
        if !status.is_success() {
            // The platform's own error body says what is wrong (and whether it is a quota): read a little of it.
            let mut body = Vec::new();
            while let Ok(Some(chunk)) = resp.chunk().await {
                body.extend_from_slice(&chunk);
                if body.len() >= ERROR_BODY_CAP {
                    break;
                }
            }
            return Err(status_error(status, Some(&headers), &redact_url(url), &body));
        }
        let cap = self.polling.max_body_mib as usize * 1024 * 1024;
        let mut body = Vec::new();
        while let Some(chunk) = resp.chunk().await.map_err(|e| transport_error(&e))? {
            if body.len() + chunk.len() > cap {
                return Err(PollError::new(
                    ErrorClass::BadPayload,
                    Some(status.as_u16()),
                    format!(
                        "response from {} is larger than {} MiB; refused",
                        redact_url(url),
                        self.polling.max_body_mib
                    ),
                ));
            }
            body.extend_from_slice(&chunk);
        }
        let defer = spent_budget(&headers, Utc::now());
        Ok(Fetched { status, headers, body, defer })
    }
}

/// A configuration error says what the source needs, where its platform has something to say (`sources::advice`):
/// which token, which permissions or scope, which id. Every `config` error of a poll or a check passes here once.
fn advised(source: &SourceConfig, mut e: PollError) -> PollError {
    if e.class == ErrorClass::Config {
        if let Some(todo) = super::advice(source.platform()) {
            e.message = format!("{}; {todo}", e.message);
        }
    }
    e
}

/// How much of an error response is read to explain it.
const ERROR_BODY_CAP: usize = 64 * 1024;

/// Keeps only the brand's mentions: the query must match (unless the feed is the brand's own review page),
/// and no exclusion may. Each mention's language is resolved first (`lang::of_mention`), so that the brand's
/// `languages` see it also where the platform tags none.
fn match_brand(page: &ParsedPage, source: &SourceConfig, brand: &BrandMatcher, feed: &Feed) -> Vec<IngestItem> {
    page.mentions
        .iter()
        .filter_map(|m| {
            let lang = crate::lang::of_mention(m);
            let text = MatchText::new(m.title.as_deref(), &m.text);
            let cand =
                Candidate { text: &text, author: m.author.as_deref(), url: m.url.as_deref(), lang: Some(&lang.code) };
            let terms = if feed.owned {
                if brand.excluded(&cand) {
                    return None;
                }
                brand.matches(&cand).map(|h| h.terms).unwrap_or_default()
            } else {
                brand.matches(&cand)?.terms
            };
            Some(IngestItem {
                mention: m.clone(),
                source: Some(source.name.clone()),
                brands: vec![BrandMatch { brand: brand.name.clone(), terms }],
                sentiment: GivenSentiment::from_stars(m),
                lang: Some(lang),
                derived: None,
            })
        })
        .collect()
}

fn header_f64(h: &HeaderMap, name: &str) -> Option<f64> {
    h.get(name)?.to_str().ok()?.trim().parse().ok()
}

/// `X-Ratelimit-Remaining` below 1 with `X-Ratelimit-Reset`: how long until the budget is back. Reddit sends
/// the reset as seconds from now, GitHub as a Unix time; both are read. X spells them `x-rate-limit-remaining` /
/// `x-rate-limit-reset` (a Unix time). Meta's usage headers (`X-App-Usage`, `X-Business-Use-Case-Usage`) say it in
/// per cent (`graph::usage_wait`). Capped at an hour.
fn spent_budget(h: &HeaderMap, now: DateTime<Utc>) -> Option<Duration> {
    if let Some(wait) = super::graph::usage_wait(h) {
        return Some(wait.clamp(Duration::from_secs(1), Duration::from_secs(3600)));
    }
    let either = |a: &str, b: &str| header_f64(h, a).or_else(|| header_f64(h, b));
    let remaining = either("x-ratelimit-remaining", "x-rate-limit-remaining")?;
    if remaining >= 1.0 {
        return None;
    }
    let reset = either("x-ratelimit-reset", "x-rate-limit-reset")?;
    let secs = if reset > 1.0e9 { reset - now.timestamp() as f64 } else { reset };
    Some(Duration::from_secs_f64(secs.clamp(1.0, 3600.0)))
}

/// The YouTube quota day (it resets at midnight Pacific time; taken as UTC−8 all year, so during daylight
/// saving time hearsay waits one hour longer than needed) and the time until its reset.
pub fn youtube_quota_day(now: DateTime<Utc>) -> (String, Duration) {
    let shifted = now - chrono::Duration::hours(8);
    let day = shifted.date_naive();
    let reset = (day + chrono::Days::new(1)).and_hms_opt(8, 0, 0).expect("valid time").and_utc();
    (day.to_string(), (reset - now).to_std().unwrap_or_default())
}

/// The month of X's post cap, keyed by its first day (so the quota table's clean-up treats it like a day), and
/// the time until the next month. X's own cap resets on the plan's billing date; a calendar month (UTC) is the
/// ledger's approximation, set `monthly_cap` with that in mind.
pub fn x_cap_month(now: DateTime<Utc>) -> (String, Duration) {
    let first = now.date_naive().with_day(1).expect("day 1 exists");
    let next = (first + chrono::Months::new(1)).and_hms_opt(0, 0, 0).expect("valid time").and_utc();
    (first.to_string(), (next - now).to_std().unwrap_or_default())
}

/// Time until the next midnight UTC (Stack Exchange quotas reset then).
fn until_next_utc_midnight(now: DateTime<Utc>) -> Duration {
    let next = (now.date_naive() + chrono::Days::new(1)).and_hms_opt(0, 0, 0).expect("valid time").and_utc();
    (next - now).to_std().unwrap_or_default()
}

/// The human part of a platform's JSON error body, on one line, at most 200 characters:
/// `message` (GitHub, Reddit, Algolia, Bluesky, Mastodon's `error`), `error.message` (Google),
/// `error_message` (Stack Exchange), `error.description` (Yelp), `errors[0].message` or `title: detail` (X).
fn platform_message(body: &[u8]) -> Option<String> {
    let v: serde_json::Value = serde_json::from_slice(body).ok()?;
    let pick = |path: &[&str]| {
        let mut cur = &v;
        for k in path {
            cur = cur.get(k)?;
        }
        cur.as_str().map(str::to_string)
    };
    let msg = pick(&["error", "message"])
        .or_else(|| pick(&["error", "description"]))
        .or_else(|| pick(&["error_message"]))
        .or_else(|| pick(&["message"]))
        .or_else(|| pick(&["error_description"]))
        .or_else(|| pick(&["error"]))
        // X: `errors[0].message` (v1.1, and v2's invalid requests), else v2's problem `title: detail`.
        .or_else(|| v.pointer("/errors/0/message").and_then(|m| m.as_str()).map(str::to_string))
        .or_else(|| match (pick(&["title"]), pick(&["detail"])) {
            (Some(t), Some(d)) if t != d => Some(format!("{t}: {d}")),
            (Some(one), _) | (None, Some(one)) => Some(one),
            (None, None) => None,
        })?;
    let one_line: String = msg.split_whitespace().collect::<Vec<_>>().join(" ");
    Some(one_line.chars().take(200).collect())
}

/// Quota or throttling reported in an error body rather than with 429: Google's `error.errors[].reason`,
/// Stack Exchange's `throttle_violation` (HTTP 400, "… available in N seconds"), GitHub's secondary limit, Meta's
/// Graph API throttling codes (`graph::error_kind`: 4, 17, 32, 613, 80001–80099).
fn body_rate_limit(body: &[u8], now: DateTime<Utc>) -> Option<Option<Duration>> {
    let v: serde_json::Value = serde_json::from_slice(body).ok()?;
    if super::graph::error_kind(&v) == Some(GraphError::RateLimited) {
        return Some(None);
    }
    let reasons: Vec<&str> = v
        .pointer("/error/errors")
        .and_then(|e| e.as_array())
        .map(|a| a.iter().filter_map(|e| e.get("reason").and_then(|r| r.as_str())).collect())
        .unwrap_or_default();
    if reasons.iter().any(|r| matches!(*r, "quotaExceeded" | "dailyLimitExceeded")) {
        return Some(Some(youtube_quota_day(now).1));
    }
    if reasons.iter().any(|r| matches!(*r, "rateLimitExceeded" | "userRateLimitExceeded")) {
        return Some(None);
    }
    if v.get("error_name").and_then(|e| e.as_str()) == Some("throttle_violation") {
        let msg = v.get("error_message").and_then(|e| e.as_str()).unwrap_or_default();
        let secs = msg
            .split_whitespace()
            .collect::<Vec<_>>()
            .windows(2)
            .find(|w| w[1].starts_with("second"))
            .and_then(|w| w[0].parse::<u64>().ok());
        return Some(secs.map(Duration::from_secs));
    }
    let msg = v.get("message").and_then(|m| m.as_str()).unwrap_or_default().to_ascii_lowercase();
    if msg.contains("rate limit") {
        return Some(None);
    }
    None
}

/// Query strings can carry API keys; logs and errors show the URL without them.
pub fn redact_url(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut u) => {
            let pairs: Vec<(String, String)> = u
                .query_pairs()
                .map(|(k, v)| {
                    let secret = matches!(k.as_ref(), "key" | "api_key" | "access_token" | "token" | "client_secret");
                    (k.into_owned(), if secret { "REDACTED".into() } else { v.into_owned() })
                })
                .collect();
            if !pairs.is_empty() {
                u.query_pairs_mut().clear().extend_pairs(pairs);
            }
            u.to_string()
        }
        Err(_) => "<invalid URL>".into(),
    }
}

fn transport_error(e: &reqwest::Error) -> PollError {
    let what = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "connection failed"
    } else {
        "request failed"
    };
    let url = e.url().map(|u| redact_url(u.as_str())).unwrap_or_default();
    PollError::new(ErrorClass::Transient, None, format!("{what}: {url}"))
}

fn status_error(status: StatusCode, headers: Option<&HeaderMap>, what: &str, body: &[u8]) -> PollError {
    let code = Some(status.as_u16());
    let now = Utc::now();
    let retry_after =
        headers.and_then(|h| h.get(RETRY_AFTER)).and_then(|v| v.to_str().ok()).and_then(parse_retry_after);
    let says = platform_message(body).map(|m| format!(" (the platform says: {m})")).unwrap_or_default();
    let limited = |retry_after: Option<Duration>| {
        PollError::new(
            ErrorClass::RateLimited { retry_after },
            code,
            format!("{what}: HTTP {status}: rate limited{says}"),
        )
    };
    // A spent budget comes as 403 from GitHub and YouTube, as 400 from Stack Exchange: not a configuration error.
    if matches!(status.as_u16(), 400 | 403 | 429) {
        if let Some(wait) = headers.and_then(|h| spent_budget(h, now)) {
            return limited(Some(retry_after.unwrap_or_default().max(wait)));
        }
        if let Some(wait) = body_rate_limit(body, now) {
            return limited(retry_after.or(wait));
        }
    }
    // Meta's Graph API answers a refused token, a missing permission or an unknown id with 400 as often as with
    // 401/403: its error code says which (`graph::error_kind`).
    let graph = serde_json::from_slice(body).ok().and_then(|v| super::graph::error_kind(&v));
    if let Some(kind @ (GraphError::Token | GraphError::Permission | GraphError::Request)) = graph {
        return PollError::new(ErrorClass::Config, code, format!("{what}: HTTP {status}: {}{says}", kind.explain()));
    }
    match status.as_u16() {
        401 | 403 => PollError::new(
            ErrorClass::Config,
            code,
            format!("{what}: HTTP {status}: credentials missing, wrong or lacking permission{says}"),
        ),
        404 | 410 => PollError::new(
            ErrorClass::Config,
            code,
            format!("{what}: HTTP {status}: check the ids / URL in the config{says}"),
        ),
        429 | 503 => limited(retry_after),
        _ => PollError::new(ErrorClass::Transient, code, format!("{what}: HTTP {status}{says}")),
    }
}

/// `Retry-After` as seconds or an HTTP date.
pub fn parse_retry_after(v: &str) -> Option<Duration> {
    if let Ok(s) = v.trim().parse::<u64>() {
        return Some(Duration::from_secs(s));
    }
    let t = DateTime::parse_from_rfc2822(v.trim()).ok()?;
    let secs = (t.with_timezone(&Utc) - Utc::now()).num_seconds();
    Some(Duration::from_secs(secs.max(0) as u64))
}

/// Wait before the next try after `failures` consecutive failures: doubling from the interval, capped, jittered,
/// never shorter than what the platform asked for. The jitter comes after the cap, so that sources failing for
/// long do not all come back at once either.
pub fn backoff(interval: Duration, failures: u32, class: &ErrorClass, rng: &mut impl Rng) -> Duration {
    let capped = interval.saturating_mul(1u32 << failures.saturating_sub(1).min(16)).min(MAX_BACKOFF);
    let exp = jitter(capped, 0.2, rng);
    match class {
        ErrorClass::RateLimited { retry_after: Some(ra) } => exp.max(*ra),
        _ => exp,
    }
}

/// `d` spread uniformly over ±`frac` so many sources do not poll in lock-step. The draw comes from the caller's
/// generator (the poller's, seeded by the OS; a fixed one in tests).
fn jitter(d: Duration, frac: f64, rng: &mut impl Rng) -> Duration {
    let r: f64 = rng.random(); // [0, 1)
    d.mul_f64(1.0 + frac * (2.0 * r - 1.0))
}

/// How a (source, brand) pair is doing, as `hearsay sources status` shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Health {
    Healthy,
    /// The last poll failed; backing off.
    Failing,
    /// Failing long enough to be marked degraded (and to count as a source-down alert).
    Degraded,
    /// Polls succeed but the last one brought nothing from a source that usually brings many items: it has
    /// likely changed its format.
    Quiet,
}

impl Health {
    /// Items per day (over the last week) above which an empty poll makes a source [`Health::Quiet`].
    const BUSY_PER_DAY: f64 = 20.0;

    fn of(state: &SourceState, items_per_day: f64) -> Health {
        if state.degraded_since.is_some() {
            Health::Degraded
        } else if state.consecutive_failures > 0 {
            Health::Failing
        } else if state.items_last_poll == Some(0) && items_per_day >= Self::BUSY_PER_DAY {
            Health::Quiet
        } else {
            Health::Healthy
        }
    }
}

/// One (source, brand) pair's stored state, what it brought lately and its health.
#[derive(Debug, Clone)]
pub struct SourceStatus {
    pub state: SourceState,
    /// New items per day over the last week.
    pub items_per_day: f64,
    pub health: Health,
}

/// Every (source, brand) pair polled so far, by source and brand (`hearsay sources status`).
pub async fn status(store: &Store) -> Result<Vec<SourceStatus>, StoreError> {
    let states = store.source_states().await?;
    if states.is_empty() {
        return Ok(Vec::new());
    }
    let mut per_day: HashMap<(String, String), f64> =
        store.items_per_day(7).await?.into_iter().map(|(s, b, n)| ((s, b), n)).collect();
    Ok(states
        .into_iter()
        .map(|state| {
            let items_per_day = per_day.remove(&(state.source.clone(), state.brand.clone())).unwrap_or(0.0);
            SourceStatus { health: Health::of(&state, items_per_day), items_per_day, state }
        })
        .collect())
}

/// What one real request to a source brought (`hearsay sources check`).
#[derive(Debug)]
pub enum CheckOutcome {
    /// The source asks for nothing (no feeds configured).
    NothingToRequest,
    /// The first page parsed: its items, how many of them match the brand, the newest one's time.
    Parsed {
        items: usize,
        matching: usize,
        newest: Option<DateTime<Utc>>,
    },
    Failed(PollError),
}

/// The outcome of [`Poller::check`]: one entry per source checked, with the brand whose terms were asked for.
#[derive(Debug)]
pub struct CheckReport {
    pub brand: String,
    pub sources: Vec<(String, CheckOutcome)>,
}

impl Poller {
    /// One real request per source (or only the source named `only`) with the first brand's terms; nothing is
    /// stored. `None` when no brand is configured.
    pub async fn check(&self, only: Option<&str>) -> Option<CheckReport> {
        let brand = self.brands.first()?;
        let mut sources = Vec::new();
        for s in self.sources.iter().filter(|s| only.is_none_or(|n| n == s.name)) {
            let plan = requests::plan(&s.settings, &brand.search_terms(), None);
            let Some(feed) = plan.feeds.first() else {
                sources.push((s.name.clone(), CheckOutcome::NothingToRequest));
                continue;
            };
            let outcome = async {
                if let Some(t) = super::graph::token_expiry(&s.settings, Utc::now()) {
                    return Err(PollError::new(ErrorClass::Config, None, t.message));
                }
                let mut headers = HeaderMap::new();
                if let Some(a) = self.auth_header(s, plan.auth).await? {
                    headers.insert(AUTHORIZATION, a);
                }
                let f = self.fetch(&self.with_query_key(s, &feed.url), headers).await?;
                let ct = f.headers.get(reqwest::header::CONTENT_TYPE).and_then(|v| v.to_str().ok());
                let ctx = ParseContext {
                    base_url: Some(feed.url.clone()),
                    country: feed.country.clone(),
                    html: requests::html_selectors(&s.settings),
                    fetched_at: None,
                };
                parse_payload(s.platform(), &f.body, ct, &ctx)
                    .map_err(|e| PollError::new(ErrorClass::BadPayload, Some(f.status.as_u16()), e.to_string()))
            }
            .await;
            let outcome = match outcome {
                Ok(page) => CheckOutcome::Parsed {
                    items: page.mentions.len(),
                    matching: match_brand(&page, s, brand, feed).len(),
                    newest: page.mentions.iter().map(|m| m.created_at).max(),
                },
                Err(e) => CheckOutcome::Failed(advised(s, e)),
            };
            sources.push((s.name.clone(), outcome));
        }
        Some(CheckReport { brand: brand.name.clone(), sources })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A generator whose every draw is the same 64 bits, so the jitter is known: `0` draws 0.0 (the shortest
    /// wait), `1 << 63` draws 0.5 (no jitter), `u64::MAX` draws just under 1.0 (the longest).
    struct Fixed(u64);

    impl rand::RngCore for Fixed {
        fn next_u32(&mut self) -> u32 {
            (self.0 >> 32) as u32
        }
        fn next_u64(&mut self) -> u64 {
            self.0
        }
        fn fill_bytes(&mut self, dst: &mut [u8]) {
            for chunk in dst.chunks_mut(8) {
                chunk.copy_from_slice(&self.0.to_be_bytes()[..chunk.len()]);
            }
        }
    }

    const SHORTEST: u64 = 0;
    const MIDDLE: u64 = 1 << 63;
    const LONGEST: u64 = u64::MAX;

    /// Milliseconds, rounded: the jitter factor is a float, so the extremes land within a nanosecond of the
    /// exact value.
    fn ms(d: Duration) -> u64 {
        (d.as_secs_f64() * 1000.0).round() as u64
    }

    #[test]
    fn backoff_doubles_caps_and_honours_retry_after() {
        let i = Duration::from_secs(600);
        let transient = |failures, draw| ms(backoff(i, failures, &ErrorClass::Transient, &mut Fixed(draw)));
        let table: &[(u32, u64, u64)] = &[
            // failures, draw, wait in ms: doubling from the interval, ±20 %
            (1, MIDDLE, 600_000),
            (1, SHORTEST, 480_000),
            (1, LONGEST, 720_000),
            (2, MIDDLE, 1_200_000),
            (3, MIDDLE, 2_400_000),
            (3, SHORTEST, 1_920_000),
            (3, LONGEST, 2_880_000),
            // capped at 6 h before the jitter, so sources failing for long still spread out
            (6, MIDDLE, 19_200_000),
            (7, MIDDLE, 6 * 3_600_000),
            (30, MIDDLE, 6 * 3_600_000),
            (30, SHORTEST, 6 * 3_600_000 * 8 / 10),
            (30, LONGEST, 6 * 3_600_000 * 12 / 10),
        ];
        for &(failures, draw, want) in table {
            assert_eq!(transient(failures, draw), want, "{failures} failures, draw {draw:#x}");
        }
        let limited = |retry_after: u64, draw| {
            let class = ErrorClass::RateLimited { retry_after: Some(Duration::from_secs(retry_after)) };
            backoff(Duration::from_secs(60), 1, &class, &mut Fixed(draw))
        };
        assert_eq!(limited(3600, LONGEST), Duration::from_secs(3600), "never sooner than asked");
        assert_eq!(limited(30, MIDDLE), Duration::from_secs(60), "nor later than the backoff when asked for less");
        let rl_unknown = ErrorClass::RateLimited { retry_after: None };
        assert_eq!(backoff(i, 2, &rl_unknown, &mut Fixed(MIDDLE)), Duration::from_secs(1200));
    }

    #[test]
    fn jitter_spreads_waits_reproducibly_from_a_seed() {
        use rand::SeedableRng;
        let draws = |seed| {
            let mut rng = rand::rngs::SmallRng::seed_from_u64(seed);
            (0..200).map(|_| jitter(Duration::from_secs(600), 0.1, &mut rng)).collect::<Vec<_>>()
        };
        let a = draws(7);
        assert_eq!(a, draws(7), "the same seed gives the same waits");
        assert_ne!(a, draws(8));
        assert!(a.iter().all(|d| (540.0..=660.0).contains(&d.as_secs_f64())), "within ±10 %: {a:?}");
        let (lo, hi) = (a.iter().min().unwrap().as_secs_f64(), a.iter().max().unwrap().as_secs_f64());
        assert!(lo < 560.0 && hi > 640.0, "spread over the range, not bunched: {lo}..{hi}");
    }

    #[test]
    fn retry_after_forms() {
        assert_eq!(parse_retry_after("120"), Some(Duration::from_secs(120)));
        assert_eq!(parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"), Some(Duration::from_secs(0)));
        assert_eq!(parse_retry_after("soon"), None);
    }

    #[test]
    fn urls_lose_their_keys_in_logs() {
        let r = redact_url("https://www.googleapis.com/youtube/v3/search?q=acme&key=AIzaSECRET");
        assert!(!r.contains("SECRET") && r.contains("q=acme"), "{r}");
    }

    /// One source's token request in flight holds up no other source's, and the pairs of one source share it.
    #[tokio::test]
    async fn token_requests_wait_only_for_their_own_sources() {
        use std::sync::atomic::{AtomicUsize, Ordering};
        let config =
            Config::parse("[[brands]]\nname = \"Acme\"\nquery = \"acme\"\n", std::path::Path::new("t.toml")).unwrap();
        let poller = Poller::new(&config).unwrap();
        let asked = AtomicUsize::new(0);
        let slow = |token: &'static str| {
            let asked = &asked;
            move || async move {
                asked.fetch_add(1, Ordering::SeqCst);
                tokio::time::sleep(Duration::from_millis(800)).await;
                Ok((Secret::new(token), Duration::from_secs(3600)))
            }
        };
        let start = std::time::Instant::now();
        let (a, b, a_again) = tokio::join!(
            poller.cached_token("a", slow("token of a")),
            poller.cached_token("b", slow("token of b")),
            poller.cached_token("a", slow("a second token of a")),
        );
        let took = start.elapsed();
        let got = [a, b, a_again].map(|t| t.unwrap().expose().to_string());
        assert_eq!(got, ["token of a", "token of b", "token of a"], "the second pair of a gets the first's token");
        assert_eq!(asked.load(Ordering::SeqCst), 2, "one request per source");
        assert!(took < Duration::from_millis(1500), "a and b asked side by side: {took:?}");

        // A refused token is forgotten: the next pair asks again.
        poller.forget_token("a");
        let again = poller.cached_token("a", slow("a new token of a")).await.unwrap();
        assert_eq!((again.expose(), asked.load(Ordering::SeqCst)), ("a new token of a", 3));
    }
}

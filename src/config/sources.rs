//! `[[sources]]` entries: what to poll, how often, for which brands, with which credentials.
//!
//! Keys common to every source (`name`, `interval`, `brands`, `enabled`) are taken off the table first; the rest
//! is deserialised, with unknown keys rejected, into the settings struct of the platform named by `type`.
//! Adding a platform = one settings struct + one [`PlatformSettings`] arm + its module.

use std::path::PathBuf;

use scraper::Selector;
use serde::{Deserialize, Serialize};

use crate::config::{clean, Problem};
use crate::duration::HumanDuration;
use crate::mention::Platform;
use crate::secret::{Secret, SecretSpec};

/// One configured source.
#[derive(Debug, Clone)]
pub struct SourceConfig {
    /// Unique name used in logs, `hearsay sources status` and `poll --source`. Defaults to the type.
    pub name: String,
    /// Poll interval; `None` = `[polling] interval`.
    pub interval: Option<HumanDuration>,
    /// Brands polled by this source; empty = all brands.
    pub brands: Vec<String>,
    pub enabled: bool,
    pub settings: PlatformSettings,
}

impl SourceConfig {
    pub fn platform(&self) -> Platform {
        self.settings.platform()
    }

    /// Builds one entry from its TOML table; the message of an error is prefixed with the offending key.
    pub fn from_toml(value: toml::Value) -> Result<SourceConfig, String> {
        let toml::Value::Table(mut t) = value else { return Err("must be a table".into()) };
        let take_str = |t: &mut toml::Table, k: &str| -> Result<Option<String>, String> {
            match t.remove(k) {
                None => Ok(None),
                Some(toml::Value::String(s)) => Ok(Some(s)),
                Some(other) => Err(format!("{k}: expected a string, found {}", other.type_str())),
            }
        };
        let ty = t.get("type").and_then(|v| v.as_str()).map(str::to_string).ok_or("type: missing; one of reddit, hackernews, mastodon, bluesky, lemmy, youtube, stackexchange, github, appstore, trustpilot, yelp, x, googleplay, google_business, threads, facebook_page, instagram, feed, html")?;
        let name = take_str(&mut t, "name")?.unwrap_or_else(|| ty.clone());
        let interval = take_str(&mut t, "interval")?
            .map(|s| s.parse::<HumanDuration>().map_err(|e| format!("interval: {e}")))
            .transpose()?;
        let brands = match t.remove("brands") {
            None => Vec::new(),
            Some(v) => v.try_into::<Vec<String>>().map_err(|e| format!("brands: {}", clean(e)))?,
        };
        let enabled = match t.remove("enabled") {
            None => true,
            Some(toml::Value::Boolean(b)) => b,
            Some(_) => return Err("enabled: expected true or false".into()),
        };
        let settings: PlatformSettings = toml::Value::Table(t).try_into().map_err(clean)?;
        Ok(SourceConfig { name, interval, brands, enabled, settings })
    }

    /// Checks that need more than types: required credentials present and readable, URLs and selectors valid.
    /// Paths in the problems are relative to this entry (`client_secret`, `selectors.item`).
    pub fn validate(&self) -> Vec<Problem> {
        let mut p = Vec::new();
        let mut need = |key: &str, ok: bool, msg: &str| {
            if !ok {
                p.push(Problem { path: key.into(), message: msg.into() });
            }
        };
        if let Some(i) = self.interval {
            need("interval", i.as_secs() >= 10, "must be at least 10s");
        }
        match &self.settings {
            PlatformSettings::Reddit(s) => {
                need(
                    "client_id",
                    !s.client_id.is_empty(),
                    "required: the OAuth app's client id (reddit.com/prefs/apps)",
                );
                check_secret(&mut p, "client_secret", &s.client_secret, true, self.enabled);
            }
            PlatformSettings::Mastodon(s) => {
                need(
                    "instances",
                    !s.instances.is_empty(),
                    "list at least one instance URL, e.g. [\"https://mastodon.social\"]",
                );
                check_secret(&mut p, "token", &s.token, false, self.enabled);
            }
            PlatformSettings::Bluesky(s) => {
                need("handle", !s.handle.is_empty(), "required: the account handle, e.g. \"acme.bsky.social\"");
                check_secret(&mut p, "app_password", &s.app_password, true, self.enabled);
            }
            PlatformSettings::Lemmy(s) => need("instances", !s.instances.is_empty(), "list at least one instance URL"),
            PlatformSettings::YouTube(s) => check_secret(&mut p, "api_key", &s.api_key, true, self.enabled),
            PlatformSettings::StackExchange(s) => {
                need("sites", !s.sites.is_empty(), "list at least one site, e.g. [\"stackoverflow\"]");
                check_secret(&mut p, "key", &s.key, false, self.enabled);
            }
            PlatformSettings::GitHub(s) => check_secret(&mut p, "token", &s.token, false, self.enabled),
            PlatformSettings::AppStore(s) => {
                need("app_ids", !s.app_ids.is_empty(), "list at least one numeric App Store app id");
                need(
                    "app_ids",
                    s.app_ids.iter().all(|a| !a.is_empty() && a.chars().all(|c| c.is_ascii_digit())),
                    "app ids are numbers, e.g. \"1404176564\"",
                );
                need("pages", (1..=10).contains(&s.pages), "must be between 1 and 10 (Apple serves at most 10 pages)");
            }
            PlatformSettings::Trustpilot(s) => {
                need(
                    "business_units",
                    !s.business_units.is_empty(),
                    "list at least one business unit, e.g. [\"www.acme.com\"]",
                );
                need(
                    "accept_terms",
                    s.accept_terms || !self.enabled,
                    "scraping Trustpilot is opt-in: read README's note on the site's terms and set accept_terms = true",
                );
            }
            PlatformSettings::Yelp(s) => {
                need("business_ids", !s.business_ids.is_empty(), "list at least one Yelp business id or alias");
                check_secret(&mut p, "api_key", &s.api_key, true, self.enabled);
            }
            PlatformSettings::X(s) => {
                need("max_results", (10..=100).contains(&s.max_results), "must be between 10 and 100 (X's limits)");
                need("monthly_cap", s.monthly_cap != Some(0), "must be at least 1, or left out for no cap");
                check_secret(&mut p, "bearer_token", &s.bearer_token, true, self.enabled);
            }
            PlatformSettings::GooglePlay(s) => {
                need("package_names", !s.package_names.is_empty(), "list at least one app, e.g. [\"com.acme.app\"]");
                need(
                    "package_names",
                    s.package_names.iter().all(|p| is_package_name(p)),
                    "package names look like \"com.acme.app\" (the id= of the app's Play Store address)",
                );
                need("max_results", (1..=100).contains(&s.max_results), "must be between 1 and 100");
                check_service_account_key(&mut p, &s.service_account_key, self.enabled);
            }
            PlatformSettings::GoogleBusiness(s) => {
                let digits = |v: &str| !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit());
                need("account_id", digits(&s.account_id), "required: the number in `accounts/{number}`");
                need(
                    "locations",
                    !s.locations.is_empty(),
                    "list the locations by id and name, e.g. { \"1234567890\" = \"Acme Paris Opéra\" }",
                );
                need(
                    "locations",
                    s.locations.keys().all(|id| digits(id)),
                    "location ids are the number in `locations/{number}`",
                );
                need("page_size", (1..=50).contains(&s.page_size), "must be between 1 and 50 (the API's limit)");
                for (key, keys) in [
                    ("client_id", &s.client_id),
                    ("client_secret", &s.client_secret),
                    ("refresh_token", &s.refresh_token),
                ] {
                    check_secret(&mut p, key, keys, true, self.enabled);
                }
            }
            PlatformSettings::Threads(s) => {
                need(
                    "access_token_expires",
                    s.access_token_expires.is_some() || !self.enabled,
                    "required: the date the long-lived token expires (60 days after it was issued or refreshed), \
                     e.g. \"2027-02-01\"; hearsay reports it a week ahead",
                );
                check_secret(&mut p, "access_token", &s.access_token, true, self.enabled);
            }
            PlatformSettings::FacebookPage(s) => {
                need("page_id", is_numeric_id(&s.page_id), "required: the page's numeric id, e.g. \"104719572301842\"");
                need("posts", (1..=100).contains(&s.posts), "must be between 1 and 100");
                need("graph_version", is_graph_version(&s.graph_version), "a Graph API version, e.g. \"v25.0\"");
                check_secret(&mut p, "access_token", &s.access_token, true, self.enabled);
            }
            PlatformSettings::Instagram(s) => {
                need(
                    "user_id",
                    is_numeric_id(&s.user_id),
                    "required: the professional account's numeric Instagram user id, e.g. \"17841400000000000\"",
                );
                need("media", (1..=100).contains(&s.media), "must be between 1 and 100");
                need("graph_version", is_graph_version(&s.graph_version), "a Graph API version, e.g. \"v25.0\"");
                check_secret(&mut p, "access_token", &s.access_token, true, self.enabled);
            }
            PlatformSettings::Feed(s) => need("urls", !s.urls.is_empty(), "list at least one feed URL"),
            PlatformSettings::Html(s) => {
                if let Err(e) = s.selectors().validate() {
                    // The parser names the field as `html.item: …`; here the key path is the entry's own key.
                    let e = e.trim_start_matches("html.");
                    let (key, msg) = e.split_once(": ").unwrap_or(("item", e));
                    p.push(Problem { path: key.into(), message: msg.into() });
                }
            }
            PlatformSettings::HackerNews(_) => {}
        }
        for (key, url) in self.settings.urls() {
            if crate::link::safe_href(url).is_none() {
                p.push(Problem { path: key, message: format!("{url:?} is not an http(s) URL") });
            }
        }
        p
    }
}

/// A Graph API object id: digits (a page's or account's; a post's is `{page-id}_{post-id}`).
fn is_numeric_id(id: &str) -> bool {
    !id.is_empty() && id.bytes().all(|b| b.is_ascii_digit())
}

/// `v25.0`: what Graph API paths start with.
fn is_graph_version(v: &str) -> bool {
    v.strip_prefix('v')
        .and_then(|n| n.split_once('.'))
        .is_some_and(|(a, b)| !a.is_empty() && !b.is_empty() && a.bytes().chain(b.bytes()).all(|c| c.is_ascii_digit()))
}

impl SourceConfig {
    /// Settings that load but work against the source, for the daemon's log and `check-config`: a Google Play
    /// source polled less often than daily (`default_interval` is `[polling] interval`), when the API returns
    /// only the last week's reviews and a few failed polls would lose some.
    pub fn warnings(&self, default_interval: HumanDuration) -> Vec<String> {
        let interval = self.interval.unwrap_or(default_interval);
        let mut w = Vec::new();
        if matches!(self.settings, PlatformSettings::GooglePlay(_)) && interval.0.as_secs() > 24 * 3600 {
            w.push(format!(
                "interval: {interval} is longer than a day; the Play Developer API returns only the last week's \
                 reviews, so poll at least daily (interval = \"1d\" or less)"
            ));
        }
        w
    }
}

fn check_secret(p: &mut Vec<Problem>, key: &str, keys: &SecretKeys, required: bool, enabled: bool) {
    match keys.spec(key) {
        // A disabled source may wait for its credentials; they are checked once it is enabled.
        _ if !enabled => {}
        Ok(None) if required => p.push(Problem {
            path: key.into(),
            message: format!("required: give `{key}`, `{key}_file` or `{key}_env`"),
        }),
        Ok(None) => {}
        Ok(Some(spec)) => {
            if let Err(e) = spec.resolve(key) {
                p.push(Problem::under("", &e));
            }
        }
        Err(e) => p.push(Problem::under("", &e)),
    }
}

/// The three ways to give one secret, as flattened config keys `K`, `K_file`, `K_env`.
#[derive(Debug, Clone, Default)]
pub struct SecretKeys {
    pub inline: Option<Secret>,
    pub file: Option<PathBuf>,
    pub env: Option<String>,
}

impl SecretKeys {
    pub fn spec(&self, key: &str) -> Result<Option<SecretSpec>, String> {
        SecretSpec::from_parts(
            key,
            self.inline.as_ref().map(|s| s.expose().to_string()),
            self.file.clone(),
            self.env.clone(),
        )
    }

    /// The secret's value, if configured and readable.
    pub fn resolve(&self, key: &str) -> Result<Option<Secret>, String> {
        self.spec(key)?.map(|s| s.resolve(key)).transpose()
    }
}

/// Declares a settings struct whose secret keys come in `K` / `K_file` / `K_env` triples.
macro_rules! settings {
    ($(#[$m:meta])* $name:ident { $($(#[$fm:meta])* $field:ident : $ty:ty = $default:expr),* $(,)? } secrets { $($sec:ident, $sec_file:ident, $sec_env:ident);* $(;)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone)]
        pub struct $name {
            $($(#[$fm])* pub $field: $ty,)*
            $(pub $sec: SecretKeys,)*
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                #[derive(Deserialize)]
                #[serde(deny_unknown_fields)]
                struct Raw {
                    $(#[serde(default)] $field: Option<$ty>,)*
                    $(#[serde(default)] $sec: Option<Secret>,
                      #[serde(default)] $sec_file: Option<PathBuf>,
                      #[serde(default)] $sec_env: Option<String>,)*
                }
                let r = Raw::deserialize(d)?;
                Ok($name {
                    $($field: match r.$field { Some(v) => v, None => $default },)*
                    $($sec: SecretKeys { inline: r.$sec, file: r.$sec_file, env: r.$sec_env },)*
                })
            }
        }
    };
}

settings!(
    /// Reddit: app-only OAuth (client credentials) then `/search?sort=new`.
    RedditSettings {
        client_id: String = String::new(),
        /// Restrict to these subreddits (without `r/`); empty = all of Reddit.
        subreddits: Vec<String> = Vec::new(),
        /// Also search comments (a second request per brand).
        include_comments: bool = false,
        base_url: String = "https://oauth.reddit.com".into(),
        auth_url: String = "https://www.reddit.com/api/v1/access_token".into(),
    } secrets { client_secret, client_secret_file, client_secret_env; }
);

settings!(
    /// Hacker News through Algolia's `search_by_date`.
    HackerNewsSettings {
        base_url: String = "https://hn.algolia.com".into(),
        /// Algolia tags filter: stories and comments by default.
        tags: String = "(story,comment)".into(),
    } secrets {}
);

settings!(
    /// Mastodon: full-text search (needs a token on most instances) and/or public hashtag timelines.
    MastodonSettings {
        instances: Vec<String> = Vec::new(),
        hashtags: Vec<String> = Vec::new(),
        /// Use `/api/v2/search` (statuses); needs `token` on most instances.
        search: bool = true,
    } secrets { token, token_file, token_env; }
);

settings!(
    /// Bluesky: `app.bsky.feed.searchPosts` with an app-password session.
    BlueskySettings {
        handle: String = String::new(),
        service: String = "https://bsky.social".into(),
    } secrets { app_password, app_password_file, app_password_env; }
);

settings!(
    /// Lemmy v3 search on each instance.
    LemmySettings {
        instances: Vec<String> = Vec::new(),
    } secrets {}
);

settings!(
    /// YouTube Data API v3: `search` (videos) and `commentThreads` for watched videos.
    YouTubeSettings {
        watch_videos: Vec<String> = Vec::new(),
        base_url: String = "https://www.googleapis.com/youtube/v3".into(),
        /// Daily quota units this source may spend (search = 100 units, commentThreads = 1).
        daily_quota: u32 = 10_000,
    } secrets { api_key, api_key_file, api_key_env; }
);

settings!(
    /// Stack Exchange `/2.3/search/excerpts` per site.
    StackExchangeSettings {
        sites: Vec<String> = vec!["stackoverflow".into()],
        base_url: String = "https://api.stackexchange.com".into(),
    } secrets { key, key_file, key_env; }
);

settings!(
    /// GitHub REST `search/issues` (issues, pull requests).
    GitHubSettings {
        base_url: String = "https://api.github.com".into(),
    } secrets { token, token_file, token_env; }
);

settings!(
    /// Apple App Store customer-reviews RSS (JSON), per app and country, pages 1–10.
    AppStoreSettings {
        app_ids: Vec<String> = Vec::new(),
        countries: Vec<String> = vec!["us".into()],
        pages: u32 = 10,
        base_url: String = "https://itunes.apple.com".into(),
    } secrets {}
);

settings!(
    /// Trustpilot business-unit review pages (HTML). Opt-in: see README on the site's terms.
    TrustpilotSettings {
        business_units: Vec<String> = Vec::new(),
        accept_terms: bool = false,
        base_url: String = "https://www.trustpilot.com".into(),
    } secrets {}
);

settings!(
    /// Yelp Fusion `businesses/{id}/reviews` (up to 3 excerpts per business with a standard key).
    YelpSettings {
        business_ids: Vec<String> = Vec::new(),
        base_url: String = "https://api.yelp.com/v3".into(),
    } secrets { api_key, api_key_file, api_key_env; }
);

settings!(
    /// X API v2 `GET /2/tweets/search/recent` (the last 7 days) with an app-only bearer token of a paid tier.
    XSettings {
        base_url: String = "https://api.x.com".into(),
        /// Posts per page, 10–100.
        max_results: u32 = 100,
        /// Posts this source may read per calendar month (UTC), to stay under the plan's monthly post cap.
        monthly_cap: Option<u32> = None,
    } secrets { bearer_token, bearer_token_file, bearer_token_env; }
);

settings!(
    /// Google Play Developer API `reviews.list` for the brand's own apps (the last week's reviews), with a
    /// service account's JSON key (OAuth2 JWT bearer grant, `sources::oauth`).
    GooglePlaySettings {
        /// The apps' package names, e.g. `com.acme.app`.
        package_names: Vec<String> = Vec::new(),
        base_url: String = "https://androidpublisher.googleapis.com".into(),
        /// Where access tokens are asked for (the key file's own `token_uri` is not read).
        token_uri: String = "https://oauth2.googleapis.com/token".into(),
        /// Reviews per page, 1–100.
        max_results: u32 = 100,
    } secrets { service_account_key, service_account_key_file, service_account_key_env; }
);

settings!(
    /// Google Business Profile `accounts/{account_id}/locations/{id}/reviews` for the brand's own locations, with
    /// an OAuth client and a refresh token granted the `business.manage` scope (refresh-token grant,
    /// `sources::oauth`).
    GoogleBusinessSettings {
        /// The number in `accounts/{number}`.
        account_id: String = String::new(),
        /// The locations by id (the number in `locations/{number}`) and the name their reviews are kept under.
        locations: std::collections::BTreeMap<String, String> = std::collections::BTreeMap::new(),
        base_url: String = "https://mybusiness.googleapis.com".into(),
        token_uri: String = "https://oauth2.googleapis.com/token".into(),
        /// Reviews per page, 1–50.
        page_size: u32 = 50,
    } secrets {
        client_id, client_id_file, client_id_env;
        client_secret, client_secret_file, client_secret_env;
        refresh_token, refresh_token_file, refresh_token_env;
    }
);

/// What hearsay reads of a Google service account's JSON key file: who signs the token requests, and with which
/// key. Checked when the config is loaded; `sources::oauth` signs with it.
#[derive(Debug, Clone)]
pub struct ServiceAccountKey {
    pub client_email: String,
    /// The key's id, sent as the JWT's `kid`.
    pub private_key_id: Option<String>,
    /// The RSA private key, PEM (PKCS#8) as Google writes it.
    pub private_key: Secret,
}

impl ServiceAccountKey {
    /// Reads the JSON key file Google Cloud gives for a service account (`"type": "service_account"`). Errors
    /// never quote the file: it is a secret.
    pub fn from_json(text: &str) -> Result<ServiceAccountKey, String> {
        // Through `Value`: serde's typed errors would quote the offending value, which may be the key.
        let v: serde_json::Value = serde_json::from_str(text).map_err(|e| {
            format!("not a service account's JSON key (line {}, column {}: not JSON)", e.line(), e.column())
        })?;
        let field = |k: &str| v.get(k).and_then(|x| x.as_str()).map(str::trim).filter(|x| !x.is_empty());
        if let Some(t) = field("type").filter(|t| *t != "service_account") {
            return Err(format!("a {t:?} key, not a service account's (\"type\": \"service_account\")"));
        }
        let client_email = field("client_email").ok_or("no `client_email`: not a service account's JSON key")?;
        let private_key = field("private_key")
            .filter(|k| k.contains("PRIVATE KEY-----"))
            .ok_or("no PEM `private_key`: not a service account's JSON key")?;
        Ok(ServiceAccountKey {
            client_email: client_email.to_string(),
            private_key_id: field("private_key_id").map(str::to_string),
            private_key: Secret::new(private_key),
        })
    }
}

/// An Android package name: dot-separated segments of ASCII letters, digits and underscores.
pub fn is_package_name(p: &str) -> bool {
    p.contains('.') && p.split('.').all(|s| !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_'))
}

/// A service account key is required; when it can be read it must be one.
fn check_service_account_key(p: &mut Vec<Problem>, keys: &SecretKeys, enabled: bool) {
    const KEY: &str = "service_account_key";
    check_secret(p, KEY, keys, true, enabled);
    if let (true, Ok(Some(secret))) = (enabled, keys.resolve(KEY)) {
        if let Err(e) = ServiceAccountKey::from_json(secret.expose()) {
            p.push(Problem { path: KEY.into(), message: e });
        }
    }
}

settings!(
    /// Threads API keyword search (`graph.threads.net/v1.0/keyword_search`) with a long-lived Threads user token.
    ThreadsSettings {
        base_url: String = "https://graph.threads.net".into(),
        /// When the token stops working (long-lived tokens live 60 days): reported a week ahead.
        access_token_expires: Option<TokenExpiry> = None,
    } secrets { access_token, access_token_file, access_token_env; }
);

settings!(
    /// Facebook Graph API for a page the brand manages: comments and replies on its posts, posts by visitors and
    /// posts that tag it (`/{page-id}/feed`), every comment of watched posts (`/{post-id}/comments`).
    FacebookPageSettings {
        /// The page's numeric id.
        page_id: String = String::new(),
        /// Posts (`{page-id}_{post-id}`) whose comments are all read back to the cursor, however old the post.
        watch_posts: Vec<String> = Vec::new(),
        /// Newest posts per page of the feed (1–100), each read with its newest comments.
        posts: u32 = 25,
        graph_version: String = DEFAULT_GRAPH_VERSION.into(),
        base_url: String = "https://graph.facebook.com".into(),
        /// When the token stops working, if it does (a long-lived page token does not).
        access_token_expires: Option<TokenExpiry> = None,
    } secrets { access_token, access_token_file, access_token_env; }
);

settings!(
    /// Instagram Graph API for a professional account the brand manages: comments and replies on its media
    /// (`/{ig-user-id}/media`), media that tag it (`/{ig-user-id}/tags`), every comment of watched media.
    InstagramSettings {
        /// The professional account's Instagram user id.
        user_id: String = String::new(),
        /// Also read the media others tagged the account in.
        tags: bool = true,
        /// Media ids whose comments are all read back to the cursor, however old the media.
        watch_media: Vec<String> = Vec::new(),
        /// Newest media per page of the list (1–100), each read with its newest comments.
        media: u32 = 25,
        graph_version: String = DEFAULT_GRAPH_VERSION.into(),
        base_url: String = "https://graph.facebook.com".into(),
        /// When the token stops working, if it does.
        access_token_expires: Option<TokenExpiry> = None,
    } secrets { access_token, access_token_file, access_token_env; }
);

/// The Graph API version asked for by `facebook_page` and `instagram` unless `graph_version` says otherwise. Meta
/// retires each version about two years after its release.
pub const DEFAULT_GRAPH_VERSION: &str = "v25.0";

/// When an access token stops working, as `access_token_expires` gives it: a date (`"2027-02-01"` or the TOML date
/// `2027-02-01`, midnight UTC) or an RFC 3339 time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TokenExpiry(pub chrono::DateTime<chrono::Utc>);

impl<'de> Deserialize<'de> for TokenExpiry {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Text(String),
            Date(toml::value::Datetime),
        }
        let text = match Raw::deserialize(d)? {
            Raw::Text(s) => s,
            Raw::Date(d) => d.to_string(),
        };
        TokenExpiry::parse(&text).map_err(serde::de::Error::custom)
    }
}

impl TokenExpiry {
    fn parse(s: &str) -> Result<TokenExpiry, String> {
        let s = s.trim();
        if let Ok(t) = chrono::DateTime::parse_from_rfc3339(s) {
            return Ok(TokenExpiry(t.with_timezone(&chrono::Utc)));
        }
        chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d")
            .ok()
            .and_then(|d| d.and_hms_opt(0, 0, 0))
            .map(|t| TokenExpiry(t.and_utc()))
            .ok_or_else(|| format!("access_token_expires: {s:?} is not a date like \"2027-02-01\" or an RFC 3339 time"))
    }
}

settings!(
    /// Any RSS / Atom / JSON Feed: Google Alerts, Google News search RSS, blogs, news sites.
    FeedSettings {
        urls: Vec<String> = Vec::new(),
    } secrets {}
);

settings!(
    /// Any HTML page, items found with CSS selectors.
    HtmlSettings {
        url: String = String::new(),
        item: String = "article".into(),
        text: String = "p".into(),
        title: Option<String> = None,
        author: Option<String> = None,
        date: Option<String> = None,
        link: Option<String> = Some("a[href]".into()),
        id: Option<String> = None,
    } secrets {}
);

/// CSS selectors describing where mentions are on a page, as written in the config; the `html` parser
/// (`sources::html`) reads a page with their [`CompiledSelectors`].
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HtmlSelectors {
    pub item: String,
    pub text: String,
    #[serde(default)]
    pub title: Option<String>,
    #[serde(default)]
    pub author: Option<String>,
    #[serde(default)]
    pub date: Option<String>,
    #[serde(default)]
    pub link: Option<String>,
    #[serde(default)]
    pub id: Option<String>,
}

/// A selector, or `:scope` for the item element itself.
pub enum Sel {
    Scope,
    Css(Selector),
}

/// [`HtmlSelectors`] parsed: what the `html` parser matches with.
pub struct CompiledSelectors {
    pub item: Selector,
    pub text: Sel,
    pub title: Option<Sel>,
    pub author: Option<Sel>,
    pub date: Option<Sel>,
    pub link: Option<Sel>,
    pub id: Option<Sel>,
}

impl HtmlSelectors {
    /// Checks every selector; the error names the field and the selector. Config loading calls this
    /// so a typo is reported at startup, not at the first poll.
    pub fn validate(&self) -> Result<(), String> {
        self.compile().map(|_| ())
    }

    /// Parses every selector; the error names the field and the selector.
    pub fn compile(&self) -> Result<CompiledSelectors, String> {
        fn sel(field: &str, s: &str) -> Result<Sel, String> {
            if s.trim() == ":scope" {
                return Ok(Sel::Scope);
            }
            Selector::parse(s).map(Sel::Css).map_err(|e| format!("html.{field}: invalid CSS selector {s:?}: {e}"))
        }
        let opt = |field: &str, s: &Option<String>| s.as_deref().map(|s| sel(field, s)).transpose();
        Ok(CompiledSelectors {
            item: Selector::parse(&self.item)
                .map_err(|e| format!("html.item: invalid CSS selector {:?}: {e}", self.item))?,
            text: sel("text", &self.text)?,
            title: opt("title", &self.title)?,
            author: opt("author", &self.author)?,
            date: opt("date", &self.date)?,
            link: opt("link", &self.link)?,
            id: opt("id", &self.id)?,
        })
    }
}

impl HtmlSettings {
    /// The selectors as the `html` parser takes them.
    pub fn selectors(&self) -> HtmlSelectors {
        HtmlSelectors {
            item: self.item.clone(),
            text: self.text.clone(),
            title: self.title.clone(),
            author: self.author.clone(),
            date: self.date.clone(),
            link: self.link.clone(),
            id: self.id.clone(),
        }
    }
}

/// Platform-specific settings, selected by `type`.
#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum PlatformSettings {
    Reddit(RedditSettings),
    HackerNews(HackerNewsSettings),
    Mastodon(MastodonSettings),
    Bluesky(BlueskySettings),
    Lemmy(LemmySettings),
    #[serde(rename = "youtube")]
    YouTube(YouTubeSettings),
    StackExchange(StackExchangeSettings),
    #[serde(rename = "github")]
    GitHub(GitHubSettings),
    AppStore(AppStoreSettings),
    Trustpilot(TrustpilotSettings),
    Yelp(YelpSettings),
    X(XSettings),
    GooglePlay(GooglePlaySettings),
    #[serde(rename = "google_business")]
    GoogleBusiness(GoogleBusinessSettings),
    Threads(ThreadsSettings),
    #[serde(rename = "facebook_page")]
    FacebookPage(FacebookPageSettings),
    Instagram(InstagramSettings),
    Feed(FeedSettings),
    Html(HtmlSettings),
}

impl PlatformSettings {
    pub fn platform(&self) -> Platform {
        match self {
            PlatformSettings::Reddit(_) => Platform::Reddit,
            PlatformSettings::HackerNews(_) => Platform::HackerNews,
            PlatformSettings::Mastodon(_) => Platform::Mastodon,
            PlatformSettings::Bluesky(_) => Platform::Bluesky,
            PlatformSettings::Lemmy(_) => Platform::Lemmy,
            PlatformSettings::YouTube(_) => Platform::YouTube,
            PlatformSettings::StackExchange(_) => Platform::StackExchange,
            PlatformSettings::GitHub(_) => Platform::GitHub,
            PlatformSettings::AppStore(_) => Platform::AppStore,
            PlatformSettings::Trustpilot(_) => Platform::Trustpilot,
            PlatformSettings::Yelp(_) => Platform::Yelp,
            PlatformSettings::X(_) => Platform::X,
            PlatformSettings::GooglePlay(_) => Platform::GooglePlay,
            PlatformSettings::GoogleBusiness(_) => Platform::GoogleBusiness,
            PlatformSettings::Threads(_) => Platform::Threads,
            PlatformSettings::FacebookPage(_) => Platform::FacebookPage,
            PlatformSettings::Instagram(_) => Platform::Instagram,
            PlatformSettings::Feed(_) => Platform::Feed,
            PlatformSettings::Html(_) => Platform::Html,
        }
    }

    /// Every URL the settings name, with its key, for validation.
    fn urls(&self) -> Vec<(String, &str)> {
        fn one<'a>(k: &str, u: &'a str) -> Vec<(String, &'a str)> {
            vec![(k.to_string(), u)]
        }
        fn many<'a>(k: &str, us: &'a [String]) -> Vec<(String, &'a str)> {
            us.iter().enumerate().map(|(i, u)| (format!("{k}[{i}]"), u.as_str())).collect()
        }
        match self {
            PlatformSettings::Reddit(s) => [one("base_url", &s.base_url), one("auth_url", &s.auth_url)].concat(),
            PlatformSettings::HackerNews(s) => one("base_url", &s.base_url),
            PlatformSettings::Mastodon(s) => many("instances", &s.instances),
            PlatformSettings::Bluesky(s) => one("service", &s.service),
            PlatformSettings::Lemmy(s) => many("instances", &s.instances),
            PlatformSettings::YouTube(s) => one("base_url", &s.base_url),
            PlatformSettings::StackExchange(s) => one("base_url", &s.base_url),
            PlatformSettings::GitHub(s) => one("base_url", &s.base_url),
            PlatformSettings::AppStore(s) => one("base_url", &s.base_url),
            PlatformSettings::Trustpilot(s) => one("base_url", &s.base_url),
            PlatformSettings::Yelp(s) => one("base_url", &s.base_url),
            PlatformSettings::X(s) => one("base_url", &s.base_url),
            PlatformSettings::GooglePlay(s) => [one("base_url", &s.base_url), one("token_uri", &s.token_uri)].concat(),
            PlatformSettings::GoogleBusiness(s) => {
                [one("base_url", &s.base_url), one("token_uri", &s.token_uri)].concat()
            }
            PlatformSettings::Threads(s) => one("base_url", &s.base_url),
            PlatformSettings::FacebookPage(s) => one("base_url", &s.base_url),
            PlatformSettings::Instagram(s) => one("base_url", &s.base_url),
            PlatformSettings::Feed(s) => many("urls", &s.urls),
            PlatformSettings::Html(s) => one("url", &s.url),
        }
    }
}

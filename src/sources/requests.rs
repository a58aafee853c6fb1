//! How to ask each platform for a brand's newest mentions: one [`RequestPlan`] per (source, brand) poll.
//!
//! A plan is a list of *feeds* (one search term on one instance, one app page, one feed URL…). Each feed is
//! paged from newest to older until the cursor is reached or `max_pages` is hit. Where a platform's search
//! cannot express the brand query (no OR, no NEAR), a feed per positive search term is asked for and the full
//! query is applied locally afterwards, so every platform gets the same matching.
//!
//! Each platform's module builds its own plan (`sources::<platform>::plan`, next to its parser); this module
//! holds the types and helpers they share and [`plan`], the one `match` over [`PlatformSettings`].

use super::{HtmlSelectors, ParsedPage, Platform};
use crate::config::PlatformSettings;

/// Overlap added below the cursor so that items published while a poll ran are not missed
/// (the unique key absorbs the repeats).
pub const CURSOR_OVERLAP_SECS: i64 = 600;

/// One endpoint to page through.
#[derive(Debug, Clone)]
pub struct Feed {
    /// Stable key for per-feed ETag / Last-Modified.
    pub key: String,
    /// URL of the first page.
    pub url: String,
    /// How the next page is asked for.
    pub paging: Paging,
    /// App Store storefront, for ids and links.
    pub country: Option<String>,
    /// Whether the results are about the brand by construction (reviews of its own app or business page):
    /// then the brand query is not required to match, only the exclusions apply.
    pub owned: bool,
    /// Most pages of this feed in one poll, when the platform sets its own bound (App Store `pages`);
    /// otherwise `[polling] max_pages`.
    pub max_pages: Option<u32>,
    /// The place the feed's reviews are about (a Google Business location's configured name): the poller gives
    /// it to each mention of the feed that does not name one (`NewMention::location`).
    pub location: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Paging {
    /// No further pages (feeds, pages, timelines).
    None,
    /// `&{param}={token}` from [`ParsedPage::next_page`].
    Token(&'static str),
    /// `&{param}=N`, numbered from `first`, while the page was full / `has_more`.
    Number { param: &'static str, first: u32 },
    /// App Store: `/page=N/` in the path, 1..=10.
    AppStorePath,
}

/// Authentication a platform needs before its requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Auth {
    None,
    Bearer,
    RedditAppOnly,
    BlueskySession,
    /// An OAuth2 access token from the source's grant (`sources::oauth`), refreshed before it expires and after a 401.
    OAuth2,
}

pub struct RequestPlan {
    pub feeds: Vec<Feed>,
    pub auth: Auth,
}

impl Feed {
    /// A feed whose items must match the brand query (not `owned`), of no storefront, paged by `paging` up to
    /// `[polling] max_pages`.
    pub(super) fn new(key: String, url: String, paging: Paging) -> Feed {
        Feed { key, url, paging, country: None, owned: false, max_pages: None, location: None }
    }
}

/// Builds the plan for one brand: each platform's module says how it is asked. `terms` are the brand query's
/// positive search terms; `since` the cursor (Unix seconds) minus the overlap, when known.
pub fn plan(settings: &PlatformSettings, terms: &[String], since: Option<i64>) -> RequestPlan {
    match settings {
        PlatformSettings::Reddit(s) => super::reddit::plan(s, terms),
        PlatformSettings::HackerNews(s) => super::hackernews::plan(s, terms, since),
        PlatformSettings::Mastodon(s) => super::mastodon::plan(s, terms),
        PlatformSettings::Bluesky(s) => super::bluesky::plan(s, terms, since),
        PlatformSettings::Lemmy(s) => super::lemmy::plan(s, terms),
        PlatformSettings::YouTube(s) => super::youtube::plan(s, terms, since),
        PlatformSettings::StackExchange(s) => super::stackexchange::plan(s, terms, since),
        PlatformSettings::GitHub(s) => super::github::plan(s, terms, since),
        PlatformSettings::AppStore(s) => super::appstore::plan(s),
        PlatformSettings::Trustpilot(s) => super::trustpilot::plan(s),
        PlatformSettings::Yelp(s) => super::yelp::plan(s),
        PlatformSettings::X(s) => super::x::plan(s, terms, since),
        PlatformSettings::GooglePlay(s) => super::googleplay::plan(s),
        PlatformSettings::GoogleBusiness(s) => super::google_business::plan(s),
        PlatformSettings::Threads(s) => super::threads::plan(s, terms, since),
        PlatformSettings::FacebookPage(s) => super::facebook_page::plan(s, since),
        PlatformSettings::Instagram(s) => super::instagram::plan(s, since),
        PlatformSettings::Feed(s) => super::feed::plan(s),
        PlatformSettings::Html(s) => super::html::plan(s),
    }
}

/// Most search terms asked for one by one (per instance or site) where a platform's search has no OR: a
/// brand's further terms are not searched there.
const MAX_TERM_FEEDS: usize = 5;

/// The search terms a platform without OR asks for one by one, a feed each.
pub(super) fn each_term(terms: &[String]) -> impl Iterator<Item = &str> {
    terms.iter().take(MAX_TERM_FEEDS).map(String::as_str)
}

/// The search terms as one query, for platforms whose search has OR (phrases quoted).
pub(super) fn or_query(terms: &[String]) -> String {
    terms.iter().map(|t| if t.contains(' ') { format!("\"{t}\"") } else { t.clone() }).collect::<Vec<_>>().join(" OR ")
}

/// `&{param}={since as RFC 3339}`, or nothing without a cursor.
pub(super) fn since_rfc3339(param: &str, since: Option<i64>) -> String {
    since
        .and_then(|t| chrono::DateTime::from_timestamp(t, 0))
        .map(|t| format!("&{param}={}", enc(&crate::mention::rfc3339::format(&t))))
        .unwrap_or_default()
}

/// A query-string value, form-encoded.
pub(super) fn enc(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// A configured base URL without its trailing slashes, ready for a path to be appended.
pub(super) fn trim_base(s: &str) -> &str {
    s.trim_end_matches('/')
}

/// The URL of page `n` (0-based count of pages already fetched) of `feed`, given the last parsed page.
pub fn next_url(feed: &Feed, fetched: u32, last: &ParsedPage, page_size_hint: usize) -> Option<String> {
    match feed.paging {
        Paging::None => None,
        Paging::Token(param) => {
            let token = last.next_page.as_deref()?;
            Some(format!("{}&{param}={}", feed.url, enc(token)))
        }
        Paging::Number { param, first } => {
            let more = last
                .hints
                .has_more
                .unwrap_or(last.mentions.len() + last.skipped >= page_size_hint && page_size_hint > 0);
            more.then(|| format!("{}&{param}={}", feed.url, first + fetched))
        }
        Paging::AppStorePath => (fetched < 10 && !last.mentions.is_empty())
            .then(|| feed.url.replace("/page=1/", &format!("/page={}/", fetched + 1))),
    }
}

/// The HTML selectors of an `html` source, as the parser wants them.
pub fn html_selectors(settings: &PlatformSettings) -> Option<HtmlSelectors> {
    match settings {
        PlatformSettings::Html(s) => Some(s.selectors()),
        _ => None,
    }
}

/// Page sizes asked for, to tell a full page (more may follow) from the last one.
pub fn page_size(p: Platform) -> usize {
    match p {
        Platform::HackerNews | Platform::Reddit | Platform::StackExchange | Platform::GitHub | Platform::Bluesky => 100,
        Platform::Lemmy | Platform::Yelp => 50,
        Platform::Trustpilot => 20,
        _ => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(toml: &str) -> PlatformSettings {
        toml::from_str(toml).unwrap_or_else(|e| panic!("{toml}: {e}"))
    }

    /// A plan as lines: its auth, then per feed `key | url | paging | country | owned | max_pages`.
    fn render(plan: &RequestPlan) -> Vec<String> {
        let feeds = plan.feeds.iter().map(|f| {
            format!("{} | {} | {:?} | {:?} | {} | {:?}", f.key, f.url, f.paging, f.country, f.owned, f.max_pages)
        });
        std::iter::once(format!("{:?}", plan.auth)).chain(feeds).collect()
    }

    /// Every platform's requests for the terms `acme` and `acme corp` with a cursor: the URLs platforms are asked,
    /// byte for byte. A new platform adds its row here.
    #[test]
    fn each_platform_asks_for_the_brand_as_documented() {
        let table: &[(&str, &[&str])] = &[
            ("type = 'reddit'", &[
                "RedditAppOnly",
                "link | https://oauth.reddit.com/search?q=acme+OR+%22acme+corp%22&sort=new&type=link&limit=100&raw_json=1 | Token(\"after\") | None | false | None",
            ]),
            ("type = 'reddit'\nsubreddits = ['rust', 'programming']\ninclude_comments = true\nbase_url = 'http://r.test/'", &[
                "RedditAppOnly",
                "link | http://r.test/r/rust+programming/search?q=acme+OR+%22acme+corp%22&sort=new&type=link&limit=100&raw_json=1&restrict_sr=1 | Token(\"after\") | None | false | None",
                "comment | http://r.test/r/rust+programming/search?q=acme+OR+%22acme+corp%22&sort=new&type=comment&limit=100&raw_json=1&restrict_sr=1 | Token(\"after\") | None | false | None",
            ]),
            ("type = 'hackernews'\ntags = 'story'\nbase_url = 'http://hn.test//'", &[
                "None",
                "q:acme | http://hn.test/api/v1/search_by_date?query=acme&tags=story&hitsPerPage=100&numericFilters=created_at_i%3E1700000000 | Number { param: \"page\", first: 0 } | None | false | None",
                "q:acme corp | http://hn.test/api/v1/search_by_date?query=acme+corp&tags=story&hitsPerPage=100&numericFilters=created_at_i%3E1700000000 | Number { param: \"page\", first: 0 } | None | false | None",
            ]),
            ("type = 'mastodon'\ninstances = ['https://m.one/', 'https://m.two']\nhashtags = ['#acme']\ntoken = 'x'", &[
                "Bearer",
                "https://m.one q:acme | https://m.one/api/v2/search?q=acme&type=statuses&resolve=false&limit=40 | Token(\"max_id\") | None | false | None",
                "https://m.one q:acme corp | https://m.one/api/v2/search?q=acme+corp&type=statuses&resolve=false&limit=40 | Token(\"max_id\") | None | false | None",
                "https://m.one ##acme | https://m.one/api/v1/timelines/tag/acme?limit=40 | Token(\"max_id\") | None | false | None",
                "https://m.two q:acme | https://m.two/api/v2/search?q=acme&type=statuses&resolve=false&limit=40 | Token(\"max_id\") | None | false | None",
                "https://m.two q:acme corp | https://m.two/api/v2/search?q=acme+corp&type=statuses&resolve=false&limit=40 | Token(\"max_id\") | None | false | None",
                "https://m.two ##acme | https://m.two/api/v1/timelines/tag/acme?limit=40 | Token(\"max_id\") | None | false | None",
            ]),
            ("type = 'mastodon'\ninstances = ['https://m.one']\nhashtags = ['acme']\nsearch = false", &[
                "None",
                "https://m.one #acme | https://m.one/api/v1/timelines/tag/acme?limit=40 | Token(\"max_id\") | None | false | None",
            ]),
            ("type = 'bluesky'\nhandle = 'a.b'", &[
                "BlueskySession",
                "q:acme | https://bsky.social/xrpc/app.bsky.feed.searchPosts?q=acme&sort=latest&limit=100&since=2023-11-14T22%3A13%3A20Z | Token(\"cursor\") | None | false | None",
                "q:acme corp | https://bsky.social/xrpc/app.bsky.feed.searchPosts?q=acme+corp&sort=latest&limit=100&since=2023-11-14T22%3A13%3A20Z | Token(\"cursor\") | None | false | None",
            ]),
            ("type = 'lemmy'\ninstances = ['https://l.one/']", &[
                "None",
                "https://l.one q:acme | https://l.one/api/v3/search?q=acme&type_=All&sort=New&listing_type=All&limit=50 | Number { param: \"page\", first: 1 } | None | false | None",
                "https://l.one q:acme corp | https://l.one/api/v3/search?q=acme+corp&type_=All&sort=New&listing_type=All&limit=50 | Number { param: \"page\", first: 1 } | None | false | None",
            ]),
            ("type = 'youtube'\nwatch_videos = ['v1', 'v 2']", &[
                "None",
                "search | https://www.googleapis.com/youtube/v3/search?part=snippet&type=video&order=date&maxResults=50&q=acme+OR+%22acme+corp%22&publishedAfter=2023-11-14T22%3A13%3A20Z | Token(\"pageToken\") | None | false | None",
                "video:v1 | https://www.googleapis.com/youtube/v3/commentThreads?part=snippet&videoId=v1&order=time&maxResults=100&textFormat=plainText | Token(\"pageToken\") | None | true | None",
                "video:v 2 | https://www.googleapis.com/youtube/v3/commentThreads?part=snippet&videoId=v+2&order=time&maxResults=100&textFormat=plainText | Token(\"pageToken\") | None | true | None",
            ]),
            ("type = 'stackexchange'\nsites = ['stackoverflow', 'superuser']", &[
                "None",
                "stackoverflow q:acme | https://api.stackexchange.com/2.3/search/excerpts?order=desc&sort=creation&site=stackoverflow&q=acme&pagesize=100&fromdate=1700000000 | Number { param: \"page\", first: 1 } | None | false | None",
                "stackoverflow q:acme corp | https://api.stackexchange.com/2.3/search/excerpts?order=desc&sort=creation&site=stackoverflow&q=acme+corp&pagesize=100&fromdate=1700000000 | Number { param: \"page\", first: 1 } | None | false | None",
                "superuser q:acme | https://api.stackexchange.com/2.3/search/excerpts?order=desc&sort=creation&site=superuser&q=acme&pagesize=100&fromdate=1700000000 | Number { param: \"page\", first: 1 } | None | false | None",
                "superuser q:acme corp | https://api.stackexchange.com/2.3/search/excerpts?order=desc&sort=creation&site=superuser&q=acme+corp&pagesize=100&fromdate=1700000000 | Number { param: \"page\", first: 1 } | None | false | None",
            ]),
            ("type = 'github'", &[
                "Bearer",
                "issues | https://api.github.com/search/issues?q=acme+OR+%22acme+corp%22+created%3A%3E%3D2023-11-14T22%3A13%3A20Z&sort=created&order=desc&per_page=100 | Number { param: \"page\", first: 1 } | None | false | None",
            ]),
            ("type = 'appstore'\napp_ids = ['1', '2']\ncountries = ['us', 'gb']\npages = 3", &[
                "None",
                "us:1 | https://itunes.apple.com/us/rss/customerreviews/page=1/id=1/sortby=mostrecent/json | AppStorePath | Some(\"us\") | true | Some(3)",
                "gb:1 | https://itunes.apple.com/gb/rss/customerreviews/page=1/id=1/sortby=mostrecent/json | AppStorePath | Some(\"gb\") | true | Some(3)",
                "us:2 | https://itunes.apple.com/us/rss/customerreviews/page=1/id=2/sortby=mostrecent/json | AppStorePath | Some(\"us\") | true | Some(3)",
                "gb:2 | https://itunes.apple.com/gb/rss/customerreviews/page=1/id=2/sortby=mostrecent/json | AppStorePath | Some(\"gb\") | true | Some(3)",
            ]),
            ("type = 'trustpilot'\nbusiness_units = ['acme.com']", &[
                "None",
                "acme.com | https://www.trustpilot.com/review/acme.com?sort=recency | Number { param: \"page\", first: 1 } | None | true | None",
            ]),
            ("type = 'yelp'\nbusiness_ids = ['acme-sf', 'acme/ny']", &[
                "Bearer",
                "acme-sf | https://api.yelp.com/v3/businesses/acme-sf/reviews?sort_by=newest&limit=50 | None | None | true | None",
                "acme/ny | https://api.yelp.com/v3/businesses/acme%2Fny/reviews?sort_by=newest&limit=50 | None | None | true | None",
            ]),
            // The cursor here is older than X's seven-day window, so no `since_id` (see `x::since_id`).
            ("type = 'x'\nbearer_token = 't'", &[
                "Bearer",
                "search | https://api.x.com/2/tweets/search/recent?query=%28acme+OR+%22acme+corp%22%29+-is%3Aretweet&max_results=100&tweet.fields=created_at,lang,author_id,public_metrics&expansions=author_id&user.fields=username,name | Token(\"next_token\") | None | false | None",
            ]),
            ("type = 'threads'", &[
                "Bearer",
                "q:acme | https://graph.threads.net/v1.0/keyword_search?q=acme&search_type=RECENT&fields=id%2Ctext%2Cmedia_type%2Cpermalink%2Ctimestamp%2Cusername%2Cis_reply%2Cis_quote_post%2Chas_replies&limit=100&since=1700000000 | Token(\"after\") | None | false | None",
                "q:acme corp | https://graph.threads.net/v1.0/keyword_search?q=acme+corp&search_type=RECENT&fields=id%2Ctext%2Cmedia_type%2Cpermalink%2Ctimestamp%2Cusername%2Cis_reply%2Cis_quote_post%2Chas_replies&limit=100&since=1700000000 | Token(\"after\") | None | false | None",
            ]),
            // The feed is not limited by `since` (a new comment on an older post would be lost), the watched post is.
            ("type = 'facebook_page'\npage_id = '104'\nwatch_posts = ['104_7']", &[
                "Bearer",
                "feed | https://graph.facebook.com/v25.0/104/feed?fields=id%2Cmessage%2Ccreated_time%2Cpermalink_url%2Cfrom%7Bid%2Cname%7D%2Ccomments.filter%28stream%29.order%28reverse_chronological%29.limit%2850%29%7Bid%2Cmessage%2Ccreated_time%2Cfrom%7Bid%2Cname%7D%2Cpermalink_url%2Clike_count%2Ccomment_count%2Cparent%7Bid%7D%7D&limit=25 | Token(\"after\") | None | true | None",
                "post:104_7 | https://graph.facebook.com/v25.0/104_7/comments?filter=stream&order=reverse_chronological&fields=id%2Cmessage%2Ccreated_time%2Cfrom%7Bid%2Cname%7D%2Cpermalink_url%2Clike_count%2Ccomment_count%2Cparent%7Bid%7D&limit=100&since=1700000000 | Token(\"after\") | None | true | None",
            ]),
            ("type = 'instagram'\nuser_id = '1784'\nwatch_media = ['179']", &[
                "Bearer",
                "media | https://graph.facebook.com/v25.0/1784/media?fields=id%2Cpermalink%2Ctimestamp%2Ccomments_count%2Ccomments.limit%2850%29%7Bid%2Ctext%2Ctimestamp%2Cusername%2Clike_count%2Creplies%7Bid%2Ctext%2Ctimestamp%2Cusername%2Clike_count%7D%7D&limit=25 | Token(\"after\") | None | true | None",
                "tags | https://graph.facebook.com/v25.0/1784/tags?fields=id%2Ccaption%2Ctimestamp%2Cpermalink%2Cusername%2Cmedia_type%2Clike_count%2Ccomments_count&limit=50 | Token(\"after\") | None | true | None",
                "media:179 | https://graph.facebook.com/v25.0/179/comments?fields=id%2Ctext%2Ctimestamp%2Cusername%2Clike_count%2Creplies%7Bid%2Ctext%2Ctimestamp%2Cusername%2Clike_count%7D&limit=50&since=1700000000 | Token(\"after\") | None | true | None",
            ]),
            ("type = 'googleplay'\npackage_names = ['com.acme.app']", &[
                "OAuth2",
                "com.acme.app | https://androidpublisher.googleapis.com/androidpublisher/v3/applications/com.acme.app/reviews?maxResults=100 | Token(\"token\") | None | true | None",
            ]),
            ("type = 'google_business'\naccount_id = '1'\nlocations = { '22' = 'Acme Paris' }", &[
                "OAuth2",
                "22 | https://mybusiness.googleapis.com/v4/accounts/1/locations/22/reviews?pageSize=50&orderBy=updateTime%20desc | Token(\"pageToken\") | None | true | None",
            ]),
            ("type = 'feed'\nurls = ['https://f.test/a.xml', 'https://f.test/b?x=1']", &[
                "None",
                "https://f.test/a.xml | https://f.test/a.xml | None | None | false | None",
                "https://f.test/b?x=1 | https://f.test/b?x=1 | None | None | false | None",
            ]),
            ("type = 'html'\nurl = 'https://h.test/news'", &[
                "None",
                "https://h.test/news | https://h.test/news | None | None | false | None",
            ]),
        ];
        let terms = ["acme", "acme corp"].map(String::from);
        for (toml, want) in table {
            assert_eq!(render(&plan(&settings(toml), &terms, Some(1_700_000_000))), *want, "{toml}");
        }
    }

    /// Without a cursor nothing is filtered by time; searches without OR ask for the first five terms only.
    #[test]
    fn without_a_cursor_every_search_asks_for_everything() {
        let terms = ["a", "b", "c", "d", "e", "f"].map(String::from);
        for toml in ["type = 'hackernews'", "type = 'bluesky'", "type = 'stackexchange'"] {
            let plan = plan(&settings(toml), &terms, None);
            let keys = plan.feeds.iter().map(|f| f.key.rsplit(':').next().unwrap()).collect::<Vec<_>>();
            assert_eq!(keys, ["a", "b", "c", "d", "e"], "{toml}");
            assert!(
                plan.feeds.iter().all(|f| !f.url.contains("numericFilters=")
                    && !f.url.contains("since=")
                    && !f.url.contains("fromdate=")),
                "{toml}"
            );
        }
        for toml in ["type = 'youtube'", "type = 'github'"] {
            let url = &plan(&settings(toml), &terms, None).feeds[0].url;
            assert!(url.contains("a+OR+b+OR+c+OR+d+OR+e+OR+f"), "{url}");
            assert!(!url.contains("publishedAfter=") && !url.contains("created%3A"), "{url}");
        }
    }
}

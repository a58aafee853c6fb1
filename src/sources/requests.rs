//! How to ask each platform for a brand's newest mentions: one [`RequestPlan`] per (source, brand) poll.
//!
//! A plan is a list of *feeds* (one search term on one instance, one app page, one feed URL…). Each feed is
//! paged from newest to older until the cursor is reached or `max_pages` is hit. Where a platform's search
//! cannot express the brand query (no OR, no NEAR), a feed per positive search term is asked for and the full
//! query is applied locally afterwards, so every platform gets the same matching.

use super::config::PlatformSettings;
use super::{HtmlSelectors, ParsedPage, Platform};

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
}

pub struct RequestPlan {
    pub feeds: Vec<Feed>,
    pub auth: Auth,
}

fn enc(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

fn trim_base(s: &str) -> &str {
    s.trim_end_matches('/')
}

/// Builds the plan for one brand. `terms` are the brand query's positive search terms; `since` the cursor
/// (Unix seconds) minus the overlap, when known.
pub fn plan(settings: &PlatformSettings, terms: &[String], since: Option<i64>) -> RequestPlan {
    let or_query = terms
        .iter()
        .map(|t| if t.contains(' ') { format!("\"{t}\"") } else { t.clone() })
        .collect::<Vec<_>>()
        .join(" OR ");
    let per_term = |f: &dyn Fn(&str) -> Feed| terms.iter().take(5).map(|t| f(t)).collect::<Vec<_>>();
    match settings {
        PlatformSettings::Reddit(s) => {
            let base = trim_base(&s.base_url);
            let path = if s.subreddits.is_empty() {
                String::from("/search")
            } else {
                format!("/r/{}/search", s.subreddits.join("+"))
            };
            let restrict = if s.subreddits.is_empty() { "" } else { "&restrict_sr=1" };
            let mut feeds = vec![Feed {
                key: "link".into(),
                url: format!("{base}{path}?q={}&sort=new&type=link&limit=100&raw_json=1{restrict}", enc(&or_query)),
                paging: Paging::Token("after"),
                country: None,
                owned: false,
                max_pages: None,
            }];
            if s.include_comments {
                feeds.push(Feed {
                    key: "comment".into(),
                    url: format!(
                        "{base}{path}?q={}&sort=new&type=comment&limit=100&raw_json=1{restrict}",
                        enc(&or_query)
                    ),
                    paging: Paging::Token("after"),
                    country: None,
                    owned: false,
                    max_pages: None,
                });
            }
            RequestPlan { feeds, auth: Auth::RedditAppOnly }
        }
        PlatformSettings::HackerNews(s) => {
            let base = trim_base(&s.base_url);
            let filter =
                since.map(|t| format!("&numericFilters={}", enc(&format!("created_at_i>{t}")))).unwrap_or_default();
            RequestPlan {
                feeds: per_term(&|t| Feed {
                    key: format!("q:{t}"),
                    url: format!(
                        "{base}/api/v1/search_by_date?query={}&tags={}&hitsPerPage=100{filter}",
                        enc(t),
                        enc(&s.tags)
                    ),
                    paging: Paging::Number { param: "page", first: 0 },
                    country: None,
                    owned: false,
                    max_pages: None,
                }),
                auth: Auth::None,
            }
        }
        PlatformSettings::Mastodon(s) => {
            let mut feeds = Vec::new();
            for inst in &s.instances {
                let base = trim_base(inst);
                if s.search {
                    for t in terms.iter().take(5) {
                        feeds.push(Feed {
                            key: format!("{base} q:{t}"),
                            url: format!("{base}/api/v2/search?q={}&type=statuses&resolve=false&limit=40", enc(t)),
                            paging: Paging::Token("max_id"),
                            country: None,
                            owned: false,
                            max_pages: None,
                        });
                    }
                }
                for tag in &s.hashtags {
                    feeds.push(Feed {
                        key: format!("{base} #{tag}"),
                        url: format!("{base}/api/v1/timelines/tag/{}?limit=40", enc(tag.trim_start_matches('#'))),
                        paging: Paging::Token("max_id"),
                        country: None,
                        owned: false,
                        max_pages: None,
                    });
                }
            }
            RequestPlan {
                feeds,
                auth: if s.token.inline.is_some() || s.token.file.is_some() || s.token.env.is_some() {
                    Auth::Bearer
                } else {
                    Auth::None
                },
            }
        }
        PlatformSettings::Bluesky(s) => {
            let base = trim_base(&s.service);
            let since_param = since
                .and_then(|t| chrono::DateTime::from_timestamp(t, 0))
                .map(|t| format!("&since={}", enc(&crate::mention::rfc3339::format(&t))))
                .unwrap_or_default();
            RequestPlan {
                feeds: per_term(&|t| Feed {
                    key: format!("q:{t}"),
                    url: format!(
                        "{base}/xrpc/app.bsky.feed.searchPosts?q={}&sort=latest&limit=100{since_param}",
                        enc(t)
                    ),
                    paging: Paging::Token("cursor"),
                    country: None,
                    owned: false,
                    max_pages: None,
                }),
                auth: Auth::BlueskySession,
            }
        }
        PlatformSettings::Lemmy(s) => {
            let mut feeds = Vec::new();
            for inst in &s.instances {
                let base = trim_base(inst);
                for t in terms.iter().take(5) {
                    feeds.push(Feed {
                        key: format!("{base} q:{t}"),
                        url: format!("{base}/api/v3/search?q={}&type_=All&sort=New&listing_type=All&limit=50", enc(t)),
                        paging: Paging::Number { param: "page", first: 1 },
                        country: None,
                        owned: false,
                        max_pages: None,
                    });
                }
            }
            RequestPlan { feeds, auth: Auth::None }
        }
        PlatformSettings::YouTube(s) => {
            let base = trim_base(&s.base_url);
            let after = since
                .and_then(|t| chrono::DateTime::from_timestamp(t, 0))
                .map(|t| format!("&publishedAfter={}", enc(&crate::mention::rfc3339::format(&t))))
                .unwrap_or_default();
            let mut feeds = vec![Feed {
                key: "search".into(),
                url: format!(
                    "{base}/search?part=snippet&type=video&order=date&maxResults=50&q={}{after}",
                    enc(&or_query)
                ),
                paging: Paging::Token("pageToken"),
                country: None,
                owned: false,
                max_pages: None,
            }];
            for v in &s.watch_videos {
                feeds.push(Feed {
                    key: format!("video:{v}"),
                    url: format!(
                        "{base}/commentThreads?part=snippet&videoId={}&order=time&maxResults=100&textFormat=plainText",
                        enc(v)
                    ),
                    paging: Paging::Token("pageToken"),
                    country: None,
                    // Comments under a watched video (the brand's own, or one about it) are about the brand
                    // without naming it; exclusions still apply.
                    owned: true,
                    max_pages: None,
                });
            }
            RequestPlan { feeds, auth: Auth::None }
        }
        PlatformSettings::StackExchange(s) => {
            let base = trim_base(&s.base_url);
            let from = since.map(|t| format!("&fromdate={t}")).unwrap_or_default();
            let mut feeds = Vec::new();
            for site in &s.sites {
                for t in terms.iter().take(5) {
                    feeds.push(Feed {
                        key: format!("{site} q:{t}"),
                        url: format!(
                            "{base}/2.3/search/excerpts?order=desc&sort=creation&site={}&q={}&pagesize=100{from}",
                            enc(site),
                            enc(t)
                        ),
                        paging: Paging::Number { param: "page", first: 1 },
                        country: None,
                        owned: false,
                        max_pages: None,
                    });
                }
            }
            RequestPlan { feeds, auth: Auth::None }
        }
        PlatformSettings::GitHub(s) => {
            let base = trim_base(&s.base_url);
            let created = since
                .and_then(|t| chrono::DateTime::from_timestamp(t, 0))
                .map(|t| format!(" created:>={}", t.format("%Y-%m-%dT%H:%M:%SZ")))
                .unwrap_or_default();
            RequestPlan {
                feeds: vec![Feed {
                    key: "issues".into(),
                    url: format!(
                        "{base}/search/issues?q={}&sort=created&order=desc&per_page=100",
                        enc(&format!("{or_query}{created}"))
                    ),
                    paging: Paging::Number { param: "page", first: 1 },
                    country: None,
                    owned: false,
                    max_pages: None,
                }],
                auth: Auth::Bearer,
            }
        }
        PlatformSettings::AppStore(s) => {
            let base = trim_base(&s.base_url);
            let mut feeds = Vec::new();
            for app in &s.app_ids {
                for c in &s.countries {
                    feeds.push(Feed {
                        key: format!("{c}:{app}"),
                        url: format!("{base}/{c}/rss/customerreviews/page=1/id={app}/sortby=mostrecent/json"),
                        paging: Paging::AppStorePath,
                        country: Some(c.clone()),
                        owned: true,
                        max_pages: Some(s.pages),
                    });
                }
            }
            RequestPlan { feeds, auth: Auth::None }
        }
        PlatformSettings::Trustpilot(s) => {
            let base = trim_base(&s.base_url);
            RequestPlan {
                feeds: s
                    .business_units
                    .iter()
                    .map(|bu| Feed {
                        key: bu.clone(),
                        url: format!("{base}/review/{}?sort=recency", enc(bu)),
                        paging: Paging::Number { param: "page", first: 1 },
                        country: None,
                        owned: true,
                        max_pages: None,
                    })
                    .collect(),
                auth: Auth::None,
            }
        }
        PlatformSettings::Yelp(s) => {
            let base = trim_base(&s.base_url);
            RequestPlan {
                feeds: s
                    .business_ids
                    .iter()
                    .map(|b| Feed {
                        key: b.clone(),
                        url: format!("{base}/businesses/{}/reviews?sort_by=newest&limit=50", enc(b)),
                        paging: Paging::None,
                        country: None,
                        owned: true,
                        max_pages: None,
                    })
                    .collect(),
                auth: Auth::Bearer,
            }
        }
        PlatformSettings::Feed(s) => RequestPlan {
            feeds: s
                .urls
                .iter()
                .map(|u| Feed {
                    key: u.clone(),
                    url: u.clone(),
                    paging: Paging::None,
                    country: None,
                    owned: false,
                    max_pages: None,
                })
                .collect(),
            auth: Auth::None,
        },
        PlatformSettings::Html(s) => RequestPlan {
            feeds: vec![Feed {
                key: s.url.clone(),
                url: s.url.clone(),
                paging: Paging::None,
                country: None,
                owned: false,
                max_pages: None,
            }],
            auth: Auth::None,
        },
    }
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

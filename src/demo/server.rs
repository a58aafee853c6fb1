//! A tiny HTTP/1.1 server on 127.0.0.1 that plays five platforms for the demo, in their real response formats:
//! Reddit (OAuth app-only token + `/search` Listings), Hacker News Algolia (`search_by_date`), Mastodon
//! (`/api/v2/search` on two instances), the App Store customer-reviews JSON feed, and a news-search RSS 2.0 feed.
//!
//! It serves only posts created at or before the simulated clock ([`MockServer::set_now`]), newest first, honours
//! the paging and filters hearsay asks for (`after`, `page`, `numericFilters`, `/page=N/`, `limit`), checks the
//! credentials the real platforms require, and answers conditional GETs on the feed with 304. It knows nothing of
//! hearsay's internals: the demo's sources talk to it exactly as they would to the real platforms.
//!
//! Deliberately minimal: keep-alive, `Content-Length` bodies only, no chunked requests, no TLS. It is a stage
//! prop, not a web server, and is never exposed beyond the loopback interface.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::Arc;

use chrono::{DateTime, FixedOffset, SecondsFormat, Utc};
use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};

use super::scenario::{Post, Site, APP_ID, INSTANCES};

/// The bearer token the mock Reddit hands out and then insists on.
const REDDIT_TOKEN: &str = "demo-reddit-token";
/// Apple serves 50 reviews per page, at most 10 pages.
const APPSTORE_PAGE: usize = 50;

/// The running server. Dropping it stops it.
pub struct MockServer {
    addr: SocketAddr,
    state: Arc<State>,
    task: tokio::task::JoinHandle<()>,
}

struct State {
    /// Newest first.
    posts: Vec<Post>,
    /// The simulated now (Unix seconds): nothing newer is served.
    now: AtomicI64,
    requests: AtomicU64,
}

impl MockServer {
    /// Binds 127.0.0.1 on a free port and starts serving `posts`.
    pub async fn start(mut posts: Vec<Post>) -> std::io::Result<MockServer> {
        posts.sort_by(|a, b| b.created_at.cmp(&a.created_at).then(b.seq.cmp(&a.seq)));
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let state = Arc::new(State { posts, now: AtomicI64::new(i64::MIN), requests: AtomicU64::new(0) });
        let shared = state.clone();
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let _ = stream.set_nodelay(true);
                let state = shared.clone();
                tokio::spawn(async move {
                    if let Err(e) = serve(stream, &state).await {
                        tracing::debug!(error = %e, "demo server connection");
                    }
                });
            }
        });
        Ok(MockServer { addr, state, task })
    }

    /// `http://127.0.0.1:PORT`.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Moves the simulated clock: posts created after `t` stay invisible.
    pub fn set_now(&self, t: i64) {
        self.state.now.store(t, Ordering::SeqCst);
    }

    /// Requests answered so far.
    pub fn requests(&self) -> u64 {
        self.state.requests.load(Ordering::Relaxed)
    }
}

impl Drop for MockServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

struct Request {
    method: String,
    path: String,
    query: HashMap<String, String>,
    headers: HashMap<String, String>,
    body: Vec<u8>,
}

struct Response {
    status: u16,
    content_type: &'static str,
    headers: Vec<(&'static str, String)>,
    body: Vec<u8>,
}

impl Response {
    fn json(status: u16, v: &Value) -> Response {
        Response {
            status,
            content_type: "application/json; charset=utf-8",
            headers: Vec::new(),
            body: v.to_string().into_bytes(),
        }
    }
}

/// One keep-alive connection: requests in, responses out, until the client closes it.
async fn serve(stream: TcpStream, state: &State) -> std::io::Result<()> {
    let (r, mut w) = stream.into_split();
    let mut r = BufReader::new(r);
    loop {
        let mut line = String::new();
        if r.read_line(&mut line).await? == 0 {
            return Ok(());
        }
        if line.trim().is_empty() {
            continue;
        }
        let mut parts = line.split_whitespace();
        let method = parts.next().unwrap_or_default().to_string();
        let target = parts.next().unwrap_or("/").to_string();
        let mut headers = HashMap::new();
        loop {
            let mut h = String::new();
            if r.read_line(&mut h).await? == 0 || h.trim().is_empty() {
                break;
            }
            if let Some((k, v)) = h.split_once(':') {
                headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_string());
            }
        }
        let len: usize = headers.get("content-length").and_then(|v| v.parse().ok()).unwrap_or(0);
        let mut body = vec![0; len.min(1 << 20)];
        r.read_exact(&mut body).await?;
        let (path, query) = target.split_once('?').unwrap_or((target.as_str(), ""));
        let req = Request {
            method,
            path: path.to_string(),
            query: url::form_urlencoded::parse(query.as_bytes()).into_owned().collect(),
            headers,
            body,
        };
        state.requests.fetch_add(1, Ordering::Relaxed);
        let resp = route(&req, state);
        let reason = match resp.status {
            200 => "OK",
            304 => "Not Modified",
            400 => "Bad Request",
            401 => "Unauthorized",
            _ => "Not Found",
        };
        let mut head = format!(
            "HTTP/1.1 {} {reason}\r\nContent-Type: {}\r\nContent-Length: {}\r\nServer: hearsay-demo\r\n",
            resp.status,
            resp.content_type,
            resp.body.len()
        );
        for (k, v) in &resp.headers {
            head += &format!("{k}: {v}\r\n");
        }
        head += "\r\n";
        // One write per response: head and body in two small writes meet Nagle's algorithm and the client's
        // delayed ACK, and every response then waits ~40 ms (that was half of the demo's wall time).
        let mut out = head.into_bytes();
        out.extend_from_slice(&resp.body);
        w.write_all(&out).await?;
        w.flush().await?;
        if req.headers.get("connection").is_some_and(|c| c.eq_ignore_ascii_case("close")) {
            return Ok(());
        }
    }
}

fn route(req: &Request, state: &State) -> Response {
    let now = state.now.load(Ordering::SeqCst);
    let visible = || state.posts.iter().filter(move |p| p.created_at <= now);
    let segments: Vec<&str> = req.path.trim_matches('/').split('/').collect();
    match (req.method.as_str(), segments.as_slice()) {
        ("POST", ["reddit", "api", "v1", "access_token"]) => reddit_token(req),
        ("GET", ["reddit", "search"]) => reddit_search(req, visible()),
        ("GET", ["hn", "api", "v1", "search_by_date"]) => hn_search(req, visible()),
        ("GET", ["mastodon", instance, "api", "v2", "search"]) => mastodon_search(req, instance, visible()),
        ("GET", ["itunes", country, "rss", "customerreviews", page, id, "sortby=mostrecent", "json"]) => {
            appstore_reviews(country, page, id, now, visible())
        }
        ("GET", ["news", "rss"]) => news_rss(req, now, visible()),
        _ => Response::json(404, &json!({"error": "not found", "path": req.path})),
    }
}

/// The search terms of a platform query: `"a b" OR c` → `["a b", "c"]`, lower-cased.
fn terms(q: Option<&String>) -> Vec<String> {
    q.map(|q| q.split(" OR ").map(|t| t.trim().trim_matches('"').to_lowercase()).filter(|t| !t.is_empty()).collect())
        .unwrap_or_default()
}

/// Platform-side search: a case-insensitive substring match of any term on title and text.
fn found(p: &Post, terms: &[String]) -> bool {
    let text = format!("{} {}", p.title.as_deref().unwrap_or(""), p.text).to_lowercase();
    terms.iter().any(|t| text.contains(t.as_str()))
}

fn base36(mut n: u64) -> String {
    const DIGITS: &[u8] = b"0123456789abcdefghijklmnopqrstuvwxyz";
    let mut out = Vec::new();
    loop {
        out.push(DIGITS[(n % 36) as usize]);
        n /= 36;
        if n == 0 {
            break;
        }
    }
    out.reverse();
    String::from_utf8(out).unwrap_or_default()
}

fn iso(t: i64) -> String {
    DateTime::from_timestamp(t, 0).unwrap_or_default().to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// HTML-escapes text the way platforms put it in HTML fields.
fn html(s: &str) -> String {
    crate::alert::email::escape(s).replace('\'', "&#x27;")
}

fn reddit_token(req: &Request) -> Response {
    let basic = req.headers.get("authorization").is_some_and(|a| a.starts_with("Basic "));
    let grant = String::from_utf8_lossy(&req.body).contains("grant_type=client_credentials");
    if !basic || !grant {
        return Response::json(401, &json!({"message": "Unauthorized", "error": 401}));
    }
    Response::json(
        200,
        &json!({"access_token": REDDIT_TOKEN, "token_type": "bearer", "expires_in": 3600, "scope": "*"}),
    )
}

fn reddit_search<'a>(req: &Request, posts: impl Iterator<Item = &'a Post>) -> Response {
    let bearer = format!("Bearer {REDDIT_TOKEN}");
    if req.headers.get("authorization") != Some(&bearer) {
        return Response::json(401, &json!({"message": "Unauthorized", "error": 401}));
    }
    let comments = req.query.get("type").map(String::as_str) == Some("comment");
    let limit: usize = req.query.get("limit").and_then(|l| l.parse().ok()).unwrap_or(25).clamp(1, 100);
    let terms = terms(req.query.get("q"));
    let fullname = |p: &Post| {
        if p.comment {
            format!("t1_{}", base36(2_800_000_000 + p.seq))
        } else {
            format!("t3_{}", base36(1_600_000_000 + p.seq))
        }
    };
    let mut matching: Vec<&Post> =
        posts.filter(|p| p.site == Site::Reddit && p.comment == comments && found(p, &terms)).collect();
    if let Some(after) = req.query.get("after") {
        if let Some(i) = matching.iter().position(|p| &fullname(p) == after) {
            matching.drain(..=i);
        }
    }
    let more = matching.len() > limit;
    matching.truncate(limit);
    let children: Vec<Value> = matching
        .iter()
        .map(|p| {
            let id = fullname(p)[3..].to_string();
            if p.comment {
                let link = base36(1_600_000_000 + p.seq / 3);
                json!({"kind": "t1", "data": {
                    "id": id, "name": fullname(p), "author": p.author, "body": p.text,
                    "created_utc": p.created_at as f64, "created": p.created_at as f64,
                    "permalink": format!("/r/{}/comments/{link}/comment/{id}/", p.place),
                    "parent_id": format!("t3_{link}"), "link_id": format!("t3_{link}"),
                    "subreddit": p.place, "subreddit_name_prefixed": format!("r/{}", p.place),
                    "score": p.engagement, "ups": p.engagement, "downs": 0, "edited": false, "stickied": false,
                }})
            } else {
                let title = p.title.clone().unwrap_or_default();
                let slug: Vec<String> = title
                    .split(|c: char| !c.is_alphanumeric())
                    .filter(|w| !w.is_empty())
                    .take(6)
                    .map(str::to_lowercase)
                    .collect();
                let permalink = format!("/r/{}/comments/{id}/{}/", p.place, slug.join("_"));
                json!({"kind": "t3", "data": {
                    "id": id, "name": fullname(p), "author": p.author, "title": title, "selftext": p.text,
                    "created_utc": p.created_at as f64, "created": p.created_at as f64,
                    "permalink": permalink, "url": format!("https://www.reddit.com{permalink}"),
                    "subreddit": p.place, "subreddit_name_prefixed": format!("r/{}", p.place),
                    "score": p.engagement, "ups": p.engagement, "upvote_ratio": 0.93,
                    "num_comments": p.replies, "is_self": true, "over_18": false, "stickied": false,
                }})
            }
        })
        .collect();
    let after = if more { matching.last().map(|p| fullname(p)) } else { None };
    let body = json!({"kind": "Listing", "data": {
        "after": after, "dist": children.len(), "modhash": "", "geo_filter": "", "children": children, "before": null,
    }});
    let mut r = Response::json(200, &body);
    r.headers.push(("x-ratelimit-remaining", "598.0".into()));
    r.headers.push(("x-ratelimit-used", "2".into()));
    r.headers.push(("x-ratelimit-reset", "420".into()));
    r
}

fn hn_search<'a>(req: &Request, posts: impl Iterator<Item = &'a Post>) -> Response {
    let per_page: usize = req.query.get("hitsPerPage").and_then(|v| v.parse().ok()).unwrap_or(20).clamp(1, 1000);
    let page: usize = req.query.get("page").and_then(|v| v.parse().ok()).unwrap_or(0);
    let after: i64 = req
        .query
        .get("numericFilters")
        .and_then(|f| f.strip_prefix("created_at_i>"))
        .and_then(|v| v.parse().ok())
        .unwrap_or(i64::MIN);
    let query = req.query.get("query").cloned().unwrap_or_default();
    let terms = vec![query.to_lowercase()];
    let matching: Vec<&Post> =
        posts.filter(|p| p.site == Site::HackerNews && p.created_at > after && found(p, &terms)).collect();
    let pages = matching.len().div_ceil(per_page);
    let hits: Vec<Value> = matching
        .iter()
        .skip(page * per_page)
        .take(per_page)
        .map(|p| {
            let id = 90_000_000 + p.seq;
            if p.comment {
                let story = 90_000_000 + p.seq / 4;
                json!({
                    "created_at": iso(p.created_at), "created_at_i": p.created_at, "author": p.author,
                    "comment_text": format!("<p>{}</p>", html(&p.text)), "story_id": story, "parent_id": story,
                    "story_title": "Ask HN: Which online bank do you use?", "points": null, "objectID": id.to_string(),
                    "_tags": ["comment", format!("author_{}", p.author), format!("story_{story}")],
                    "updated_at": iso(p.created_at),
                })
            } else {
                json!({
                    "created_at": iso(p.created_at), "created_at_i": p.created_at, "author": p.author,
                    "title": p.title, "url": format!("https://news.example/{id}"), "points": p.engagement,
                    "num_comments": p.replies, "story_text": null, "objectID": id.to_string(), "story_id": id,
                    "_tags": ["story", format!("author_{}", p.author), format!("story_{id}")],
                    "updated_at": iso(p.created_at),
                })
            }
        })
        .collect();
    Response::json(
        200,
        &json!({
            "hits": hits, "nbHits": matching.len(), "page": page, "nbPages": pages, "hitsPerPage": per_page,
            "exhaustiveNbHits": true, "query": query, "processingTimeMS": 1,
            "params": format!("query={}&hitsPerPage={per_page}&page={page}", url::form_urlencoded::byte_serialize(query.as_bytes()).collect::<String>()),
        }),
    )
}

fn mastodon_search<'a>(req: &Request, instance: &str, posts: impl Iterator<Item = &'a Post>) -> Response {
    let Some(index) = INSTANCES.iter().position(|i| *i == instance) else {
        return Response::json(404, &json!({"error": "Record not found"}));
    };
    if !req.headers.get("authorization").is_some_and(|a| a.starts_with("Bearer ")) {
        return Response::json(401, &json!({"error": "The access token is invalid"}));
    }
    let limit: usize = req.query.get("limit").and_then(|v| v.parse().ok()).unwrap_or(20).clamp(1, 40);
    let terms = vec![req.query.get("q").cloned().unwrap_or_default().to_lowercase()];
    let statuses: Vec<Value> = posts
        .filter(|p| p.site == Site::Mastodon && found(p, &terms))
        .take(limit)
        .map(|p| {
            // Status ids are local to each instance; the URI (ActivityPub id) is the same everywhere.
            let home_id = 113_000_000_000_000_000u64 + p.seq * 1000;
            let local_id = home_id + index as u64;
            let user = p.author.clone();
            let acct = if p.place == instance { user.clone() } else { format!("{user}@{}", p.place) };
            json!({
                "id": local_id.to_string(), "created_at": iso(p.created_at),
                "in_reply_to_id": if p.comment { Some((home_id - 7000).to_string()) } else { None },
                "in_reply_to_account_id": null, "sensitive": false, "spoiler_text": "", "visibility": "public",
                "language": "en", "uri": format!("https://{}/users/{user}/statuses/{home_id}", p.place),
                "url": format!("https://{}/@{user}/{home_id}", p.place),
                "replies_count": p.replies, "reblogs_count": p.engagement / 3, "favourites_count": p.engagement,
                "content": format!("<p>{}</p>", html(&p.text)), "reblog": null,
                "account": {"id": (9_000 + p.seq).to_string(), "username": user, "acct": acct, "display_name": user,
                    "url": format!("https://{}/@{user}", p.place), "bot": false},
                "media_attachments": [], "mentions": [], "tags": [], "emojis": [],
            })
        })
        .collect();
    Response::json(200, &json!({"accounts": [], "statuses": statuses, "hashtags": []}))
}

fn appstore_reviews<'a>(
    country: &str,
    page: &str,
    id: &str,
    now: i64,
    posts: impl Iterator<Item = &'a Post>,
) -> Response {
    let page: usize = match page.strip_prefix("page=").and_then(|n| n.parse().ok()) {
        Some(n @ 1..=10) => n,
        _ => return Response::json(400, &json!({"error": "page must be 1 to 10"})),
    };
    if id != format!("id={APP_ID}") {
        return Response::json(404, &json!({"error": "unknown app"}));
    }
    // Apple writes times in Cupertino's offset.
    let pacific = FixedOffset::west_opt(7 * 3600).expect("valid offset");
    let local = |t: i64| DateTime::from_timestamp(t, 0).unwrap_or_default().with_timezone(&pacific).to_rfc3339();
    let base = format!("https://itunes.apple.com/{country}/rss/customerreviews");
    let entries: Vec<Value> = posts
        .filter(|p| p.site == Site::AppStore && p.place == country)
        .skip((page - 1) * APPSTORE_PAGE)
        .take(APPSTORE_PAGE)
        .map(|p| {
            json!({
                "author": {"uri": {"label": format!("https://itunes.apple.com/{country}/reviews/id{}", 700_000_000 + p.seq)},
                    "name": {"label": p.author}, "label": ""},
                "updated": {"label": local(p.created_at)},
                "im:rating": {"label": p.rating.unwrap_or(3).to_string()},
                "im:version": {"label": "4.12.0"},
                "id": {"label": (11_000_000_000 + p.seq).to_string()},
                "title": {"label": p.title.clone().unwrap_or_default()},
                "content": {"label": p.text, "attributes": {"type": "text"}},
                "link": {"attributes": {"rel": "related", "href": format!("https://itunes.apple.com/{country}/review?id={APP_ID}&type=Purple%20Software")}},
                "im:voteSum": {"label": p.engagement.to_string()},
                "im:contentType": {"attributes": {"term": "Application", "label": "Application"}},
                "im:voteCount": {"label": (p.engagement + p.engagement / 2).to_string()},
            })
        })
        .collect();
    let mut feed = json!({
        "author": {"name": {"label": "iTunes Store"}, "uri": {"label": "http://www.apple.com/uk/itunes/"}},
        "updated": {"label": local(now)},
        "rights": {"label": "Copyright 2008 Apple Inc."},
        "title": {"label": "iTunes Store: Customer Reviews"},
        "icon": {"label": "http://itunes.apple.com/favicon.ico"},
        "link": [
            {"attributes": {"rel": "alternate", "type": "text/html", "href": format!("https://apps.apple.com/{country}/app/id{APP_ID}")}},
            {"attributes": {"rel": "self", "href": format!("{base}/page={page}/id={APP_ID}/sortby=mostrecent/json")}},
            {"attributes": {"rel": "first", "href": format!("{base}/id={APP_ID}/sortby=mostrecent/json")}},
            {"attributes": {"rel": "last", "href": format!("{base}/page=10/id={APP_ID}/sortby=mostrecent/json")}},
        ],
        "id": {"label": format!("{base}/page={page}/id={APP_ID}/sortby=mostrecent/json")},
    });
    // Like Apple's: one review is an object, none means no `entry` at all.
    match entries.len() {
        0 => {}
        1 => feed["entry"] = entries[0].clone(),
        _ => feed["entry"] = Value::Array(entries),
    }
    Response::json(200, &json!({"feed": feed}))
}

fn news_rss<'a>(req: &Request, now: i64, posts: impl Iterator<Item = &'a Post>) -> Response {
    let terms = terms(req.query.get("q"));
    let items: Vec<&Post> = posts.filter(|p| p.site == Site::News && found(p, &terms)).take(30).collect();
    let etag = format!("\"{}-{}\"", items.len(), items.first().map_or(0, |p| p.seq));
    if req.headers.get("if-none-match") == Some(&etag) {
        return Response {
            status: 304,
            content_type: "application/rss+xml; charset=utf-8",
            headers: vec![("ETag", etag)],
            body: Vec::new(),
        };
    }
    let rfc2822 = |t: i64| {
        DateTime::<Utc>::from_timestamp(t, 0).unwrap_or_default().format("%a, %d %b %Y %H:%M:%S GMT").to_string()
    };
    let xml = |s: &str| s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;");
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?>\n<rss version=\"2.0\" xmlns:media=\"http://search.yahoo.com/mrss/\"><channel>");
    out += "<generator>NFE/5.0</generator><title>\"nimbus bank\" - News search</title>";
    out += "<link>https://news.example/search?q=%22nimbus+bank%22</link><language>en-GB</language>";
    out += &format!("<lastBuildDate>{}</lastBuildDate><description>News search results</description>", rfc2822(now));
    for p in &items {
        let slug: String = p
            .title
            .as_deref()
            .unwrap_or("")
            .to_lowercase()
            .split(|c: char| !c.is_alphanumeric())
            .filter(|w| !w.is_empty())
            .collect::<Vec<_>>()
            .join("-");
        let host = p.place.to_lowercase().replace(['&', ' '], "");
        let link = format!("https://{host}.example/{}/{slug}", p.seq);
        out += &format!(
            "<item><title>{} - {}</title><link>{link}</link><guid isPermaLink=\"false\">demo-{}</guid><pubDate>{}</pubDate><description>{}</description><source url=\"https://{host}.example\">{}</source></item>",
            xml(p.title.as_deref().unwrap_or("")),
            xml(p.place),
            p.seq,
            rfc2822(p.created_at),
            xml(&format!("<a href=\"{link}\" target=\"_blank\">{}</a>&nbsp;&nbsp;<font color=\"#6f6f6f\">{}</font> {}", html(p.title.as_deref().unwrap_or("")), html(p.place), html(&p.text))),
            xml(p.place),
        );
    }
    out += "</channel></rss>\n";
    Response {
        status: 200,
        content_type: "application/rss+xml; charset=utf-8",
        headers: vec![("ETag", etag)],
        body: out.into_bytes(),
    }
}

//! The poller against a local mock of the platforms (wiremock): paging, cursor resume after a restart,
//! conditional GET, rate limits, credentials errors, backoff, broken payloads, charsets, oversized bodies,
//! duplicates, quotas. Payloads here are small ones written for these tests in each platform's documented
//! format; `real_payloads_*` replays the real samples from `../shared/fixtures` through `hearsay poll --once`.

use std::path::Path;

use chrono::Utc;
use hearsay::config::Config;
use hearsay::sources::poll::{self, CheckOutcome, ErrorClass, Health, PollOutcome, Poller};
use hearsay::store::{Access, Store};
use serde_json::{json, Value};
use tokio::sync::watch;
use wiremock::matchers::{header, header_exists, method, path, query_param, query_param_is_missing};
use wiremock::{Mock, MockServer, ResponseTemplate};

/// A config with one brand (Acme) and the given `[[sources]]` tables; `polling` adds `[polling]` keys. Also
/// written to `dir/hearsay.toml`, for the binary.
fn config(dir: &Path, polling: &str, sources: &str) -> Config {
    let text = format!(
        "[storage]\ndatabase = \"{0}/h.db\"\noutbox_dir = \"{0}/outbox\"\n\n[polling]\ninterval = \"10m\"\n{polling}\n\n\
         [[brands]]\nname = \"Acme\"\nquery = \"acme\"\n\n{sources}\n",
        dir.display()
    );
    std::fs::write(dir.join("hearsay.toml"), &text).unwrap();
    Config::parse(&text, &dir.join("hearsay.toml")).unwrap_or_else(|e| panic!("test config: {e}"))
}

async fn store(dir: &Path) -> Store {
    Store::open(&dir.join("h.db"), Access::ReadWrite).await.unwrap()
}

/// One forced poll of every source, as `hearsay poll --once` does.
async fn poll(config: &Config, store: &Store) -> Vec<PollOutcome> {
    let (_tx, rx) = watch::channel(false);
    Poller::new(config).unwrap().poll_due(store, &rx, None, true).await
}

fn outcome<'a>(all: &'a [PollOutcome], source: &str) -> &'a PollOutcome {
    all.iter().find(|o| o.source == source).unwrap_or_else(|| panic!("no outcome for {source}: {all:?}"))
}

async fn count(store: &Store, sql: &str) -> i64 {
    sqlx::query_scalar::<_, i64>(sql).fetch_one(&super::sqlite(store.path()).await).await.unwrap()
}

async fn ids(store: &Store) -> Vec<String> {
    sqlx::query_scalar("SELECT external_id FROM mentions ORDER BY external_id")
        .fetch_all(&super::sqlite(store.path()).await)
        .await
        .unwrap()
}

/// (next_poll_at - now, consecutive_failures, degraded, last_error) of a (source, Acme) pair.
async fn state(store: &Store, source: &str) -> (i64, i64, bool, Option<String>) {
    let st = store.source_state(source, "Acme").await.unwrap().expect("state recorded");
    (st.next_poll_at - Utc::now().timestamp(), st.consecutive_failures, st.degraded_since.is_some(), st.last_error)
}

/// An Algolia `search_by_date` hit, created `ago` seconds before now.
fn hn_hit(id: &str, ago: i64, title: &str) -> Value {
    let t = Utc::now().timestamp() - ago;
    json!({
        "objectID": id, "created_at_i": t,
        "created_at": chrono::DateTime::from_timestamp(t, 0).unwrap().to_rfc3339(),
        "title": title, "url": null, "author": "pg", "points": 3, "story_text": null, "comment_text": null,
        "num_comments": 0, "_tags": ["story", "author_pg", format!("story_{id}")]
    })
}

fn hn_page(hits: Vec<Value>, page: u32, pages: u32) -> ResponseTemplate {
    let body = json!({"hits": hits, "page": page, "nbPages": pages, "hitsPerPage": 100, "nbHits": 1000});
    ResponseTemplate::new(200).set_body_json(body)
}

fn hn_source(name: &str, base: &str) -> String {
    format!("[[sources]]\ntype = \"hackernews\"\nname = \"{name}\"\nbase_url = \"{base}\"\n")
}

fn rss(items: &[(&str, &str)]) -> String {
    let items: String = items
        .iter()
        .map(|(guid, title)| {
            format!(
                "<item><title>{title}</title><link>https://news.example/{guid}</link><guid>{guid}</guid>\
                 <pubDate>{}</pubDate><description>{title}</description></item>",
                Utc::now().to_rfc2822()
            )
        })
        .collect();
    format!("<?xml version=\"1.0\"?><rss version=\"2.0\"><channel><title>t</title><link>https://news.example/</link>{items}</channel></rss>")
}

#[tokio::test]
async fn pages_back_to_the_cursor_and_resumes_after_a_restart_without_gaps_or_duplicates() {
    let dir = tempfile::tempdir().unwrap();
    let server = MockServer::start().await;
    let cfg = config(dir.path(), "", &hn_source("hn", &server.uri()));
    Mock::given(method("GET"))
        .and(path("/api/v1/search_by_date"))
        .and(query_param("query", "acme"))
        .and(query_param_is_missing("page"))
        .and(query_param_is_missing("numericFilters"))
        .respond_with(hn_page(vec![hn_hit("10", 100, "Acme ten"), hn_hit("9", 200, "Acme nine")], 0, 2))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/v1/search_by_date"))
        .and(query_param("page", "1"))
        .respond_with(hn_page(vec![hn_hit("8", 300, "Acme eight"), hn_hit("7", 400, "not about us")], 1, 2))
        .expect(1)
        .mount(&server)
        .await;
    let s = store(dir.path()).await;
    let out = poll(&cfg, &s).await;
    let o = outcome(&out, "hn");
    assert!(o.error.is_none(), "{o:?}");
    assert_eq!((o.seen, o.new), (4, 3), "both pages read; the unrelated hit is not stored");
    assert_eq!(ids(&s).await, ["10", "8", "9"]);
    let cursor = s.source_state("hn", "Acme").await.unwrap().unwrap().cursor.unwrap();
    let newest = Utc::now().timestamp() - 100;
    assert!((cursor.parse::<i64>().unwrap() - newest).abs() <= 2, "cursor {cursor} is the newest item");
    server.verify().await;
    s.close().await;

    // "Restart": a new store handle and poller. The next request asks only for what is newer than the
    // cursor minus the overlap; the overlapping item comes back and is absorbed.
    server.reset().await;
    let filter = format!("created_at_i>{}", cursor.parse::<i64>().unwrap() - 600);
    Mock::given(method("GET"))
        .and(path("/api/v1/search_by_date"))
        .and(query_param("numericFilters", filter.as_str()))
        .respond_with(hn_page(vec![hn_hit("11", 10, "Acme eleven"), hn_hit("10", 100, "Acme ten")], 0, 1))
        .expect(1)
        .mount(&server)
        .await;
    let s = store(dir.path()).await;
    let out = poll(&cfg, &s).await;
    let o = outcome(&out, "hn");
    assert!(o.error.is_none(), "{o:?}");
    assert_eq!((o.seen, o.new), (2, 1));
    assert_eq!(ids(&s).await, ["10", "11", "8", "9"], "no gap, no duplicate");
    server.verify().await;
}

#[tokio::test]
async fn a_failed_page_leaves_the_cursor_so_the_next_poll_fills_the_gap() {
    let dir = tempfile::tempdir().unwrap();
    let server = MockServer::start().await;
    let cfg = config(dir.path(), "", &hn_source("hn", &server.uri()));
    Mock::given(method("GET"))
        .and(path("/api/v1/search_by_date"))
        .and(query_param_is_missing("page"))
        .respond_with(hn_page(vec![hn_hit("20", 100, "Acme twenty")], 0, 2))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/v1/search_by_date"))
        .and(query_param("page", "1"))
        .respond_with(ResponseTemplate::new(502))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/v1/search_by_date"))
        .and(query_param("page", "1"))
        .respond_with(hn_page(vec![hn_hit("19", 5000, "Acme nineteen")], 1, 2))
        .mount(&server)
        .await;
    let s = store(dir.path()).await;
    let o = poll(&cfg, &s).await.remove(0);
    assert_eq!(o.error.as_ref().map(|e| e.class.clone()), Some(ErrorClass::Transient), "{o:?}");
    assert_eq!(ids(&s).await, ["20"], "what arrived before the failure is kept");
    assert_eq!(s.source_state("hn", "Acme").await.unwrap().unwrap().cursor, None, "cursor not advanced");
    let o = poll(&cfg, &s).await.remove(0);
    assert!(o.error.is_none(), "{o:?}");
    assert_eq!(ids(&s).await, ["19", "20"], "the older page is fetched on the next poll");
}

#[tokio::test]
async fn conditional_get_sends_the_etag_and_a_304_is_a_quiet_success() {
    let dir = tempfile::tempdir().unwrap();
    let server = MockServer::start().await;
    let src = format!("[[sources]]\ntype = \"feed\"\nname = \"news\"\nurls = [\"{}/feed.xml\"]\n", server.uri());
    let cfg = config(dir.path(), "", &src);
    Mock::given(method("GET"))
        .and(path("/feed.xml"))
        .and(header("if-none-match", "\"v1\""))
        .and(header_exists("if-modified-since"))
        .respond_with(ResponseTemplate::new(304))
        .with_priority(1)
        .expect(1)
        .named("conditional request")
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/feed.xml"))
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header("content-type", "application/rss+xml")
                .insert_header("etag", "\"v1\"")
                .insert_header("last-modified", "Wed, 25 Nov 2026 10:00:00 GMT")
                .set_body_string(rss(&[("a1", "Acme opens a store")])),
        )
        .expect(1)
        .named("first request")
        .mount(&server)
        .await;
    let s = store(dir.path()).await;
    let o = poll(&cfg, &s).await.remove(0);
    assert_eq!((o.new, o.error.is_none()), (1, true), "{o:?}");
    let o = poll(&cfg, &s).await.remove(0);
    assert_eq!((o.seen, o.new, o.error.is_none()), (0, 0, true), "{o:?}");
    let last: String = sqlx::query_scalar("SELECT status FROM poll_log ORDER BY id DESC LIMIT 1")
        .fetch_one(&super::sqlite(s.path()).await)
        .await
        .unwrap();
    assert_eq!(last, "not_modified");
    assert_eq!(count(&s, "SELECT count(*) FROM mentions").await, 1);
    let second = server.received_requests().await.unwrap().pop().unwrap();
    assert_eq!(second.headers.get("if-modified-since").unwrap(), "Wed, 25 Nov 2026 10:00:00 GMT");
    server.verify().await;
}

#[tokio::test]
async fn rate_limits_are_waited_out_as_the_platform_asks_and_are_not_configuration_errors() {
    let dir = tempfile::tempdir().unwrap();
    let server = MockServer::start().await;
    let srcs = format!(
        "[[sources]]\ntype = \"github\"\nname = \"gh429\"\nbase_url = \"{0}/a\"\n\n\
         [[sources]]\ntype = \"github\"\nname = \"gh403\"\nbase_url = \"{0}/b\"\n",
        server.uri()
    );
    let cfg = config(dir.path(), "", &srcs);
    Mock::given(path("/a/search/issues"))
        .respond_with(ResponseTemplate::new(429).insert_header("retry-after", "3600"))
        .mount(&server)
        .await;
    // GitHub's primary rate limit: 403 with the budget headers (reset as a Unix time).
    let reset = Utc::now().timestamp() + 1800;
    Mock::given(path("/b/search/issues"))
        .respond_with(
            ResponseTemplate::new(403)
                .insert_header("x-ratelimit-remaining", "0")
                .insert_header("x-ratelimit-reset", reset.to_string().as_str())
                .set_body_json(json!({"message": "API rate limit exceeded for 127.0.0.1."})),
        )
        .mount(&server)
        .await;
    let s = store(dir.path()).await;
    let out = poll(&cfg, &s).await;
    for name in ["gh429", "gh403"] {
        let e = outcome(&out, name).error.clone().expect("rate limited");
        assert!(matches!(e.class, ErrorClass::RateLimited { .. }), "{name}: {e:?}");
    }
    let (wait, failures, degraded, _) = state(&s, "gh429").await;
    assert!(wait >= 3599, "Retry-After honoured, never shortened by jitter: {wait}");
    assert_eq!((failures, degraded), (1, false));
    let (wait, _, degraded, err) = state(&s, "gh403").await;
    assert!((1795..=2400).contains(&wait), "waits for the budget reset: {wait}");
    assert!(!degraded && err.unwrap().contains("API rate limit exceeded"));

    // Not due yet: a regular (not forced) cycle leaves both alone.
    let (_tx, rx) = watch::channel(false);
    let before = server.received_requests().await.unwrap().len();
    assert!(Poller::new(&cfg).unwrap().poll_due(&s, &rx, None, false).await.is_empty());
    assert_eq!(server.received_requests().await.unwrap().len(), before);
}

#[tokio::test]
async fn bad_credentials_mark_the_source_degraded_with_a_clear_message_and_no_secret() {
    let dir = tempfile::tempdir().unwrap();
    let server = MockServer::start().await;
    let src = format!(
        "[[sources]]\ntype = \"github\"\nname = \"gh\"\nbase_url = \"{}\"\ntoken = \"ghp_SECRET123\"\n",
        server.uri()
    );
    let cfg = config(dir.path(), "", &src);
    Mock::given(path("/search/issues"))
        .and(header("authorization", "Bearer ghp_SECRET123"))
        .respond_with(
            ResponseTemplate::new(401).set_body_json(
                json!({"message": "Bad credentials", "documentation_url": "https://docs.github.com/rest"}),
            ),
        )
        .expect(1)
        .mount(&server)
        .await;
    let s = store(dir.path()).await;
    let o = poll(&cfg, &s).await.remove(0);
    let e = o.error.expect("fails");
    assert_eq!((e.class, e.http_status), (ErrorClass::Config, Some(401)));
    let (wait, failures, degraded, err) = state(&s, "gh").await;
    let err = err.unwrap();
    assert!(degraded && failures == 1, "a credentials problem is degraded at once");
    assert!(err.contains("credentials") && err.contains("Bad credentials"), "{err}");
    assert!(wait >= 480, "not hammered: {wait}");
    let logged: Vec<String> = sqlx::query_scalar("SELECT coalesce(error, '') FROM poll_log")
        .fetch_all(&super::sqlite(s.path()).await)
        .await
        .unwrap();
    assert!(!err.contains("SECRET") && logged.iter().all(|l| !l.contains("SECRET")), "{logged:?}");
    server.verify().await;
}

#[tokio::test]
async fn server_errors_back_off_exponentially_then_recover() {
    let dir = tempfile::tempdir().unwrap();
    let server = MockServer::start().await;
    let cfg = config(dir.path(), "degraded_after = 3", &hn_source("hn", &server.uri()));
    Mock::given(path("/api/v1/search_by_date"))
        .respond_with(ResponseTemplate::new(503).set_body_string("<html>upstream down</html>"))
        .up_to_n_times(3)
        .mount(&server)
        .await;
    Mock::given(path("/api/v1/search_by_date"))
        .respond_with(hn_page(vec![hn_hit("1", 60, "Acme is back")], 0, 1))
        .mount(&server)
        .await;
    let s = store(dir.path()).await;
    let mut waits = Vec::new();
    for n in 1..=3 {
        poll(&cfg, &s).await;
        let (wait, failures, degraded, _) = state(&s, "hn").await;
        assert_eq!(failures, n);
        assert_eq!(degraded, n >= 3, "degraded after 3 failures in a row");
        waits.push(wait as f64);
    }
    // 10 min interval doubled per failure, ±20% jitter.
    for (w, base) in waits.iter().zip([600.0, 1200.0, 2400.0]) {
        assert!((base * 0.79..=base * 1.21).contains(w), "{waits:?}");
    }
    let o = poll(&cfg, &s).await.remove(0);
    assert!(o.error.is_none());
    let (wait, failures, degraded, _) = state(&s, "hn").await;
    assert_eq!((failures, degraded), (0, false), "recovered");
    assert!((530..=670).contains(&wait), "back to the interval: {wait}");
}

#[tokio::test]
async fn broken_payloads_fail_their_source_only() {
    let dir = tempfile::tempdir().unwrap();
    let server = MockServer::start().await;
    let srcs = format!(
        "{}\n{}\n{}\n[[sources]]\ntype = \"feed\"\nname = \"news\"\nurls = [\"{}/ok.xml\"]\n",
        hn_source("truncated", &format!("{}/t", server.uri())),
        hn_source("captcha", &format!("{}/c", server.uri())),
        hn_source("notfound", &format!("{}/n", server.uri())),
        server.uri()
    );
    let cfg = config(dir.path(), "", &srcs);
    Mock::given(path("/t/api/v1/search_by_date"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_raw(&br#"{"hits":[{"objectID":"1","created_at_i":17"#[..], "application/json"),
        )
        .mount(&server)
        .await;
    Mock::given(path("/c/api/v1/search_by_date"))
        .respond_with(ResponseTemplate::new(200).set_body_raw(
            &b"<!DOCTYPE html><html><head><title>Just a moment...</title></head><body>Checking your browser</body></html>"[..],
            "text/html; charset=UTF-8",
        ))
        .mount(&server)
        .await;
    Mock::given(path("/ok.xml"))
        .respond_with(
            ResponseTemplate::new(200).set_body_raw(rss(&[("g1", "Acme news")]).into_bytes(), "application/rss+xml"),
        )
        .mount(&server)
        .await;
    let s = store(dir.path()).await;
    let out = poll(&cfg, &s).await;
    for name in ["truncated", "captcha"] {
        let e = outcome(&out, name).error.clone().unwrap_or_else(|| panic!("{name} must fail"));
        assert_eq!(e.class, ErrorClass::BadPayload, "{name}: {e:?}");
        assert!(!e.message.is_empty());
    }
    let e = outcome(&out, "notfound").error.clone().unwrap();
    assert!(e.class == ErrorClass::Config && e.message.contains("404"), "{e:?}");
    assert_eq!(outcome(&out, "news").new, 1, "the healthy source is unaffected");
    assert_eq!(count(&s, "SELECT count(*) FROM mentions").await, 1);
}

#[tokio::test]
async fn charsets_are_decoded_and_a_wrong_one_loses_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let server = MockServer::start().await;
    let srcs = format!(
        "[[sources]]\ntype = \"feed\"\nname = \"latin\"\nurls = [\"{0}/latin.xml\"]\n\n\
         [[sources]]\ntype = \"feed\"\nname = \"liar\"\nurls = [\"{0}/liar.xml\"]\n",
        server.uri()
    );
    let cfg = config(dir.path(), "", &srcs);
    // ISO-8859-1 bytes: "Café Acme" with é = 0xE9.
    let latin = |guid: &str| -> Vec<u8> {
        let mut b = rss(&[(guid, "Caf\u{1}e Acme")]).into_bytes();
        let at = b.iter().position(|&c| c == 1).unwrap();
        b.splice(at..at + 2, [0xE9]);
        b
    };
    Mock::given(path("/latin.xml"))
        .respond_with(ResponseTemplate::new(200).set_body_raw(latin("l1"), "application/rss+xml; charset=ISO-8859-1"))
        .mount(&server)
        .await;
    // The header claims UTF-8, the bytes are Latin-1.
    Mock::given(path("/liar.xml"))
        .respond_with(ResponseTemplate::new(200).set_body_raw(latin("w1"), "application/rss+xml; charset=utf-8"))
        .mount(&server)
        .await;
    let s = store(dir.path()).await;
    let out = poll(&cfg, &s).await;
    assert!(out.iter().all(|o| o.error.is_none() && o.new == 1), "{out:?}");
    let texts: Vec<String> = sqlx::query_scalar("SELECT title FROM mentions ORDER BY external_id")
        .fetch_all(&super::sqlite(s.path()).await)
        .await
        .unwrap();
    assert_eq!(texts[0], "Café Acme", "declared Latin-1 decoded");
    assert!(texts[1].starts_with("Caf") && texts[1].ends_with(" Acme"), "{texts:?}");
}

#[tokio::test]
async fn an_oversized_body_is_refused_without_storing_part_of_it() {
    let dir = tempfile::tempdir().unwrap();
    let server = MockServer::start().await;
    let src = format!("[[sources]]\ntype = \"feed\"\nname = \"big\"\nurls = [\"{}/big.xml\"]\n", server.uri());
    let cfg = config(dir.path(), "max_body_mib = 1", &src);
    let mut body = rss(&[("b1", "Acme")]);
    body.insert_str(body.len() - "</channel></rss>".len(), &"<!-- padding -->".repeat(140_000));
    assert!(body.len() > 2 << 20);
    Mock::given(path("/big.xml"))
        .respond_with(ResponseTemplate::new(200).set_body_raw(body.into_bytes(), "application/rss+xml"))
        .mount(&server)
        .await;
    let s = store(dir.path()).await;
    let o = poll(&cfg, &s).await.remove(0);
    let e = o.error.expect("refused");
    assert!(e.class == ErrorClass::BadPayload && e.message.contains("larger than 1 MiB"), "{e:?}");
    assert_eq!(count(&s, "SELECT count(*) FROM mentions").await, 0);
}

#[tokio::test]
async fn the_same_item_on_two_pages_and_two_sources_is_stored_once() {
    let dir = tempfile::tempdir().unwrap();
    let server = MockServer::start().await;
    let srcs = format!("{}\n{}", hn_source("hn", &server.uri()), hn_source("hn-mirror", &server.uri()));
    let cfg = config(dir.path(), "", &srcs);
    // New items arrived between the two page requests, so page 1 repeats the end of page 0.
    Mock::given(path("/api/v1/search_by_date"))
        .and(query_param_is_missing("page"))
        .respond_with(hn_page(vec![hn_hit("5", 100, "Acme 5"), hn_hit("4", 200, "Acme 4")], 0, 2))
        .mount(&server)
        .await;
    Mock::given(path("/api/v1/search_by_date"))
        .and(query_param("page", "1"))
        .respond_with(hn_page(vec![hn_hit("4", 200, "Acme 4"), hn_hit("3", 300, "Acme 3")], 1, 2))
        .mount(&server)
        .await;
    let s = store(dir.path()).await;
    let out = poll(&cfg, &s).await;
    assert!(out.iter().all(|o| o.error.is_none()), "{out:?}");
    assert_eq!(out.iter().map(|o| o.new).sum::<u64>(), 3, "{out:?}");
    assert_eq!(ids(&s).await, ["3", "4", "5"]);
    assert_eq!(count(&s, "SELECT count(*) FROM mention_brands").await, 3, "one brand match each");
}

/// RSS 0.91 items carry no date (`tests/fixtures/feed/rss091.xml`): `hearsay poll --once` stores them with the
/// time it first saw them, the next poll finds the same ids and stores nothing twice nor moves that time, and
/// `hearsay sources parse` prints the same records.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dateless_feed_items_are_stored_once_at_the_time_first_seen() {
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/feed/rss091.xml");
    let server = MockServer::start().await;
    Mock::given(path("/corner.xml"))
        .respond_with(ResponseTemplate::new(200).set_body_raw(std::fs::read(&fixture).unwrap(), "application/rss+xml"))
        .mount(&server)
        .await;
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("hearsay.toml");
    std::fs::write(
        &cfg,
        format!(
            "[storage]\ndatabase = \"{0}/h.db\"\noutbox_dir = \"{0}/outbox\"\n\n\
             [[brands]]\nname = \"Acme\"\nquery = \"acme\"\n\n\
             [[sources]]\ntype = \"feed\"\nname = \"corner\"\nurls = [\"{1}/corner.xml\"]\n",
            dir.path().display(),
            server.uri()
        ),
    )
    .unwrap();
    let poll_once = || {
        let c = cfg.clone();
        async move {
            let out = tokio::task::spawn_blocking(move || {
                super::hearsay().args(["poll", "--once", "--config"]).arg(&c).output()
            })
            .await
            .unwrap()
            .unwrap();
            assert!(out.status.success(), "poll --once: {}", String::from_utf8_lossy(&out.stderr));
        }
    };
    let stored = || async {
        let s = Store::open(&dir.path().join("h.db"), Access::Existing).await.unwrap();
        let rows: Vec<(String, i64)> = sqlx::query_as(
            "SELECT m.external_id, m.created_at FROM mentions m JOIN mention_brands mb ON mb.mention_id = m.id
             ORDER BY m.external_id",
        )
        .fetch_all(&super::sqlite(s.path()).await)
        .await
        .unwrap();
        let new: Vec<i64> = sqlx::query_scalar("SELECT items_new FROM poll_log ORDER BY id")
            .fetch_all(&super::sqlite(s.path()).await)
            .await
            .unwrap();
        (rows, new)
    };

    let before = Utc::now().timestamp();
    poll_once().await;
    let after = Utc::now().timestamp();
    let (first, new) = stored().await;
    assert_eq!(first.len(), 3, "every dateless item that names Acme: {first:?}");
    assert!(first.iter().all(|(_, t)| (before..=after).contains(t)), "stored at the poll's time: {first:?}");
    assert_eq!(new, [3]);

    // A second later the same items parse with a later time; the stored rows keep the first one.
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    poll_once().await;
    let (second, new) = stored().await;
    assert_eq!(second, first, "stored once, first-seen time kept");
    assert_eq!(new, [3, 0]);

    let parsed = super::hearsay().args(["sources", "parse", "--platform", "feed"]).arg(&fixture).output().unwrap();
    assert!(parsed.status.success(), "{}", String::from_utf8_lossy(&parsed.stderr));
    let records: Vec<Value> =
        String::from_utf8(parsed.stdout).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let mut ids: Vec<&str> = records.iter().map(|r| r["external_id"].as_str().unwrap()).collect();
    ids.sort_unstable();
    assert_eq!(ids, first.iter().map(|(id, _)| id.as_str()).collect::<Vec<_>>());
    assert!(records.iter().all(|r| r["created_at"].is_string()), "{records:?}");
}

#[tokio::test]
async fn youtube_spends_no_more_than_its_daily_quota() {
    let dir = tempfile::tempdir().unwrap();
    let server = MockServer::start().await;
    let src = format!(
        "[[sources]]\ntype = \"youtube\"\nname = \"yt\"\nbase_url = \"{}\"\napi_key = \"AIzaSECRET\"\n\
         watch_videos = [\"vid1\"]\ndaily_quota = 150\n",
        server.uri()
    );
    let cfg = config(dir.path(), "", &src);
    let published = Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    Mock::given(path("/search"))
        .and(query_param("key", "AIzaSECRET"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "kind": "youtube#searchListResponse",
            "items": [{"kind": "youtube#searchResult", "id": {"kind": "youtube#video", "videoId": "v9"},
                       "snippet": {"publishedAt": published, "title": "Acme unboxing", "description": "",
                                   "channelTitle": "Reviews"}}]
        })))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(path("/commentThreads"))
        .and(query_param("videoId", "vid1"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "kind": "youtube#commentThreadListResponse",
            "items": [{"kind": "youtube#commentThread", "id": "c1", "snippet": {"videoId": "vid1",
                "topLevelComment": {"kind": "youtube#comment", "id": "c1", "snippet": {
                    "videoId": "vid1", "textDisplay": "my Acme broke", "textOriginal": "my Acme broke",
                    "authorDisplayName": "@ann", "likeCount": 2, "publishedAt": published, "updatedAt": published}},
                "totalReplyCount": 0}}]
        })))
        .expect(1)
        .mount(&server)
        .await;
    let s = store(dir.path()).await;
    let o = poll(&cfg, &s).await.remove(0);
    assert_eq!((o.new, o.error.is_none()), (2, true), "{o:?}");
    let (day, reset) = hearsay::sources::poll::youtube_quota_day(Utc::now());
    assert_eq!(s.quota_used("yt", &day).await.unwrap(), 101, "search 100 + commentThreads 1");

    // A second search would take the day to 201 > 150: nothing is requested, and the next poll waits for the reset.
    let o = poll(&cfg, &s).await.remove(0);
    assert!(o.error.is_none(), "a spent budget is not a failure: {o:?}");
    assert_eq!(s.quota_used("yt", &day).await.unwrap(), 101);
    let (wait, failures, _, _) = state(&s, "yt").await;
    assert_eq!(failures, 0);
    assert!(wait >= (reset.as_secs() as i64).max(540) - 5, "waits for the reset (and the interval): {wait}");
    server.verify().await;
}

#[tokio::test]
async fn youtube_quota_exceeded_is_a_rate_limit_not_a_credentials_error() {
    let dir = tempfile::tempdir().unwrap();
    let server = MockServer::start().await;
    let src = format!(
        "[[sources]]\ntype = \"youtube\"\nname = \"yt\"\nbase_url = \"{}\"\napi_key = \"AIzaSECRET\"\n",
        server.uri()
    );
    let cfg = config(dir.path(), "", &src);
    Mock::given(path("/search"))
        .respond_with(ResponseTemplate::new(403).set_body_json(json!({"error": {"code": 403,
            "message": "The request cannot be completed because you have exceeded your quota.",
            "errors": [{"message": "The request cannot be completed because you have exceeded your quota.",
                        "domain": "youtube.quota", "reason": "quotaExceeded"}]}})))
        .mount(&server)
        .await;
    let s = store(dir.path()).await;
    let e = poll(&cfg, &s).await.remove(0).error.expect("fails");
    assert!(matches!(e.class, ErrorClass::RateLimited { retry_after: Some(_) }), "{e:?}");
    assert!(e.message.contains("exceeded your quota") && !e.message.contains("SECRET"), "{e:?}");
    let (wait, _, degraded, _) = state(&s, "yt").await;
    let reset = hearsay::sources::poll::youtube_quota_day(Utc::now()).1.as_secs() as i64;
    assert!(!degraded && wait >= reset - 5, "waits for the quota day to end: {wait} vs {reset}");
}

#[tokio::test]
async fn reddit_gets_an_app_token_and_stops_when_its_budget_is_spent() {
    let dir = tempfile::tempdir().unwrap();
    let server = MockServer::start().await;
    let src = format!(
        "[[sources]]\ntype = \"reddit\"\nname = \"reddit\"\nbase_url = \"{0}\"\nauth_url = \"{0}/api/v1/access_token\"\n\
         client_id = \"cid\"\nclient_secret = \"csecret\"\n",
        server.uri()
    );
    let cfg = config(dir.path(), "", &src);
    Mock::given(method("POST"))
        .and(path("/api/v1/access_token"))
        .and(header("authorization", "Basic Y2lkOmNzZWNyZXQ="))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"access_token": "tok", "token_type": "bearer", "expires_in": 86400})),
        )
        .expect(1)
        .mount(&server)
        .await;
    let post = |id: &str, ago: i64| {
        json!({"kind": "t3", "data": {"name": format!("t3_{id}"), "id": id, "title": format!("Acme {id}"),
            "selftext": "", "author": "u", "subreddit": "test", "permalink": format!("/r/test/comments/{id}/x/"),
            "created_utc": Utc::now().timestamp() - ago, "score": 1, "num_comments": 0}})
    };
    Mock::given(method("GET"))
        .and(path("/search"))
        .and(header("authorization", "Bearer tok"))
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header("x-ratelimit-remaining", "0.0")
                .insert_header("x-ratelimit-used", "100")
                .insert_header("x-ratelimit-reset", "1200")
                .set_body_json(
                    json!({"kind": "Listing", "data": {"after": "t3_b", "children": [post("a", 10), post("b", 20)]}}),
                ),
        )
        .expect(1)
        .mount(&server)
        .await;
    let s = store(dir.path()).await;
    let o = poll(&cfg, &s).await.remove(0);
    assert_eq!((o.new, o.error.is_none()), (2, true), "{o:?}");
    let st = s.source_state("reddit", "Acme").await.unwrap().unwrap();
    assert!(st.next_poll_at - Utc::now().timestamp() >= 1195, "waits for the budget reset (1200 s)");
    assert_eq!(st.cursor, None, "the next page was not read, so the cursor stays");
    server.verify().await;
}

/// An X recent-search page of `posts` (id, author id, seconds ago), with the authors in `includes.users`.
fn x_page(posts: &[(&str, &str, i64)], next_token: Option<&str>) -> Value {
    let data: Vec<Value> = posts
        .iter()
        .map(|(id, author, ago)| {
            let t = (Utc::now() - chrono::Duration::seconds(*ago)).to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
            json!({"id": id, "text": format!("acme post {id}"), "author_id": author, "created_at": t, "lang": "en",
                   "edit_history_tweet_ids": [id],
                   "public_metrics": {"retweet_count": 0, "reply_count": 1, "like_count": 2, "quote_count": 0}})
        })
        .collect();
    let mut meta = json!({"result_count": posts.len(), "newest_id": posts.first().map(|p| p.0),
                          "oldest_id": posts.last().map(|p| p.0)});
    if let Some(t) = next_token {
        meta["next_token"] = json!(t);
    }
    json!({"data": data, "includes": {"users": [
        {"id": "11", "username": "ann", "name": "Ann"}, {"id": "22", "username": "bob", "name": "Bob"}]},
        "meta": meta})
}

#[tokio::test]
async fn x_pages_by_next_token_with_handles_and_waits_out_its_rate_limit() {
    let dir = tempfile::tempdir().unwrap();
    let server = MockServer::start().await;
    let src = format!(
        "[[sources]]\ntype = \"x\"\nname = \"x\"\nbase_url = \"{}\"\nbearer_token = \"XSECRET\"\nmax_results = 10\n",
        server.uri()
    );
    let cfg = config(dir.path(), "", &src);
    Mock::given(method("GET"))
        .and(path("/2/tweets/search/recent"))
        .and(header("authorization", "Bearer XSECRET"))
        .and(query_param("query", "acme -is:retweet"))
        .and(query_param("max_results", "10"))
        .and(query_param("expansions", "author_id"))
        .and(query_param_is_missing("next_token"))
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header("x-rate-limit-limit", "450")
                .insert_header("x-rate-limit-remaining", "449")
                .insert_header("x-rate-limit-reset", (Utc::now().timestamp() + 900).to_string().as_str())
                .set_body_json(x_page(&[("1002", "11", 10), ("1001", "22", 20)], Some("tok2"))),
        )
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/2/tweets/search/recent"))
        .and(query_param("next_token", "tok2"))
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header("x-rate-limit-limit", "450")
                .insert_header("x-rate-limit-remaining", "0")
                .insert_header("x-rate-limit-reset", (Utc::now().timestamp() + 900).to_string().as_str())
                .set_body_json(x_page(&[("1000", "11", 30)], Some("tok3"))),
        )
        .expect(1)
        .mount(&server)
        .await;
    let s = store(dir.path()).await;
    let o = poll(&cfg, &s).await.remove(0);
    assert_eq!((o.new, o.error.is_none()), (3, true), "{o:?}");
    assert_eq!(ids(&s).await, ["1000", "1001", "1002"]);
    let rows: Vec<(String, String)> =
        sqlx::query_as("SELECT author, url FROM mentions WHERE platform = 'x' ORDER BY external_id")
            .fetch_all(&super::sqlite(s.path()).await)
            .await
            .unwrap();
    assert_eq!(rows[0], ("@ann".to_string(), "https://x.com/ann/status/1000".to_string()));
    assert_eq!(rows[1], ("@bob".to_string(), "https://x.com/bob/status/1001".to_string()));
    let (wait, failures, degraded, _) = state(&s, "x").await;
    assert!(wait >= 890 && failures == 0 && !degraded, "waits for x-rate-limit-reset: {wait}");
    server.verify().await;
}

#[tokio::test]
async fn x_stops_before_its_monthly_post_cap() {
    let dir = tempfile::tempdir().unwrap();
    let server = MockServer::start().await;
    let src = format!(
        "[[sources]]\ntype = \"x\"\nname = \"x\"\nbase_url = \"{}\"\nbearer_token = \"XSECRET\"\n\
         max_results = 10\nmonthly_cap = 11\n",
        server.uri()
    );
    let cfg = config(dir.path(), "", &src);
    Mock::given(path("/2/tweets/search/recent"))
        .and(query_param_is_missing("next_token"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(x_page(&[("2002", "11", 10), ("2001", "22", 20)], Some("more"))),
        )
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(path("/2/tweets/search/recent"))
        .and(query_param("next_token", "more"))
        .respond_with(ResponseTemplate::new(200).set_body_json(x_page(&[("2000", "11", 30)], None)))
        .expect(0)
        .mount(&server)
        .await;
    let s = store(dir.path()).await;
    let o = poll(&cfg, &s).await.remove(0);
    assert_eq!((o.new, o.error.is_none()), (2, true), "{o:?}");
    let (month, reset) = hearsay::sources::poll::x_cap_month(Utc::now());
    // Page one reserved 10 and gave back the 8 it did not return; page two would take 2 + 10 past 11.
    assert_eq!(s.quota_used("x", &month).await.unwrap(), 2);
    let (wait, failures, _, _) = state(&s, "x").await;
    assert_eq!(failures, 0);
    assert!(wait >= (reset.as_secs() as i64).max(540) - 5, "waits for the next month: {wait}");
    server.verify().await;
}

/// (source name, platform, fixture, mock path, content type, brand query, extra source keys, all records kept)
type RealCase =
    (&'static str, &'static str, &'static str, &'static str, &'static str, &'static str, &'static str, bool);

/// Every platform's real sample from `../shared/fixtures`, served by the mock at the path hearsay asks for, polled
/// by the real binary (`hearsay poll --once`: fetch, parse, match, store, classify). Each source keeps only
/// records that `hearsay sources parse` finds in the same payload, at least one, and all of them where the
/// results are the brand's own (App Store reviews, comments of a watched video).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn real_payloads_are_polled_stored_and_classified_by_poll_once() {
    let shared = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/fixtures");
    if !shared.is_dir() {
        eprintln!("skipping: ../shared/fixtures absent ({})", shared.display());
        return;
    }
    let cases: &[RealCase] = &[
        (
            "hn",
            "hackernews",
            "hackernews/search_by_date_nodejs_2017.json",
            "/hn/api/v1/search_by_date",
            "application/json",
            "nodejs OR node*",
            "base_url = \"{u}/hn\"",
            false,
        ),
        (
            "reddit",
            "reddit",
            "reddit/search_listing_2023.json",
            "/rd/search",
            "application/json",
            "pop",
            "base_url = \"{u}/rd\"\nauth_url = \"{u}/rd/token\"\nclient_id = \"c\"\nclient_secret = \"s\"",
            false,
        ),
        (
            "gh",
            "github",
            "github/search_issues_compile_cpp.json",
            "/gh/search/issues",
            "application/json",
            "compil*",
            "base_url = \"{u}/gh\"",
            false,
        ),
        (
            "bsky",
            "bluesky",
            "bluesky/search_posts_redistricting_2023.json",
            "/bs/xrpc/app.bsky.feed.searchPosts",
            "application/json",
            "redistricting",
            "service = \"{u}/bs\"\nhandle = \"h.test\"\napp_password = \"p\"",
            false,
        ),
        (
            "alerts",
            "feed",
            "google_alerts/google_alerts_atom.xml",
            "/alerts.xml",
            "application/atom+xml",
            "slack",
            "urls = [\"{u}/alerts.xml\"]",
            false,
        ),
        (
            "news",
            "feed",
            "feeds/nbc_newyork_news_rss2.xml",
            "/nbc.xml",
            "application/rss+xml",
            "nyc",
            "urls = [\"{u}/nbc.xml\"]",
            false,
        ),
        (
            "as",
            "appstore",
            "appstore/customerreviews_jp_reality_app.json",
            "/as/jp/rss/customerreviews/page=1/id=1404176564/sortby=mostrecent/json",
            "application/json",
            "reality",
            "base_url = \"{u}/as\"\napp_ids = [\"1404176564\"]\ncountries = [\"jp\"]\npages = 1",
            true,
        ),
        (
            "yt",
            "youtube",
            "youtube/comment_threads_by_video.json",
            "/yt/commentThreads",
            "application/json",
            "nothing_matches_this",
            "base_url = \"{u}/yt\"\napi_key = \"k\"\nwatch_videos = [\"F1UP7wRCPH8\"]",
            true,
        ),
        (
            "md",
            "mastodon",
            "mastodon/public_timeline_statuses.json",
            "/md/api/v1/timelines/tag/tv",
            "application/json",
            "television OR toot",
            "instances = [\"{u}/md\"]\nsearch = false\nhashtags = [\"tv\"]",
            false,
        ),
        (
            "lm",
            "lemmy",
            "lemmy/post_list_all_hot_v3_2023.json",
            "/lm/api/v3/search",
            "application/json",
            "suvs OR lemmy",
            "instances = [\"{u}/lm\"]",
            false,
        ),
        (
            "se",
            "stackexchange",
            "stackexchange/questions_sort_votes_2018.json",
            "/se/2.3/search/excerpts",
            "application/json",
            "git OR array",
            "base_url = \"{u}/se\"",
            false,
        ),
    ];
    let server = MockServer::start().await;
    let u = server.uri();
    Mock::given(method("POST"))
        .and(path("/rd/token"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"access_token": "t", "expires_in": 3600})))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/bs/xrpc/com.atproto.server.createSession"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"accessJwt": "a", "refreshJwt": "r", "handle": "h.test", "did": "did:plc:test"})),
        )
        .mount(&server)
        .await;
    Mock::given(path("/yt/search"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!({"kind": "youtube#searchListResponse", "items": []})),
        )
        .mount(&server)
        .await;
    let dir = tempfile::tempdir().unwrap();
    let mut toml = format!(
        "[storage]\ndatabase = \"{0}/h.db\"\noutbox_dir = \"{0}/outbox\"\n\n[polling]\nmax_pages = 2\n\n",
        dir.path().display()
    );
    for (name, platform, fixture, mock_path, ctype, query, extra, _) in cases {
        let body = std::fs::read(shared.join(fixture)).unwrap();
        Mock::given(method("GET"))
            .and(path(*mock_path))
            .respond_with(ResponseTemplate::new(200).set_body_raw(body, ctype))
            .mount(&server)
            .await;
        toml += &format!(
            "[[brands]]\nname = \"B-{name}\"\nquery = '{query}'\n\n[[sources]]\ntype = \"{platform}\"\nname = \"{name}\"\n\
             brands = [\"B-{name}\"]\n{}\n\n",
            extra.replace("{u}", &u)
        );
    }
    let cfg = dir.path().join("hearsay.toml");
    std::fs::write(&cfg, &toml).unwrap();
    let c = cfg.clone();
    let out =
        tokio::task::spawn_blocking(move || super::hearsay().args(["poll", "--once", "--config"]).arg(&c).output())
            .await
            .unwrap()
            .unwrap();
    assert!(out.status.success(), "poll --once: {}", String::from_utf8_lossy(&out.stderr));

    let s = Store::open(&dir.path().join("h.db"), Access::Existing).await.unwrap();
    for (name, platform, fixture, _, _, _, _, all_kept) in cases {
        let parsed = super::hearsay()
            .args(["sources", "parse", "--platform", platform])
            .arg(shared.join(fixture))
            .output()
            .unwrap();
        assert!(parsed.status.success(), "{fixture}");
        let parsed: Vec<String> = String::from_utf8(parsed.stdout)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str::<Value>(l).unwrap()["external_id"].as_str().unwrap().to_string())
            .collect();
        let stored: Vec<String> = sqlx::query_scalar(
            "SELECT m.external_id FROM mentions m JOIN mention_brands mb ON mb.mention_id = m.id
             JOIN brands b ON b.id = mb.brand_id WHERE b.name = ?1",
        )
        .bind(format!("B-{name}"))
        .fetch_all(&super::sqlite(s.path()).await)
        .await
        .unwrap();
        assert!(!stored.is_empty(), "{name}: nothing stored from {fixture}");
        assert!(stored.iter().all(|id| parsed.contains(id)), "{name}: stored {stored:?} not all in {parsed:?}");
        if *all_kept {
            assert_eq!(stored.len(), parsed.len(), "{name}: every record of the brand's own feed is kept");
        }
        eprintln!("{name:<8} {:>3} parsed, {:>3} stored", parsed.len(), stored.len());
    }
    let unclassified: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM mentions m WHERE NOT EXISTS (SELECT 1 FROM sentiment s WHERE s.mention_id = m.id)",
    )
    .fetch_one(&super::sqlite(s.path()).await)
    .await
    .unwrap();
    assert_eq!(unclassified, 0, "poll --once classifies what it stored");
    let errors: Vec<(String, String)> =
        sqlx::query_as("SELECT source, coalesce(error, '') FROM poll_log WHERE status = 'error'")
            .fetch_all(&super::sqlite(s.path()).await)
            .await
            .unwrap();
    assert!(errors.is_empty(), "{errors:?}");
}

/// `sources check` and `sources status`, as data (`Poller::check`, `poll::status`) and as the commands print
/// them: one source that answers, one whose payload is not understood.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sources_check_and_status_report_every_source() {
    let dir = tempfile::tempdir().unwrap();
    let server = MockServer::start().await;
    let srcs = format!("{}\n{}", hn_source("hn", &server.uri()), hn_source("broken", &format!("{}/b", server.uri())));
    let cfg = config(dir.path(), "", &srcs);
    Mock::given(path("/api/v1/search_by_date"))
        .respond_with(hn_page(vec![hn_hit("2", 100, "Acme two"), hn_hit("1", 200, "not about us")], 0, 1))
        .mount(&server)
        .await;
    Mock::given(path("/b/api/v1/search_by_date"))
        .respond_with(ResponseTemplate::new(200).set_body_raw(&b"<html>Just a moment...</html>"[..], "text/html"))
        .mount(&server)
        .await;

    let report = Poller::new(&cfg).unwrap().check(None).await.expect("a brand is configured");
    assert_eq!(report.brand, "Acme");
    let names: Vec<&str> = report.sources.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["hn", "broken"], "every source, in config order");
    let (_, hn) = &report.sources[0];
    assert!(matches!(hn, CheckOutcome::Parsed { items: 2, matching: 1, newest: Some(_) }), "{hn:?}");
    let (_, broken) = &report.sources[1];
    assert!(matches!(broken, CheckOutcome::Failed(e) if e.class == ErrorClass::BadPayload), "{broken:?}");
    let only = Poller::new(&cfg).unwrap().check(Some("broken")).await.unwrap();
    assert_eq!(only.sources.len(), 1);
    assert!(!dir.path().join("h.db").exists(), "check stores nothing");

    let toml = dir.path().join("hearsay.toml");
    let out = super::hearsay().arg("--config").arg(&toml).args(["sources", "check"]).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "a failed source fails the command: {stdout}");
    assert!(stdout.contains("ok: 2 items (1 match Acme)"), "{stdout}");
    assert!(stdout.contains("FAILED (bad_payload)"), "{stdout}");

    let s = store(dir.path()).await;
    poll(&cfg, &s).await;
    let rows = poll::status(&s).await.unwrap();
    let got: Vec<(&str, Health)> = rows.iter().map(|r| (r.state.source.as_str(), r.health)).collect();
    assert_eq!(got, [("broken", Health::Failing), ("hn", Health::Healthy)], "by source name");
    assert!((rows[1].items_per_day - 1.0 / 7.0).abs() < 1e-9, "one new item over the week: {}", rows[1].items_per_day);
    s.close().await;

    let out = super::hearsay().arg("--db").arg(dir.path().join("h.db")).args(["sources", "status"]).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    let line = |name: &str| stdout.lines().find(|l| l.starts_with(name)).unwrap_or_else(|| panic!("{name}: {stdout}"));
    assert!(line("broken ").contains(" failing "), "{stdout}");
    assert!(line("hn ").contains(" ok "), "{stdout}");
}

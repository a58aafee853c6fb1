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
use wiremock::matchers::{
    header, header_exists, method, path, query_param, query_param_contains, query_param_is_missing,
};
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

#[tokio::test]
async fn x_errors_say_what_x_said_and_a_refused_token_degrades_the_source() {
    let dir = tempfile::tempdir().unwrap();
    let server = MockServer::start().await;
    let src = format!(
        "[[sources]]\ntype = \"x\"\nname = \"x\"\nbase_url = \"{}\"\nbearer_token = \"XSECRET\"\n",
        server.uri()
    );
    let cfg = config(dir.path(), "", &src);
    // An invalid query: X explains it in `errors[0].message`.
    Mock::given(path("/2/tweets/search/recent"))
        .respond_with(ResponseTemplate::new(400).set_body_json(json!({
            "errors": [{"parameters": {"query": ["acme -is:retweet"]},
                        "message": "There were errors processing your request: Reference to invalid operator 'is:retweet'"}],
            "title": "Invalid Request", "detail": "One or more parameters to your request was invalid.",
            "type": "https://api.twitter.com/2/problems/invalid-request"})))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    let s = store(dir.path()).await;
    let e = poll(&cfg, &s).await.remove(0).error.expect("fails");
    assert_eq!((e.class.clone(), e.http_status), (ErrorClass::Transient, Some(400)), "{e:?}");
    assert!(
        e.message
            .contains("the platform says: There were errors processing your request: Reference to invalid operator"),
        "{e:?}"
    );
    // A revoked bearer token: v2 answers with a problem (`title`, `detail`).
    Mock::given(path("/2/tweets/search/recent"))
        .respond_with(ResponseTemplate::new(401).set_body_raw(
            r#"{"title":"Unauthorized","type":"about:blank","status":401,"detail":"Unauthorized"}"#,
            "application/problem+json",
        ))
        .mount(&server)
        .await;
    let e = poll(&cfg, &s).await.remove(0).error.expect("fails");
    assert_eq!((e.class.clone(), e.http_status), (ErrorClass::Config, Some(401)), "{e:?}");
    assert!(
        e.message.contains("credentials missing, wrong or lacking permission (the platform says: Unauthorized)"),
        "{e:?}"
    );
    assert!(!e.message.contains("XSECRET"), "{e:?}");
    let (_, _, degraded, last_error) = state(&s, "x").await;
    assert!(degraded, "a refused credential degrades the source at once");
    assert_eq!(last_error.as_deref(), Some(e.message.as_str()));
}

#[tokio::test]
async fn x_sources_check_makes_one_real_request() {
    let dir = tempfile::tempdir().unwrap();
    let server = MockServer::start().await;
    let src = format!(
        "[[sources]]\ntype = \"x\"\nname = \"x\"\nbase_url = \"{0}\"\nbearer_token = \"XSECRET\"\nmax_results = 10\n\n\
         [[sources]]\ntype = \"x\"\nname = \"x-revoked\"\nbase_url = \"{0}/revoked\"\nbearer_token = \"OLD\"\n",
        server.uri()
    );
    let cfg = config(dir.path(), "", &src);
    let mut page = x_page(&[("3002", "11", 10), ("3001", "22", 20)], Some("more"));
    page["data"][1]["text"] = json!("nothing to see");
    Mock::given(path("/2/tweets/search/recent"))
        .and(header("authorization", "Bearer XSECRET"))
        .and(query_param("query", "acme -is:retweet"))
        .respond_with(ResponseTemplate::new(200).set_body_json(page))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(path("/revoked/2/tweets/search/recent"))
        .respond_with(
            ResponseTemplate::new(401)
                .set_body_json(json!({"title": "Unauthorized", "detail": "Unauthorized", "status": 401})),
        )
        .expect(1)
        .mount(&server)
        .await;
    let report = Poller::new(&cfg).unwrap().check(None).await.unwrap();
    let (_, x) = &report.sources[0];
    assert!(
        matches!(x, CheckOutcome::Parsed { items: 2, matching: 1, newest: Some(_) }),
        "one page, nothing more: {x:?}"
    );
    let (_, revoked) = &report.sources[1];
    assert!(
        matches!(revoked, CheckOutcome::Failed(e) if e.class == ErrorClass::Config && e.message.contains("the platform says: Unauthorized")),
        "{revoked:?}"
    );
    assert!(!dir.path().join("h.db").exists(), "check stores nothing");
    server.verify().await;
}

/// The test service account's key file: a throwaway key (see its `_comment`).
fn test_key_file() -> String {
    format!("{}/tests/support/test-service-account.json", env!("CARGO_MANIFEST_DIR"))
}

/// A `googleplay` source for `com.acme.app` whose API and token endpoint are the mock.
fn googleplay_source(server: &str) -> String {
    format!(
        "[[sources]]\ntype = \"googleplay\"\nname = \"gp\"\nbase_url = \"{server}\"\ntoken_uri = \"{server}/token\"\n\
         package_names = [\"com.acme.app\"]\nservice_account_key_file = \"{}\"\n",
        test_key_file()
    )
}

const PLAY_REVIEWS: &str = "/androidpublisher/v3/applications/com.acme.app/reviews";

/// A `reviews.list` page of (review id, seconds ago, stars, text), with `next` as its page token.
fn play_page(reviews: &[(&str, i64, u8, &str)], next: Option<&str>) -> ResponseTemplate {
    let reviews: Vec<Value> = reviews
        .iter()
        .map(|(id, ago, stars, text)| {
            json!({"reviewId": id, "authorName": format!("author of {id}"), "comments": [{"userComment": {
                "text": text, "lastModified": {"seconds": (Utc::now().timestamp() - ago).to_string(), "nanos": 0},
                "starRating": stars, "reviewerLanguage": "en", "thumbsUpCount": 1}}]})
        })
        .collect();
    let mut body = json!({"reviews": reviews, "pageInfo": {"resultPerPage": 100}});
    if let Some(t) = next {
        body["tokenPagination"] = json!({"nextPageToken": t});
    }
    ResponseTemplate::new(200).set_body_json(body)
}

fn token(access_token: &str) -> ResponseTemplate {
    ResponseTemplate::new(200)
        .set_body_json(json!({"access_token": access_token, "expires_in": 3599, "token_type": "Bearer"}))
}

/// The RSA public key of the test service account, as ring verifies with it.
fn test_public_key() -> Vec<u8> {
    use base64::Engine as _;
    let key: Value = serde_json::from_str(&std::fs::read_to_string(test_key_file()).unwrap()).unwrap();
    let b64: String = key["private_key"].as_str().unwrap().lines().filter(|l| !l.starts_with("-----")).collect();
    let der = base64::engine::general_purpose::STANDARD.decode(b64).unwrap();
    ring::signature::RsaKeyPair::from_pkcs8(&der).unwrap().public().as_ref().to_vec()
}

/// Whether a token request is the JWT bearer grant of the test service account for the Play Developer API, as
/// Google documents it: a form with the grant type and an RS256 JWT that the account's key signed, with `iss`,
/// `scope`, `aud` (the token endpoint), `iat` now and `exp` an hour later.
fn is_play_jwt_grant(req: &wiremock::Request, aud: &str, public_key: &[u8]) -> bool {
    use base64::Engine as _;
    let form: std::collections::HashMap<String, String> = url::form_urlencoded::parse(&req.body).into_owned().collect();
    let content_type = req.headers.get("content-type").and_then(|v| v.to_str().ok()).unwrap_or_default();
    if content_type != "application/x-www-form-urlencoded"
        || form.get("grant_type").map(String::as_str) != Some("urn:ietf:params:oauth:grant-type:jwt-bearer")
    {
        return false;
    }
    let Some(jwt) = form.get("assertion") else { return false };
    let parts: Vec<&str> = jwt.split('.').collect();
    let decode = |p: &str| base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(p).unwrap_or_default();
    let [header, claims, signature] = parts[..] else { return false };
    let header: Value = serde_json::from_slice(&decode(header)).unwrap_or_default();
    let claims: Value = serde_json::from_slice(&decode(claims)).unwrap_or_default();
    let signed = ring::signature::UnparsedPublicKey::new(&ring::signature::RSA_PKCS1_2048_8192_SHA256, public_key)
        .verify(format!("{}.{}", parts[0], parts[1]).as_bytes(), &decode(signature))
        .is_ok();
    let iat = claims["iat"].as_i64().unwrap_or_default();
    signed
        && header == json!({"alg": "RS256", "typ": "JWT", "kid": "hearsay-test-key-1"})
        && claims["iss"] == "hearsay-test@hearsay-test.iam.gserviceaccount.com"
        && claims["scope"] == "https://www.googleapis.com/auth/androidpublisher"
        && claims["aud"] == aud
        && (iat - Utc::now().timestamp()).abs() < 60
        && claims["exp"].as_i64() == Some(iat + 3600)
}

#[tokio::test]
async fn googleplay_signs_a_jwt_grant_pages_to_the_cursor_and_keeps_every_review() {
    let dir = tempfile::tempdir().unwrap();
    let server = MockServer::start().await;
    let cfg = config(dir.path(), "", &googleplay_source(&server.uri()));
    let aud = format!("{}/token", server.uri());
    let public_key = test_public_key();
    let grant = move |aud: String, key: Vec<u8>| move |r: &wiremock::Request| is_play_jwt_grant(r, &aud, &key);
    Mock::given(method("POST"))
        .and(path("/token"))
        .and(grant(aud.clone(), public_key.clone()))
        .respond_with(token("ya29.one"))
        .expect(1)
        .named("JWT bearer grant")
        .mount(&server)
        .await;
    // Anything else posted there is refused as Google would, so a wrong request shape fails loudly.
    Mock::given(method("POST"))
        .and(path("/token"))
        .respond_with(
            ResponseTemplate::new(400)
                .set_body_json(json!({"error": "invalid_grant", "error_description": "Invalid JWT Signature."})),
        )
        .with_priority(10)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(PLAY_REVIEWS))
        .and(header("authorization", "Bearer ya29.one"))
        .and(query_param("maxResults", "100"))
        .and(query_param_is_missing("token"))
        .respond_with(play_page(&[("gp:3", 1000, 1, "Crashes on start"), ("gp:2", 2000, 5, "Love it")], Some("p2")))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(PLAY_REVIEWS))
        .and(header("authorization", "Bearer ya29.one"))
        .and(query_param("token", "p2"))
        .respond_with(play_page(&[("gp:1", 3000, 2, "Slow sync")], None))
        .expect(1)
        .mount(&server)
        .await;
    let s = store(dir.path()).await;
    let o = poll(&cfg, &s).await.remove(0);
    assert_eq!((o.seen, o.new, o.error.is_none()), (3, 3, true), "{o:?}");
    let rows: Vec<(String, i64, String)> = sqlx::query_as(
        "SELECT external_id, rating, url FROM mentions WHERE platform = 'googleplay' ORDER BY external_id",
    )
    .fetch_all(&super::sqlite(s.path()).await)
    .await
    .unwrap();
    assert_eq!(rows[0].0, "gp:1");
    assert_eq!(rows.iter().map(|r| r.1).collect::<Vec<_>>(), [2, 5, 1], "star ratings kept");
    assert_eq!(rows[2].2, "https://play.google.com/store/apps/details?id=com.acme.app&reviewId=gp%3A3");
    let cursor: i64 = s.source_state("gp", "Acme").await.unwrap().unwrap().cursor.unwrap().parse().unwrap();
    assert!((cursor - (Utc::now().timestamp() - 1000)).abs() <= 2, "the newest review is the cursor");
    server.verify().await;

    // The next poll reads back to the cursor (minus the overlap) and no further.
    server.reset().await;
    Mock::given(method("POST"))
        .and(path("/token"))
        .and(grant(aud, public_key))
        .respond_with(token("ya29.two"))
        .mount(&server)
        .await;
    Mock::given(path(PLAY_REVIEWS))
        .and(query_param_is_missing("token"))
        .respond_with(play_page(
            &[("gp:4", 10, 3, "New"), ("gp:3", 1000, 1, "Crashes on start"), ("gp:2", 2000, 5, "Love it")],
            Some("p2"),
        ))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(path(PLAY_REVIEWS))
        .and(query_param("token", "p2"))
        .respond_with(play_page(&[], None))
        .expect(0)
        .mount(&server)
        .await;
    let o = poll(&cfg, &s).await.remove(0);
    assert_eq!((o.new, o.error.is_none()), (1, true), "{o:?}");
    assert_eq!(ids(&s).await, ["gp:1", "gp:2", "gp:3", "gp:4"]);
    server.verify().await;
}

#[tokio::test]
async fn googleplay_waits_out_its_rate_limit() {
    let dir = tempfile::tempdir().unwrap();
    let server = MockServer::start().await;
    let cfg = config(dir.path(), "", &googleplay_source(&server.uri()));
    Mock::given(method("POST")).and(path("/token")).respond_with(token("ya29.one")).mount(&server).await;
    Mock::given(path(PLAY_REVIEWS))
        .respond_with(ResponseTemplate::new(429).insert_header("retry-after", "1800").set_body_json(json!({"error": {
            "code": 429, "message": "Quota exceeded for quota metric 'Queries' of service 'androidpublisher.googleapis.com'",
            "status": "RESOURCE_EXHAUSTED"}})))
        .mount(&server)
        .await;
    let s = store(dir.path()).await;
    let e = poll(&cfg, &s).await.remove(0).error.expect("fails");
    assert!(matches!(e.class, ErrorClass::RateLimited { retry_after: Some(d) } if d.as_secs() == 1800), "{e:?}");
    assert!(e.message.contains("Quota exceeded"), "{e:?}");
    let (wait, _, degraded, _) = state(&s, "gp").await;
    assert!(wait >= 1795 && !degraded, "waits as asked, not a configuration error: {wait}");
}

#[tokio::test]
async fn an_access_token_refused_mid_poll_is_renewed_and_the_request_retried_once() {
    let dir = tempfile::tempdir().unwrap();
    let server = MockServer::start().await;
    let cfg = config(dir.path(), "", &googleplay_source(&server.uri()));
    let unauthenticated = || {
        ResponseTemplate::new(401).set_body_json(json!({"error": {"code": 401,
            "message": "Request had invalid authentication credentials. Expected OAuth 2 access token.",
            "status": "UNAUTHENTICATED"}}))
    };
    // The first token is taken as valid for an hour but has expired (or was revoked) by the time it is used.
    Mock::given(method("POST"))
        .and(path("/token"))
        .respond_with(token("ya29.old"))
        .up_to_n_times(1)
        .expect(1)
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/token"))
        .respond_with(token("ya29.new"))
        .expect(1)
        .with_priority(2)
        .mount(&server)
        .await;
    Mock::given(path(PLAY_REVIEWS))
        .and(header("authorization", "Bearer ya29.old"))
        .respond_with(unauthenticated())
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(path(PLAY_REVIEWS))
        .and(header("authorization", "Bearer ya29.new"))
        .and(query_param_is_missing("token"))
        .respond_with(play_page(&[("gp:2", 100, 4, "Fine")], Some("p2")))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(path(PLAY_REVIEWS))
        .and(header("authorization", "Bearer ya29.new"))
        .and(query_param("token", "p2"))
        .respond_with(play_page(&[("gp:1", 200, 2, "Meh")], None))
        .expect(1)
        .named("the next page under the renewed token")
        .mount(&server)
        .await;
    let s = store(dir.path()).await;
    let o = poll(&cfg, &s).await.remove(0);
    assert_eq!((o.new, o.error.is_none()), (2, true), "{o:?}");
    server.verify().await;

    // A token refused again right after renewal (access revoked): one retry only, then a configuration error
    // that says what Google said and what to do.
    server.reset().await;
    Mock::given(method("POST")).and(path("/token")).respond_with(token("ya29.x")).expect(2).mount(&server).await;
    Mock::given(path(PLAY_REVIEWS)).respond_with(unauthenticated()).expect(2).mount(&server).await;
    let e = poll(&cfg, &s).await.remove(0).error.expect("fails");
    assert_eq!((e.class.clone(), e.http_status), (ErrorClass::Config, Some(401)), "{e:?}");
    assert!(e.message.contains("Request had invalid authentication credentials"), "{e:?}");
    assert!(e.message.contains("\"Reply to reviews\" permission"), "what to do: {e:?}");
    assert!(!e.message.contains("ya29"), "{e:?}");
    let (_, _, degraded, _) = state(&s, "gp").await;
    assert!(degraded);
    server.verify().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_service_account_degrades_the_source_with_googles_message_and_what_to_do() {
    let dir = tempfile::tempdir().unwrap();
    let server = MockServer::start().await;
    let cfg = config(dir.path(), "", &googleplay_source(&server.uri()));
    Mock::given(method("POST"))
        .and(path("/token"))
        .respond_with(ResponseTemplate::new(400).set_body_json(json!({"error": "invalid_grant",
            "error_description": "Invalid JWT Signature."})))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(path(PLAY_REVIEWS)).respond_with(play_page(&[], None)).expect(0).mount(&server).await;
    let s = store(dir.path()).await;
    let e = poll(&cfg, &s).await.remove(0).error.expect("fails");
    assert_eq!((e.class.clone(), e.http_status), (ErrorClass::Config, Some(400)), "{e:?}");
    assert!(e.message.starts_with("googleplay token request: HTTP 400 Bad Request: the credential was refused (invalid_grant: Invalid JWT Signature.)"), "{e:?}");
    assert!(e.message.contains("Play Console > Users and permissions"), "{e:?}");
    assert!(!e.message.contains("PRIVATE KEY") && !e.message.contains("eyJ"), "no key, no assertion: {e:?}");
    let (_, _, degraded, _) = state(&s, "gp").await;
    assert!(degraded, "a refused credential degrades the source at once (source_down)");
    server.verify().await;
    s.close().await;
    let out = super::hearsay().arg("--db").arg(dir.path().join("h.db")).args(["sources", "status"]).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("DEGRADED")
            && stdout.contains("invalid_grant: Invalid JWT Signature.")
            && stdout.contains("(config)"),
        "{stdout}"
    );

    // A 403 from the API itself (the account lacks the app's permission) says the same.
    server.reset().await;
    Mock::given(method("POST")).and(path("/token")).respond_with(token("ya29.ok")).mount(&server).await;
    Mock::given(path(PLAY_REVIEWS))
        .respond_with(ResponseTemplate::new(403).set_body_json(json!({"error": {"code": 403,
            "message": "The current user has insufficient permissions to perform the requested operation.",
            "status": "PERMISSION_DENIED"}})))
        .expect(1)
        .mount(&server)
        .await;
    let s = store(dir.path()).await;
    let e = poll(&cfg, &s).await.remove(0).error.expect("fails");
    assert_eq!((e.class.clone(), e.http_status), (ErrorClass::Config, Some(403)), "not retried: {e:?}");
    assert!(e.message.contains("insufficient permissions") && e.message.contains("\"Reply to reviews\""), "{e:?}");
    server.verify().await;
}

/// A `google_business` source for two locations of account 111, its API and token endpoint the mock.
fn google_business_source(server: &str) -> String {
    format!(
        "[[sources]]\ntype = \"google_business\"\nname = \"gb\"\nbase_url = \"{server}\"\ntoken_uri = \"{server}/token\"\n\
         account_id = \"111\"\nlocations = {{ \"22\" = \"Acme Paris Opéra\", \"33\" = \"Acme Lyon\" }}\n\
         client_id = \"cid.apps.googleusercontent.com\"\nclient_secret = \"CSECRET\"\nrefresh_token = \"1//RTOKEN\"\n"
    )
}

/// A Business Profile reviews page of (review id, seconds ago, stars, comment), with `next` as its page token.
fn business_page(reviews: &[(&str, i64, &str, &str)], next: Option<&str>) -> ResponseTemplate {
    let reviews: Vec<Value> = reviews
        .iter()
        .map(|(id, ago, stars, comment)| {
            let t = (Utc::now() - chrono::Duration::seconds(*ago)).to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
            json!({"name": format!("accounts/111/locations/x/reviews/{id}"), "reviewId": id,
                   "reviewer": {"displayName": format!("author of {id}")}, "starRating": stars, "comment": comment,
                   "createTime": t, "updateTime": t})
        })
        .collect();
    let mut body = json!({"reviews": reviews, "averageRating": 3.0, "totalReviewCount": 9});
    if let Some(t) = next {
        body["nextPageToken"] = json!(t);
    }
    ResponseTemplate::new(200).set_body_json(body)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn google_business_refreshes_its_token_pages_each_location_and_stats_split_by_location() {
    let dir = tempfile::tempdir().unwrap();
    let server = MockServer::start().await;
    let cfg = config(dir.path(), "", &google_business_source(&server.uri()));
    let refresh_grant = |r: &wiremock::Request| {
        let form: std::collections::HashMap<String, String> =
            url::form_urlencoded::parse(&r.body).into_owned().collect();
        let want = [
            ("grant_type", "refresh_token"),
            ("client_id", "cid.apps.googleusercontent.com"),
            ("client_secret", "CSECRET"),
            ("refresh_token", "1//RTOKEN"),
        ];
        form.len() == want.len() && want.iter().all(|(k, v)| form.get(*k).map(String::as_str) == Some(*v))
    };
    // The first access token turns out to be expired: refused once, renewed, and the request retried.
    Mock::given(method("POST"))
        .and(path("/token"))
        .and(refresh_grant)
        .respond_with(token("ya29.stale"))
        .up_to_n_times(1)
        .with_priority(1)
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/token"))
        .and(refresh_grant)
        .respond_with(token("ya29.fresh"))
        .with_priority(2)
        .expect(1)
        .named("one renewal serves every later request")
        .mount(&server)
        .await;
    Mock::given(header("authorization", "Bearer ya29.stale"))
        .respond_with(ResponseTemplate::new(401).set_body_json(json!({"error": {"code": 401,
            "message": "Request had invalid authentication credentials.", "status": "UNAUTHENTICATED"}})))
        .expect(1)
        .mount(&server)
        .await;
    let paris = "/v4/accounts/111/locations/22/reviews";
    Mock::given(method("GET"))
        .and(path(paris))
        .and(header("authorization", "Bearer ya29.fresh"))
        .and(query_param("pageSize", "50"))
        .and(query_param("orderBy", "updateTime desc"))
        .and(query_param_is_missing("pageToken"))
        .respond_with(business_page(&[("p3", 100, "ONE", "Rude staff"), ("p2", 200, "TWO", "Slow")], Some("next")))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(paris))
        .and(query_param("pageToken", "next"))
        .respond_with(business_page(&[("p1", 300, "FOUR", "Nice shop")], None))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/v4/accounts/111/locations/33/reviews"))
        .and(header("authorization", "Bearer ya29.fresh"))
        .respond_with(business_page(&[("l1", 150, "FIVE", "Great")], None))
        .expect(1)
        .mount(&server)
        .await;
    let s = store(dir.path()).await;
    let o = poll(&cfg, &s).await.remove(0);
    assert_eq!((o.new, o.error.is_none()), (4, true), "every review of the brand's own places is kept: {o:?}");
    let rows: Vec<(String, i64, String)> = sqlx::query_as(
        "SELECT external_id, rating, location FROM mentions WHERE platform = 'google_business' ORDER BY external_id",
    )
    .fetch_all(&super::sqlite(s.path()).await)
    .await
    .unwrap();
    let want = [
        ("l1", 5, "Acme Lyon"),
        ("p1", 4, "Acme Paris Opéra"),
        ("p2", 2, "Acme Paris Opéra"),
        ("p3", 1, "Acme Paris Opéra"),
    ];
    assert_eq!(rows, want.map(|(a, b, c)| (a.to_string(), b, c.to_string())));
    server.verify().await;
    s.close().await;

    let out = super::hearsay()
        .arg("--db")
        .arg(dir.path().join("h.db"))
        .args(["stats", "--by", "location", "--format", "json"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let stats: Value = serde_json::from_slice(&out.stdout).unwrap();
    let split: Vec<(&str, f64)> = stats
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["location"].as_str().unwrap(), r["rating"].as_f64().unwrap()))
        .collect();
    assert_eq!(split, [("Acme Paris Opéra", 7.0 / 3.0), ("Acme Lyon", 5.0)], "by count, with the average stars");
    let table =
        super::hearsay().arg("--db").arg(dir.path().join("h.db")).args(["stats", "--by", "location"]).output().unwrap();
    let table = String::from_utf8_lossy(&table.stdout);
    assert!(table.lines().any(|l| l.starts_with("Acme Paris Opéra") && l.ends_with("2.33")), "{table}");
}

#[tokio::test]
async fn a_revoked_refresh_token_degrades_google_business_with_what_to_do() {
    let dir = tempfile::tempdir().unwrap();
    let server = MockServer::start().await;
    let cfg = config(dir.path(), "", &google_business_source(&server.uri()));
    Mock::given(method("POST"))
        .and(path("/token"))
        .respond_with(ResponseTemplate::new(400).set_body_json(json!({"error": "invalid_grant",
            "error_description": "Token has been expired or revoked."})))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET")).respond_with(business_page(&[], None)).expect(0).mount(&server).await;
    let s = store(dir.path()).await;
    let e = poll(&cfg, &s).await.remove(0).error.expect("fails");
    assert_eq!((e.class.clone(), e.http_status), (ErrorClass::Config, Some(400)), "{e:?}");
    assert!(e.message.contains("(invalid_grant: Token has been expired or revoked.)"), "{e:?}");
    assert!(e.message.contains("https://www.googleapis.com/auth/business.manage"), "which scope: {e:?}");
    assert!(!e.message.contains("RTOKEN") && !e.message.contains("CSECRET"), "{e:?}");
    let (wait, _, degraded, last_error) = state(&s, "gb").await;
    assert!(degraded && wait > 0, "degraded at once (source_down), backing off");
    assert_eq!(last_error.as_deref(), Some(e.message.as_str()));
    server.verify().await;
}

/// Every configuration error of a source says once what its platform needs (`sources::advice`), whichever way
/// it came: a 404 for a location that is not the account's, in a poll and in `sources check`, and a refused
/// refresh token.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_config_error_of_a_google_source_says_once_what_it_needs() {
    let dir = tempfile::tempdir().unwrap();
    let server = MockServer::start().await;
    let cfg = config(dir.path(), "", &google_business_source(&server.uri()));
    let what_to_do = "https://www.googleapis.com/auth/business.manage";
    Mock::given(method("POST")).and(path("/token")).respond_with(token("ya29.ok")).mount(&server).await;
    Mock::given(method("GET"))
        .and(path("/v4/accounts/111/locations/22/reviews"))
        .respond_with(ResponseTemplate::new(404).set_body_json(json!({"error": {"code": 404,
            "message": "Requested entity was not found.", "status": "NOT_FOUND"}})))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/v4/accounts/111/locations/33/reviews"))
        .respond_with(business_page(&[], None))
        .mount(&server)
        .await;
    let s = store(dir.path()).await;
    let e = poll(&cfg, &s).await.remove(0).error.expect("fails");
    assert_eq!((e.class.clone(), e.http_status), (ErrorClass::Config, Some(404)), "{e:?}");
    assert!(e.message.contains("Requested entity was not found."), "{e:?}");
    assert_eq!(e.message.matches(what_to_do).count(), 1, "what to do, once: {e:?}");

    let report = Poller::new(&cfg).unwrap().check(Some("gb")).await.unwrap();
    let CheckOutcome::Failed(e) = &report.sources[0].1 else { panic!("{report:?}") };
    assert_eq!(e.http_status, Some(404), "{e:?}");
    assert_eq!(e.message.matches(what_to_do).count(), 1, "`sources check` says it too: {e:?}");

    server.reset().await;
    Mock::given(method("POST"))
        .and(path("/token"))
        .respond_with(ResponseTemplate::new(400).set_body_json(json!({"error": "invalid_grant",
            "error_description": "Token has been expired or revoked."})))
        .mount(&server)
        .await;
    let e = poll(&cfg, &s).await.remove(0).error.expect("fails");
    assert!(e.message.contains("invalid_grant"), "{e:?}");
    assert_eq!(e.message.matches(what_to_do).count(), 1, "{e:?}");
    let report = Poller::new(&cfg).unwrap().check(Some("gb")).await.unwrap();
    let CheckOutcome::Failed(e) = &report.sources[0].1 else { panic!("{report:?}") };
    assert_eq!(e.message.matches(what_to_do).count(), 1, "{e:?}");
}

/// Two sources' token requests are made side by side: each endpoint takes 1.5 s to answer, and both sources'
/// polls are done well before the 3 s that one request after the other would take.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_sources_token_request_does_not_hold_up_anothers() {
    let dir = tempfile::tempdir().unwrap();
    let server = MockServer::start().await;
    let source = |n: &str| {
        googleplay_source(&server.uri())
            .replace("name = \"gp\"", &format!("name = \"gp{n}\""))
            .replace("/token\"", &format!("/token{n}\""))
    };
    let cfg = config(dir.path(), "", &format!("{}\n{}", source("1"), source("2")));
    let delay = std::time::Duration::from_millis(1500);
    for n in ["1", "2"] {
        Mock::given(method("POST"))
            .and(path(format!("/token{n}")))
            .respond_with(token(&format!("ya29.{n}")).set_delay(delay))
            .expect(1)
            .mount(&server)
            .await;
    }
    Mock::given(path(PLAY_REVIEWS)).respond_with(play_page(&[("gp:1", 100, 4, "Fine")], None)).mount(&server).await;
    let s = store(dir.path()).await;
    let start = std::time::Instant::now();
    let outcomes = poll(&cfg, &s).await;
    let took = start.elapsed();
    for name in ["gp1", "gp2"] {
        assert!(outcome(&outcomes, name).error.is_none(), "{outcomes:?}");
    }
    assert!(took < std::time::Duration::from_millis(2500), "the token requests waited on each other: {took:?}");
    server.verify().await;
}

/// A Business Profile review with stars and no comment is labelled by its stars (1–2 negative, 3 neutral, 4–5
/// positive), not queued for the model, which could only call its empty text neutral; one with a comment is
/// queued as ever.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_google_business_rating_without_a_comment_is_labelled_by_its_stars() {
    let dir = tempfile::tempdir().unwrap();
    let server = MockServer::start().await;
    let cfg = config(dir.path(), "", &google_business_source(&server.uri()));
    Mock::given(method("POST")).and(path("/token")).respond_with(token("ya29.ok")).mount(&server).await;
    let t = Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    // As reviews.list documents it: a rating without words has no `comment` at all.
    let review = |id: &str, stars: &str| {
        json!({"name": format!("accounts/111/locations/22/reviews/{id}"), "reviewId": id,
               "reviewer": {"displayName": "A customer", "isAnonymous": false}, "starRating": stars,
               "createTime": t, "updateTime": t})
    };
    let mut worded = review("worded", "ONE");
    worded["comment"] = json!("The staff were rude and the order was wrong.");
    let body = json!({"reviews": [review("one", "ONE"), review("two", "TWO"), review("three", "THREE"),
        review("five", "FIVE"), review("unrated", "STAR_RATING_UNSPECIFIED"), worded],
        "averageRating": 2.4, "totalReviewCount": 6});
    Mock::given(method("GET"))
        .and(path("/v4/accounts/111/locations/22/reviews"))
        .respond_with(ResponseTemplate::new(200).set_body_json(body))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/v4/accounts/111/locations/33/reviews"))
        .respond_with(business_page(&[], None))
        .mount(&server)
        .await;
    let s = store(dir.path()).await;
    let o = poll(&cfg, &s).await.remove(0);
    assert_eq!((o.new, o.error.is_none()), (6, true), "{o:?}");
    let rows: Vec<(String, Option<String>, Option<String>, bool)> = sqlx::query_as(
        "SELECT m.external_id, s.label, s.model_version, EXISTS (SELECT 1 FROM classify_queue q WHERE q.mention_id = m.id)
         FROM mentions m LEFT JOIN sentiment s ON s.mention_id = m.id ORDER BY m.external_id",
    )
    .fetch_all(&super::sqlite(s.path()).await)
    .await
    .unwrap();
    let stars = |l: &str| (Some(l.to_string()), Some("stars".to_string()), false);
    let queued = (None, None, true);
    let want = [
        ("five", stars("positive")),
        ("one", stars("negative")),
        ("three", stars("neutral")),
        ("two", stars("negative")),
        ("unrated", queued.clone()),
        ("worded", queued.clone()),
    ];
    let want: Vec<_> = want.into_iter().map(|(id, (l, v, q))| (id.to_string(), l, v, q)).collect();
    assert_eq!(rows, want);
    let labels: Vec<(String, Option<String>)> = sqlx::query_as(
        "SELECT m.external_id, mb.label FROM mention_brands mb JOIN mentions m ON m.id = mb.mention_id
         WHERE m.external_id IN ('one', 'five') ORDER BY m.external_id",
    )
    .fetch_all(&super::sqlite(s.path()).await)
    .await
    .unwrap();
    assert_eq!(
        labels,
        [("five".to_string(), Some("positive".to_string())), ("one".to_string(), Some("negative".to_string()))],
        "the brand's counts see the label at once"
    );
    // `hearsay reclassify` queues history for a new model, but not what the stars said: a model would only
    // call an empty text neutral.
    s.queue_reclassify(None).await.unwrap();
    let queued: Vec<String> = sqlx::query_scalar(
        "SELECT m.external_id FROM classify_queue q JOIN mentions m ON m.id = q.mention_id ORDER BY 1",
    )
    .fetch_all(&super::sqlite(s.path()).await)
    .await
    .unwrap();
    assert_eq!(queued, ["unrated", "worded"]);
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
            "x",
            "x",
            "x/search_recent_science_expansions_2020.json",
            "/x/2/tweets/search/recent",
            "application/json",
            "science",
            "base_url = \"{u}/x\"\nbearer_token = \"t\"",
            false,
        ),
        // play.google.com's batchexecute reply, served where the Developer API is asked: the parser tells them
        // apart by content.
        (
            "gp",
            "googleplay",
            "googleplay/batchexecute_reviews_twitter_relevant_2021.json",
            "/gp/androidpublisher/v3/applications/com.twitter.android/reviews",
            "application/json; charset=utf-8",
            "nothing_matches_this",
            "base_url = \"{u}/gp\"\ntoken_uri = \"{u}/gp/token\"\npackage_names = [\"com.twitter.android\"]\n\
             service_account_key_file = \"{repo}/tests/support/test-service-account.json\"",
            true,
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
        // The comments of a watched page post and of a watched media object: the brand's own, kept without a match.
        (
            "fb",
            "facebook_page",
            "facebook_page/post_comments_spurs_summary_2014.json",
            "/fb/v25.0/25781101980_10152312644461981/comments",
            "application/json",
            "nothing_matches_this",
            "base_url = \"{u}/fb\"\npage_id = \"25781101980\"\naccess_token = \"t\"\n\
             watch_posts = [\"25781101980_10152312644461981\"]",
            true,
        ),
        (
            "ig",
            "instagram",
            "instagram/media_comments_page1.json",
            "/ig/v25.0/17846368219941692/comments",
            "application/json",
            "nothing_matches_this",
            "base_url = \"{u}/ig\"\nuser_id = \"17841400000000000\"\naccess_token = \"t\"\n\
             watch_media = [\"17846368219941692\"]",
            true,
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
    Mock::given(method("POST"))
        .and(path("/gp/token"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"access_token": "t", "expires_in": 3600})))
        .mount(&server)
        .await;
    Mock::given(path("/yt/search"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!({"kind": "youtube#searchListResponse", "items": []})),
        )
        .mount(&server)
        .await;
    // The page's feed and the account's media and tags, asked for beside the watched post and media.
    let empty_lists =
        ["/fb/v25.0/25781101980/feed", "/ig/v25.0/17841400000000000/media", "/ig/v25.0/17841400000000000/tags"];
    for empty in empty_lists {
        Mock::given(path(empty))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!({"data": []})))
            .mount(&server)
            .await;
    }
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
            extra.replace("{u}", &u).replace("{repo}", env!("CARGO_MANIFEST_DIR"))
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

// ---- Meta: facebook_page, instagram, threads --------------------------------------------------------------------

/// A time `ago` seconds before now as the Graph API writes it (`2026-11-02T10:41:17+0000`).
fn graph_time(ago: i64) -> String {
    (Utc::now() - chrono::Duration::seconds(ago)).format("%Y-%m-%dT%H:%M:%S+0000").to_string()
}

/// A Graph API list of `data`, with a next page at cursor `after` when given (the cursors are there either way).
fn graph_list(data: Vec<Value>, after: Option<&str>) -> Value {
    let mut paging = json!({"cursors": {"before": "QkVGT1JF", "after": after.unwrap_or("TEFTVA==")}});
    if let Some(a) = after {
        paging["next"] = json!(format!("https://graph.facebook.com/v25.0/104/feed?limit=2&after={a}"));
    }
    json!({"data": data, "paging": paging})
}

/// A page feed post by `from`, `ago` seconds old, with comments (id, author id, seconds ago, message).
fn fb_post(id: &str, from: &str, ago: i64, message: &str, comments: &[(&str, &str, i64, &str)]) -> Value {
    let comments: Vec<Value> = comments
        .iter()
        .map(|(id, from, ago, message)| {
            json!({"id": id, "message": message, "created_time": graph_time(*ago),
                   "from": {"id": from, "name": format!("person {from}")}, "like_count": 0, "comment_count": 0})
        })
        .collect();
    json!({"id": id, "message": message, "created_time": graph_time(ago), "from": {"id": from, "name": format!("person {from}")},
           "permalink_url": format!("https://www.facebook.com/{id}"), "comments": {"data": comments}})
}

fn fb_source(server: &str, extra: &str) -> String {
    format!(
        "[[sources]]\ntype = \"facebook_page\"\nname = \"fb\"\npage_id = \"104\"\nbase_url = \"{server}\"\n\
         access_token = \"EAASECRET\"\nposts = 2\n{extra}\n"
    )
}

/// The page's feed is read page by page (`after`) back to the cursor; its comments and its visitors' posts are
/// kept without naming the brand (owned), the page's own posts and replies are not mentions, the token travels as a
/// bearer token. The next poll stops at the cursor.
#[tokio::test]
async fn facebook_page_pages_to_the_cursor_and_keeps_what_customers_say_on_the_page() {
    let dir = tempfile::tempdir().unwrap();
    let server = MockServer::start().await;
    let cfg = config(dir.path(), "", &fb_source(&server.uri(), ""));
    let page_one = |comments: &[(&str, &str, i64, &str)]| {
        graph_list(
            vec![
                fb_post("104_1", "104", 3000, "Our autumn menu is here", comments),
                fb_post("104_2", "6", 2000, "My loyalty stamps vanished again", &[]),
            ],
            Some("UDI="),
        )
    };
    Mock::given(method("GET"))
        .and(path("/v25.0/104/feed"))
        .and(header("authorization", "Bearer EAASECRET"))
        .and(query_param("limit", "2"))
        .and(query_param_contains("fields", "comments.filter(stream).order(reverse_chronological)"))
        .and(query_param_is_missing("after"))
        .respond_with(ResponseTemplate::new(200).set_body_json(page_one(&[
            ("1_11", "5", 100, "waited 40 minutes for a latte"),
            ("1_12", "104", 90, "Sorry to hear that, please DM us"),
        ])))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/v25.0/104/feed"))
        .and(query_param("after", "UDI="))
        .respond_with(ResponseTemplate::new(200).set_body_json(graph_list(
            vec![fb_post("104_3", "104", 9000, "Summer is over", &[("3_31", "7", 8000, "great shop")])],
            None,
        )))
        .expect(1)
        .mount(&server)
        .await;
    let s = store(dir.path()).await;
    let o = poll(&cfg, &s).await.remove(0);
    assert_eq!((o.new, o.error.is_none()), (3, true), "{o:?}");
    assert_eq!(ids(&s).await, ["104_2", "1_11", "3_31"], "neither the page's post nor its reply");
    let kinds: Vec<(String, String, Option<String>)> =
        sqlx::query_as("SELECT external_id, kind, parent_id FROM mentions WHERE platform = 'facebook_page' ORDER BY 1")
            .fetch_all(&super::sqlite(s.path()).await)
            .await
            .unwrap();
    assert_eq!(kinds[1], ("1_11".into(), "comment".into(), Some("104_1".into())));
    let cursor: i64 = s.source_state("fb", "Acme").await.unwrap().unwrap().cursor.unwrap().parse().unwrap();
    assert!((cursor - (Utc::now().timestamp() - 100)).abs() <= 2, "the newest comment: {cursor}");
    server.verify().await;

    // The next poll: a new comment on the first page, whose oldest item is behind the cursor, so page two is
    // not asked for.
    server.reset().await;
    Mock::given(path("/v25.0/104/feed"))
        .and(query_param_is_missing("after"))
        .respond_with(ResponseTemplate::new(200).set_body_json(page_one(&[
            ("1_13", "8", 10, "the oat milk is back!"),
            ("1_11", "5", 100, "waited 40 minutes for a latte"),
        ])))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(path("/v25.0/104/feed"))
        .and(query_param("after", "UDI="))
        .respond_with(ResponseTemplate::new(500))
        .expect(0)
        .mount(&server)
        .await;
    let o = poll(&cfg, &s).await.remove(0);
    assert_eq!((o.new, o.error.is_none()), (1, true), "{o:?}");
    assert_eq!(ids(&s).await, ["104_2", "1_11", "1_13", "3_31"]);
    server.verify().await;
}

/// Meta's request budgets: a usage header at 100 % ends the poll after the page it came with and waits Meta's
/// estimate; a throttling error code (here 32, the page's budget) is a rate limit, never a configuration error.
#[tokio::test]
async fn graph_api_rate_limits_are_waited_out() {
    let dir = tempfile::tempdir().unwrap();
    let server = MockServer::start().await;
    let srcs = format!(
        "{}\n[[sources]]\ntype = \"instagram\"\nname = \"ig\"\nuser_id = \"1784\"\nbase_url = \"{}/ig\"\n\
         access_token = \"IGSECRET\"\ntags = false\n",
        fb_source(&server.uri(), ""),
        server.uri()
    );
    let cfg = config(dir.path(), "", &srcs);
    let usage = r#"{"104":[{"type":"pages","call_count":100,"total_cputime":9,"total_time":9,"estimated_time_to_regain_access":30}]}"#;
    Mock::given(path("/v25.0/104/feed"))
        .and(query_param_is_missing("after"))
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header("x-business-use-case-usage", usage)
                .set_body_json(graph_list(vec![fb_post("104_2", "6", 60, "where is my order", &[])], Some("UDI="))),
        )
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(path("/v25.0/104/feed"))
        .and(query_param("after", "UDI="))
        .respond_with(ResponseTemplate::new(500))
        .expect(0)
        .mount(&server)
        .await;
    Mock::given(path("/ig/v25.0/1784/media"))
        .respond_with(ResponseTemplate::new(400).set_body_json(json!({"error": {
            "message": "(#32) Page request limit reached", "type": "OAuthException", "code": 32, "fbtrace_id": "AxYz"}})))
        .expect(1)
        .mount(&server)
        .await;
    let s = store(dir.path()).await;
    let out = poll(&cfg, &s).await;
    let fb = outcome(&out, "fb");
    assert_eq!((fb.new, fb.error.is_none()), (1, true), "the page that came is stored: {fb:?}");
    let (wait, failures, degraded, _) = state(&s, "fb").await;
    assert!(wait >= 1795 && failures == 0 && !degraded, "waits estimated_time_to_regain_access (30 min): {wait}");
    assert_eq!(s.source_state("fb", "Acme").await.unwrap().unwrap().cursor, None, "page two was not read");
    let e = outcome(&out, "ig").error.clone().expect("rate limited");
    assert!(matches!(e.class, ErrorClass::RateLimited { .. }), "{e:?}");
    assert!(e.message.contains("(#32) Page request limit reached"), "{e:?}");
    let (_, _, degraded, _) = state(&s, "ig").await;
    assert!(!degraded);
    server.verify().await;
}

/// A revoked token (Graph error 190, here with HTTP 400) or a missing permission (10) is a configuration error at
/// once: the source is degraded, and its error carries Meta's own words and what the source needs, never the token.
/// `sources status` shows it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revoked_meta_token_degrades_the_source_with_the_platforms_message_and_what_to_do() {
    let dir = tempfile::tempdir().unwrap();
    let server = MockServer::start().await;
    let srcs = format!(
        "{}\n[[sources]]\ntype = \"instagram\"\nname = \"ig\"\nuser_id = \"1784\"\nbase_url = \"{}/ig\"\n\
         access_token = \"IGSECRET\"\n",
        fb_source(&server.uri(), ""),
        server.uri()
    );
    let cfg = config(dir.path(), "", &srcs);
    Mock::given(path("/v25.0/104/feed"))
        .respond_with(ResponseTemplate::new(400).set_body_json(json!({"error": {
            "message": "Error validating access token: The session has been invalidated because the user changed their password or Facebook has changed the session for security reasons.",
            "type": "OAuthException", "code": 190, "error_subcode": 460, "fbtrace_id": "A1b2"}})))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(path("/ig/v25.0/1784/media"))
        .respond_with(ResponseTemplate::new(403).set_body_json(json!({"error": {
            "message": "(#10) Application does not have permission for this action", "type": "OAuthException",
            "code": 10, "fbtrace_id": "C3d4"}})))
        .mount(&server)
        .await;
    Mock::given(path("/ig/v25.0/1784/tags"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"data": []})))
        .mount(&server)
        .await;
    let s = store(dir.path()).await;
    let out = poll(&cfg, &s).await;
    let fb = outcome(&out, "fb").error.clone().expect("fails");
    assert_eq!((fb.class.clone(), fb.http_status), (ErrorClass::Config, Some(400)), "{fb:?}");
    assert!(fb.message.contains("the access token was refused"), "{fb:?}");
    assert!(fb.message.contains("The session has been invalidated because the user changed their password"), "{fb:?}");
    assert!(fb.message.contains("pages_read_engagement") && fb.message.contains("pages_read_user_content"), "{fb:?}");
    let ig = outcome(&out, "ig").error.clone().expect("fails");
    assert_eq!(ig.class, ErrorClass::Config, "{ig:?}");
    assert!(
        ig.message.contains("(#10) Application does not have permission")
            && ig.message.contains("instagram_manage_comments"),
        "{ig:?}"
    );
    for name in ["fb", "ig"] {
        let (wait, failures, degraded, err) = state(&s, name).await;
        assert!(degraded && failures == 1 && wait >= 480, "{name}: degraded at once, not hammered");
        assert!(!err.unwrap().contains("SECRET"));
    }
    s.close().await;
    let out = super::hearsay().arg("--db").arg(dir.path().join("h.db")).args(["sources", "status"]).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let line = stdout.lines().find(|l| l.starts_with("fb ")).unwrap_or_else(|| panic!("{stdout}"));
    assert!(
        line.contains("DEGRADED") && line.contains("Error validating access token") && line.contains("(config)"),
        "{line}"
    );
}

fn threads_post(id: &str, ago: i64, text: &str) -> Value {
    json!({"id": id, "text": text, "media_type": "TEXT_POST", "timestamp": graph_time(ago), "username": format!("user{id}"),
           "permalink": format!("https://www.threads.net/@user{id}/post/{id}"), "is_reply": false, "is_quote_post": false})
}

fn threads_source(server: &str, expires: chrono::DateTime<Utc>) -> String {
    format!(
        "[[sources]]\ntype = \"threads\"\nname = \"th\"\nbase_url = \"{server}\"\naccess_token = \"THSECRET\"\n\
         access_token_expires = \"{}\"\n",
        expires.to_rfc3339()
    )
}

/// Threads search results are matched against the brand query (they are not the brand's own), pages follow the
/// `after` cursor.
#[tokio::test]
async fn threads_searches_recent_posts_and_matches_them_like_any_search() {
    let dir = tempfile::tempdir().unwrap();
    let server = MockServer::start().await;
    let cfg = config(dir.path(), "", &threads_source(&server.uri(), Utc::now() + chrono::Duration::days(40)));
    Mock::given(method("GET"))
        .and(path("/v1.0/keyword_search"))
        .and(header("authorization", "Bearer THSECRET"))
        .and(query_param("q", "acme"))
        .and(query_param("search_type", "RECENT"))
        .and(query_param_is_missing("after"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "data": [threads_post("3", 30, "acme lost my bag"), threads_post("2", 60, "a different company entirely")],
            "paging": {"cursors": {"before": "B", "after": "QVFI"},
                       "next": "https://graph.threads.net/v1.0/keyword_search?q=acme&after=QVFI"}})))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(path("/v1.0/keyword_search"))
        .and(query_param("after", "QVFI"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "data": [threads_post("1", 90, "Acme support was quick")], "paging": {"cursors": {"before": "C", "after": "D"}}})))
        .expect(1)
        .mount(&server)
        .await;
    let s = store(dir.path()).await;
    let o = poll(&cfg, &s).await.remove(0);
    assert_eq!((o.seen, o.new, o.error.is_none()), (3, 2, true), "{o:?}");
    assert_eq!(ids(&s).await, ["1", "3"], "the post that does not name the brand is not stored");
    server.verify().await;
}

/// A Threads token a week or less from its `access_token_expires` is a configuration error (degraded, alerting)
/// while polls go on and the cursor moves; an expired one makes no request. Both say how to refresh it.
#[tokio::test]
async fn threads_token_expiry_is_reported_a_week_ahead() {
    let dir = tempfile::tempdir().unwrap();
    let server = MockServer::start().await;
    Mock::given(path("/v1.0/keyword_search"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"data": [threads_post("7", 30, "acme rocks")]})))
        .expect(1)
        .mount(&server)
        .await;
    let cfg = config(dir.path(), "", &threads_source(&server.uri(), Utc::now() + chrono::Duration::days(3)));
    let s = store(dir.path()).await;
    let e = poll(&cfg, &s).await.remove(0).error.expect("reported");
    assert_eq!(ids(&s).await, ["7"], "the poll went on");
    assert_eq!(e.class, ErrorClass::Config);
    assert!(e.message.contains("the access token expires on") && e.message.contains("(in 3 days)"), "{e:?}");
    assert!(e.message.contains("refresh_access_token?grant_type=th_refresh_token"), "{e:?}");
    let st = s.source_state("th", "Acme").await.unwrap().unwrap();
    assert!(st.degraded_since.is_some() && st.cursor.is_some(), "degraded, yet everything was read: {st:?}");
    server.verify().await;

    server.reset().await;
    Mock::given(path("/v1.0/keyword_search")).respond_with(ResponseTemplate::new(500)).expect(0).mount(&server).await;
    let cfg = config(dir.path(), "", &threads_source(&server.uri(), Utc::now() - chrono::Duration::hours(1)));
    let e = poll(&cfg, &s).await.remove(0).error.expect("refused before asking");
    assert!(e.class == ErrorClass::Config && e.message.contains("the access token expired on"), "{e:?}");
    assert!(!e.message.contains("THSECRET"));
    let report = Poller::new(&cfg).unwrap().check(None).await.unwrap();
    assert!(matches!(&report.sources[0].1, CheckOutcome::Failed(e) if e.message.contains("expired")), "{report:?}");
    server.verify().await;
}

/// Instagram: the account's media with their comments and replies (the account's own reply left out) and the
/// media others tagged it in, all kept without naming the brand; the media list pages by `after`.
#[tokio::test]
async fn instagram_reads_comments_on_its_media_and_media_that_tag_it() {
    let dir = tempfile::tempdir().unwrap();
    let server = MockServer::start().await;
    let src = format!(
        "[[sources]]\ntype = \"instagram\"\nname = \"ig\"\nuser_id = \"1784\"\nbase_url = \"{}\"\n\
         access_token = \"IGSECRET\"\nmedia = 1\n",
        server.uri()
    );
    let cfg = config(dir.path(), "", &src);
    let comment = |id: &str, from: &str, ago: i64, text: &str| {
        json!({"id": id, "text": text, "timestamp": graph_time(ago), "from": {"id": from, "username": format!("u{from}")},
               "username": format!("u{from}"), "like_count": 1})
    };
    let mut c1 = comment("c1", "5", 100, "the zip broke after a week");
    c1["replies"] =
        json!({"data": [comment("r1", "1784", 90, "so sorry, please DM us"), comment("r2", "6", 80, "mine too")]});
    Mock::given(path("/v25.0/1784/media"))
        .and(header("authorization", "Bearer IGSECRET"))
        .and(query_param("limit", "1"))
        .and(query_param_is_missing("after"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "data": [{"id": "m1", "permalink": "https://www.instagram.com/p/M1/", "timestamp": graph_time(3000),
                      "comments_count": 3, "comments": {"data": [c1]}}],
            "paging": {"cursors": {"after": "TTI="}, "next": "https://graph.facebook.com/v25.0/1784/media?after=TTI%3D"}})))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(path("/v25.0/1784/media"))
        .and(query_param("after", "TTI="))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "data": [{"id": "m0", "permalink": "https://www.instagram.com/p/M0/", "timestamp": graph_time(9000),
                      "comments": {"data": [comment("c0", "7", 8000, "love this colour")]}}],
            "paging": {"cursors": {"after": "TTM="}}})))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(path("/v25.0/1784/tags"))
        .respond_with(ResponseTemplate::new(200).set_body_json(
            json!({"data": [{"id": "t1", "caption": "new boots from @someone",
            "timestamp": graph_time(500), "permalink": "https://www.instagram.com/p/T1/", "username": "hiker",
            "media_type": "IMAGE", "like_count": 5}]}),
        ))
        .expect(1)
        .mount(&server)
        .await;
    let s = store(dir.path()).await;
    let o = poll(&cfg, &s).await.remove(0);
    assert_eq!((o.new, o.error.is_none()), (4, true), "{o:?}");
    assert_eq!(ids(&s).await, ["c0", "c1", "r2", "t1"]);
    let url: String = sqlx::query_scalar("SELECT url FROM mentions WHERE external_id = 'r2'")
        .fetch_one(&super::sqlite(s.path()).await)
        .await
        .unwrap();
    assert_eq!(url, "https://www.instagram.com/p/M1/", "a reply links to its media");
    server.verify().await;
}

//! The web console through real HTTP: the daemon's own server (`daemon::http::serve`) with the console's routes,
//! a real database file, reqwest as the browser (cookies handled by hand, redirects not followed, so every
//! status and header is seen).

use std::sync::Arc;

use hearsay::config::HttpConfig;
use hearsay::duration::HumanDuration;
use hearsay::mention::{MentionKind, NewMention};
use hearsay::sentiment::Label;
use hearsay::store::{Access, BrandMatch, IngestItem, MentionFilter, Role, Store};
use reqwest::StatusCode;

use super::{seeded_db, tester};

pub(crate) const EDITOR_PW: &str = "correct horse battery staple";
const VIEWER_PW: &str = "another long passphrase";

pub(crate) struct Console {
    base: String,
    client: reqwest::Client,
    pub(crate) store: Store,
    _dir: Option<tempfile::TempDir>,
}

/// The seeded history, two accounts (maria: editor, li: viewer), the console on a free port.
pub(crate) async fn start(tune: impl FnOnce(&mut HttpConfig)) -> Console {
    let dir = tempfile::tempdir().unwrap();
    let db = seeded_db(dir.path());
    Console { _dir: Some(dir), ..start_on(&db, tune).await }
}

/// The console over the database `db` (the caller keeps it), with the same two accounts as [`start`].
pub(crate) async fn start_on(db: &std::path::Path, tune: impl FnOnce(&mut HttpConfig)) -> Console {
    let store = Store::open(db, Access::ReadWrite).await.unwrap();
    store.add_user("maria", Role::Editor, &hearsay::password::hash(EDITOR_PW), &tester()).await.unwrap();
    store.add_user("li", Role::Viewer, &hearsay::password::hash(VIEWER_PW), &tester()).await.unwrap();
    let mut cfg = HttpConfig::listening_on("127.0.0.1:0");
    tune(&mut cfg);
    let pages = hearsay::console::router(store.clone(), cfg.clone()).await.unwrap();
    let addr = hearsay::daemon::http::serve(&cfg.listen, store.clone(), Arc::default(), pages).await.unwrap();
    let client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    Console { base: format!("http://{addr}"), client, store, _dir: None }
}

/// The value of `name="<field>" value="…"` in a page.
fn field(page: &str, name: &str) -> String {
    let key = format!("name=\"{name}\" value=\"");
    let at = page.find(&key).unwrap_or_else(|| panic!("no field {name} in {page}")) + key.len();
    page[at..].split('"').next().unwrap().to_string()
}

/// `name=value` of the Set-Cookie header for `name`, with its attributes.
fn set_cookie(r: &reqwest::Response, name: &str) -> Option<String> {
    r.headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with(&format!("{name}=")))
        .map(str::to_string)
}

fn cookie_pair(set_cookie: &str) -> String {
    set_cookie.split(';').next().unwrap().to_string()
}

impl Console {
    pub(crate) fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub(crate) async fn get(
        &self,
        path: &str,
        cookie: Option<&str>,
    ) -> (StatusCode, String, reqwest::header::HeaderMap) {
        let mut r = self.client.get(self.url(path));
        if let Some(c) = cookie {
            r = r.header("cookie", c);
        }
        let r = r.send().await.unwrap();
        let (s, h) = (r.status(), r.headers().clone());
        (s, r.text().await.unwrap(), h)
    }

    async fn post(&self, path: &str, cookie: Option<&str>, form: &[(&str, &str)]) -> reqwest::Response {
        let mut r = self.client.post(self.url(path)).form(form);
        if let Some(c) = cookie {
            r = r.header("cookie", c);
        }
        r.send().await.unwrap()
    }

    /// Signs in through the form; returns the sign-in response.
    async fn try_login(&self, name: &str, password: &str) -> reqwest::Response {
        let page = self.client.get(self.url("/login")).send().await.unwrap();
        let pre_cookie = cookie_pair(&set_cookie(&page, "hearsay_login").expect("login cookie"));
        let pre = field(&page.text().await.unwrap(), "pre");
        self.post("/login", Some(&pre_cookie), &[("name", name), ("password", password), ("pre", &pre), ("next", "")])
            .await
    }

    /// Signs in; returns the session cookie (`hearsay_session=…`).
    pub(crate) async fn login(&self, name: &str, password: &str) -> String {
        let r = self.try_login(name, password).await;
        assert_eq!(r.status(), StatusCode::SEE_OTHER, "{}", r.text().await.unwrap());
        cookie_pair(&set_cookie(&r, "hearsay_session").expect("session cookie"))
    }

    pub(crate) async fn audit(&self) -> Vec<(String, String, String)> {
        let since = chrono::Utc::now() - chrono::Duration::hours(1);
        self.store.audit_since(since).await.unwrap().into_iter().map(|a| (a.actor, a.action, a.origin)).collect()
    }

    pub(crate) async fn mention_id(&self, text_part: &str) -> i64 {
        let rows = self.store.mentions(&MentionFilter::default()).await.unwrap();
        rows.iter().find(|m| m.text.contains(text_part)).unwrap().id
    }
}

#[tokio::test]
async fn without_a_session_every_page_leads_to_the_sign_in_form_and_every_action_is_refused() {
    let c = start(|_| {}).await;
    for path in ["/overview", "/mentions?brand=Acme", "/mentions/1", "/alerts", "/alerts/1", "/sources"] {
        let (s, _, h) = c.get(path, None).await;
        assert_eq!(s, StatusCode::SEE_OTHER, "{path}");
        let to = h["location"].to_str().unwrap();
        assert!(to.starts_with("/login?next=%2F"), "{path} → {to}");
    }
    for path in ["/mentions/1/label", "/alerts/silence", "/alerts/unsilence", "/logout"] {
        let r = c.post(path, None, &[("csrf", "x"), ("label", "negative"), ("id", "1")]).await;
        assert_eq!(r.status(), StatusCode::FORBIDDEN, "{path}");
    }
    // A made-up session token is no session.
    let (s, _, _) = c.get("/overview", Some("hearsay_session=00ff")).await;
    assert_eq!(s, StatusCode::SEE_OTHER);
    // /metrics and /healthz stay open to scrapers.
    assert_eq!(c.get("/healthz", None).await.0, StatusCode::OK);
}

#[tokio::test]
async fn sign_in_sets_a_strict_http_only_cookie_and_wrong_passwords_are_refused_and_recorded() {
    let c = start(|_| {}).await;
    let r = c.try_login("maria", "not her password at all").await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert!(set_cookie(&r, "hearsay_session").is_none());
    let r = c.try_login("nobody", EDITOR_PW).await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    // The form's double-submit value must match its cookie: a form posted from elsewhere is refused.
    let r = c
        .post("/login", Some("hearsay_login=abc"), &[("name", "maria"), ("password", EDITOR_PW), ("pre", "abd")])
        .await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);

    let r = c.try_login("maria", EDITOR_PW).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(r.headers()["location"], "/overview");
    let cookie = set_cookie(&r, "hearsay_session").unwrap();
    for attr in ["HttpOnly", "SameSite=Strict", "Path=/"] {
        assert!(cookie.contains(attr), "{cookie}");
    }
    assert!(!cookie.contains("Secure"), "plain http without public_url: {cookie}");
    let token = cookie_pair(&cookie);
    let (s, page, h) = c.get("/overview", Some(&token)).await;
    assert_eq!(s, StatusCode::OK);
    assert!(page.contains("Acme: overview") && page.contains("maria (editor)"), "{page}");
    // The seed's three Acme negatives of the last week, each in its hour; no usual level yet (three days watched).
    assert!(page.contains("3 negative mentions in this range; the usual level adds up to 0."), "{page}");
    assert_eq!(page.matches("fill=\"#c62828\"><title>1 negative</title>").count(), 3, "{page}");
    assert!(page.contains("<th>platform</th>") && page.contains("<th>language</th>"), "both splits: {page}");
    // A failing source says what is wrong and since when, beside its badge.
    sqlx::query(
        "INSERT INTO source_state (source, brand, platform, consecutive_failures, last_error, last_error_class,
                                   last_error_at, last_success_at)
         VALUES ('rd', 'Acme', 'reddit', 3, 'HTTP 503: <b>down</b>', 'transient', 1764500000, 1764400000)",
    )
    .execute(&super::sqlite(c.store.path()).await)
    .await
    .unwrap();
    let (_, page, _) = c.get("/overview", Some(&token)).await;
    assert!(
        page.contains("rd failing (last success 2025-11-29 07:06 UTC): HTTP 503: &lt;b&gt;down&lt;/b&gt;"),
        "{page}"
    );
    let csp = h["content-security-policy"].to_str().unwrap();
    assert!(csp.contains("default-src 'none'") && !csp.contains("script-src"), "{csp}");
    // The store keeps the token's hash, never the token.
    let value = token.split_once('=').unwrap().1;
    let rows = sqlx::query_scalar::<_, String>("SELECT token_hash FROM sessions")
        .fetch_all(&super::sqlite(c.store.path()).await)
        .await
        .unwrap();
    assert_eq!(rows.len(), 1);
    assert_ne!(rows[0], value);

    let audit = c.audit().await;
    let login_rows: Vec<_> = audit.iter().filter(|a| a.1.starts_with("login")).collect();
    assert_eq!(
        login_rows.iter().map(|a| (a.0.as_str(), a.1.as_str(), a.2.as_str())).collect::<Vec<_>>(),
        [
            ("maria", "login_failed", "127.0.0.1"),
            ("nobody", "login_failed", "127.0.0.1"),
            ("maria", "login", "127.0.0.1")
        ]
    );
}

#[tokio::test]
async fn an_editor_relabels_and_silences_with_the_form_token_and_the_audit_log_names_them() {
    let c = start(|_| {}).await;
    let maria = c.login("maria", EDITOR_PW).await;
    let id = c.mention_id("charged me twice").await;
    let (s, page, _) = c.get(&format!("/mentions/{id}"), Some(&maria)).await;
    assert_eq!(s, StatusCode::OK);
    assert!(page.contains("Correct the sentiment"), "{page}");
    let csrf = field(&page, "csrf");
    let path = format!("/mentions/{id}/label");

    // Without the token, or with another one: refused, nothing changes.
    for token in ["", "0000", &csrf[..csrf.len() - 1]] {
        let r = c.post(&path, Some(&maria), &[("csrf", token), ("label", "neutral")]).await;
        assert_eq!(r.status(), StatusCode::FORBIDDEN, "{token:?}");
    }
    let row = &c.store.mentions(&MentionFilter { id: Some(id), ..Default::default() }).await.unwrap()[0];
    assert_eq!((row.sentiment, row.overridden), (Some(Label::Negative), false));

    let r = c.post(&path, Some(&maria), &[("csrf", &csrf), ("label", "neutral")]).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let row = &c.store.mentions(&MentionFilter { id: Some(id), ..Default::default() }).await.unwrap()[0];
    assert_eq!((row.sentiment, row.overridden), (Some(Label::Neutral), true));
    let (_, page, _) = c.get(&format!("/mentions/{id}"), Some(&maria)).await;
    assert!(page.contains("manual"), "{page}");

    let r = c
        .post(
            "/alerts/silence",
            Some(&maria),
            &[("csrf", &csrf), ("brand", "Acme"), ("duration", "2h"), ("comment", "known outage")],
        )
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let silences = c.store.active_silences(chrono::Utc::now()).await.unwrap();
    assert_eq!(silences.len(), 1);
    assert_eq!((silences[0].brand.as_str(), silences[0].comment.as_deref()), ("Acme", Some("known outage")));
    let left = silences[0].until - chrono::Utc::now().timestamp();
    assert!((7100..=7200).contains(&left), "{left}");
    let (_, page, _) = c.get("/alerts", Some(&maria)).await;
    assert!(page.contains("known outage") && page.contains("Unsilence"), "{page}");
    let bad =
        c.post("/alerts/silence", Some(&maria), &[("csrf", &csrf), ("brand", "Acme"), ("duration", "soon")]).await;
    assert_eq!(bad.status(), StatusCode::BAD_REQUEST);
    let sid = silences[0].id.to_string();
    let r = c.post("/alerts/unsilence", Some(&maria), &[("csrf", &csrf), ("id", &sid)]).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert!(c.store.active_silences(chrono::Utc::now()).await.unwrap().is_empty());

    let audit = c.audit().await;
    for action in ["relabel", "silence", "unsilence"] {
        assert!(audit.contains(&("maria".into(), action.into(), "127.0.0.1".into())), "{action}: {audit:?}");
    }

    // Signing out ends the session on the server, not only in the browser.
    let r = c.post("/logout", Some(&maria), &[("csrf", &csrf)]).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(c.get("/overview", Some(&maria)).await.0, StatusCode::SEE_OTHER);
    assert!(c.audit().await.contains(&("maria".into(), "logout".into(), "127.0.0.1".into())));
}

#[tokio::test]
async fn a_viewer_reads_but_cannot_relabel_or_silence() {
    let c = start(|_| {}).await;
    let li = c.login("li", VIEWER_PW).await;
    let id = c.mention_id("charged me twice").await;
    let (s, page, _) = c.get(&format!("/mentions/{id}"), Some(&li)).await;
    assert_eq!(s, StatusCode::OK);
    assert!(!page.contains("Correct the sentiment"));
    let (_, page, _) = c.get("/alerts", Some(&li)).await;
    assert!(!page.contains("action=\"/alerts/silence\""));
    // The viewer's own session token does not make them an editor.
    let (_, overview, _) = c.get("/overview", Some(&li)).await;
    let csrf = field(&overview, "csrf");
    let r = c.post(&format!("/mentions/{id}/label"), Some(&li), &[("csrf", &csrf), ("label", "positive")]).await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let r = c.post("/alerts/silence", Some(&li), &[("csrf", &csrf), ("brand", "Acme"), ("duration", "1h")]).await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let row = &c.store.mentions(&MentionFilter { id: Some(id), ..Default::default() }).await.unwrap()[0];
    assert!(!row.overridden);
    assert!(c.store.active_silences(chrono::Utc::now()).await.unwrap().is_empty());
}

#[tokio::test]
async fn the_feed_filters_by_the_query_language_and_reports_a_bad_query_with_its_column() {
    let c = start(|_| {}).await;
    let maria = c.login("maria", EDITOR_PW).await;
    let (s, page, _) = c.get("/mentions?brand=Acme&sentiment=negative&range=7d&q=", Some(&maria)).await;
    assert_eq!(s, StatusCode::OK);
    for t in ["charged me twice", "down for an hour", "three weeks"] {
        assert!(page.contains(t), "{t}");
    }
    assert!(!page.contains("great team") && !page.contains("Globex lost"));
    let (s, page, _) = c.get("/mentions?q=refund", Some(&maria)).await;
    assert_eq!(s, StatusCode::OK);
    assert!(page.contains("charged me twice") && page.contains("three weeks") && !page.contains("down for an hour"));
    let (s, page, _) = c.get("/mentions?q=refund%20AND", Some(&maria)).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert!(page.contains("search, column"), "{page}");
    let (s, _, _) = c.get("/mentions?sentiment=furious", Some(&maria)).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    // A window by its ends, as the alert email links it: the last 4 hours hold r1, r2 and h1 of the seed.
    let now = chrono::Utc::now().timestamp();
    let (s, page, _) = c.get(&format!("/mentions?brand=Acme&since={}&until={now}", now - 4 * 3600), Some(&maria)).await;
    assert_eq!(s, StatusCode::OK);
    assert!(page.contains("charged me twice") && page.contains("great team") && page.contains("down for an hour"));
    assert!(!page.contains("three weeks") && !page.contains("version 2.0"), "{page}");
    let (s, page, _) = c.get("/mentions?since=yesterday", Some(&maria)).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert!(page.contains("neither Unix seconds"), "{page}");
}

fn hostile(id: &str, minutes_ago: i64) -> IngestItem {
    IngestItem {
        mention: NewMention {
            platform: "feed".into(),
            external_id: id.into(),
            url: Some("javascript:alert(document.cookie)".into()),
            author: Some("<img src=x onerror=alert(1)>".into()),
            title: Some("<script>alert('title')</script>".into()),
            text: format!("Acme {id} <script>alert(1)</script> \"quoted\" & more"),
            created_at: chrono::Utc::now() - chrono::Duration::minutes(minutes_ago),
            kind: MentionKind::Post,
            lang: Some("en".into()),
            rating: None,
            metrics: Default::default(),
            parent_id: None,
            location: None,
        },
        source: Some("test".into()),
        brands: vec![BrandMatch { brand: "Acme".into(), terms: vec!["acme".into()] }],
        sentiment: None,
        lang: None,
        derived: None,
    }
}

#[tokio::test]
async fn markup_and_script_links_in_mentions_are_shown_inert() {
    let c = start(|_| {}).await;
    c.store.ingest(&[hostile("evil", 1)]).await.unwrap();
    let maria = c.login("maria", EDITOR_PW).await;
    let id = c.mention_id("evil").await;
    for path in [format!("/mentions/{id}"), "/mentions?brand=Acme".into()] {
        let (s, page, _) = c.get(&path, Some(&maria)).await;
        assert_eq!(s, StatusCode::OK);
        assert!(!page.contains("<script>") && !page.contains("<img"), "{path}: {page}");
        assert!(page.contains("&lt;script&gt;alert(1)&lt;/script&gt;"), "{path}");
        assert!(!page.contains("href=\"javascript"), "{path}");
    }
    let (_, page, _) = c.get(&format!("/mentions/{id}"), Some(&maria)).await;
    assert!(page.contains("javascript:alert(document.cookie)</span>"), "shown as text: {page}");
}

#[tokio::test]
async fn the_feed_pages_by_keyset_through_every_mention_once() {
    let c = start(|_| {}).await;
    let items: Vec<IngestItem> = (0..130).map(|i| hostile(&format!("n{i}"), i / 2)).collect();
    c.store.ingest(&items).await.unwrap();
    let maria = c.login("maria", EDITOR_PW).await;
    let mut path = "/mentions?brand=Acme&platform=feed".to_string();
    let mut seen = Vec::new();
    for _ in 0..10 {
        let (s, page, _) = c.get(&path, Some(&maria)).await;
        assert_eq!(s, StatusCode::OK);
        seen.extend(page.match_indices("Acme n").map(|(at, _)| {
            page[at + 6..].chars().take_while(char::is_ascii_digit).collect::<String>().parse::<i64>().unwrap()
        }));
        match page.find("\">Older →") {
            Some(end) => {
                let start = page[..end].rfind("href=\"").unwrap() + 6;
                path = page[start..end].replace("&amp;", "&");
                assert!(path.contains("before=") && path.contains("platform=feed"), "{path}");
            }
            None => break,
        }
    }
    assert_eq!(seen.len(), 130, "{seen:?}");
    // Newest first: two mentions a minute, n0 and n1 the newest.
    let mut sorted = seen.clone();
    sorted.sort_by_key(|n| (n / 2, -n));
    sorted.dedup();
    assert_eq!(sorted.len(), 130);
}

#[tokio::test]
async fn sign_in_is_locked_after_repeated_failures_for_that_account() {
    let c = start(|_| {}).await;
    for _ in 0..5 {
        assert_eq!(c.try_login("maria", "wrong wrong wrong").await.status(), StatusCode::UNAUTHORIZED);
    }
    let r = c.try_login("maria", EDITOR_PW).await;
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(r.text().await.unwrap().contains("Too many failed sign-ins"));
    // Another account from the same address is not locked by maria's failures.
    assert_eq!(c.try_login("li", VIEWER_PW).await.status(), StatusCode::SEE_OTHER);
    let audit = c.audit().await;
    assert_eq!(audit.iter().filter(|a| a.1 == "login_failed").count(), 6);
}

#[tokio::test]
async fn sessions_end_when_idle_and_when_the_password_changes() {
    let c = start(|h| h.session_idle = HumanDuration::from_secs(1)).await;
    let maria = c.login("maria", EDITOR_PW).await;
    assert_eq!(c.get("/overview", Some(&maria)).await.0, StatusCode::OK);
    tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
    assert_eq!(c.get("/overview", Some(&maria)).await.0, StatusCode::SEE_OTHER, "idle for 2 s of 1 s allowed");

    let c = start(|_| {}).await;
    let maria = c.login("maria", EDITOR_PW).await;
    assert_eq!(c.get("/overview", Some(&maria)).await.0, StatusCode::OK);
    c.store.set_password("maria", &hearsay::password::hash("a brand new passphrase"), &tester()).await.unwrap();
    assert_eq!(c.get("/overview", Some(&maria)).await.0, StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn a_trusted_proxy_names_the_account_and_no_other_address_can() {
    let c = start(|h| {
        h.trusted_proxy = vec!["127.0.0.1".parse().unwrap()];
        h.user_header = Some("X-Remote-User".into());
    })
    .await;
    let r = c.client.get(c.url("/overview")).header("x-remote-user", "maria").send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert!(r.text().await.unwrap().contains("maria (editor)"));
    let r = c.client.get(c.url("/overview")).header("x-remote-user", "mallory").send().await.unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);

    let c = start(|h| {
        h.trusted_proxy = vec!["10.9.8.7".parse().unwrap()];
        h.user_header = Some("X-Remote-User".into());
    })
    .await;
    let r = c.client.get(c.url("/overview")).header("x-remote-user", "maria").send().await.unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER, "the header from an untrusted address is ignored");
}

#[tokio::test]
async fn a_public_listen_address_needs_an_account_or_a_trusted_proxy() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("h.db"), Access::ReadWrite).await.unwrap();
    let err =
        hearsay::console::router(store.clone(), HttpConfig::listening_on("0.0.0.0:0")).await.unwrap_err().to_string();
    assert!(err.contains("hearsay users add") && err.contains("console = false"), "{err}");
    assert!(hearsay::console::router(store.clone(), HttpConfig::listening_on("127.0.0.1:0")).await.is_ok());
    assert!(hearsay::console::router(store.clone(), HttpConfig::listening_on("localhost:9464")).await.is_ok());
    assert!(hearsay::console::router(
        store.clone(),
        HttpConfig { console: false, ..HttpConfig::listening_on("0.0.0.0:0") }
    )
    .await
    .is_ok());
    store.add_user("maria", Role::Editor, &hearsay::password::hash(EDITOR_PW), &tester()).await.unwrap();
    assert!(hearsay::console::router(store.clone(), HttpConfig::listening_on("0.0.0.0:0")).await.is_ok());
}

#[tokio::test]
async fn a_mention_marked_spam_leaves_every_count_of_its_brand_and_comes_back_when_unmarked() {
    let c = start(|_| {}).await;
    let maria = c.login("maria", EDITOR_PW).await;
    let id = c.mention_id("charged me twice").await;
    let since = chrono::Utc::now() - chrono::Duration::days(7);
    let negatives = |rows: Vec<hearsay::store::StatsRow>| rows.iter().map(|r| r.negative).sum::<i64>();
    let hourly = MentionFilter { brand: Some("Acme".into()), since: Some(since), ..Default::default() };
    let before = negatives(c.store.stats(&hourly, 3600).await.unwrap());
    assert_eq!(before, 3, "the seed's Acme negatives");

    let (_, page, _) = c.get(&format!("/mentions/{id}"), Some(&maria)).await;
    let csrf = field(&page, "csrf");
    let path = format!("/mentions/{id}/mark");
    let r = c.post(&path, Some(&maria), &[("csrf", &csrf), ("brand", "Acme"), ("mark", "spam")]).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    // The rollup (whole hours), the scan (a platform filter) and the detector's buckets all leave it out.
    assert_eq!(negatives(c.store.stats(&hourly, 3600).await.unwrap()), 2);
    let scan = MentionFilter { platform: Some("reddit".into()), ..hourly.clone() };
    assert_eq!(negatives(c.store.stats(&scan, 3600).await.unwrap()), 0);
    let (_, page, _) = c.get(&format!("/mentions/{id}"), Some(&maria)).await;
    assert!(page.contains("marked spam") && page.contains("Count it again"), "{page}");
    let (_, feed, _) = c.get("/mentions?brand=Acme", Some(&maria)).await;
    assert!(feed.contains(">spam</span>"), "{feed}");

    let r = c.post(&path, Some(&maria), &[("csrf", &csrf), ("brand", "Acme"), ("mark", "none")]).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(negatives(c.store.stats(&hourly, 3600).await.unwrap()), 3);
    assert_eq!(negatives(c.store.stats(&scan, 3600).await.unwrap()), 1);
    let audit = c.audit().await;
    for action in ["mark", "unmark"] {
        assert!(audit.contains(&("maria".into(), action.into(), "127.0.0.1".into())), "{action}: {audit:?}");
    }
    // A viewer cannot mark.
    let li = c.login("li", VIEWER_PW).await;
    let (_, page, _) = c.get(&format!("/mentions/{id}"), Some(&li)).await;
    assert!(!page.contains("action=\"/mentions/"), "no forms for a viewer");
    let csrf = field(&page, "csrf");
    let r = c.post(&path, Some(&li), &[("csrf", &csrf), ("brand", "Acme"), ("mark", "spam")]).await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn an_editor_downloads_the_feeds_filter_and_a_viewer_cannot() {
    let c = start(|_| {}).await;
    let mut formula = hostile("formula", 1);
    formula.mention.title = None;
    formula.mention.text = "=HYPERLINK(\"http://evil.example\",\"Acme refund\")".into();
    c.store.ingest(&[formula]).await.unwrap();
    let maria = c.login("maria", EDITOR_PW).await;
    let (s, page, _) = c.get("/mentions?brand=Acme&sentiment=negative", Some(&maria)).await;
    assert_eq!(s, StatusCode::OK);
    assert!(page.contains("/mentions/export.csv?brand=Acme&amp;sentiment=negative"), "{page}");
    let (s, csv, h) = c.get("/mentions/export.csv?brand=Acme&sentiment=negative", Some(&maria)).await;
    assert_eq!(s, StatusCode::OK);
    assert!(h["content-type"].to_str().unwrap().starts_with("text/csv"));
    assert!(h["content-disposition"].to_str().unwrap().starts_with("attachment; filename=\"hearsay-mentions-"));
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines[0], hearsay::store::CSV_HEADER);
    assert_eq!(lines.len(), 4, "the three Acme negatives: {csv}");
    let (s, jsonl, _) = c.get("/mentions/export.jsonl?brand=Acme", Some(&maria)).await;
    assert_eq!(s, StatusCode::OK);
    let records: Vec<serde_json::Value> = jsonl.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(records.len(), 7, "six seeded Acme mentions and the hostile one");
    // A text that a spreadsheet would run as a formula is defused in the CSV.
    let (_, csv, _) = c.get("/mentions/export.csv?platform=feed", Some(&maria)).await;
    assert!(csv.contains(",\"'=HYPERLINK(") && !csv.contains(",\"=HYPERLINK("), "{csv}");
    assert_eq!(c.get("/mentions/export.csv?q=refund%20AND", Some(&maria)).await.0, StatusCode::BAD_REQUEST);

    let li = c.login("li", VIEWER_PW).await;
    assert_eq!(c.get("/mentions/export.csv", Some(&li)).await.0, StatusCode::FORBIDDEN);
    let (_, page, _) = c.get("/mentions", Some(&li)).await;
    assert!(!page.contains("export.csv"));
}

/// All brands' feed: a mention two brands matched has a row for each, and a page that ends between them continues
/// with the second one on the next page.
#[tokio::test]
async fn paging_the_feed_of_all_brands_never_drops_the_second_brand_of_a_mention() {
    let c = start(|_| {}).await;
    // The newest mention matches one brand, the 60 before it two: every page boundary falls inside a pair.
    let mut items = vec![hostile("single", 0)];
    for i in 0..60 {
        let mut it = hostile(&format!("pair{i}"), 1 + i);
        it.brands.push(BrandMatch { brand: "Globex".into(), terms: vec!["globex".into()] });
        items.push(it);
    }
    c.store.ingest(&items).await.unwrap();
    let maria = c.login("maria", EDITOR_PW).await;
    let mut path = "/mentions?platform=feed".to_string();
    let mut rows = 0;
    let mut globex = 0;
    for _ in 0..5 {
        let (s, page, _) = c.get(&path, Some(&maria)).await;
        assert_eq!(s, StatusCode::OK);
        rows += page.matches("<tr><td class=\"nowrap\">").count();
        globex += page.matches("<td>Globex</td>").count();
        match page.find("\">Older →") {
            Some(end) => {
                let start = page[..end].rfind("href=\"").unwrap() + 6;
                path = page[start..end].replace("&amp;", "&");
            }
            None => break,
        }
    }
    // 121 rows of these, and the seed's one Globex feed mention.
    assert_eq!((rows, globex), (122, 61));
}

#[tokio::test]
async fn a_reviews_location_shows_in_the_feed_and_on_its_page() {
    let c = start(|_| {}).await;
    let mut review = hostile("review", 1);
    review.mention.platform = "google_business".into();
    review.mention.location = Some("Lyon <Part-Dieu>".into());
    c.store.ingest(&[review]).await.unwrap();
    let maria = c.login("maria", EDITOR_PW).await;
    let id = c.mention_id("Acme review").await;
    let (_, page, _) = c.get(&format!("/mentions/{id}"), Some(&maria)).await;
    assert!(page.contains("google_business · post · Lyon &lt;Part-Dieu&gt;"), "{page}");
    let (_, feed, _) = c.get("/mentions?platform=google_business", Some(&maria)).await;
    assert!(feed.contains("Lyon &lt;Part-Dieu&gt;"), "{feed}");
    let row = &c.store.mentions(&MentionFilter { id: Some(id), ..Default::default() }).await.unwrap()[0];
    assert_eq!(row.location.as_deref(), Some("Lyon <Part-Dieu>"));
}

/// Records an alert event of Acme the way the daemon does (the row and, when `email` is given, its email in one
/// transaction). Returns the newest row's id, and the id the store handed the email's writer, if it called it.
async fn record_alert(store: &Store, event: &str, seq: u32, fired_at: i64, email: Option<&str>) -> (i64, Option<i64>) {
    use hearsay::detect::{AlertKind, Finding, Level, PlatformCount};
    let now = chrono::Utc::now();
    let finding = Finding {
        kind: AlertKind::NegativeSpike,
        brand: "Acme".into(),
        level: Level::Firing,
        window_start: now - chrono::Duration::hours(4),
        window_end: now,
        observed: 30,
        expected: 3.0,
        p_value: 1e-7,
        ratio: 10.0,
        total: 40,
        expected_total: 30.0,
        negative_share: 0.75,
        baseline_share: 0.1,
        share_p_value: 1e-9,
        cold_start: false,
        top_platforms: vec![PlatformCount { platform: "reddit".into(), total: 30, negative: 22 }],
        platform: None,
        since: None,
    };
    let key = format!("hearsay.Acme.negative_spike.{fired_at}.{seq}");
    let (tx, rx) = std::sync::mpsc::channel();
    let subject = email.map(str::to_string);
    let message_id = format!("<{key}@hearsay.invalid>");
    let write: Option<hearsay::store::EmailFor<'_>> = subject.map(|subject| {
        Box::new(move |id| {
            tx.send(id).unwrap();
            Ok(hearsay::store::QueuedEmail {
                message_id,
                recipients: vec!["Brand Team <team@example.com>".into()],
                subject,
                message: format!("Subject: x\r\n\r\nhttps://hearsay.example/alerts/{id}\r\n").into_bytes(),
            })
        }) as hearsay::store::EmailFor<'_>
    });
    let new = hearsay::store::NewAlert {
        brand: "Acme",
        kind: "negative_spike",
        event,
        fired_at: chrono::DateTime::from_timestamp(fired_at, 0).unwrap(),
        details: serde_json::to_value(&finding).unwrap(),
        event_key: &key,
        email: write,
    };
    store.record_alert("Acme", "negative_spike", "{}", vec![new]).await.unwrap();
    (store.alerts(1).await.unwrap()[0].id, rx.try_recv().ok())
}

#[tokio::test]
async fn an_alerts_page_shows_its_evidence_and_the_delivery_of_its_emails() {
    let c = start(|_| {}).await;
    let fired_at = chrono::Utc::now().timestamp() - 3600;
    let (firing, written) =
        record_alert(&c.store, "firing", 1, fired_at, Some("[hearsay] Acme: negative mentions 10× normal")).await;
    assert_eq!(written, Some(firing), "the email is written for the row just inserted");
    let (reminder, _) = record_alert(&c.store, "reminder", 2, fired_at, Some("[hearsay] Acme: still going")).await;
    let (resolved, written) = record_alert(&c.store, "resolved", 3, fired_at, None).await;
    assert_eq!(written, None);
    let outbox = c.store.due_emails(chrono::Utc::now() + chrono::Duration::days(1)).await.unwrap();
    assert_eq!(outbox.len(), 2);
    // The email names the row it was written for.
    assert!(String::from_utf8_lossy(&outbox[0].message).contains(&format!("/alerts/{firing}")));
    c.store.mark_sent(outbox[0].id).await.unwrap();
    let retry_at = chrono::Utc::now() + chrono::Duration::minutes(10);
    c.store.mark_failed(outbox[1].id, "SMTP mail.example:587: <connection refused>", retry_at).await.unwrap();
    // Recording an event again adds no row and queues no second email: its writer is not even called.
    let again = record_alert(&c.store, "firing", 1, fired_at, Some("again")).await;
    assert_eq!(again, (resolved, None));
    assert_eq!(c.store.outbox_counts().await.unwrap(), hearsay::store::OutboxCounts { sent: 1, backlog: 1 });

    let maria = c.login("maria", EDITOR_PW).await;
    let (s, page, _) = c.get(&format!("/alerts/{firing}"), Some(&maria)).await;
    assert_eq!(s, StatusCode::OK, "{page}");
    assert!(page.contains("<h1>Acme: negative spike, firing</h1>"), "{page}");
    // The email's figures, in its words.
    for said in
        ["<b>30</b> negative (usually 3.0), 10.0×", "one-in-10,000,000 chance", "negative share 75% (usually 10%)"]
    {
        assert!(page.contains(said), "{said}: {page}");
    }
    assert!(page.contains("[hearsay] Acme: negative mentions 10× normal"), "{page}");
    assert!(page.contains("Brand Team &lt;team@example.com&gt;"), "{page}");
    assert!(page.contains(">sent</span>"), "{page}");
    // The episode's other events, each linking to its own page, with its delivery.
    assert!(page.contains(&format!("href=\"/alerts/{reminder}\"")), "{page}");
    assert!(page.contains(&format!("href=\"/alerts/{resolved}\"")), "{page}");
    assert!(page.contains(">retrying</span>"), "{page}");
    // The feed of the alert's window holds the mentions behind it.
    let at = page.find("href=\"/mentions?brand=Acme&amp;sentiment=negative").expect("feed link") + 6;
    let feed = page[at..].split('"').next().unwrap().replace("&amp;", "&");
    let (s, feed, _) = c.get(&feed, Some(&maria)).await;
    assert_eq!(s, StatusCode::OK);
    assert!(feed.contains("charged me twice") && feed.contains("API has been down"), "{feed}");
    assert!(!feed.contains("Love the new Acme app"), "{feed}");

    let (_, page, _) = c.get(&format!("/alerts/{reminder}"), Some(&maria)).await;
    assert!(page.contains(">retrying</span> failed once; next try"), "{page}");
    assert!(page.contains("SMTP mail.example:587: &lt;connection refused&gt;"), "{page}");
    let (_, page, _) = c.get(&format!("/alerts/{resolved}"), Some(&maria)).await;
    assert!(page.contains("No email for this event"), "{page}");

    // Each row of the notification log links to its alert's page.
    let (_, list, _) = c.get("/alerts", Some(&maria)).await;
    for id in [firing, reminder, resolved] {
        assert!(list.contains(&format!("href=\"/alerts/{id}\"")), "{id}: {list}");
    }
    // So does the brand's overview, for its latest events.
    let (_, overview, _) = c.get("/overview?brand=Acme", Some(&maria)).await;
    assert!(overview.contains(&format!("href=\"/alerts/{resolved}\">resolved, its evidence →")), "{overview}");

    // The silence form of the page silences the alert's brand and leads back to the page.
    let csrf = field(&page, "csrf");
    let r = c
        .post(
            "/alerts/silence",
            Some(&maria),
            &[("csrf", &csrf), ("alert", &firing.to_string()), ("duration", "1d"), ("comment", "handled")],
        )
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(r.headers()["location"], format!("/alerts/{firing}"));
    let silences = c.store.active_silences(chrono::Utc::now()).await.unwrap();
    assert_eq!((silences.len(), silences[0].brand.as_str()), (1, "Acme"));
    let (_, page, _) = c.get(&format!("/alerts/{firing}"), Some(&maria)).await;
    assert!(page.contains("silenced</span> until") && page.contains("handled"), "{page}");
    let sid = silences[0].id.to_string();
    let r = c
        .post("/alerts/unsilence", Some(&maria), &[("csrf", &csrf), ("id", &sid), ("alert", &firing.to_string())])
        .await;
    assert_eq!(r.headers()["location"], format!("/alerts/{firing}"));
    assert!(c.store.active_silences(chrono::Utc::now()).await.unwrap().is_empty());
    let audit = c.audit().await;
    assert!(audit.contains(&("maria".into(), "silence".into(), "127.0.0.1".into())), "{audit:?}");

    // A viewer reads the page but gets no form.
    let li = c.login("li", VIEWER_PW).await;
    let (s, page, _) = c.get(&format!("/alerts/{firing}"), Some(&li)).await;
    assert_eq!(s, StatusCode::OK);
    assert!(page.contains("<b>30</b> negative") && !page.contains("action=\"/alerts/silence\""), "{page}");

    // An unknown alert is a 404 page; without a session, the sign-in form.
    let (s, page, _) = c.get("/alerts/999999", Some(&maria)).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert!(page.contains("No alert 999999."), "{page}");
    let (s, _, h) = c.get(&format!("/alerts/{firing}"), None).await;
    assert_eq!(s, StatusCode::SEE_OTHER);
    assert_eq!(h["location"], format!("/login?next=%2Falerts%2F{firing}"));
}

//! The console in a real browser: headless Chromium (Debian's `chromium`) driven over the DevTools protocol signs
//! in, filters the feed with a query, opens a mention, relabels it and silences a brand the way a person does,
//! typing into the fields (`Input.insertText`) and clicking (mouse events at the element's place on the page), and
//! the database is read after each step. The console is the one `console::start` serves to the handler tests.
//!
//! A screenshot of each page is kept in `target/browser/` (`overview.png`, `mentions.png`, `mention.png`,
//! `alerts.png`); `docs/console-overview.png`, which README shows, is one of the overview's.
//!
//! Without `chromium` on `PATH` the test says that it skips, unless `HEARSAY_REQUIRE_BROWSER=1` (`.ci/run` sets it)
//! asks for a failure instead. Every wait is bounded (each step by [`STEP`], the whole journey by [`WHOLE`]), so a
//! browser that hangs fails the test instead of stalling CI; the browser is killed when the test ends, however it
//! ends.

use std::collections::VecDeque;
use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::{SinkExt, StreamExt};
use hearsay::sentiment::Label;
use hearsay::store::MentionFilter;
use serde_json::{json, Value};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use super::console::{start, Console, EDITOR_PW};

/// The longest one step may take: an answer to a command, a page load.
const STEP: Duration = Duration::from_secs(15);
/// The longest the browser's whole part may take, its start included.
const WHOLE: Duration = Duration::from_secs(60);
/// The window the pages are drawn in, and so the screenshot's size.
const WIDTH: u32 = 1280;
const HEIGHT: u32 = 900;

#[tokio::test]
async fn a_person_in_chromium_signs_in_filters_relabels_and_silences_and_the_database_shows_each_change() {
    let Some(exe) = chromium() else {
        let required = std::env::var("HEARSAY_REQUIRE_BROWSER").is_ok_and(|v| v == "1");
        assert!(
            !required,
            "HEARSAY_REQUIRE_BROWSER=1 asks for the console's browser test, but no `chromium` is on PATH: install \
             Debian's chromium package (.ci/run does) or unset HEARSAY_REQUIRE_BROWSER"
        );
        eprintln!("skipping: no `chromium` on PATH (CI installs Debian's chromium and sets HEARSAY_REQUIRE_BROWSER=1)");
        return;
    };
    let c = start(|_| {}).await;
    let (browser, devtools) = Chromium::spawn(&exe);
    let run = async {
        let url = match tokio::time::timeout(STEP, devtools).await {
            Ok(Ok(url)) => url,
            _ => panic!("chromium did not print where DevTools listens within {STEP:?}"),
        };
        let mut page = Page::open(&url).await;
        journey(&c, &mut page).await;
    };
    if tokio::time::timeout(WHOLE, run).await.is_err() {
        panic!("the browser journey took longer than {WHOLE:?}");
    }
    drop(browser);
}

async fn journey(c: &Console, page: &mut Page) {
    // No session: the sign-in form, which leads back to the page asked for.
    page.goto(&c.url("/overview")).await;
    assert_eq!(page.location().await, "/login?next=%2Foverview");
    page.type_into("input[name=name]", "maria").await;
    page.type_into("input[name=password]", EDITOR_PW).await;
    page.click_and_wait("form.login button[type=submit]").await;
    assert_eq!(page.location().await, "/overview");
    let text = page.text().await;
    assert!(text.contains("Acme: overview") && text.contains("maria (editor)"), "{text}");
    assert!(c.audit().await.contains(&("maria".into(), "login".into(), "127.0.0.1".into())));
    // The session cookie is out of the page's reach.
    let cookies = page.eval("document.cookie").await;
    assert!(!cookies.as_str().unwrap_or_default().contains("hearsay_session"), "{cookies}");

    // The feed, filtered with the brand query language: only the mentions the store finds for the query.
    page.click_and_wait("nav.top a[href='/mentions']").await;
    assert_eq!(page.location().await, "/mentions");
    page.type_into("input[name=q]", "refund").await;
    page.click_and_wait("form.filters button[type=submit]").await;
    let location = page.location().await;
    assert!(location.starts_with("/mentions?") && location.contains("q=refund"), "{location}");
    let shown = page.eval("[...document.querySelectorAll('table.data tr')].slice(1).map(r => r.innerText)").await;
    let shown: Vec<String> = serde_json::from_value(shown).unwrap();
    let search = MentionFilter { search: Some("refund".into()), ..MentionFilter::default() };
    let expected = c.store.mentions(&search).await.unwrap();
    assert_eq!(shown.len(), expected.len(), "{shown:#?}");
    assert!(shown.len() >= 2, "{shown:#?}");
    for row in &shown {
        assert!(row.to_lowercase().contains("refund"), "{row}");
    }
    let text = page.text().await;
    assert!(!text.contains("down for an hour") && !text.contains("great team"), "{text}");
    keep(page, "mentions").await;

    // One mention's page, and a person's label for it.
    let id = c.mention_id("charged me twice").await;
    assert_eq!(label_of(c, id).await, (Some(Label::Negative), false));
    page.click_and_wait(&format!("table.data a[href='/mentions/{id}']")).await;
    assert_eq!(page.location().await, format!("/mentions/{id}"));
    let text = page.text().await;
    assert!(text.contains("charged me twice") && text.contains("Correct the sentiment"), "{text}");
    page.click_and_wait("button[name=label][value=neutral]").await;
    assert_eq!(page.location().await, format!("/mentions/{id}"));
    assert!(page.text().await.contains("manual"));
    keep(page, "mention").await;
    assert_eq!(label_of(c, id).await, (Some(Label::Neutral), true));

    // A silence, with a duration and a comment.
    page.click_and_wait("nav.top a[href='/alerts']").await;
    assert_eq!(page.location().await, "/alerts");
    page.eval("document.querySelector(\"form[action='/alerts/silence'] select[name=brand]\").value = 'Acme'").await;
    page.type_into("input[name=duration]", "2h").await;
    page.type_into("input[name=comment]", "known outage, billing team on it").await;
    page.click_and_wait("form[action='/alerts/silence'] button[type=submit]").await;
    assert_eq!(page.location().await, "/alerts");
    let text = page.text().await;
    assert!(text.contains("known outage, billing team on it") && text.contains("Unsilence"), "{text}");
    keep(page, "alerts").await;
    let silences = c.store.active_silences(chrono::Utc::now()).await.unwrap();
    assert_eq!(silences.len(), 1);
    assert_eq!(
        (silences[0].brand.as_str(), silences[0].comment.as_deref()),
        ("Acme", Some("known outage, billing team on it"))
    );
    let left = silences[0].until - chrono::Utc::now().timestamp();
    assert!((7100..=7200).contains(&left), "{left}");
    let audit = c.audit().await;
    for action in ["relabel", "silence"] {
        assert!(audit.contains(&("maria".into(), action.into(), "127.0.0.1".into())), "{action}: {audit:?}");
    }

    // The overview now shows the silence; its charts are drawn, and a screenshot is kept.
    page.click_and_wait("nav.top a[href='/overview']").await;
    assert_eq!(page.location().await, "/overview");
    assert!(page.text().await.contains("silenced until"));
    let charts = page.eval("[...document.querySelectorAll('svg')].map(s => s.getBoundingClientRect().width)").await;
    let charts: Vec<f64> = serde_json::from_value(charts).unwrap();
    assert!(!charts.is_empty() && charts.iter().all(|w| *w > 100.0), "chart widths {charts:?}");
    assert_painted(&keep(page, "overview").await);

    // What the browser refused along the way for security, the content security policy's refusals among them:
    // nothing, since the pages load no script and nothing from elsewhere.
    let refused: Vec<&Value> = page
        .events
        .iter()
        .filter(|e| e["method"] == "Log.entryAdded" && e["params"]["entry"]["source"] == "security")
        .map(|e| &e["params"]["entry"]["text"])
        .collect();
    assert!(refused.is_empty(), "{refused:#?}");
}

/// A screenshot of the page, kept as `target/browser/<name>.png`.
async fn keep(page: &mut Page, name: &str) -> Vec<u8> {
    let png = page.screenshot().await;
    let dir = target_dir().join("browser");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join(format!("{name}.png")), &png).unwrap();
    png
}

/// A mention's label as the store has it, and whether a person set it.
async fn label_of(c: &Console, id: i64) -> (Option<Label>, bool) {
    let rows = c.store.mentions(&MentionFilter { id: Some(id), ..MentionFilter::default() }).await.unwrap();
    (rows[0].sentiment, rows[0].overridden)
}

/// The screenshot is a PNG of the window's size with something drawn on it.
fn assert_painted(png: &[u8]) {
    let decoder = png::Decoder::new(std::io::Cursor::new(png));
    let mut reader = decoder.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size().expect("a screenshot fits in memory")];
    let info = reader.next_frame(&mut buf).unwrap();
    assert_eq!((info.width, info.height), (WIDTH, HEIGHT));
    let px = info.color_type.samples() * if info.bit_depth == png::BitDepth::Sixteen { 2 } else { 1 };
    let distinct: std::collections::HashSet<&[u8]> = buf[..info.buffer_size()].chunks(px).collect();
    assert!(distinct.len() > 10, "the screenshot is blank ({} distinct colours)", distinct.len());
}

/// Where cargo builds: `CARGO_TARGET_DIR`, else the crate's `target/`.
fn target_dir() -> PathBuf {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    std::env::var_os("CARGO_TARGET_DIR").map(|d| manifest.join(d)).unwrap_or_else(|| manifest.join("target"))
}

/// `chromium` on `PATH`.
fn chromium() -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path).map(|d| d.join("chromium")).find(|p| p.is_file())
}

/// Chromium's sandbox needs user namespaces that root in a container does not get; CI runs as root.
fn running_as_root() -> bool {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0)
}

/// The browser process, killed and reaped when dropped, so that a failing test leaves no browser behind. What it
/// wrote to stderr is printed when the test fails.
struct Chromium {
    child: Child,
    stderr: Arc<Mutex<String>>,
    _profile: tempfile::TempDir,
}

impl Chromium {
    /// Starts the browser with a fresh profile; the receiver gets the DevTools address once it prints it.
    fn spawn(exe: &Path) -> (Chromium, tokio::sync::oneshot::Receiver<String>) {
        let profile = tempfile::tempdir().unwrap();
        let mut cmd = Command::new(exe);
        cmd.args(["--headless=new", "--remote-debugging-port=0", "--no-first-run", "--no-default-browser-check"])
            .args(["--disable-background-networking", "--disable-component-update", "--disable-sync"])
            .args(["--disable-dev-shm-usage", "--hide-scrollbars", "--mute-audio"])
            .arg(format!("--user-data-dir={}", profile.path().display()));
        if running_as_root() {
            cmd.arg("--no-sandbox");
        }
        cmd.arg("about:blank").stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::piped());
        let mut child = cmd.spawn().unwrap_or_else(|e| panic!("cannot start {}: {e}", exe.display()));
        let pipe = child.stderr.take().unwrap();
        let stderr = Arc::new(Mutex::new(String::new()));
        let (tx, rx) = tokio::sync::oneshot::channel();
        let log = stderr.clone();
        // Read to the end, not only to the address: a full pipe would stop the browser.
        std::thread::spawn(move || {
            let (mut pipe, mut tx, mut line) = (std::io::BufReader::new(pipe), Some(tx), Vec::new());
            while pipe.read_until(b'\n', &mut line).is_ok_and(|n| n > 0) {
                let text = String::from_utf8_lossy(&line);
                if let Some(url) = text.trim().strip_prefix("DevTools listening on ") {
                    if let Some(tx) = tx.take() {
                        let _ = tx.send(url.to_string());
                    }
                }
                // Headless Chromium looks for D-Bus, which containers lack: dozens of lines that explain nothing.
                if !text.contains(":ERROR:dbus/") {
                    log.lock().unwrap().push_str(&text);
                }
                line.clear();
            }
        });
        (Chromium { child, stderr, _profile: profile }, rx)
    }
}

impl Drop for Chromium {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::thread::panicking() {
            eprintln!("chromium's stderr:\n{}", self.stderr.lock().map(|s| s.clone()).unwrap_or_default());
        }
    }
}

/// One tab over the DevTools protocol: commands one at a time, answered in order; the events that arrive meanwhile
/// are kept, for [`Page::wait_for`] and the test's own checks.
struct Page {
    ws: WebSocketStream<MaybeTlsStream<TcpStream>>,
    /// The tab's session on the browser's connection (`Target.attachToTarget` with `flatten`).
    session: Option<String>,
    next_id: u64,
    events: VecDeque<Value>,
}

impl Page {
    /// A new tab of `WIDTH`×`HEIGHT`, with page and console events on.
    async fn open(devtools: &str) -> Page {
        let (ws, _) = match tokio::time::timeout(STEP, tokio_tungstenite::connect_async(devtools)).await {
            Ok(Ok(ws)) => ws,
            Ok(Err(e)) => panic!("cannot connect to DevTools at {devtools}: {e}"),
            Err(_) => panic!("DevTools at {devtools} did not answer within {STEP:?}"),
        };
        let mut page = Page { ws, session: None, next_id: 0, events: VecDeque::new() };
        let target = page.call("Target.createTarget", json!({ "url": "about:blank" })).await;
        let attached =
            page.call("Target.attachToTarget", json!({ "targetId": target["targetId"], "flatten": true })).await;
        page.session = Some(attached["sessionId"].as_str().expect("a session id").to_string());
        page.call("Page.enable", json!({})).await;
        page.call("Log.enable", json!({})).await;
        let metrics = json!({ "width": WIDTH, "height": HEIGHT, "deviceScaleFactor": 1, "mobile": false });
        page.call("Emulation.setDeviceMetricsOverride", metrics).await;
        page
    }

    /// Sends a command and waits for its answer (`result`); a protocol error fails the test.
    async fn call(&mut self, method: &str, params: Value) -> Value {
        self.next_id += 1;
        let id = self.next_id;
        let mut msg = json!({ "id": id, "method": method, "params": params });
        if let Some(s) = &self.session {
            msg["sessionId"] = s.clone().into();
        }
        match tokio::time::timeout(STEP, self.ws.send(Message::text(msg.to_string()))).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => panic!("{method}: cannot send to chromium: {e}"),
            Err(_) => panic!("{method}: chromium took more than {STEP:?} to take the command"),
        }
        loop {
            let m = self.next_message(method).await;
            if m["id"] == id {
                assert!(m.get("error").is_none(), "{method} {params}: {}", m["error"], params = msg["params"]);
                return m["result"].clone();
            }
            if m.get("method").is_some() {
                self.events.push_back(m);
            }
        }
    }

    /// The next event `method`: one already received, else the first to arrive.
    async fn wait_for(&mut self, method: &str) -> Value {
        if let Some(at) = self.events.iter().position(|e| e["method"] == method) {
            return self.events.remove(at).unwrap();
        }
        loop {
            let m = self.next_message(method).await;
            if m["method"] == method {
                return m;
            }
            if m.get("method").is_some() {
                self.events.push_back(m);
            }
        }
    }

    async fn next_message(&mut self, waiting_for: &str) -> Value {
        loop {
            match tokio::time::timeout(STEP, self.ws.next()).await {
                Err(_) => panic!("{waiting_for}: nothing from chromium for {STEP:?}"),
                Ok(None) => panic!("{waiting_for}: chromium closed the DevTools connection"),
                Ok(Some(Err(e))) => panic!("{waiting_for}: DevTools connection failed: {e}"),
                Ok(Some(Ok(Message::Text(t)))) => return serde_json::from_str(t.as_str()).unwrap(),
                Ok(Some(Ok(_))) => {}
            }
        }
    }

    /// Forgets earlier load events, so that the next [`Page::wait_for`] sees the navigation about to start.
    fn forget_loads(&mut self) {
        self.events.retain(|e| e["method"] != "Page.loadEventFired");
    }

    async fn goto(&mut self, url: &str) {
        self.forget_loads();
        let r = self.call("Page.navigate", json!({ "url": url })).await;
        assert!(r.get("errorText").is_none(), "{url}: {}", r["errorText"]);
        self.loaded().await;
    }

    /// Waits for the page the last action led to, until it has loaded.
    async fn loaded(&mut self) {
        self.wait_for("Page.loadEventFired").await;
        assert_eq!(self.eval("document.readyState").await, "complete");
    }

    /// The value of a JavaScript expression in the page (a JSON value); an exception fails the test.
    async fn eval(&mut self, expression: &str) -> Value {
        let r = self.call("Runtime.evaluate", json!({ "expression": expression, "returnByValue": true })).await;
        assert!(r.get("exceptionDetails").is_none(), "{expression}: {}", r["exceptionDetails"]);
        r["result"]["value"].clone()
    }

    /// Path and query of the page shown.
    async fn location(&mut self) -> String {
        self.eval("location.pathname + location.search").await.as_str().unwrap_or_default().to_string()
    }

    /// What a person reads on the page.
    async fn text(&mut self) -> String {
        self.eval("document.body.innerText").await.as_str().unwrap_or_default().to_string()
    }

    /// Focuses the field, selects what it holds and types `text` over it.
    async fn type_into(&mut self, selector: &str, text: &str) {
        let sel = serde_json::to_string(selector).unwrap();
        let found = self
            .eval(&format!(
                "(e => {{ if (!e) return false; e.focus(); e.select(); return true; }})(document.querySelector({sel}))"
            ))
            .await;
        assert_eq!(found, true, "no field {selector}");
        self.call("Input.insertText", json!({ "text": text })).await;
    }

    /// Clicks the middle of the element with the mouse, then waits for the page that leads to.
    async fn click_and_wait(&mut self, selector: &str) {
        let sel = serde_json::to_string(selector).unwrap();
        // The middle of the element's first box (a link that wraps has one per line), and what a click there
        // reaches: the element itself, not something over it.
        let aim = self
            .eval(&format!(
                "(e => {{ if (!e || !e.getClientRects().length) return null; e.scrollIntoView({{ block: 'center' }}); \
                 const r = e.getClientRects()[0], x = r.x + r.width / 2, y = r.y + r.height / 2; \
                 const hit = document.elementFromPoint(x, y); \
                 return [x, y, hit === e || e.contains(hit), hit ? hit.outerHTML.slice(0, 200) : '']; }})\
                 (document.querySelector({sel}))"
            ))
            .await;
        let (x, y, reached, hit): (f64, f64, bool, String) =
            serde_json::from_value(aim).unwrap_or_else(|_| panic!("nothing to click at {selector}"));
        assert!(reached, "a click on {selector} at ({x}, {y}) would reach {hit}");
        self.forget_loads();
        for kind in ["mouseMoved", "mousePressed", "mouseReleased"] {
            let event = json!({ "type": kind, "x": x, "y": y, "button": "left", "clickCount": 1 });
            self.call("Input.dispatchMouseEvent", event).await;
        }
        self.loaded().await;
    }

    /// The window as a PNG.
    async fn screenshot(&mut self) -> Vec<u8> {
        use base64::Engine;
        let r = self.call("Page.captureScreenshot", json!({ "format": "png" })).await;
        base64::engine::general_purpose::STANDARD.decode(r["data"].as_str().expect("image data")).unwrap()
    }
}

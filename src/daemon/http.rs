//! The optional `[http]` server of the daemon: `/metrics` (Prometheus text format 0.0.4), `/healthz`, and the web
//! console's pages, which a layer above hands in ([`Pages`]; `crate::console`).
//!
//! Routes are an axum [`Router`] over [`AppState`] ([`router`]). The handlers of `/metrics` and `/healthz` read the
//! in-process counters of [`Metrics`] and a few cheap aggregates from the store; they never write.
//!
//! The accept loop is hearsay's own rather than `axum::serve`, because a listener that anyone on the network can
//! reach must stay bounded whatever clients do:
//! - **connections**: at most [`MAX_CONNECTIONS`] open. At the cap a new connection takes the place of the oldest
//!   one that has not sent its request head yet (`Connections`), so a flood of idle or slowloris connections
//!   cannot lock a scrape or a health check out; only when every open connection is inside a request is the new
//!   one closed unanswered.
//! - **time**: the request head within [`HEADER_READ_TIMEOUT`] (hyper's `header_read_timeout`, which also closes
//!   connections that send nothing), the handler and body within [`REQUEST_TIMEOUT`] (503), and the whole
//!   connection within [`CONNECTION_LIFETIME`] (a client that never reads its response).
//! - **size**: the request head within [`MAX_HEAD_BYTES`] (hyper answers 431), a request body within
//!   [`MAX_BODY_BYTES`] (413).
//! - **accept errors**: out of file descriptors (`EMFILE`, `ENFILE`) or memory, the loop sleeps 100 ms, doubling
//!   to 1 s, instead of retrying at once: retrying would spin a core until a descriptor frees up.
//!
//! One request per connection (keep-alive off, every response says `connection: close`): a scrape every few
//! seconds gains nothing from keeping it, and a client that reads to the end of the stream gets its end.
//!
//! What it does not do: TLS (put it behind a reverse proxy, or listen on localhost), HTTP/2. Authentication is
//! the console's (`/metrics` and `/healthz` stay open to scrapers and health checks).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::State;
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::sync::Notify;
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::timeout::TimeoutLayer;

use crate::sources::poll::PollOutcome;
use crate::store::{OutboxCounts, Store};

/// Open connections at most. Far above what a Prometheus server and a few people at a console need, far below the
/// 1,024 descriptors systemd gives a service by default (polls, SQLite and the journal need some too).
pub const MAX_CONNECTIONS: usize = 256;
/// The request head (request line and headers) must arrive within this time of the connection opening.
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(5);
/// A request, from its head to the handler's response, must be done within this time. Prometheus's default scrape
/// timeout is 10 s too, and `/healthz` gives the database 2 s.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// A connection is closed this long after it opened, whatever it is doing: the bound on a client that sends its
/// request and then never reads the response (hyper has no write timeout).
pub const CONNECTION_LIFETIME: Duration = Duration::from_secs(30);
/// Request line and headers together (hyper's read buffer; 8 KiB is its minimum). Room for a console's cookies.
pub const MAX_HEAD_BYTES: usize = 16 * 1024;
/// Request bodies: nothing here takes one yet; a console's forms are a few KiB.
pub const MAX_BODY_BYTES: usize = 64 * 1024;
/// Connections the kernel completes and queues for `accept` (capped by `net.core.somaxconn`, 4,096 by default).
const LISTEN_BACKLOG: u32 = 1024;
/// The pause after a failed `accept`, doubled after each failure in a row up to [`ACCEPT_BACKOFF_MAX`].
const ACCEPT_BACKOFF_MIN: Duration = Duration::from_millis(100);
const ACCEPT_BACKOFF_MAX: Duration = Duration::from_secs(1);

/// Counters the daemon updates as it works (since the process started; Prometheus handles restarts).
#[derive(Default)]
pub struct Metrics {
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    /// (source, status) → polls; status is `ok` or the error class.
    polls: BTreeMap<(String, String), u64>,
    /// source → mentions newly stored.
    ingested: BTreeMap<String, u64>,
    classified: u64,
    classify_seconds: f64,
    classify_batches: u64,
    classify_failures: u64,
}

impl Metrics {
    pub fn record_polls(&self, outcomes: &[PollOutcome]) {
        let mut m = self.inner.lock().expect("metrics lock");
        for o in outcomes {
            let status = o.error.as_ref().map_or("ok", |e| e.class.as_str());
            *m.polls.entry((o.source.clone(), status.to_string())).or_default() += 1;
            *m.ingested.entry(o.source.clone()).or_default() += o.new;
        }
    }

    pub fn record_classification(&self, mentions: usize, seconds: f64, ok: bool) {
        let mut m = self.inner.lock().expect("metrics lock");
        if ok {
            m.classified += mentions as u64;
            m.classify_seconds += seconds;
            m.classify_batches += 1;
        } else {
            m.classify_failures += 1;
        }
    }
}

/// The client's address (the TCP peer), in every request's extensions; the console reads it for the audit log,
/// its sign-in limits and `trusted_proxy`.
#[derive(Debug, Clone, Copy)]
pub struct ClientAddr(pub std::net::SocketAddr);

/// Routes a layer above adds to the server (the web console): built once the store is open, from `[http]`. An
/// error stops the daemon from starting (e.g. the console refuses a public address without accounts).
pub type Pages = Box<
    dyn FnOnce(Store, crate::config::HttpConfig) -> futures::future::BoxFuture<'static, anyhow::Result<Router>> + Send,
>;

/// What every route can reach (axum's `State`); cheap to clone.
#[derive(Clone)]
pub struct AppState {
    pub store: Store,
    pub metrics: Arc<Metrics>,
}

/// Every route of the `[http]` server. `get` routes answer HEAD with the same headers and no body; other methods on
/// a known path get 405 (with `allow`), unknown paths 404. Every response says `cache-control: no-store`.
/// `pages` (the console's) are served beside them, under the same limits.
pub fn router(state: AppState, pages: Router) -> Router {
    Router::new()
        .route("/metrics", get(metrics_page))
        .route("/healthz", get(healthz_page))
        .with_state(state)
        .merge(pages)
        .fallback(not_found)
        // The last layer added is the outermost: the limit and the timeout answer before the routes do, and their
        // answers (413, 503) get `no-store` too.
        .layer(RequestBodyLimitLayer::new(MAX_BODY_BYTES))
        .layer(TimeoutLayer::with_status_code(StatusCode::SERVICE_UNAVAILABLE, REQUEST_TIMEOUT))
        .layer(axum::middleware::map_response(no_store))
}

async fn metrics_page(State(s): State<AppState>) -> Response {
    match render_metrics(&s.store, &s.metrics).await {
        Ok(body) => ([(CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], body).into_response(),
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, format!("{e}\n")).into_response(),
    }
}

async fn healthz_page(State(s): State<AppState>) -> Response {
    let (healthy, body) = health(&s.store).await;
    let status = if healthy { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
    (status, [(CONTENT_TYPE, "application/json")], body).into_response()
}

async fn not_found() -> (StatusCode, &'static str) {
    (StatusCode::NOT_FOUND, "try /metrics or /healthz\n")
}

/// Counters and health are live values: no cache between here and the client may keep them.
async fn no_store(mut response: Response) -> Response {
    response.headers_mut().insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// Binds `listen` now (so a taken port is a start-up error) and serves [`router`] with `pages` until the runtime
/// stops. Returns the address it listens on (the port chosen when `listen` asks for port 0).
pub async fn serve(
    listen: &str,
    store: Store,
    metrics: Arc<Metrics>,
    pages: Router,
) -> anyhow::Result<std::net::SocketAddr> {
    let listener =
        bind(listen).await.map_err(|e| anyhow::anyhow!("[http] listen = {listen:?}: cannot listen there: {e}"))?;
    let addr = listener.local_addr()?;
    if pages.has_routes() {
        tracing::info!(listen = %addr, "serving /metrics, /healthz and the console");
    } else {
        tracing::info!(listen = %addr, "serving /metrics and /healthz");
    }
    let app = router(AppState { store, metrics }, pages);
    tokio::spawn(accept_loop(listener, app, Connections::new(MAX_CONNECTIONS)));
    Ok(addr)
}

/// `TcpListener::bind` with a deeper accept queue: std's 128 fills within milliseconds of a flood whenever the
/// daemon is off the CPU, and a client whose handshake is dropped then waits a second (then three) to try again,
/// health checks and scrapes included.
async fn bind(listen: &str) -> std::io::Result<TcpListener> {
    let mut error = None;
    for addr in tokio::net::lookup_host(listen).await? {
        let socket = if addr.is_ipv4() { TcpSocket::new_v4()? } else { TcpSocket::new_v6()? };
        // As std does on Unix: a restarted daemon can listen while its old connections sit in TIME_WAIT.
        socket.set_reuseaddr(true)?;
        match socket.bind(addr) {
            Ok(()) => return socket.listen(LISTEN_BACKLOG),
            Err(e) => error = Some(e),
        }
    }
    Err(error.unwrap_or_else(|| std::io::Error::new(std::io::ErrorKind::InvalidInput, "no address to listen on")))
}

async fn accept_loop(listener: TcpListener, app: Router, conns: Arc<Connections>) {
    let mut failures = 0u32;
    loop {
        let (stream, peer) = match listener.accept().await {
            Ok(accepted) => accepted,
            // The peer gave up before we took its connection: nothing wrong with the listener.
            Err(e) if is_peer_error(&e) => continue,
            Err(e) => {
                failures += 1;
                if failures == 1 {
                    tracing::warn!(error = %e, "[http] cannot accept connections; retrying with a pause");
                } else {
                    tracing::debug!(error = %e, failures, "[http] accept failed again");
                }
                tokio::time::sleep(accept_backoff(failures)).await;
                continue;
            }
        };
        if failures > 0 {
            tracing::info!(failures, "[http] accepting connections again");
            failures = 0;
        }
        match conns.admit() {
            Some(ticket) => {
                tokio::spawn(serve_connection(stream, peer, app.clone(), ticket));
            }
            None => tracing::debug!("[http] every connection is inside a request; closing a new one"),
        }
        // Let the connections read what they have been sent before taking the next one (tokio polls the socket
        // driver before resuming a yielded task): in a flood, a client that sent its request head gets it read, and
        // so stops being evictable, before hundreds more connections can push it out.
        tokio::task::yield_now().await;
    }
}

/// Errors of one half-open connection, as opposed to the listener's (descriptors, memory).
fn is_peer_error(e: &std::io::Error) -> bool {
    use std::io::ErrorKind::*;
    matches!(e.kind(), ConnectionAborted | ConnectionReset | ConnectionRefused | Interrupted)
}

/// 100 ms, 200 ms, 400 ms, 800 ms, then 1 s for the `failures`-th failure in a row.
fn accept_backoff(failures: u32) -> Duration {
    ACCEPT_BACKOFF_MIN.saturating_mul(1 << failures.saturating_sub(1).min(4)).min(ACCEPT_BACKOFF_MAX)
}

/// One connection, one request, through hyper's HTTP/1 server; until it ends, is evicted or outlives its lifetime.
async fn serve_connection(stream: TcpStream, peer: std::net::SocketAddr, app: Router, ticket: Ticket) {
    let routes = TowerToHyperService::new(app);
    let slot = ticket.slot.clone();
    // hyper calls the service once the request head is parsed: from then on the connection is not evictable.
    let service = hyper::service::service_fn(move |mut request: hyper::Request<hyper::body::Incoming>| {
        slot.in_request.store(true, Ordering::Relaxed);
        request.extensions_mut().insert(ClientAddr(peer));
        hyper::service::Service::call(&routes, request)
    });
    let connection = hyper::server::conn::http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(HEADER_READ_TIMEOUT)
        .max_buf_size(MAX_HEAD_BYTES)
        .keep_alive(false)
        .serve_connection(TokioIo::new(stream), service);
    // Dropping the connection future closes the socket.
    tokio::select! {
        outcome = tokio::time::timeout(CONNECTION_LIFETIME, connection) => match outcome {
            Ok(Ok(())) => {}
            Ok(Err(e)) => tracing::debug!(error = %e, "[http] connection"),
            Err(_) => tracing::debug!("[http] connection closed after {CONNECTION_LIFETIME:?}"),
        },
        () = ticket.slot.evict.notified() => tracing::debug!("[http] idle connection closed to make room"),
    }
}

/// The open connections, oldest first, and which of them are still waiting for their request head.
///
/// Waiting connections are the ones a flood consists of (connect and say nothing, or a byte a second), so at the
/// cap the oldest of them is closed for the newcomer: a real client sends its head right after connecting, and the
/// accept loop lets each new connection read before it takes the next one, so that head is read long before `cap`
/// newer connections arrive (in the test's flood, 2,000 connections in 80 ms, 256 take 10 ms; a client an RTT
/// longer than that away can lose its place to such a flood). Connections inside a request are left alone; they
/// end within [`REQUEST_TIMEOUT`] (handler) or [`CONNECTION_LIFETIME`] (writing). With keep-alive on, `in_request`
/// would have to be cleared between requests.
struct Connections {
    cap: usize,
    table: Mutex<Table>,
}

#[derive(Default)]
struct Table {
    next_id: u64,
    /// Ids grow with time, so the first entry is the oldest connection.
    open: BTreeMap<u64, Arc<Slot>>,
}

#[derive(Default)]
struct Slot {
    /// Set when the request head has been read. Relaxed: a stale `false` only evicts a connection whose request
    /// began a moment ago, which the same race with a slightly earlier newcomer would have done anyway.
    in_request: AtomicBool,
    /// Notified (once) to close the connection; `Notify` keeps the permit if its task is not waiting yet.
    evict: Notify,
}

/// An admitted connection's place in [`Connections`]; dropping it frees the place.
struct Ticket {
    id: u64,
    slot: Arc<Slot>,
    conns: Arc<Connections>,
}

impl Connections {
    fn new(cap: usize) -> Arc<Self> {
        Arc::new(Connections { cap, table: Mutex::default() })
    }

    /// A place for a new connection, after evicting the oldest waiting one if the table is full; `None` when it is
    /// full of connections inside a request.
    fn admit(self: &Arc<Self>) -> Option<Ticket> {
        let mut table = self.table.lock().expect("connections lock");
        if table.open.len() >= self.cap {
            let oldest_waiting =
                table.open.iter().find(|(_, slot)| !slot.in_request.load(Ordering::Relaxed)).map(|(id, _)| *id)?;
            if let Some(slot) = table.open.remove(&oldest_waiting) {
                slot.evict.notify_one();
            }
        }
        let id = table.next_id;
        table.next_id += 1;
        let slot = Arc::new(Slot::default());
        table.open.insert(id, slot.clone());
        Some(Ticket { id, slot, conns: self.clone() })
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.table.lock().expect("connections lock").open.len()
    }
}

impl Drop for Ticket {
    fn drop(&mut self) {
        // Already gone if it was evicted.
        self.conns.table.lock().expect("connections lock").open.remove(&self.id);
    }
}

/// Prometheus label value escaping (backslash, quote, newline).
fn esc(v: &str) -> String {
    v.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

async fn render_metrics(store: &Store, metrics: &Metrics) -> anyhow::Result<String> {
    let mut out = String::new();
    let mut lines: Vec<String> = Vec::new();
    {
        let m = metrics.inner.lock().expect("metrics lock");
        let n = family(
            &mut out,
            "hearsay_polls_total",
            "counter",
            "Polls of a (source, brand) pair, by outcome (ok or error class).",
        );
        for ((source, status), v) in &m.polls {
            lines.push(format!("{n}{{source=\"{}\",status=\"{}\"}} {v}", esc(source), esc(status)));
        }
        flush(&mut out, &mut lines);
        let n = family(&mut out, "hearsay_mentions_ingested_total", "counter", "Mentions newly stored, by source.");
        for (source, v) in &m.ingested {
            lines.push(format!("{n}{{source=\"{}\"}} {v}", esc(source)));
        }
        flush(&mut out, &mut lines);
        let n = family(&mut out, "hearsay_classified_total", "counter", "Mentions labelled by the sentiment model.");
        lines.push(format!("{n} {}", m.classified));
        flush(&mut out, &mut lines);
        let n = family(
            &mut out,
            "hearsay_classification_seconds",
            "summary",
            "Time spent in sentiment inference, per batch (sum and count of batches).",
        );
        lines.push(format!("{n}_sum {}", m.classify_seconds));
        lines.push(format!("{n}_count {}", m.classify_batches));
        flush(&mut out, &mut lines);
        let n = family(
            &mut out,
            "hearsay_classification_failures_total",
            "counter",
            "Batches the model failed on (retried).",
        );
        lines.push(format!("{n} {}", m.classify_failures));
        flush(&mut out, &mut lines);
    }
    let queue = store.unclassified_count().await?;
    let n = family(&mut out, "hearsay_classify_queue_depth", "gauge", "Stored mentions waiting for a sentiment label.");
    lines.push(format!("{n} {queue}"));
    flush(&mut out, &mut lines);
    let OutboxCounts { sent, backlog } = store.outbox_counts().await?;
    let n =
        family(&mut out, "hearsay_emails_sent_total", "counter", "Alert emails delivered (SMTP or .eml), all time.");
    lines.push(format!("{n} {sent}"));
    flush(&mut out, &mut lines);
    let n = family(&mut out, "hearsay_outbox_backlog", "gauge", "Alert emails written but not delivered yet.");
    lines.push(format!("{n} {backlog}"));
    flush(&mut out, &mut lines);
    let alerts = store.alert_event_counts().await?;
    let n = family(
        &mut out,
        "hearsay_alert_events_total",
        "counter",
        "Alert events recorded (firing, reminder, resolved), all time.",
    );
    for a in &alerts {
        lines.push(format!("{n}{{kind=\"{}\",event=\"{}\"}} {}", esc(&a.kind), esc(&a.event), a.count));
    }
    flush(&mut out, &mut lines);
    let sources = store.source_states().await?;
    let n = family(&mut out, "hearsay_source_degraded", "gauge", "1 while a (source, brand) pair is degraded.");
    for s in &sources {
        let degraded = u8::from(s.degraded_since.is_some());
        lines.push(format!("{n}{{source=\"{}\",brand=\"{}\"}} {degraded}", esc(&s.source), esc(&s.brand)));
    }
    flush(&mut out, &mut lines);
    let n = family(
        &mut out,
        "hearsay_source_consecutive_failures",
        "gauge",
        "Failed polls in a row of a (source, brand) pair.",
    );
    for s in &sources {
        let (source, brand, failures) = (esc(&s.source), esc(&s.brand), s.consecutive_failures);
        lines.push(format!("{n}{{source=\"{source}\",brand=\"{brand}\"}} {failures}"));
    }
    flush(&mut out, &mut lines);
    let n = family(&mut out, "hearsay_build_info", "gauge", "Always 1; the version in a label.");
    lines.push(format!("{n}{{version=\"{}\"}} 1", env!("CARGO_PKG_VERSION")));
    flush(&mut out, &mut lines);
    Ok(out)
}

fn family(out: &mut String, name: &str, kind: &str, help: &str) -> String {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
    name.to_string()
}

fn flush(out: &mut String, lines: &mut Vec<String>) {
    for l in lines.drain(..) {
        out.push_str(&l);
        out.push('\n');
    }
}

/// Healthy = the database answers within 2 s and no source is degraded. The body says which check failed.
async fn health(store: &Store) -> (bool, String) {
    let db_ok = matches!(tokio::time::timeout(Duration::from_secs(2), store.ping()).await, Ok(Ok(())));
    let degraded: Vec<(String, String)> = if db_ok {
        let states = store.source_states().await.unwrap_or_default();
        states.into_iter().filter(|s| s.degraded_since.is_some()).map(|s| (s.source, s.brand)).collect()
    } else {
        Vec::new()
    };
    let body = serde_json::json!({
        "status": if db_ok && degraded.is_empty() { "ok" } else { "unhealthy" },
        "database": if db_ok { "ok" } else { "not answering" },
        "degraded_sources": degraded.iter().map(|(s, b)| serde_json::json!({"source": s, "brand": b})).collect::<Vec<_>>(),
    });
    (db_ok && degraded.is_empty(), format!("{body}\n"))
}

#[cfg(test)]
mod tests {
    use futures::FutureExt as _;

    use super::*;
    use crate::sources::poll::{ErrorClass, PollError};
    use crate::store::{Access, PollRecord, PollStatus, SourceState};

    #[test]
    fn a_full_table_evicts_the_oldest_connection_still_waiting_for_its_request() {
        let conns = Connections::new(2);
        let a = conns.admit().unwrap();
        let b = conns.admit().unwrap();
        a.slot.in_request.store(true, Ordering::Relaxed);
        let c = conns.admit().expect("b is waiting: c takes its place");
        assert!(b.slot.evict.notified().now_or_never().is_some(), "b told to close");
        assert!(a.slot.evict.notified().now_or_never().is_none(), "a is inside a request");
        assert_eq!(conns.len(), 2);
        drop(b); // the evicted connection's task ends: its place is already taken, nothing else moves
        assert_eq!(conns.len(), 2);

        c.slot.in_request.store(true, Ordering::Relaxed);
        assert!(conns.admit().is_none(), "every connection is inside a request");
        drop(a);
        let d = conns.admit().expect("a's place is free");
        assert!(c.slot.evict.notified().now_or_never().is_none());
        assert_eq!((conns.len(), d.id), (2, 3));
    }

    #[test]
    fn accept_backoff_doubles_from_100_ms_to_1_s() {
        let ms: Vec<u128> = (1..=7).map(|n| accept_backoff(n).as_millis()).collect();
        assert_eq!(ms, [100, 200, 400, 800, 1000, 1000, 1000]);
        assert_eq!(accept_backoff(u32::MAX), Duration::from_secs(1));
    }

    #[tokio::test]
    async fn metrics_count_polls_by_outcome_and_health_names_degraded_sources() {
        let store = Store::open(std::path::Path::new(":memory:"), Access::ReadWrite).await.unwrap();
        let m = Metrics::default();
        let err = PollError { class: ErrorClass::Config, http_status: Some(401), message: "bad".into() };
        let o = |src: &str, new, error| PollOutcome { source: src.into(), brand: "Acme".into(), seen: 3, new, error };
        m.record_polls(&[o("hn", 2, None), o("hn", 1, None), o("gh\"x", 0, Some(err))]);
        m.record_classification(3, 0.25, true);
        let text = render_metrics(&store, &m).await.unwrap();
        assert!(text.contains("hearsay_polls_total{source=\"hn\",status=\"ok\"} 2"), "{text}");
        assert!(text.contains("hearsay_polls_total{source=\"gh\\\"x\",status=\"config\"} 1"), "escaped: {text}");
        assert!(text.contains("hearsay_mentions_ingested_total{source=\"hn\"} 3"), "{text}");
        assert!(text.contains("hearsay_classification_seconds_sum 0.25\nhearsay_classification_seconds_count 1"));
        assert!(health(&store).await.0);

        let st = SourceState {
            source: "gh".into(),
            brand: "Acme".into(),
            platform: "github".into(),
            degraded_since: Some(1),
            ..Default::default()
        };
        let rec = PollRecord {
            source: "gh".into(),
            brand: "Acme".into(),
            started_at: chrono::Utc::now(),
            latency_ms: 1,
            status: PollStatus::Error,
            http_status: Some(401),
            items_seen: 0,
            items_new: 0,
            error_class: Some("config".into()),
            error: Some("bad".into()),
        };
        store.save_poll(&st, &rec).await.unwrap();
        let (ok, body) = health(&store).await;
        assert!(!ok && body.contains(r#""degraded_sources":[{"brand":"Acme","source":"gh"}]"#), "{body}");
        assert!(render_metrics(&store, &m)
            .await
            .unwrap()
            .contains("hearsay_source_degraded{source=\"gh\",brand=\"Acme\"} 1"));
    }
}

//! The optional `[http]` endpoint of the daemon: `/metrics` (Prometheus text format 0.0.4) and `/healthz`.
//!
//! A deliberately small HTTP/1.1 responder on a tokio listener (GET/HEAD only, one request per connection,
//! request head capped at 8 KiB and 5 s): a scrape endpoint does not justify a web framework. It reads the
//! in-process counters of [`Metrics`] and a few cheap aggregates from the store; it never writes.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use crate::sources::poll::PollOutcome;
use crate::store::Store;

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

/// Binds `listen` now (so a taken port is a start-up error) and serves until the runtime stops.
pub async fn serve(listen: &str, store: Store, metrics: Arc<Metrics>) -> anyhow::Result<()> {
    let listener = TcpListener::bind(listen)
        .await
        .map_err(|e| anyhow::anyhow!("[http] listen = {listen:?}: cannot listen there: {e}"))?;
    tracing::info!(listen, "serving /metrics and /healthz");
    tokio::spawn(async move {
        loop {
            let Ok((conn, _)) = listener.accept().await else { continue };
            let (store, metrics) = (store.clone(), metrics.clone());
            tokio::spawn(async move {
                if let Err(e) = handle(conn, &store, &metrics).await {
                    tracing::debug!(error = %e, "http connection");
                }
            });
        }
    });
    Ok(())
}

async fn handle(mut conn: TcpStream, store: &Store, metrics: &Metrics) -> std::io::Result<()> {
    let mut buf = Vec::with_capacity(1024);
    let read = async {
        let mut chunk = [0u8; 1024];
        while !buf.windows(4).any(|w| w == b"\r\n\r\n") && buf.len() < 8192 {
            let n = conn.read(&mut chunk).await?;
            if n == 0 {
                break;
            }
            buf.extend_from_slice(&chunk[..n]);
        }
        Ok::<_, std::io::Error>(())
    };
    if tokio::time::timeout(Duration::from_secs(5), read).await.is_err() {
        return Ok(());
    }
    let head = String::from_utf8_lossy(&buf);
    let mut parts = head.lines().next().unwrap_or_default().split_whitespace();
    let (method, target) = (parts.next().unwrap_or_default(), parts.next().unwrap_or_default());
    let path = target.split('?').next().unwrap_or_default();
    let (status, ctype, body) = match (method, path) {
        ("GET" | "HEAD", "/metrics") => match render_metrics(store, metrics).await {
            Ok(b) => ("200 OK", "text/plain; version=0.0.4; charset=utf-8", b),
            Err(e) => ("500 Internal Server Error", "text/plain; charset=utf-8", format!("{e}\n")),
        },
        ("GET" | "HEAD", "/healthz") => {
            let (healthy, body) = health(store).await;
            (if healthy { "200 OK" } else { "503 Service Unavailable" }, "application/json", body)
        }
        ("GET" | "HEAD", _) => ("404 Not Found", "text/plain; charset=utf-8", "try /metrics or /healthz\n".into()),
        _ => ("405 Method Not Allowed", "text/plain; charset=utf-8", "GET only\n".into()),
    };
    let mut resp = format!(
        "HTTP/1.1 {status}\r\ncontent-type: {ctype}\r\ncontent-length: {}\r\ncache-control: no-store\r\nconnection: close\r\n\r\n",
        body.len()
    );
    if method != "HEAD" {
        resp.push_str(&body);
    }
    conn.write_all(resp.as_bytes()).await?;
    conn.shutdown().await
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
    let pool = store.pool();
    let queue: i64 = sqlx::query_scalar("SELECT count(*) FROM classify_queue").fetch_one(pool).await?;
    let n = family(&mut out, "hearsay_classify_queue_depth", "gauge", "Stored mentions waiting for a sentiment label.");
    lines.push(format!("{n} {queue}"));
    flush(&mut out, &mut lines);
    let (sent, backlog): (i64, i64) =
        sqlx::query_as("SELECT coalesce(sum(sent_at IS NOT NULL), 0), coalesce(sum(sent_at IS NULL), 0) FROM outbox")
            .fetch_one(pool)
            .await?;
    let n =
        family(&mut out, "hearsay_emails_sent_total", "counter", "Alert emails delivered (SMTP or .eml), all time.");
    lines.push(format!("{n} {sent}"));
    flush(&mut out, &mut lines);
    let n = family(&mut out, "hearsay_outbox_backlog", "gauge", "Alert emails written but not delivered yet.");
    lines.push(format!("{n} {backlog}"));
    flush(&mut out, &mut lines);
    let alerts: Vec<(String, String, i64)> =
        sqlx::query_as("SELECT kind, event, count(*) FROM alerts GROUP BY kind, event ORDER BY kind, event")
            .fetch_all(pool)
            .await?;
    let n = family(
        &mut out,
        "hearsay_alert_events_total",
        "counter",
        "Alert events recorded (firing, reminder, resolved), all time.",
    );
    for (kind, event, v) in alerts {
        lines.push(format!("{n}{{kind=\"{}\",event=\"{}\"}} {v}", esc(&kind), esc(&event)));
    }
    flush(&mut out, &mut lines);
    let sources: Vec<(String, String, bool, i64)> = sqlx::query_as(
        "SELECT source, brand, degraded_since IS NOT NULL, consecutive_failures FROM source_state ORDER BY 1, 2",
    )
    .fetch_all(pool)
    .await?;
    let n = family(&mut out, "hearsay_source_degraded", "gauge", "1 while a (source, brand) pair is degraded.");
    for (s, b, d, _) in &sources {
        lines.push(format!("{n}{{source=\"{}\",brand=\"{}\"}} {}", esc(s), esc(b), u8::from(*d)));
    }
    flush(&mut out, &mut lines);
    let n = family(
        &mut out,
        "hearsay_source_consecutive_failures",
        "gauge",
        "Failed polls in a row of a (source, brand) pair.",
    );
    for (s, b, _, f) in &sources {
        lines.push(format!("{n}{{source=\"{}\",brand=\"{}\"}} {f}", esc(s), esc(b)));
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
        sqlx::query_as("SELECT source, brand FROM source_state WHERE degraded_since IS NOT NULL ORDER BY 1, 2")
            .fetch_all(store.pool())
            .await
            .unwrap_or_default()
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
    use super::*;
    use crate::sources::poll::{ErrorClass, PollError};
    use crate::store::{Access, PollRecord, PollStatus, SourceState};

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

//! The daemon's life: start-up, the poll → classify → detect → alert cycle, signals, and systemd.
//!
//! Start-up order is fixed: open the store (migrations) → load the model → `READY=1`. Each tick of the scheduler
//! polls the (source, brand) pairs that are due, classifies what is queued, evaluates alerts and flushes the
//! outbox. Shutdown is a value: SIGTERM/SIGINT flips a [`tokio::sync::watch`] that stops new polls; the cycle in
//! hand finishes its writes, the database is checkpointed and closed, and the process exits 0.
//! SIGHUP re-reads the config; an invalid one is logged problem by problem and the old one kept.
//!
//! Architecture invariant: mentions are stored before they are classified, so a missing or failing model never
//! loses one; they wait in `classify_queue` and are retried every tick.

pub mod http;
pub mod systemd;

use std::time::Duration;

use anyhow::Context as _;
use tokio::sync::watch;

use crate::config::{Config, ModelConfig};
use crate::exit::Failure;
use crate::sentiment::{self, LoadOptions};
use crate::store::{Access, Store};

/// How often the scheduler looks for due work.
const TICK: Duration = Duration::from_secs(5);
/// Mentions classified per store round trip.
pub const CLASSIFY_CHUNK: i64 = 256;

/// A future that resolves on SIGTERM or SIGINT. The handlers are installed when this is called, not when the
/// future is first polled, so a signal that arrives right after start-up is never lost to the default action.
pub fn shutdown_signal() -> std::io::Result<impl std::future::Future<Output = ()>> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    Ok(async move {
        tokio::select! {
            _ = term.recv() => {}
            _ = int.recv() => {}
        }
    })
}

/// Loads the configured sentiment models (the primary one and, where present, the multilingual one) on a
/// blocking thread.
pub async fn load_classifier(model: &ModelConfig) -> anyhow::Result<sentiment::Models> {
    let dir = model.resolve_dir();
    let multilingual = model.resolve_multilingual_dir();
    let backend = model.backend();
    let opts = LoadOptions {
        batch_size: model.batch_size,
        max_length: model.max_length,
        precision: model.precision().unwrap_or_else(|_| backend.default_precision()),
    };
    let models =
        tokio::task::spawn_blocking(move || sentiment::load_models(&dir, multilingual.as_deref(), backend, &opts))
            .await?
            .context("cannot load the sentiment model")?;
    tracing::debug!(models = %models.version(), languages = models.languages().join(","), "sentiment models loaded");
    Ok(models)
}

/// Classifies everything in the queue with freshly loaded models; returns how many were labelled.
pub async fn classify_pending(store: &Store, model: &ModelConfig) -> anyhow::Result<usize> {
    let mut models = load_classifier(model).await?;
    let mut done = 0;
    loop {
        let (back, n) = classify_some(store, models, CLASSIFY_CHUNK).await;
        let n = n?;
        models = back.ok_or_else(|| anyhow::anyhow!("the classifier panicked"))?;
        done += n;
        if n == 0 {
            return Ok(done);
        }
    }
}

/// One round of classification: takes up to `limit` queued mentions, labels each with the model its language
/// routes to (a mention stored before languages were detected is detected now), stores the results, and says
/// how many. The models move onto a blocking thread and back, so inference never blocks the async runtime;
/// they come back on failure too (a failed round must not leave the daemon without its models), and are
/// lost only if inference panicked.
pub async fn classify_some(
    store: &Store,
    models: sentiment::Models,
    limit: i64,
) -> (Option<sentiment::Models>, anyhow::Result<usize>) {
    let pending = match store.unclassified(limit).await {
        Ok(p) => p,
        Err(e) => return (Some(models), Err(e.into())),
    };
    if pending.is_empty() {
        return (Some(models), Ok(0));
    }
    let joined = tokio::task::spawn_blocking(move || {
        let mut models = models;
        let langs: Vec<String> =
            pending.iter().map(|(_, text, lang)| lang.clone().unwrap_or_else(|| crate::lang::detect(text).0)).collect();
        let items: Vec<(&str, Option<&str>)> =
            pending.iter().zip(&langs).map(|((_, t, _), l)| (t.as_str(), Some(l.as_str()))).collect();
        let r = models.classify(&items);
        let ids: Vec<i64> = pending.iter().map(|(id, _, _)| *id).collect();
        (models, r.map(|p| (ids.clone(), p)).map_err(|e| (ids, e)))
    })
    .await;
    let (models, result) = match joined {
        Ok(back) => back,
        Err(e) => return (None, Err(anyhow::Error::new(e).context("classification panicked"))),
    };
    let stored = match result {
        Ok((ids, routed)) => {
            let results: Vec<_> = ids.into_iter().zip(routed).collect();
            store.store_routed(&results).await.map(|()| results.len()).map_err(anyhow::Error::from)
        }
        Err((ids, e)) => match store.classify_failed(&ids, &e.to_string()).await {
            Ok(()) => Err(anyhow::Error::new(e).context("classification failed; the mentions stay queued")),
            Err(store_error) => Err(anyhow::Error::from(store_error)),
        },
    };
    (Some(models), stored)
}

/// What one daemon cycle needs, rebuilt on SIGHUP.
struct Daemon {
    config: Config,
    store: Store,
    classifier: Option<sentiment::Models>,
    poller: crate::sources::poll::Poller,
    metrics: std::sync::Arc<http::Metrics>,
}

impl Daemon {
    /// One cycle: due polls, classification, alerts. Errors of one part are logged and do not stop the others.
    async fn cycle(&mut self, shutdown: &watch::Receiver<bool>, only_source: Option<&str>, force: bool) {
        let outcomes = self.poller.poll_due(&self.store, shutdown, only_source, force).await;
        self.metrics.record_polls(&outcomes);
        for o in &outcomes {
            tracing::debug!(source = %o.source, brand = %o.brand, new = o.new, "polled");
        }
        if let Some(c) = self.classifier.take() {
            let mut c = Some(c);
            loop {
                let t0 = std::time::Instant::now();
                let (back, round) = classify_some(&self.store, c.take().expect("present"), CLASSIFY_CHUNK).await;
                c = back;
                match round {
                    Ok(n) => {
                        if n > 0 {
                            self.metrics.record_classification(n, t0.elapsed().as_secs_f64(), true);
                        }
                        if n == 0 || *shutdown.borrow() {
                            break;
                        }
                    }
                    Err(e) => {
                        self.metrics.record_classification(0, 0.0, false);
                        tracing::error!(error = format!("{e:#}"), "classification");
                        break;
                    }
                }
                if c.is_none() {
                    tracing::error!(
                        "the sentiment models were lost with a panic: mentions wait until SIGHUP or a restart"
                    );
                    break;
                }
            }
            self.classifier = c;
        }
        if let Err(e) = crate::alert::evaluate_and_notify(&self.config, &self.store, chrono::Utc::now()).await {
            tracing::error!(error = format!("{e:#}"), "alert evaluation");
        }
    }
}

async fn start(config: Config) -> Result<Daemon, Failure> {
    let store = crate::exit::open_store(&config.storage.database, Access::ReadWrite).await?;
    let classifier = match load_classifier(&config.model).await {
        Ok(c) => Some(c),
        Err(e) => {
            tracing::error!(
                error = format!("{e:#}"),
                "no sentiment model: mentions are stored and wait for classification"
            );
            None
        }
    };
    let poller = crate::sources::poll::Poller::new(&config).map_err(|e| Failure::Usage(format!("{e:#}")))?;
    // Whatever a previous run left in the outbox goes out now, backoff or not.
    if let Err(e) =
        crate::alert::send::flush_outbox(&config, &store, chrono::Utc::now() + chrono::Duration::days(365)).await
    {
        tracing::error!(error = format!("{e:#}"), "outbox");
    }
    Ok(Daemon { config, store, classifier, poller, metrics: Default::default() })
}

/// `hearsay poll --once`: one cycle, then exit.
pub async fn poll_once(config: Config, only_source: Option<&str>) -> Result<(), Failure> {
    if let Some(name) = only_source {
        if !config.sources.iter().any(|s| s.name == name) {
            let names: Vec<_> = config.sources.iter().map(|s| s.name.as_str()).collect();
            return Err(Failure::Usage(format!("no source named {name:?}; configured: {}", names.join(", "))));
        }
    }
    let mut d = start(config).await?;
    let (_tx, rx) = watch::channel(false);
    d.cycle(&rx, only_source, true).await;
    let pending = d.store.unclassified_count().await?;
    if pending > 0 {
        eprintln!("{pending} mention(s) await classification");
    }
    d.store.close().await;
    Ok(())
}

/// `hearsay run`: the daemon, until SIGTERM/SIGINT. `pages` (the web console, from the layer above) are served
/// beside `/metrics` and `/healthz` when `[http]` is configured.
pub async fn run(config: Config, pages: Option<http::Pages>) -> Result<(), Failure> {
    let config_path = config.file.clone();
    // Signal handlers first: a SIGHUP or SIGTERM right after READY=1 must find them installed.
    let mut hup = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())?;
    let mut d = start(config).await?;
    if let Some(h) = &d.config.http {
        let pages = match pages {
            Some(build) => build(d.store.clone(), h.clone()).await.map_err(|e| Failure::Usage(format!("{e:#}")))?,
            None => axum::Router::new(),
        };
        http::serve(&h.listen, d.store.clone(), d.metrics.clone(), pages).await.map_err(Failure::Runtime)?;
    }
    tracing::info!(db = %d.store.path().display(), sources = d.config.sources.len(), brands = d.config.brands.len(), "hearsay started");

    let (stop_tx, stop_rx) = watch::channel(false);
    let shutdown = shutdown_signal()?;
    systemd::notify("READY=1\nSTATUS=polling");
    tokio::spawn(async move {
        shutdown.await;
        tracing::info!("shutdown requested: finishing the cycle in hand");
        systemd::notify("STOPPING=1");
        let _ = stop_tx.send(true);
    });
    let mut tick = tokio::time::interval(TICK);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let watchdog_every = systemd::watchdog_interval();
    let mut watchdog = tokio::time::interval(watchdog_every.unwrap_or(Duration::from_secs(3600)));
    let mut stop = stop_rx.clone();
    loop {
        tokio::select! {
            _ = stop.changed() => break,
            _ = tick.tick() => d.cycle(&stop_rx, None, false).await,
            _ = watchdog.tick(), if watchdog_every.is_some() => {
                // Only vouch for the service while the database answers.
                match tokio::time::timeout(Duration::from_secs(5), d.store.ping()).await {
                    Ok(Ok(())) => systemd::notify("WATCHDOG=1"),
                    _ => tracing::error!("database did not answer: withholding the watchdog ping"),
                }
            }
            _ = hup.recv() => {
                systemd::notify("RELOADING=1");
                match Config::load(&config_path) {
                    Ok(new) => {
                        match crate::sources::poll::Poller::new(&new) {
                            Ok(p) => { d.poller = p; d.config = new; tracing::info!("configuration reloaded"); }
                            Err(e) => tracing::error!(error = format!("{e:#}"), "reload failed; keeping the old configuration"),
                        }
                    }
                    Err(e) => {
                        for p in &e.problems {
                            tracing::error!(problem = %p, "invalid configuration; keeping the old one");
                        }
                    }
                }
                systemd::notify("READY=1");
            }
        }
        if *stop.borrow() {
            break;
        }
    }
    d.store.close().await;
    tracing::info!("hearsay stopped");
    Ok(())
}

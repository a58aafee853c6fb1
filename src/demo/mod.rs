//! `hearsay demo`: the whole pipeline on a fictional brand, in under a minute, with nothing from the internet.
//!
//! A mock of five platforms (`server.rs`) runs inside the process on 127.0.0.1 and serves a generated story
//! (`scenario.rs`): weeks of ordinary chatter about "Nimbus Bank", then an afternoon when its card payments are
//! declined or taken twice. The demo then runs the **real** daemon code against it, driving a simulated clock:
//! the poller (`sources::poll::Poller`) through the real HTTP client and parsers, the store, the shipped sentiment
//! model, the spike detector and the alert lifecycle (`alert::evaluate_and_notify`), which writes the alert email
//! to the outbox folder. Ordinary history is polled every six simulated hours, the incident every five minutes.
//!
//! The simulated clock ends at the real present, so the stored history reads naturally afterwards
//! (`hearsay mentions --since 24h`) and the outbox's real-time bookkeeping (emails are due "now") stays true.
//!
//! What it leaves in the demo folder: `hearsay.db`, `outbox/*.eml`, `report.html` and the generated
//! `hearsay.toml` (for reading; the mock platforms are gone once the demo exits).
//!
//! Not a benchmark and not a test fixture generator: the story is tuned to be readable and to fire exactly one
//! alert with the default `[alerts]` settings.

pub mod scenario;
pub mod server;

use std::collections::{BTreeMap, HashSet};
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::Context as _;
use chrono::{DateTime, Utc};
use tokio::sync::watch;

use crate::config::Config;
use crate::exit::{CmdResult, Failure};
use crate::sentiment::Models;
use crate::store::{Access, GroupTotals, Store};
use scenario::{Scenario, Site, Size, BRAND};
use server::MockServer;

/// A file whose presence says "this folder was made by `hearsay demo` and may be reset".
const MARKER: &str = ".hearsay-demo";
/// What the demo writes, and so what a reset removes.
const OUTPUTS: [&str; 6] = ["hearsay.db", "hearsay.db-wal", "hearsay.db-shm", "hearsay.toml", "report.html", "outbox"];
/// Simulated time between polls of the ordinary history, and during the incident.
const SLOW_STEP: i64 = 6 * 3600;
const FAST_STEP: i64 = 300;
/// The story ends on a multiple of this (seconds).
const STORY_GRID: i64 = 7200;
/// The story's seed: the same story every run.
const SEED: u64 = 0x4e1b_u64;

/// What to run.
#[derive(Debug, Clone)]
pub struct DemoOptions {
    /// The demo folder (reset when it holds an earlier demo).
    pub dir: PathBuf,
    /// A shorter history (tests): eight days instead of three weeks.
    pub quick: bool,
    /// Serve the console on the demo's database at this address afterwards, until Ctrl-C.
    pub serve: Option<String>,
}

/// What the demo produced.
#[derive(Debug, Clone)]
pub struct DemoOutcome {
    pub database: PathBuf,
    pub emails: Vec<PathBuf>,
    pub report: PathBuf,
    /// When (simulated) the negative spike fired, if it did.
    pub spike_at: Option<DateTime<Utc>>,
    pub mentions: i64,
    pub platforms: usize,
}

/// `hearsay demo`: runs the demo with the configured model and prints where everything is.
/// Exit status 0 only when the alert email was produced.
pub async fn main(opts: &DemoOptions) -> CmdResult {
    let started = Instant::now();
    let outcome = run(opts, None).await?;
    let took = started.elapsed().as_secs_f64();
    let db = outcome.database.display().to_string();
    let db = if db.contains(char::is_whitespace) { format!("\"{db}\"") } else { db };
    println!();
    match (&outcome.spike_at, outcome.emails.first()) {
        (Some(_), Some(eml)) => {
            println!("Done in {took:.0} s. {} mentions from {} platforms.", outcome.mentions, outcome.platforms);
            println!("  database      {}", outcome.database.display());
            println!("  alert email   {}", eml.display());
            println!("  report        {}", outcome.report.display());
            println!();
            println!("Try next:");
            println!("  hearsay mentions --db {db} --sentiment negative --since 3h");
            println!("  hearsay mentions --db {db} --search '\"charged twice\" OR declined' --since 24h");
            println!("  hearsay stats --db {db} --by day --since 30d");
            println!("  hearsay alerts list --db {db}");
            println!("  hearsay report --db {db} --since 30d --output nimbus-report.html");
            println!("  sqlite3 {db} 'select * from mentions_v limit 5'");
            match &opts.serve {
                Some(listen) => serve(&outcome.database, listen).await,
                None => {
                    println!();
                    println!("See it in the web console: hearsay demo --serve   (then http://127.0.0.1:9464/)");
                    Ok(())
                }
            }
        }
        (None, _) => Err(Failure::Runtime(anyhow::anyhow!(
            "the demo ran but no negative-spike alert fired (the model labelled too few incident mentions negative?); \
             inspect {} with `hearsay stats --db {db} --by hour --since 3h`",
            outcome.database.display()
        ))),
        (Some(_), None) => Err(Failure::Runtime(anyhow::anyhow!(
            "the alert fired but no .eml reached {}; see `hearsay alerts list --db {db}`",
            opts.dir.join("outbox").display()
        ))),
    }
}

/// The account `hearsay demo --serve` makes for the console.
pub const DEMO_ACCOUNT: &str = "demo";

/// Serves the console on the demo's database at `listen` until Ctrl-C or SIGTERM, signed in with an editor account
/// made for it (a new random password each run, printed).
async fn serve(database: &Path, listen: &str) -> CmdResult {
    let store = Store::open(database, Access::ReadWrite).await.map_err(anyhow::Error::from)?;
    let password: String = {
        use rand::{Rng, SeedableRng};
        let mut rng = rand::rngs::SmallRng::from_os_rng();
        (0..16).map(|_| char::from(b"abcdefghijkmnpqrstuvwxyz23456789"[rng.random_range(0..32)])).collect()
    };
    let by = crate::store::Actor { name: "hearsay demo".into(), origin: "cli".into() };
    let hash = crate::password::hash(&password);
    store.add_user(DEMO_ACCOUNT, crate::store::Role::Editor, &hash, &by).await.map_err(anyhow::Error::from)?;
    // A demo's session lasts a day, not the configured default's week.
    let http = crate::config::HttpConfig {
        session_max: crate::duration::HumanDuration::from_secs(86_400),
        ..crate::config::HttpConfig::listening_on(listen)
    };
    let pages =
        crate::console::router(store.clone(), http).await.map_err(|e| Failure::Usage(format!("--serve: {e:#}")))?;
    let addr = crate::daemon::http::serve(listen, store.clone(), Default::default(), pages)
        .await
        .map_err(|e| Failure::Usage(format!("--serve: {e:#}")))?;
    let host = if addr.ip().is_unspecified() { "127.0.0.1".to_string() } else { addr.ip().to_string() };
    let host = if addr.is_ipv6() && !addr.ip().is_unspecified() { format!("[{host}]") } else { host };
    println!();
    println!("Console: http://{host}:{}/  (account {DEMO_ACCOUNT}, password {password})", addr.port());
    println!("Serving the demo's database until Ctrl-C.");
    let _ = std::io::stdout().flush();
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
    store.close().await;
    Ok(())
}

/// Runs the demo in `opts.dir`. `classifier` replaces the configured model (tests); `None` loads the model the
/// generated config names (the shipped one).
pub async fn run(opts: &DemoOptions, classifier: Option<Models>) -> Result<DemoOutcome, Failure> {
    let dir = prepare_dir(&opts.dir)?;
    let now = Utc::now().timestamp();
    let size = if opts.quick { Size::QUICK } else { Size::FULL };
    // Ending on a whole two hours keeps the detector's window grid (1 h and 2 h scales) in the same place
    // relative to the story, so every run sees exactly the same evaluations.
    let story = scenario::build(now - now.rem_euclid(STORY_GRID), size, SEED);
    let server = MockServer::start(story.posts.clone()).await.context("cannot start the demo's local platforms")?;

    let config_path = dir.join("hearsay.toml");
    let toml = config_text(&dir, &server.base_url());
    std::fs::write(&config_path, &toml).with_context(|| format!("cannot write {}", config_path.display()))?;
    let config =
        Config::parse(&toml, &config_path).map_err(|e| Failure::Runtime(anyhow::anyhow!("demo config: {e}")))?;

    println!(
        "hearsay demo: \"{BRAND}\", a fictional bank, on local copies of Reddit, Hacker News, Mastodon, the App Store \
         and a news feed ({})",
        server.base_url()
    );
    let mut classifier = match classifier {
        Some(c) => c,
        None => {
            print_flush(&format!("loading the sentiment model from {} … ", config.model.resolve_dir().display()));
            let c = crate::daemon::load_classifier(&config.model)
                .await
                .map_err(|e| Failure::Runtime(e.context("the demo classifies mentions with the shipped model")))?;
            println!("ok ({})", c.version());
            c
        }
    };

    let store = Store::open(&config.storage.database, Access::ReadWrite).await.map_err(anyhow::Error::from)?;
    let poller = crate::sources::poll::Poller::new(&config).map_err(|e| Failure::Runtime(e.context("demo poller")))?;
    let (_stop, shutdown) = watch::channel(false);
    let mut sim = Simulation {
        config: &config,
        store: &store,
        server: &server,
        story: &story,
        polled: BTreeMap::new(),
        alerts_seen: HashSet::new(),
        spike_at: None,
        errors: 0,
    };

    let days = (story.crisis_start - story.start) / 86_400;
    println!(
        "\n1. {days} days of ordinary chatter, polled every 6 hours of simulated time ({} posts on the platforms)",
        story.posts.iter().filter(|p| p.created_at < story.crisis_start).count()
    );
    let mut t = story.start + SLOW_STEP;
    let mut step = 0;
    while t <= story.crisis_start {
        classifier = sim.step(t, &poller, &shutdown, classifier).await?;
        step += 1;
        if step % 4 == 0 || t + SLOW_STEP > story.crisis_start {
            sim.print_progress(&format!("day {:>2}/{days}", (t - story.start) / 86_400)).await?;
        }
        t += SLOW_STEP;
    }

    println!(
        "\n2. {}: a faulty card-processing update declines payments and takes others twice; polling every 5 minutes",
        fmt_time(story.incident_at)
    );
    let mut t = story.crisis_start + FAST_STEP;
    while t <= story.end {
        classifier = sim.step(t, &poller, &shutdown, classifier).await?;
        let (total, negative) = sim.last_hour(t).await?;
        let fresh = sim.alert_news().await?;
        println!("   {}  last hour: {total:>3} mentions, {negative:>3} negative", fmt_clock(t));
        for line in fresh {
            println!("{line}");
        }
        t += FAST_STEP;
    }
    drop(classifier);

    // The outbox's bookkeeping runs on the real clock: send what the simulated evaluations queued.
    crate::alert::send::flush_outbox(&config, &store, Utc::now())
        .await
        .map_err(|e| Failure::Runtime(e.context("outbox")))?;
    println!("\n3. Totals");
    sim.print_totals().await?;

    let report = dir.join("report.html");
    let report_opts = crate::report::ReportOptions {
        brand: Some(BRAND.to_string()),
        since: DateTime::from_timestamp(story.start, 0).unwrap_or_default(),
        until: DateTime::from_timestamp(story.end + 1, 0).unwrap_or_default(),
        exclude_terms: Vec::new(),
        terms_since: None,
    };
    let html = crate::report::render(&store, &report_opts).await.map_err(Failure::Runtime)?;
    std::fs::write(&report, html).with_context(|| format!("cannot write {}", report.display()))?;

    let totals = store.mention_totals().await.map_err(anyhow::Error::from)?;
    store.close().await;
    if sim.errors > 0 {
        eprintln!("hearsay demo: {} poll(s) failed; see the log lines above", sim.errors);
    }
    let mut emails: Vec<PathBuf> = std::fs::read_dir(&config.storage.outbox_dir)
        .map(|d| {
            d.filter_map(|e| e.ok().map(|e| e.path())).filter(|p| p.extension().is_some_and(|x| x == "eml")).collect()
        })
        .unwrap_or_default();
    emails.sort();
    Ok(DemoOutcome {
        database: config.storage.database.clone(),
        emails,
        report,
        spike_at: sim.spike_at,
        mentions: totals.mentions,
        platforms: totals.platforms as usize,
    })
}

/// The simulation's running state.
struct Simulation<'a> {
    config: &'a Config,
    store: &'a Store,
    server: &'a MockServer,
    story: &'a Scenario,
    /// New mentions stored per source.
    polled: BTreeMap<String, u64>,
    alerts_seen: HashSet<i64>,
    spike_at: Option<DateTime<Utc>>,
    errors: usize,
}

impl Simulation<'_> {
    /// One daemon cycle at simulated time `t`: poll every source, classify what arrived, evaluate alerts.
    /// The classifier is moved in and handed back (inference runs on a blocking thread).
    async fn step(
        &mut self,
        t: i64,
        poller: &crate::sources::poll::Poller,
        shutdown: &watch::Receiver<bool>,
        mut classifier: Models,
    ) -> Result<Models, Failure> {
        self.server.set_now(t);
        // One source at a time: the local platforms answer in microseconds, and sequential ingests never contend
        // for SQLite's write lock.
        for source in &self.config.sources {
            for o in poller.poll_due(self.store, shutdown, Some(&source.name), true).await {
                *self.polled.entry(o.source.clone()).or_default() += o.new;
                if let Some(e) = &o.error {
                    self.errors += 1;
                    eprintln!("   poll of {} failed ({}): {}", o.source, e.class.as_str(), e.message);
                }
            }
        }
        loop {
            let (back, n) = crate::daemon::classify_some(self.store, classifier, crate::daemon::CLASSIFY_CHUNK).await;
            let n = n.map_err(Failure::Runtime)?;
            classifier = back.ok_or_else(|| Failure::Runtime(anyhow::anyhow!("the classifier panicked")))?;
            if n == 0 {
                break;
            }
        }
        let now = DateTime::from_timestamp(t, 0).unwrap_or_default();
        crate::alert::evaluate_and_notify(self.config, self.store, now)
            .await
            .map_err(|e| Failure::Runtime(e.context("alert evaluation")))?;
        Ok(classifier)
    }

    /// Mentions and negatives of the brand in the hour before `t`.
    async fn last_hour(&self, t: i64) -> Result<(i64, i64), Failure> {
        let to = DateTime::from_timestamp(t + 1, 0).unwrap_or_default();
        let rows = self
            .store
            .platform_counts(BRAND, to - chrono::Duration::hours(1), to)
            .await
            .map_err(anyhow::Error::from)?;
        Ok(rows.iter().fold((0, 0), |(a, b), (_, t, n)| (a + t, b + n)))
    }

    /// Lines announcing alert events recorded since the last call.
    async fn alert_news(&mut self) -> Result<Vec<String>, Failure> {
        let mut lines = Vec::new();
        let mut rows = self.store.alerts(20).await.map_err(anyhow::Error::from)?;
        rows.reverse();
        for a in rows {
            if !self.alerts_seen.insert(a.id) {
                continue;
            }
            let d: serde_json::Value = serde_json::from_str(&a.details).unwrap_or_default();
            if a.kind == "negative_spike" && a.event == "firing" {
                self.spike_at.get_or_insert(DateTime::from_timestamp(a.fired_at, 0).unwrap_or_default());
                lines.push(format!(
                    "   >>> SPIKE DETECTED at {}: {} negative mentions in the last hour where about {:.1} are usual \
                     ({:.0}× normal, negative share {:.0}% vs {:.0}%). Alert email queued.",
                    fmt_clock(a.fired_at),
                    d["observed"],
                    d["expected"].as_f64().unwrap_or(0.0),
                    d["ratio"].as_f64().unwrap_or(0.0),
                    d["negative_share"].as_f64().unwrap_or(0.0) * 100.0,
                    d["baseline_share"].as_f64().unwrap_or(0.0) * 100.0,
                ));
            } else {
                lines.push(format!("   >>> alert {} {} at {}", a.kind, a.event, fmt_clock(a.fired_at)));
            }
        }
        Ok(lines)
    }

    async fn print_progress(&mut self, label: &str) -> Result<(), Failure> {
        let (total, neg, neu, pos) = self.sentiment_split().await?;
        let per: Vec<String> = Site::ALL
            .iter()
            .map(|s| format!("{} {}", s.platform(), self.polled.get(s.platform()).unwrap_or(&0)))
            .collect();
        println!(
            "   {label}  {total:>5} mentions ({})  negative {:>2.0}% · neutral {:>2.0}% · positive {:>2.0}%",
            per.join(", "),
            pct(neg, total),
            pct(neu, total),
            pct(pos, total)
        );
        // Alerts during the ordinary history would be false alarms; say so if there are any.
        for line in self.alert_news().await? {
            println!("{line}");
        }
        Ok(())
    }

    async fn print_totals(&self) -> Result<(), Failure> {
        for GroupTotals { key, mentions, negative, positive } in
            self.store.totals_by_platform().await.map_err(anyhow::Error::from)?
        {
            println!("   {key:<11} {mentions:>5} mentions, {negative:>4} negative, {positive:>4} positive");
        }
        let (total, neg, neu, pos) = self.sentiment_split().await?;
        println!(
            "   {:<11} {total:>5} mentions: negative {:.0}%, neutral {:.0}%, positive {:.0}% (the model's labels); \
             {} requests to the local platforms",
            "all",
            pct(neg, total),
            pct(neu, total),
            pct(pos, total),
            self.server.requests()
        );
        let langs: Vec<String> = (self.store.totals_by_language().await.map_err(anyhow::Error::from)?)
            .iter()
            .map(|l| format!("{} {} ({} negative)", l.key, l.mentions, l.negative))
            .collect();
        println!("   languages: {} (`hearsay stats --by lang`)", langs.join(", "));
        let incident = DateTime::from_timestamp(self.story.incident_at, 0).unwrap_or_default();
        let german = self.store.language_totals_since("de", incident).await.map_err(anyhow::Error::from)?;
        println!(
            "   during the incident {} mentions were in German ({} of them negative, counted in the spike like the \
             English ones): Mastodon tagged them \"en\", hearsay detected German and the multilingual model labelled them",
            german.labelled, german.negative
        );
        let excluded = self.story.posts.iter().filter(|p| p.tone == scenario::Tone::OffTopic).count();
        println!(
            "   {excluded} posts about the \"Nimbus Bank Arena\" concert venue were dropped by the brand's exclusion"
        );
        Ok(())
    }

    /// (labelled, negative, neutral, positive) over the whole store.
    async fn sentiment_split(&self) -> Result<(i64, i64, i64, i64), Failure> {
        let t = self.store.label_totals().await.map_err(anyhow::Error::from)?;
        Ok((t.labelled, t.negative, t.neutral, t.positive))
    }
}

/// The config the demo runs with: the real format, pointing every source at the local platforms.
fn config_text(dir: &Path, base: &str) -> String {
    let q = |p: &Path| toml_string(&p.display().to_string());
    let instances: Vec<String> =
        scenario::INSTANCES.iter().map(|i| toml_string(&format!("{base}/mastodon/{i}"))).collect();
    let countries: Vec<String> = scenario::COUNTRIES.iter().map(|c| toml_string(c)).collect();
    format!(
        r#"# Written by `hearsay demo`. The sources point at platforms that lived inside the demo process and are gone
# now: use this file to read the demo's settings, and query the database with `--db`.

[storage]
database = {db}
outbox_dir = {outbox}

[polling]
contact = "hearsay demo (local mock platforms)"
timeout = "10s"
max_pages = 10
per_host_concurrency = 4

[[brands]]
name = {brand}
query = {query}
exclude_phrases = [{excluded}]

[alerts]
recipients = ["brand-team@nimbus-bank.example"]

[[sources]]
name = "reddit"
type = "reddit"
client_id = "hearsay-demo"
client_secret = "demo-secret"
include_comments = true
base_url = {reddit}
auth_url = {reddit_auth}

[[sources]]
name = "hackernews"
type = "hackernews"
base_url = {hn}

[[sources]]
name = "mastodon"
type = "mastodon"
instances = [{instances}]
token = "demo-token"

[[sources]]
name = "appstore"
type = "appstore"
app_ids = [{app}]
countries = [{countries}]
base_url = {itunes}

[[sources]]
name = "feed"
type = "feed"
urls = [{news}]
"#,
        db = q(&dir.join("hearsay.db")),
        outbox = q(&dir.join("outbox")),
        brand = toml_string(BRAND),
        query = toml_string(scenario::QUERY),
        excluded = toml_string(scenario::EXCLUDED_PHRASE),
        reddit = toml_string(&format!("{base}/reddit")),
        reddit_auth = toml_string(&format!("{base}/reddit/api/v1/access_token")),
        hn = toml_string(&format!("{base}/hn")),
        instances = instances.join(", "),
        app = toml_string(scenario::APP_ID),
        countries = countries.join(", "),
        itunes = toml_string(&format!("{base}/itunes")),
        news = toml_string(&format!("{base}/news/rss?q=%22nimbus+bank%22&hl=en-GB")),
    )
}

/// A TOML basic string.
fn toml_string(s: &str) -> String {
    toml::Value::String(s.to_string()).to_string()
}

/// Creates the demo folder, or resets one an earlier demo made. Refuses a non-empty folder it did not make, so
/// `--dir ~` cannot delete anything of the user's. Returns the folder as an absolute path.
fn prepare_dir(dir: &Path) -> Result<PathBuf, Failure> {
    if dir.exists() {
        let empty = std::fs::read_dir(dir)
            .map(|mut d| d.next().is_none())
            .map_err(|e| Failure::Usage(format!("--dir {}: {e}", dir.display())))?;
        if !empty && !dir.join(MARKER).exists() {
            return Err(Failure::Usage(format!(
                "{} exists and was not made by `hearsay demo`; pass --dir with a new or empty folder",
                dir.display()
            )));
        }
        for name in OUTPUTS {
            let p = dir.join(name);
            let r = if p.is_dir() { std::fs::remove_dir_all(&p) } else { std::fs::remove_file(&p) };
            match r {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                    return Err(Failure::Runtime(anyhow::anyhow!("cannot reset {}: {e}", p.display())))
                }
                _ => {}
            }
        }
    }
    std::fs::create_dir_all(dir).map_err(|e| Failure::Usage(format!("cannot create {}: {e}", dir.display())))?;
    std::fs::write(dir.join(MARKER), "made by `hearsay demo`; the next demo run resets this folder\n")
        .map_err(|e| Failure::Runtime(anyhow::anyhow!("{}: {e}", dir.display())))?;
    Ok(std::path::absolute(dir).unwrap_or_else(|_| dir.to_path_buf()))
}

fn pct(n: i64, of: i64) -> f64 {
    if of == 0 {
        0.0
    } else {
        n as f64 * 100.0 / of as f64
    }
}

fn fmt_time(t: i64) -> String {
    DateTime::from_timestamp(t, 0).unwrap_or_default().format("%a %d %b, %H:%M UTC").to_string()
}

fn fmt_clock(t: i64) -> String {
    DateTime::from_timestamp(t, 0).unwrap_or_default().format("%H:%M").to_string()
}

fn print_flush(s: &str) {
    print!("{s}");
    let _ = std::io::stdout().flush();
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sentiment::{Classifier, Label, Prediction, SentimentError};

    /// Stands in for the model where it is not built yet: a few words decide.
    struct Keywords;

    impl Classifier for Keywords {
        fn classify_batch(&mut self, texts: &[&str]) -> Result<Vec<Prediction>, SentimentError> {
            const BAD: [&str; 10] = [
                "declined",
                "twice",
                "double",
                "not impressed",
                "annoying",
                "disaster",
                "furious",
                "worst",
                "outage",
                "frustrating",
            ];
            const GOOD: [&str; 5] = ["impressed", "love", "great", "happy", "brilliant"];
            Ok(texts
                .iter()
                .map(|t| {
                    let t = t.to_lowercase();
                    let label = if BAD.iter().any(|w| t.contains(w)) {
                        Label::Negative
                    } else if GOOD.iter().any(|w| t.contains(w)) {
                        Label::Positive
                    } else {
                        Label::Neutral
                    };
                    let mut scores = [0.1f32; 3];
                    scores[label.index()] = 0.8;
                    Prediction { label, scores }
                })
                .collect())
        }

        fn model_version(&self) -> &str {
            "keywords-test"
        }
    }

    fn keywords() -> Models {
        Models::new((Box::new(Keywords), vec!["en".into()]), Vec::new())
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_quick_demo_fires_one_alert_with_a_keyword_classifier() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("demo");
        let out = run(&DemoOptions { dir: dir.clone(), quick: true, serve: None }, Some(keywords())).await.unwrap();
        assert!(out.spike_at.is_some(), "the spike fired");
        assert_eq!(out.emails.len(), 1, "{:?}", out.emails);
        assert!(out.platforms >= 5, "{} platforms", out.platforms);
        assert!(out.report.exists());
        // The folder is the demo's now: the next run may reset it.
        prepare_dir(&dir).unwrap();
        assert!(!dir.join("outbox").exists() && !dir.join("hearsay.db").exists());
        assert!(dir.join(MARKER).exists());
    }

    #[test]
    fn a_folder_the_demo_did_not_make_is_never_reset() {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::write(tmp.path().join("precious.txt"), "keep").unwrap();
        assert!(matches!(prepare_dir(tmp.path()), Err(Failure::Usage(_))));
        assert!(tmp.path().join("precious.txt").exists());
    }
}

//! Configuration: one TOML file, parsed once into validated types.
//!
//! The file is found by `--config PATH`, then `$HEARSAY_CONFIG`, then `/etc/hearsay/hearsay.toml`.
//! `config/hearsay.toml` documents every key.
//!
//! Loading never stops at the first mistake: every section and every `[[brands]]` / `[[sources]]` entry is
//! deserialised on its own and then validated, and all problems are returned together, each with its key path
//! (`brands[1].query: unbalanced parenthesis at column 14`), so `hearsay check-config` can list them in one go.
//!
//! Architecture invariant: this module reads the config file and the secret files it names, and nothing
//! else. It does not open the database, load the model or touch the network; `check-config` does those checks
//! itself after loading.

pub mod sources;

use std::collections::BTreeSet;
use std::fmt;
use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer};

use crate::duration::HumanDuration;
use crate::query::BrandMatcher;
use crate::secret::{Secret, SecretSpec};
pub use sources::{HtmlSelectors, PlatformSettings, SourceConfig};

/// Where the config is looked for when neither `--config` nor `$HEARSAY_CONFIG` is given.
pub const DEFAULT_PATH: &str = "/etc/hearsay/hearsay.toml";

/// One problem found in the configuration, with the key path it concerns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub path: String,
    pub message: String,
}

impl Problem {
    /// A problem from a message of the form `key: what is wrong`, placed under `prefix` (`smtp` gives
    /// `smtp.key`).
    pub fn under(prefix: &str, message: &str) -> Problem {
        let (key, msg) = message.split_once(": ").unwrap_or(("", message));
        let path = match (prefix.is_empty(), key.is_empty()) {
            (true, _) => key.to_string(),
            (false, true) => prefix.to_string(),
            (false, false) => format!("{prefix}.{key}"),
        };
        Problem { path, message: msg.to_string() }
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.is_empty() {
            f.write_str(&self.message)
        } else {
            write!(f, "{}: {}", self.path, self.message)
        }
    }
}

/// Everything wrong with a config file.
#[derive(Debug, thiserror::Error)]
pub struct ConfigError {
    pub file: PathBuf,
    pub problems: Vec<Problem>,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {} problem(s)", self.file.display(), self.problems.len())?;
        for p in &self.problems {
            write!(f, "\n  {p}")?;
        }
        Ok(())
    }
}

/// The validated configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// The file it came from (relative paths in it are resolved against its directory).
    pub file: PathBuf,
    pub storage: StorageConfig,
    pub polling: PollingConfig,
    pub brands: Vec<BrandConfig>,
    pub sources: Vec<SourceConfig>,
    pub model: ModelConfig,
    pub alerts: AlertsConfig,
    pub smtp: Option<SmtpConfig>,
    pub http: Option<HttpConfig>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StorageConfig {
    /// SQLite database file. Created (mode 0600) with its directory when missing.
    #[serde(default = "default_database")]
    pub database: PathBuf,
    /// Where alert emails are written as `.eml` files when no `[smtp]` section is given.
    #[serde(default = "default_outbox_dir")]
    pub outbox_dir: PathBuf,
}

impl Default for StorageConfig {
    fn default() -> Self {
        StorageConfig { database: default_database(), outbox_dir: default_outbox_dir() }
    }
}

fn default_database() -> PathBuf {
    PathBuf::from("/var/lib/hearsay/hearsay.db")
}
fn default_outbox_dir() -> PathBuf {
    PathBuf::from("/var/lib/hearsay/outbox")
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PollingConfig {
    /// URL or email where platform operators can reach you; goes into the User-Agent.
    #[serde(default)]
    pub contact: Option<String>,
    /// Poll interval for sources that do not set their own.
    #[serde(default = "default_interval")]
    pub interval: HumanDuration,
    /// Whole-request timeout.
    #[serde(default = "default_timeout")]
    pub timeout: HumanDuration,
    /// Most pages fetched per (source, brand) in one poll.
    #[serde(default = "default_max_pages")]
    pub max_pages: u32,
    /// Consecutive failures after which a source is shown as degraded.
    #[serde(default = "default_degraded_after")]
    pub degraded_after: u32,
    /// Largest response body accepted, in MiB.
    #[serde(default = "default_max_body_mib")]
    pub max_body_mib: u32,
    /// Requests in flight at once to one host.
    #[serde(default = "default_per_host")]
    pub per_host_concurrency: u32,
}

impl Default for PollingConfig {
    fn default() -> Self {
        PollingConfig {
            contact: None,
            interval: default_interval(),
            timeout: default_timeout(),
            max_pages: default_max_pages(),
            degraded_after: default_degraded_after(),
            max_body_mib: default_max_body_mib(),
            per_host_concurrency: default_per_host(),
        }
    }
}

fn default_interval() -> HumanDuration {
    HumanDuration::from_secs(15 * 60)
}
fn default_timeout() -> HumanDuration {
    HumanDuration::from_secs(30)
}
fn default_max_pages() -> u32 {
    5
}
fn default_degraded_after() -> u32 {
    5
}
fn default_max_body_mib() -> u32 {
    10
}
fn default_per_host() -> u32 {
    2
}

/// A brand as configured. The compiled matcher is built by [`BrandConfig::matcher`].
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BrandConfig {
    pub name: String,
    pub query: String,
    #[serde(default)]
    pub exclude_phrases: Vec<String>,
    #[serde(default)]
    pub exclude_authors: Vec<String>,
    #[serde(default)]
    pub exclude_domains: Vec<String>,
    /// BCP 47 primary tags (`en`, `de`); empty = all languages.
    #[serde(default)]
    pub languages: Vec<String>,
    /// Extra alert recipients for this brand, on top of `[alerts] recipients`.
    #[serde(default)]
    pub recipients: Vec<String>,
}

impl BrandConfig {
    pub fn matcher(&self) -> Result<BrandMatcher, Problem> {
        BrandMatcher::new(
            &self.name,
            &self.query,
            &self.exclude_phrases,
            &self.exclude_authors,
            &self.exclude_domains,
            &self.languages,
        )
        .map_err(|(field, e)| Problem { path: field, message: e.to_string() })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum BackendName {
    #[default]
    Native,
    Candle,
    RustBert,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelConfig {
    #[serde(default)]
    pub backend: BackendName,
    /// Model directory; when unset, see [`ModelConfig::resolve_dir`].
    #[serde(default)]
    pub dir: Option<PathBuf>,
    #[serde(default = "default_batch_size")]
    pub batch_size: usize,
    /// Token limit per text; defaults to the model's own (labels.json `max_length`).
    #[serde(default)]
    pub max_length: Option<usize>,
    /// Arithmetic of the forward pass: `int8` (native; its default) or `f32` (every backend's; the default of
    /// candle and rust-bert), `f16` (candle only) or `bf16` (rust-bert only; fast on CPUs with AMX / AVX-512
    /// BF16). See [`ModelConfig::precision`].
    #[serde(default)]
    pub precision: Option<String>,
    /// The model for the languages other than English; when unset, see [`ModelConfig::resolve_multilingual_dir`].
    #[serde(default)]
    pub multilingual_dir: Option<PathBuf>,
}

impl Default for ModelConfig {
    fn default() -> Self {
        ModelConfig {
            backend: BackendName::Native,
            multilingual_dir: None,
            dir: None,
            batch_size: default_batch_size(),
            max_length: None,
            precision: None,
        }
    }
}

fn default_batch_size() -> usize {
    32
}

impl ModelConfig {
    /// The sentiment backend to load.
    pub fn backend(&self) -> crate::sentiment::Backend {
        match self.backend {
            BackendName::Native => crate::sentiment::Backend::Native,
            BackendName::Candle => crate::sentiment::Backend::Candle,
            BackendName::RustBert => crate::sentiment::Backend::RustBert,
        }
    }

    /// `precision` as configured, or the backend's default.
    pub fn precision(&self) -> Result<crate::sentiment::Precision, String> {
        match &self.precision {
            Some(p) => p.parse(),
            None => Ok(self.backend().default_precision()),
        }
    }

    /// The model directory: `dir` if set, else `$HEARSAY_MODEL_DIR`, else the first that exists of
    /// `./models/sentiment`, `/usr/share/hearsay/models/sentiment` and the source tree's `models/sentiment`
    /// (so `cargo run` works from anywhere in a checkout).
    pub fn resolve_dir(&self) -> PathBuf {
        if let Some(d) = &self.dir {
            return d.clone();
        }
        default_model_dir()
    }

    /// The multilingual model's directory: `multilingual_dir` if set (an empty string turns it off: English
    /// only, other languages unlabelled), else `sentiment-multilingual` next to [`ModelConfig::resolve_dir`]
    /// when that holds a model, else none.
    pub fn resolve_multilingual_dir(&self) -> Option<PathBuf> {
        match &self.multilingual_dir {
            Some(d) if d.as_os_str().is_empty() => None,
            Some(d) => Some(d.clone()),
            None => {
                let primary = self.resolve_dir();
                let sibling = primary.parent()?.join(crate::sentiment::MULTILINGUAL_DIR_NAME);
                (sibling != primary && sibling.join("labels.json").exists()).then_some(sibling)
            }
        }
    }
}

/// See [`ModelConfig::resolve_dir`].
pub fn default_model_dir() -> PathBuf {
    if let Ok(d) = std::env::var("HEARSAY_MODEL_DIR") {
        return PathBuf::from(d);
    }
    let candidates = [
        PathBuf::from("models/sentiment"),
        PathBuf::from("/usr/share/hearsay/models/sentiment"),
        Path::new(env!("CARGO_MANIFEST_DIR")).join("models/sentiment"),
    ];
    candidates.iter().find(|p| p.join("model.safetensors").exists()).cloned().unwrap_or_else(|| candidates[0].clone())
}

pub use crate::detect::Sensitivity;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlertsConfig {
    #[serde(default)]
    pub recipients: Vec<String>,
    #[serde(default = "default_window")]
    pub window: HumanDuration,
    #[serde(default)]
    pub sensitivity: Sensitivity,
    #[serde(default = "default_min_count")]
    pub min_count: u32,
    #[serde(default = "default_min_ratio")]
    pub min_ratio: f64,
    /// Also report campaigns / launches (all mentions up at the usual negative share).
    #[serde(default)]
    pub volume_spike: bool,
    #[serde(default = "default_group_wait")]
    pub group_wait: HumanDuration,
    #[serde(default = "default_repeat")]
    pub repeat_interval: HumanDuration,
    #[serde(default)]
    pub resolved_emails: bool,
    #[serde(default = "default_source_down_after")]
    pub source_down_after: HumanDuration,
    /// `"22:00-07:00"` (UTC): notifications are held until the end of the quiet period.
    #[serde(default)]
    pub quiet_hours: Option<String>,
    /// Send one summary email per day (per distinct recipient list).
    #[serde(default)]
    pub daily_digest: bool,
    /// When the daily digest goes out, `HH:MM` UTC; it covers the 24 hours before.
    #[serde(default = "default_digest_at")]
    pub digest_at: String,
}

impl AlertsConfig {
    /// `digest_at` as a time of day (validated when the config is loaded; 08:00 if unreadable).
    pub fn digest_time(&self) -> chrono::NaiveTime {
        chrono::NaiveTime::parse_from_str(self.digest_at.trim(), "%H:%M")
            .unwrap_or_else(|_| chrono::NaiveTime::from_hms_opt(8, 0, 0).expect("valid time"))
    }
}

fn default_digest_at() -> String {
    "08:00".into()
}

impl Default for AlertsConfig {
    fn default() -> Self {
        toml::from_str("").expect("defaults deserialise")
    }
}

fn default_window() -> HumanDuration {
    HumanDuration::from_secs(3600)
}
fn default_min_count() -> u32 {
    5
}
fn default_min_ratio() -> f64 {
    2.0
}
fn default_group_wait() -> HumanDuration {
    HumanDuration::from_secs(0)
}
fn default_repeat() -> HumanDuration {
    HumanDuration::from_secs(4 * 3600)
}
fn default_source_down_after() -> HumanDuration {
    HumanDuration::from_secs(2 * 3600)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum SmtpTls {
    #[default]
    Starttls,
    /// Implicit TLS (port 465).
    Tls,
    /// Plain text: only for a relay on localhost.
    None,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSmtp {
    host: String,
    port: Option<u16>,
    #[serde(default)]
    tls: SmtpTls,
    username: Option<String>,
    password: Option<Secret>,
    password_file: Option<PathBuf>,
    password_env: Option<String>,
    from: String,
    #[serde(default = "default_timeout")]
    timeout: HumanDuration,
    ca_file: Option<PathBuf>,
}

/// `[smtp]`: where alert emails go. Without it they are written to `storage.outbox_dir` as `.eml` files.
#[derive(Debug, Clone)]
pub struct SmtpConfig {
    pub host: String,
    pub port: u16,
    pub tls: SmtpTls,
    pub username: Option<String>,
    pub password: Option<Secret>,
    pub password_source: Option<SecretSpec>,
    pub from: String,
    pub timeout: HumanDuration,
    /// Extra CA certificate (PEM) to trust for the SMTP server, e.g. a company CA.
    pub ca_file: Option<PathBuf>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpConfig {
    /// `host:port` for `/metrics`, `/healthz` and the console.
    pub listen: String,
    /// Serve the web console (`src/console/`) beside `/metrics` and `/healthz`. On by default; a listen address
    /// beyond loopback then needs an account (`hearsay users add`) or `trusted_proxy`.
    #[serde(default = "default_true")]
    pub console: bool,
    /// Where people reach the console (e.g. `https://hearsay.example.com/`, behind a reverse proxy): alert emails
    /// and digests link to it, and session cookies are `Secure` when it is https.
    #[serde(default)]
    pub public_url: Option<String>,
    /// Reverse proxies that authenticate people themselves: a request from one of these addresses is signed in as
    /// the account named by `user_header` (which must exist). The header is ignored from any other address.
    #[serde(default)]
    pub trusted_proxy: Vec<std::net::IpAddr>,
    #[serde(default)]
    pub user_header: Option<String>,
    /// A session unused this long ends.
    #[serde(default = "default_session_idle")]
    pub session_idle: HumanDuration,
    /// A session ends this long after sign-in, used or not.
    #[serde(default = "default_session_max")]
    pub session_max: HumanDuration,
}

fn default_true() -> bool {
    true
}
fn default_session_idle() -> HumanDuration {
    HumanDuration::from_secs(8 * 3600)
}
fn default_session_max() -> HumanDuration {
    HumanDuration::from_secs(7 * 86_400)
}

impl HttpConfig {
    /// `[http]` with only `listen` set: every other key at its configuration default.
    pub fn listening_on(listen: &str) -> HttpConfig {
        HttpConfig {
            listen: listen.to_string(),
            console: true,
            public_url: None,
            trusted_proxy: Vec::new(),
            user_header: None,
            session_idle: default_session_idle(),
            session_max: default_session_max(),
        }
    }

    /// Whether `listen` names only loopback addresses (`127.0.0.0/8`, `::1`, `localhost`).
    pub fn is_loopback(&self) -> bool {
        let host = match self.listen.rsplit_once(':') {
            Some((h, _)) => h.trim_start_matches('[').trim_end_matches(']'),
            None => self.listen.as_str(),
        };
        host.eq_ignore_ascii_case("localhost") || host.parse::<std::net::IpAddr>().is_ok_and(|a| a.is_loopback())
    }

    /// Whether session cookies may only travel over https.
    pub fn secure_cookies(&self) -> bool {
        self.public_url.as_deref().is_some_and(|u| u.trim_start().to_ascii_lowercase().starts_with("https://"))
    }
}

impl<'de> Deserialize<'de> for Secret {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d).map(Secret::new)
    }
}

impl Config {
    /// The config file to use: `explicit`, else `$HEARSAY_CONFIG`, else [`DEFAULT_PATH`].
    pub fn locate(explicit: Option<&Path>) -> PathBuf {
        explicit
            .map(Path::to_path_buf)
            .or_else(|| std::env::var_os("HEARSAY_CONFIG").map(PathBuf::from))
            .unwrap_or_else(|| PathBuf::from(DEFAULT_PATH))
    }

    /// Reads and validates `file`, reporting every problem found.
    pub fn load(file: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read(file).map_err(|e| ConfigError {
            file: file.to_path_buf(),
            problems: vec![Problem { path: String::new(), message: format!("cannot read config file: {e}") }],
        })?;
        let text = String::from_utf8(text).map_err(|e| ConfigError {
            file: file.to_path_buf(),
            problems: vec![Problem {
                path: String::new(),
                message: format!("config file is not UTF-8 (byte {})", e.utf8_error().valid_up_to()),
            }],
        })?;
        Config::parse(&text, file)
    }

    /// Parses and validates config text; `file` names it in messages and anchors relative paths.
    pub fn parse(text: &str, file: &Path) -> Result<Config, ConfigError> {
        let mut problems = Vec::new();
        let fail = |problems: Vec<Problem>| ConfigError { file: file.to_path_buf(), problems };
        let mut table: toml::Table = match text.parse() {
            Ok(t) => t,
            Err(e) => {
                let msg = e.message().to_string();
                let at = e.span().map(|s| line_col(text, s.start)).map(|(l, c)| format!(" (line {l}, column {c})"));
                return Err(fail(vec![Problem {
                    path: String::new(),
                    message: format!("{msg}{}", at.unwrap_or_default()),
                }]));
            }
        };
        let base = file.parent().unwrap_or(Path::new("."));

        let storage: StorageConfig = section(&mut table, "storage", &mut problems).unwrap_or_default();
        let polling: PollingConfig = section(&mut table, "polling", &mut problems).unwrap_or_default();
        let model: ModelConfig = section(&mut table, "model", &mut problems).unwrap_or_default();
        let alerts: AlertsConfig = section(&mut table, "alerts", &mut problems).unwrap_or_default();
        let http: Option<HttpConfig> = section(&mut table, "http", &mut problems);
        let raw_smtp: Option<RawSmtp> = section(&mut table, "smtp", &mut problems);
        let brands: Vec<Entry<BrandConfig>> = array(&mut table, "brands", &mut problems);
        let sources: Vec<Entry<SourceConfig>> =
            array_with(&mut table, "sources", &mut problems, SourceConfig::from_toml);
        for key in table.keys() {
            problems.push(Problem {
                path: key.clone(),
                message:
                    "unknown section; expected one of storage, polling, brands, sources, model, alerts, smtp, http"
                        .into(),
            });
        }

        let storage =
            StorageConfig { database: anchor(base, &storage.database), outbox_dir: anchor(base, &storage.outbox_dir) };
        let model = ModelConfig {
            dir: model.dir.as_deref().map(|d| anchor(base, d)),
            multilingual_dir: model.multilingual_dir.as_deref().map(|d| {
                if d.as_os_str().is_empty() {
                    d.to_path_buf()
                } else {
                    anchor(base, d)
                }
            }),
            ..model
        };

        validate_brands(&brands, &mut problems);
        let brand_names: BTreeSet<&str> = brands.iter().map(|b| b.value.name.as_str()).collect();
        let mut source_names = BTreeSet::new();
        for Entry { index: i, value: s } in &sources {
            if !source_names.insert(s.name.clone()) {
                problems.push(Problem {
                    path: format!("sources[{i}].name"),
                    message: format!("duplicate source name {:?}", s.name),
                });
            }
            for b in &s.brands {
                if !brand_names.contains(b.as_str()) {
                    problems.push(Problem {
                        path: format!("sources[{i}].brands"),
                        message: format!(
                            "unknown brand {b:?}; brands are: {}",
                            brand_names.iter().copied().collect::<Vec<_>>().join(", ")
                        ),
                    });
                }
            }
            for p in s.validate() {
                problems.push(Problem { path: format!("sources[{i}].{}", p.path), message: p.message });
            }
        }
        if polling.max_pages == 0 {
            problems.push(Problem { path: "polling.max_pages".into(), message: "must be at least 1".into() });
        }
        if polling.interval.as_secs() < 10 {
            problems.push(Problem { path: "polling.interval".into(), message: "must be at least 10s".into() });
        }
        match model.precision() {
            Err(e) => problems.push(Problem { path: "model.precision".into(), message: e }),
            Ok(p) => {
                if let Some(message) = model.backend().precision_problem(p) {
                    problems.push(Problem { path: "model.precision".into(), message });
                }
            }
        }
        if model.batch_size == 0 || model.batch_size > 1024 {
            problems.push(Problem { path: "model.batch_size".into(), message: "must be between 1 and 1024".into() });
        }
        if alerts.min_ratio < 1.0 || !alerts.min_ratio.is_finite() {
            problems.push(Problem { path: "alerts.min_ratio".into(), message: "must be a number ≥ 1.0".into() });
        }
        if alerts.window.as_secs() < 300 || !alerts.window.as_secs().is_multiple_of(300) {
            problems.push(Problem {
                path: "alerts.window".into(),
                message: "must be a multiple of 5m, at least 5m".into(),
            });
        }
        if let Some(q) = &alerts.quiet_hours {
            if parse_quiet_hours(q).is_none() {
                problems.push(Problem {
                    path: "alerts.quiet_hours".into(),
                    message: format!("{q:?} is not a range like \"22:00-07:00\""),
                });
            }
        }
        if chrono::NaiveTime::parse_from_str(alerts.digest_at.trim(), "%H:%M").is_err() {
            problems.push(Problem {
                path: "alerts.digest_at".into(),
                message: format!("{:?} is not a time of day like \"08:00\" (UTC)", alerts.digest_at),
            });
        }
        for (i, r) in alerts.recipients.iter().enumerate() {
            if !looks_like_address(r) {
                problems.push(Problem {
                    path: format!("alerts.recipients[{i}]"),
                    message: format!("{r:?} is not an email address"),
                });
            }
        }
        if let Some(h) = &http {
            validate_http(h, &mut problems);
        }
        let smtp = raw_smtp.and_then(|raw| resolve_smtp(raw, &mut problems));

        if problems.is_empty() {
            let brands = brands.into_iter().map(|e| e.value).collect();
            let sources = sources.into_iter().map(|e| e.value).collect();
            Ok(Config { file: file.to_path_buf(), storage, polling, brands, sources, model, alerts, smtp, http })
        } else {
            Err(fail(problems))
        }
    }

    /// Compiled matchers for every brand, in config order. Cannot fail on a loaded config.
    pub fn matchers(&self) -> Vec<BrandMatcher> {
        self.brands.iter().filter_map(|b| b.matcher().ok()).collect()
    }
}

/// `HH:MM-HH:MM` → minutes of day (start, end).
pub fn parse_quiet_hours(s: &str) -> Option<(u32, u32)> {
    let (a, b) = s.split_once('-')?;
    let hm = |t: &str| -> Option<u32> {
        let (h, m) = t.trim().split_once(':')?;
        let (h, m): (u32, u32) = (h.parse().ok()?, m.parse().ok()?);
        (h < 24 && m < 60).then_some(h * 60 + m)
    };
    Some((hm(a)?, hm(b)?))
}

fn looks_like_address(s: &str) -> bool {
    let addr = s.rsplit_once('<').map(|(_, a)| a.trim_end_matches('>')).unwrap_or(s).trim();
    matches!(addr.split_once('@'), Some((l, d)) if !l.is_empty() && d.contains('.') && !d.starts_with('.'))
        && !addr.contains(char::is_whitespace)
}

fn resolve_smtp(raw: RawSmtp, problems: &mut Vec<Problem>) -> Option<SmtpConfig> {
    let spec = match SecretSpec::from_parts(
        "password",
        raw.password.map(|p| p.expose().to_string()),
        raw.password_file,
        raw.password_env,
    ) {
        Ok(s) => s,
        Err(e) => {
            problems.push(Problem::under("smtp", &e));
            None
        }
    };
    let password = match spec.as_ref().map(|s| s.resolve("password")) {
        Some(Ok(p)) => Some(p),
        Some(Err(e)) => {
            problems.push(Problem::under("smtp", &e));
            None
        }
        None => None,
    };
    if password.is_some() != raw.username.is_some() {
        problems.push(Problem {
            path: "smtp.username".into(),
            message: "give both username and a password (or neither, for a relay without AUTH)".into(),
        });
    }
    if !looks_like_address(&raw.from) {
        problems.push(Problem { path: "smtp.from".into(), message: format!("{:?} is not an email address", raw.from) });
    }
    let port = raw.port.unwrap_or(match raw.tls {
        SmtpTls::Starttls => 587,
        SmtpTls::Tls => 465,
        SmtpTls::None => 25,
    });
    Some(SmtpConfig {
        host: raw.host,
        port,
        tls: raw.tls,
        username: raw.username,
        password,
        password_source: spec,
        from: raw.from,
        timeout: raw.timeout,
        ca_file: raw.ca_file,
    })
}

fn validate_http(h: &HttpConfig, problems: &mut Vec<Problem>) {
    if let Some(u) = &h.public_url {
        if crate::link::safe_href(u).is_none() {
            problems.push(Problem {
                path: "http.public_url".into(),
                message: format!("{u:?} is not an absolute http(s) URL like \"https://hearsay.example.com/\""),
            });
        }
    }
    match (&h.user_header, h.trusted_proxy.is_empty()) {
        (Some(_), true) => problems.push(Problem {
            path: "http.user_header".into(),
            message: "needs trusted_proxy: the addresses whose header is believed".into(),
        }),
        (None, false) => problems.push(Problem {
            path: "http.trusted_proxy".into(),
            message: "needs user_header: the header that names the signed-in account".into(),
        }),
        (Some(name), false) if axum::http::HeaderName::from_bytes(name.as_bytes()).is_err() => problems
            .push(Problem { path: "http.user_header".into(), message: format!("{name:?} is not a header name") }),
        _ => {}
    }
    if h.session_idle.as_secs() < 60 {
        problems.push(Problem { path: "http.session_idle".into(), message: "must be at least 1m".into() });
    }
    if h.session_max.as_secs() < h.session_idle.as_secs() {
        problems.push(Problem { path: "http.session_max".into(), message: "must be at least session_idle".into() });
    }
}

fn validate_brands(brands: &[Entry<BrandConfig>], problems: &mut Vec<Problem>) {
    let mut seen = BTreeSet::new();
    for Entry { index: i, value: b } in brands {
        if b.name.trim().is_empty() {
            problems.push(Problem { path: format!("brands[{i}].name"), message: "must not be empty".into() });
        } else if !seen.insert(b.name.to_lowercase()) {
            problems
                .push(Problem { path: format!("brands[{i}].name"), message: format!("duplicate brand {:?}", b.name) });
        }
        if let Err(p) = b.matcher() {
            problems.push(Problem { path: format!("brands[{i}].{}", p.path), message: p.message });
        }
    }
    if brands.is_empty() {
        problems.push(Problem { path: "brands".into(), message: "at least one [[brands]] entry is needed".into() });
    }
}

fn anchor(base: &Path, p: &Path) -> PathBuf {
    if p.is_absolute() {
        p.to_path_buf()
    } else {
        base.join(p)
    }
}

fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let col = before.rsplit('\n').next().map(|l| l.chars().count()).unwrap_or(0) + 1;
    (line, col)
}

/// Deserialises `[name]` on its own so its errors do not hide the other sections'.
fn section<T: DeserializeOwned>(table: &mut toml::Table, name: &str, problems: &mut Vec<Problem>) -> Option<T> {
    let value = table.remove(name)?;
    match value.try_into::<T>() {
        Ok(v) => Some(v),
        Err(e) => {
            problems.push(Problem { path: name.into(), message: clean(e) });
            None
        }
    }
}

/// An entry of an array of tables that deserialised, with its position in the file's array: an entry that did
/// not deserialise is left out, and the ones after it keep their own numbers in later problems' key paths.
struct Entry<T> {
    index: usize,
    value: T,
}

fn array<T: DeserializeOwned>(table: &mut toml::Table, name: &str, problems: &mut Vec<Problem>) -> Vec<Entry<T>> {
    array_with(table, name, problems, |v| v.try_into::<T>().map_err(clean))
}

fn array_with<T>(
    table: &mut toml::Table,
    name: &str,
    problems: &mut Vec<Problem>,
    parse: impl Fn(toml::Value) -> Result<T, String>,
) -> Vec<Entry<T>> {
    let Some(value) = table.remove(name) else { return Vec::new() };
    let toml::Value::Array(items) = value else {
        problems.push(Problem { path: name.into(), message: format!("must be an array of tables: [[{name}]]") });
        return Vec::new();
    };
    let mut out = Vec::new();
    for (i, item) in items.into_iter().enumerate() {
        match parse(item) {
            Ok(value) => out.push(Entry { index: i, value }),
            Err(e) => problems.push(Problem { path: format!("{name}[{i}]"), message: e }),
        }
    }
    out
}

/// toml's messages carry a trailing newline and sometimes a span preamble; keep the sentence.
pub(crate) fn clean(e: impl fmt::Display) -> String {
    e.to_string().trim().replace('\n', " ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn problems(text: &str) -> Vec<String> {
        match Config::parse(text, Path::new("/etc/hearsay/test.toml")) {
            Ok(_) => vec![],
            Err(e) => e.problems.iter().map(|p| p.to_string()).collect(),
        }
    }

    const MINIMAL: &str = "[[brands]]\nname = \"Acme\"\nquery = \"acme\"\n";

    #[test]
    fn minimal_config_gets_defaults() {
        let c = Config::parse(MINIMAL, Path::new("/etc/hearsay/hearsay.toml")).unwrap();
        assert_eq!(c.storage.database, PathBuf::from("/var/lib/hearsay/hearsay.db"));
        assert_eq!(c.alerts.window.as_secs(), 3600);
        assert_eq!(c.alerts.min_count, 5);
        assert!(c.smtp.is_none());
    }

    #[test]
    fn precision_defaults_per_backend_and_must_suit_it() {
        use crate::sentiment::Precision;
        let c = Config::parse(MINIMAL, Path::new("/etc/hearsay/hearsay.toml")).unwrap();
        assert_eq!(c.model.precision(), Ok(Precision::Int8));
        let rb = format!("{MINIMAL}[model]\nbackend = \"rust-bert\"\n");
        let c = Config::parse(&rb, Path::new("/etc/hearsay/hearsay.toml")).unwrap();
        assert_eq!(c.model.precision(), Ok(Precision::F32));
        assert_eq!(
            problems(&format!("{rb}precision = \"int8\"\n")),
            ["model.precision: int8 needs backend = \"native\"; the rust-bert backend computes in f32 or bf16"]
        );
        assert_eq!(
            problems(&format!("{MINIMAL}[model]\nprecision = \"f16\"\n")),
            ["model.precision: f16 needs backend = \"candle\"; the native backend computes in int8 or f32"]
        );
    }

    #[test]
    fn every_problem_is_reported_with_its_key_path() {
        let text = r#"
[storage]
databse = "x.db"

[[brands]]
name = "Acme"
query = "acme"

[[brands]]
name = "Beta"
query = "(beta OR gamma"

[alerts]
window = "5"
min_ratio = 0.5

[bogus]
x = 1
"#;
        let p = problems(text);
        assert!(p.iter().any(|m| m.starts_with("storage: unknown field `databse`")), "{p:?}");
        assert!(p.iter().any(|m| m.starts_with("brands[1].query:") && m.contains("column")), "{p:?}");
        assert!(p.iter().any(|m| m.starts_with("alerts:") && m.contains("missing unit")), "{p:?}");
        assert!(p.iter().any(|m| m.starts_with("bogus: unknown section")), "{p:?}");
    }

    /// An entry that does not deserialise is left out, but the entries after it keep their place in the file:
    /// the third `[[sources]]` is `sources[2]` whatever happened to the second.
    #[test]
    fn entries_after_a_broken_one_keep_their_numbers() {
        let text = format!(
            "{MINIMAL}[[brands]]\nname = 7\n\n[[brands]]\nname = \"Acme\"\nquery = \"acme\"\n\n\
             [[sources]]\ntype = \"hackernews\"\nname = \"hn\"\n\n\
             [[sources]]\ntype = \"hackernews\"\ninterval = 5\n\n\
             [[sources]]\ntype = \"hackernews\"\nname = \"hn\"\nbrands = [\"Nope\"]\n"
        );
        let p = problems(&text);
        assert!(p.iter().any(|m| m.starts_with("brands[1]:")), "{p:?}");
        assert!(p.iter().any(|m| m == "brands[2].name: duplicate brand \"Acme\""), "{p:?}");
        assert!(p.iter().any(|m| m == "sources[1]: interval: expected a string, found integer"), "{p:?}");
        assert!(p.iter().any(|m| m == "sources[2].name: duplicate source name \"hn\""), "{p:?}");
        assert!(p.iter().any(|m| m.starts_with("sources[2].brands: unknown brand \"Nope\"")), "{p:?}");
        assert_eq!(p.len(), 5, "{p:?}");
    }

    #[test]
    fn relative_paths_are_anchored_at_the_config_file() {
        let text = format!("[storage]\ndatabase = \"data/h.db\"\n{MINIMAL}");
        let c = Config::parse(&text, Path::new("/srv/hearsay/hearsay.toml")).unwrap();
        assert_eq!(c.storage.database, PathBuf::from("/srv/hearsay/data/h.db"));
    }

    #[test]
    fn smtp_password_sources_are_exclusive_and_redacted() {
        let text = format!(
            "{MINIMAL}[smtp]\nhost = \"mail\"\nfrom = \"h@example.com\"\nusername = \"u\"\npassword = \"hunter2\"\npassword_env = \"X\"\n"
        );
        let p = problems(&text);
        assert!(p.iter().any(|m| m.starts_with("smtp.password: give only one")), "{p:?}");
        let ok = format!(
            "{MINIMAL}[smtp]\nhost = \"mail\"\nfrom = \"h@example.com\"\nusername = \"u\"\npassword = \"hunter2\"\n"
        );
        let c = Config::parse(&ok, Path::new("x.toml")).unwrap();
        assert!(!format!("{c:?}").contains("hunter2"));
        assert_eq!(c.smtp.unwrap().port, 587);
    }

    #[test]
    fn toml_syntax_error_names_line_and_column() {
        let p = problems("[storage\n");
        assert_eq!(p.len(), 1);
        assert!(p[0].contains("line 1"), "{p:?}");
    }

    #[test]
    fn quiet_hours_table() {
        assert_eq!(parse_quiet_hours("22:00-07:30"), Some((1320, 450)));
        assert_eq!(parse_quiet_hours("25:00-07:00"), None);
        assert_eq!(parse_quiet_hours("22:00"), None);
    }
}

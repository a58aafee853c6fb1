//! Local sentiment classification of mentions: negative / neutral / positive.
//!
//! The model is a small BERT encoder (all-MiniLM-L6-v2 fine-tuned for three classes) that ships as a
//! directory next to the binary (`models/sentiment/`): `model.safetensors`, `config.json`, `tokenizer.json`
//! and `labels.json` (label order, calibration temperature, max length, preprocess tag, model version).
//! Nothing leaves the machine: classification never calls a remote API.
//!
//! Code map:
//! - [`Classifier`]: the one trait the rest of hearsay uses; [`load`] picks a [`Backend`].
//! - [`NativeClassifier`] (`native/`): the default backend, hearsay's own BERT encoder in plain Rust (f32 or
//!   int8 matrix products, no padding), always built.
//! - `CandleClassifier` (`candle.rs`, cargo feature `candle`) and `RustBertClassifier` (`rustbert.rs`, cargo
//!   feature `rust-bert`): the same model on candle and on libtorch, for comparison and parity checks.
//! - `common.rs`: what every backend shares (model directory checks, safetensors reader, calibration,
//!   the length-sorted batch runner).
//! - `preprocess.rs`: preprocess "v1", the text normalisation shared with the training code.
//! - [`run_classify`]: the line-oriented JSON filter behind `hearsay classify`.
//!
//! Architecture Invariant: this module only turns text into [`Prediction`]s. It does not read mentions
//! from the store, write results back or decide anything about alerts.

#[cfg(feature = "candle")]
mod candle;
mod common;
mod native;
mod preprocess;
mod router;
#[cfg(feature = "rust-bert")]
mod rustbert;

use std::fmt;
use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};
use std::str::FromStr;

use serde::{Deserialize, Serialize};

#[cfg(feature = "candle")]
pub use self::candle::CandleClassifier;
pub use self::native::NativeClassifier;
pub use self::preprocess::{preprocess_v1, PREPROCESS_V1};
pub use self::router::{model_languages, Models, Routed, UNCOVERED_PREFIX};
#[cfg(feature = "rust-bert")]
pub use self::rustbert::RustBertClassifier;

/// The model directory used when none is configured, relative to the working directory.
pub const DEFAULT_MODEL_DIR: &str = "models/sentiment";

/// The multilingual model's directory name, looked for next to the primary model's directory.
pub const MULTILINGUAL_DIR_NAME: &str = "sentiment-multilingual";

/// A sentiment class. The declaration order is the order of [`Prediction::scores`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Label {
    Negative,
    Neutral,
    Positive,
}

impl Label {
    /// All labels, in score order.
    pub const ALL: [Label; 3] = [Label::Negative, Label::Neutral, Label::Positive];

    /// The lower-case name used in `labels.json`, JSON output and the database.
    pub fn as_str(self) -> &'static str {
        match self {
            Label::Negative => "negative",
            Label::Neutral => "neutral",
            Label::Positive => "positive",
        }
    }

    /// Position of this label in [`Prediction::scores`].
    pub fn index(self) -> usize {
        self as usize
    }
}

impl fmt::Display for Label {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The name is not one of `negative`, `neutral`, `positive`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown sentiment label {0:?} (expected negative, neutral or positive)")]
pub struct UnknownLabel(pub String);

impl FromStr for Label {
    type Err = UnknownLabel;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Label::ALL
            .into_iter()
            .find(|l| l.as_str().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| UnknownLabel(s.to_owned()))
    }
}

/// The classification of one text.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Prediction {
    /// The arg-max of `scores`.
    pub label: Label,
    /// Calibrated probabilities `softmax(logits / temperature)`, indexed by [`Label::index`]; they sum to 1.
    pub scores: [f32; 3],
}

impl Prediction {
    /// What an empty (or whitespace-only) text gets: there is nothing to be negative about, so it is
    /// neutral with certainty, without running the model.
    pub const EMPTY: Prediction = Prediction { label: Label::Neutral, scores: [0.0, 1.0, 0.0] };

    /// Builds a prediction from probabilities in [`Label`] order; the label is their arg-max (the first
    /// one on ties, so a flat distribution reads as negative rather than being silently dropped).
    pub fn from_scores(scores: [f32; 3]) -> Prediction {
        let mut best = 0;
        for i in 1..3 {
            if scores[i] > scores[best] {
                best = i;
            }
        }
        Prediction { label: Label::ALL[best], scores }
    }

    /// Score of one label.
    pub fn score(&self, label: Label) -> f32 {
        self.scores[label.index()]
    }
}

/// Why a model could not be loaded or run.
///
/// Load errors name the file and say what is wrong with it: they are fixed by pointing `--model` at a
/// complete model directory. [`SentimentError::Inference`] and [`SentimentError::Tokenizer`] at run
/// time mean a bug or a broken model and are not worth retrying.
#[derive(Debug, thiserror::Error)]
pub enum SentimentError {
    #[error("{}: not found (a model directory holds model.safetensors, config.json, tokenizer.json and labels.json)", path.display())]
    NotFound { path: PathBuf },
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{}: {reason}", path.display())]
    Invalid { path: PathBuf, reason: String },
    #[error("{}: missing tensor {name}", path.display())]
    MissingTensor { path: PathBuf, name: String },
    #[error("{}: tensor {name} has shape {actual:?}, expected {expected:?}", path.display())]
    TensorShape { path: PathBuf, name: String, actual: Vec<usize>, expected: Vec<usize> },
    #[error("the {backend} sentiment backend is not available: hearsay was built without the `{backend}` feature (rebuild with `--features {backend}` or use the native backend)")]
    BackendUnavailable { backend: Backend },
    #[error("tokenizer failed: {0}")]
    Tokenizer(String),
    #[error("inference failed: {0}")]
    Inference(String),
    #[error("writing classifications: {0}")]
    Output(#[source] std::io::Error),
}

impl SentimentError {
    /// True when the model directory (not the input text) is at fault: the fix is a different `--model`.
    pub fn is_model_problem(&self) -> bool {
        matches!(
            self,
            SentimentError::NotFound { .. }
                | SentimentError::Io { .. }
                | SentimentError::Invalid { .. }
                | SentimentError::MissingTensor { .. }
                | SentimentError::TensorShape { .. }
        )
    }
}

/// A loaded sentiment model.
///
/// `Send` so that it can be moved onto a blocking thread and back (the daemon classifies on tokio's blocking
/// pool: `daemon::classify_some`); not `Sync`, and `&mut self`, because backends keep scratch buffers and are
/// driven from one thread.
pub trait Classifier: Send {
    /// Classifies `texts` and returns one prediction per text, in input order.
    ///
    /// Any number of texts may be passed: the backend sorts them by length and runs forward passes of
    /// at most its configured batch size, so handing over many texts at once reduces padding. Texts
    /// that are empty after preprocessing get [`Prediction::EMPTY`].
    fn classify_batch(&mut self, texts: &[&str]) -> Result<Vec<Prediction>, SentimentError>;

    /// `labels.json` `version` of the loaded model, stored with every classification so that results
    /// from different models are never mixed up.
    fn model_version(&self) -> &str;
}

/// The inference engines hearsay can be built with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Backend {
    /// hearsay's own encoder in plain Rust; always built.
    #[default]
    Native,
    /// [candle](https://github.com/huggingface/candle); only with the `candle` cargo feature.
    Candle,
    /// libtorch through rust-bert; only with the `rust-bert` cargo feature.
    RustBert,
}

impl Backend {
    /// The name used on the command line and in the config file.
    pub fn as_str(self) -> &'static str {
        match self {
            Backend::Native => "native",
            Backend::Candle => "candle",
            Backend::RustBert => "rust-bert",
        }
    }
}

impl Backend {
    /// Every backend, for messages that say which one a setting needs.
    pub const ALL: [Backend; 3] = [Backend::Native, Backend::Candle, Backend::RustBert];

    /// The precisions this backend computes in; the first is its default (int8 for the native backend, as
    /// accurate as f32 on the validation set and about twice as fast; f32 for the others).
    pub fn precisions(self) -> [Precision; 2] {
        match self {
            Backend::Native => [Precision::Int8, Precision::F32],
            Backend::Candle => [Precision::F32, Precision::F16],
            Backend::RustBert => [Precision::F32, Precision::Bf16],
        }
    }

    /// The precision used when none is configured.
    pub fn default_precision(self) -> Precision {
        self.precisions()[0]
    }

    /// Why this backend cannot compute in `p`, naming the backend that can; `None` when it can.
    pub fn precision_problem(self, p: Precision) -> Option<String> {
        let allowed = self.precisions();
        if allowed.contains(&p) {
            return None;
        }
        let needs = Backend::ALL.into_iter().find(|b| b.precisions().contains(&p));
        let needs = needs.map_or_else(String::new, |b| format!("{p} needs backend = \"{b}\"; "));
        Some(format!("{needs}the {self} backend computes in {} or {}", allowed[0], allowed[1]))
    }
}

impl fmt::Display for Backend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The name is not a known backend.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown sentiment backend {0:?} (expected native, candle or rust-bert)")]
pub struct UnknownBackend(pub String);

impl FromStr for Backend {
    type Err = UnknownBackend;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim() {
            "native" => Ok(Backend::Native),
            "candle" => Ok(Backend::Candle),
            "rust-bert" | "rust_bert" => Ok(Backend::RustBert),
            other => Err(UnknownBackend(other.to_owned())),
        }
    }
}

/// Numeric precision of the forward pass. The weights are stored as float16; they are converted once
/// at load time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Precision {
    /// Matches PyTorch to about 1e-5.
    #[default]
    F32,
    /// Native backend only: dense layers as integer products (8-bit weights per column, 7-bit inputs per
    /// row), about twice the f32 speed on AVX2 CPUs; labels agree with f32 on ≈ 98 % of texts.
    Int8,
    /// candle only. Half the memory, but several times slower on AVX2 CPUs (no native half-precision
    /// maths) and less accurate; kept for machines where memory matters more than speed.
    F16,
    /// bfloat16 weights and activations: rust-bert backend only (libtorch uses AMX/AVX-512 BF16 where the CPU has
    /// them); candle's CPU backend has no bf16 matmul and refuses it.
    Bf16,
}

impl FromStr for Precision {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim() {
            "f32" | "fp32" => Ok(Precision::F32),
            "f16" | "fp16" => Ok(Precision::F16),
            "bf16" => Ok(Precision::Bf16),
            "int8" | "i8" => Ok(Precision::Int8),
            other => Err(format!("unknown precision {other:?} (expected f32, int8, f16 or bf16)")),
        }
    }
}

impl Precision {
    /// The name used on the command line and in the config file.
    pub fn as_str(self) -> &'static str {
        match self {
            Precision::F32 => "f32",
            Precision::Int8 => "int8",
            Precision::F16 => "f16",
            Precision::Bf16 => "bf16",
        }
    }
}

impl fmt::Display for Precision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Settings for [`load`]; `Default` gives what `labels.json` asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadOptions {
    /// Texts per forward pass. Larger batches amortise per-call overhead but pad more.
    pub batch_size: usize,
    /// Token limit; `None` uses `labels.json` `max_length` (the length the model was trained with).
    pub max_length: Option<usize>,
    pub precision: Precision,
}

impl Default for LoadOptions {
    fn default() -> Self {
        LoadOptions { batch_size: 32, max_length: None, precision: Precision::F32 }
    }
}

/// Loads the model in `dir` with the chosen backend.
pub fn load(dir: &Path, backend: Backend, opts: &LoadOptions) -> Result<Box<dyn Classifier>, SentimentError> {
    match backend {
        Backend::Native => Ok(Box::new(NativeClassifier::load(dir, opts)?)),
        Backend::Candle => load_candle(dir, opts),
        Backend::RustBert => load_rust_bert(dir, opts),
    }
}

#[cfg(feature = "candle")]
fn load_candle(dir: &Path, opts: &LoadOptions) -> Result<Box<dyn Classifier>, SentimentError> {
    Ok(Box::new(candle::CandleClassifier::load(dir, opts)?))
}

#[cfg(not(feature = "candle"))]
fn load_candle(_dir: &Path, _opts: &LoadOptions) -> Result<Box<dyn Classifier>, SentimentError> {
    Err(SentimentError::BackendUnavailable { backend: Backend::Candle })
}

#[cfg(feature = "rust-bert")]
fn load_rust_bert(dir: &Path, opts: &LoadOptions) -> Result<Box<dyn Classifier>, SentimentError> {
    Ok(Box::new(rustbert::RustBertClassifier::load(dir, opts)?))
}

#[cfg(not(feature = "rust-bert"))]
fn load_rust_bert(_dir: &Path, _opts: &LoadOptions) -> Result<Box<dyn Classifier>, SentimentError> {
    Err(SentimentError::BackendUnavailable { backend: Backend::RustBert })
}

/// Loads the primary model in `primary` and, when `multilingual` is given, the model there, each with its
/// `labels.json` languages (see [`Models`]).
pub fn load_models(
    primary: &Path,
    multilingual: Option<&Path>,
    backend: Backend,
    opts: &LoadOptions,
) -> Result<Models, SentimentError> {
    let first = (load(primary, backend, opts)?, model_languages(primary)?);
    let mut others = Vec::new();
    if let Some(dir) = multilingual {
        others.push((load(dir, backend, opts)?, model_languages(dir)?));
    }
    Ok(Models::new(first, others))
}

/// The `labels.json` file: everything about the model that is not weights or vocabulary.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelInfo {
    /// Label of each model output, in output order.
    pub labels: Vec<String>,
    /// Calibration temperature: scores are `softmax(logits / temperature)`.
    pub temperature: f32,
    /// Token limit used in training.
    pub max_length: usize,
    /// Preprocess tag; only [`PREPROCESS_V1`] is known.
    pub preprocess: String,
    pub version: String,
    /// Languages (ISO 639-1) the model labels; absent: English only. See [`Models`].
    #[serde(default)]
    pub languages: Option<Vec<String>>,
}

/// How many forward batches [`run_classify`] reads ahead, so that sorting by length has something
/// to work with while output still streams.
const READ_AHEAD_BATCHES: usize = 8;

/// Counts of what [`run_classify`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ClassifySummary {
    /// Lines read and classified.
    pub lines: usize,
    /// Lines that were not valid UTF-8 and were classified with replacement characters.
    pub invalid_utf8: usize,
}

/// Reads one text per line from `input` and writes one JSON object per line to `output`, in order:
/// `{"label":"negative","lang":"de","scores":{"negative":0.91,"neutral":0.07,"positive":0.02}}`, where
/// `lang` is what `lang_of` says of the line (the caller's language identification) and decides which model
/// labels it; a line in a language no model covers gets `"label":null,"scores":null`.
///
/// Lines may end in `\n` or `\r\n`; invalid UTF-8 is replaced (U+FFFD) rather than rejected, and an
/// empty line gets the neutral [`Prediction::EMPTY`], so the output always has as many lines as the
/// input. Lines are read `batch_size * 8` at a time so that the classifier can sort them by length.
pub fn run_classify(
    mut input: impl BufRead,
    mut output: impl Write,
    models: &mut Models,
    lang_of: &dyn Fn(&str) -> String,
    batch_size: usize,
) -> Result<ClassifySummary, SentimentError> {
    let window = batch_size.max(1) * READ_AHEAD_BATCHES;
    let mut summary = ClassifySummary::default();
    let mut texts: Vec<String> = Vec::with_capacity(window);
    let mut buf = Vec::new();
    loop {
        buf.clear();
        let n = input
            .read_until(b'\n', &mut buf)
            .map_err(|source| SentimentError::Io { path: PathBuf::from("<input>"), source })?;
        if n > 0 {
            let line = buf.strip_suffix(b"\n").unwrap_or(&buf);
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            let text = String::from_utf8_lossy(line);
            if let std::borrow::Cow::Owned(_) = text {
                summary.invalid_utf8 += 1;
            }
            texts.push(text.into_owned());
        }
        if texts.len() >= window || (n == 0 && !texts.is_empty()) {
            let langs: Vec<String> = texts.iter().map(|t| lang_of(t)).collect();
            let items: Vec<(&str, Option<&str>)> =
                texts.iter().zip(&langs).map(|(t, l)| (t.as_str(), Some(l.as_str()))).collect();
            for (routed, lang) in models.classify(&items)?.iter().zip(&langs) {
                writeln!(output, "{}", routed_json(routed, lang)).map_err(SentimentError::Output)?;
            }
            summary.lines += texts.len();
            texts.clear();
        }
        if n == 0 {
            break;
        }
    }
    output.flush().map_err(SentimentError::Output)?;
    Ok(summary)
}

/// One output line of [`run_classify`].
pub fn routed_json(routed: &Routed, lang: &str) -> String {
    let mut v = match routed {
        Routed::Labelled { prediction, .. } => prediction_value(prediction),
        Routed::Uncovered { .. } => serde_json::json!({ "label": null, "scores": null }),
    };
    v["lang"] = lang.into();
    v.to_string()
}

/// A prediction as JSON, scores rounded to 4 decimals.
pub fn prediction_json(p: &Prediction) -> String {
    prediction_value(p).to_string()
}

fn prediction_value(p: &Prediction) -> serde_json::Value {
    let round = |x: f32| (f64::from(x) * 10_000.0).round() / 10_000.0;
    let mut scores = serde_json::Map::new();
    for label in Label::ALL {
        scores.insert(label.as_str().to_owned(), round(p.score(label)).into());
    }
    serde_json::json!({ "label": p.label, "scores": scores })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_round_trips() {
        for l in Label::ALL {
            assert_eq!(l.as_str().parse::<Label>().unwrap(), l);
            assert_eq!(serde_json::to_string(&l).unwrap(), format!("\"{l}\""));
        }
        assert!("meh".parse::<Label>().is_err());
    }

    #[test]
    fn json_line_is_rounded_and_ordered() {
        let p = Prediction::from_scores([0.912_345, 0.070_01, 0.017_654]);
        assert_eq!(
            prediction_json(&p),
            r#"{"label":"negative","scores":{"negative":0.9123,"neutral":0.07,"positive":0.0177}}"#
        );
    }

    #[test]
    fn rust_bert_without_feature_says_so() {
        if cfg!(feature = "rust-bert") {
            return;
        }
        let err = load(Path::new("models/sentiment"), Backend::RustBert, &LoadOptions::default()).err().unwrap();
        assert!(err.to_string().contains("built without the `rust-bert` feature"));
    }
}

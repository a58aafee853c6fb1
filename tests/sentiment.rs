//! Sentiment classification at its boundaries: parity with the PyTorch model that was trained, batching,
//! accuracy on held-out data, the `hearsay classify` line contract and load errors.
//!
//! Tests that need the model skip (with a message) when `models/sentiment/` is absent, so a fresh clone
//! still passes. Paths can be overridden for development:
//! `HEARSAY_SENTIMENT_MODEL` (model directory), `HEARSAY_SENTIMENT_REFERENCE` (reference logits JSON,
//! written by `tools/train-sentiment`), `HEARSAY_SENTIMENT_VAL` (a `label<TAB>text` file).
//! Run them in release mode (or with optimised dependencies): the model is slow unoptimised.

use std::io::Cursor;
use std::path::{Path, PathBuf};

use hearsay::sentiment::{
    self, run_classify, Backend, Classifier, Label, LoadOptions, NativeClassifier, Precision, Prediction,
    SentimentError,
};

fn manifest_path(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(rel)
}

fn env_or(var: &str, default: &str) -> PathBuf {
    std::env::var_os(var).map(PathBuf::from).unwrap_or_else(|| manifest_path(default))
}

fn model_dir() -> Option<PathBuf> {
    shipped_model("HEARSAY_SENTIMENT_MODEL", "models/sentiment")
}

/// The model directory `var` names, or the repository's `default`; `None` (saying so) when it holds no model.
fn shipped_model(var: &str, default: &str) -> Option<PathBuf> {
    let dir = env_or(var, default);
    if dir.join("model.safetensors").is_file() {
        Some(dir)
    } else {
        eprintln!("skipped: no sentiment model in {}", dir.display());
        None
    }
}

fn load_native(dir: &Path) -> NativeClassifier {
    let started = std::time::Instant::now();
    let c = NativeClassifier::load(dir, &LoadOptions::default()).expect("model loads");
    eprintln!("model {} loaded in {:?}", c.info().version, started.elapsed());
    c
}

/// Texts with the usual trouble: emoji, URLs, handles, CJK, accents, odd whitespace, overlong input.
const TRICKY: &[&str] = &[
    "I love this product, it works great!",
    "Worst customer service ever @comcast #fail",
    "check this out https://t.co/xyz123 and www.example.com/page 👍",
    "😀😀😀 so happy!!! 🎉",
    "東京の天気は晴れです and 北京 too",
    "Crème brûlée à la café — naïve résumé",
    "@alice@mastodon.social your post was meh",
    "   lots    of\twhite   space   ",
    "Ünïcödé ÀÉÎÕÜ ß ﬁ ligature",
    "not bad at all, actually",
    "",
];

struct Reference {
    text: String,
    ids: Option<Vec<u32>>,
    logits: [f32; 3],
}

/// Reads the reference file written by the training tools. Accepted shapes: a list of items, or an
/// object holding one under `items`/`sentences`/`examples`/`cases`, or parallel arrays
/// `sentences`+`input_ids`+`logits`. Items carry the text as `text`/`sentence`, ids as
/// `input_ids`/`ids`/`token_ids`, and `logits`.
fn read_reference() -> Option<Vec<Reference>> {
    let path = env_or("HEARSAY_SENTIMENT_REFERENCE", "tests/data/sentiment_reference.json");
    let Ok(bytes) = std::fs::read(&path) else {
        eprintln!("skipped: no reference logits at {}", path.display());
        return None;
    };
    let root: serde_json::Value = serde_json::from_slice(&bytes).expect("reference is JSON");
    let pick = |v: &serde_json::Value, keys: &[&str]| -> Option<serde_json::Value> {
        keys.iter().find_map(|k| v.get(*k).cloned())
    };
    let ids_of = |v: &serde_json::Value| -> Option<Vec<u32>> { serde_json::from_value(v.clone()).ok() };
    let logits_of = |v: &serde_json::Value| -> [f32; 3] {
        let l: Vec<f32> = serde_json::from_value(v.clone()).expect("logits are numbers");
        assert_eq!(l.len(), 3, "three logits per sentence");
        [l[0], l[1], l[2]]
    };
    let items = if root.is_array() {
        Some(root.clone())
    } else {
        pick(&root, &["items", "examples", "cases"]).or_else(|| {
            root.get("sentences").filter(|s| s.as_array().is_some_and(|a| a.iter().all(|x| x.is_object()))).cloned()
        })
    };
    let refs = match items {
        Some(items) => items
            .as_array()
            .expect("reference items are a list")
            .iter()
            .map(|it| Reference {
                text: pick(it, &["text", "sentence"])
                    .and_then(|t| t.as_str().map(str::to_owned))
                    .expect("reference item has a text"),
                ids: pick(it, &["input_ids", "ids", "token_ids"]).and_then(|v| ids_of(&v)),
                logits: logits_of(&pick(it, &["logits"]).expect("reference item has logits")),
            })
            .collect(),
        None => {
            let texts: Vec<String> =
                serde_json::from_value(pick(&root, &["sentences", "texts"]).expect("reference has sentences"))
                    .expect("sentences are strings");
            let ids: Option<Vec<Vec<u32>>> = pick(&root, &["input_ids", "ids", "token_ids"])
                .map(|v| serde_json::from_value(v).expect("ids are lists of numbers"));
            let logits: Vec<Vec<f32>> = serde_json::from_value(pick(&root, &["logits"]).expect("reference has logits"))
                .expect("logits are lists of numbers");
            texts
                .into_iter()
                .enumerate()
                .map(|(i, text)| Reference {
                    text,
                    ids: ids.as_ref().map(|ids| ids[i].clone()),
                    logits: [logits[i][0], logits[i][1], logits[i][2]],
                })
                .collect()
        }
    };
    eprintln!("reference: {}", path.display());
    Some(refs)
}

#[test]
fn tokenizer_matches_reference_ids() {
    let (Some(dir), Some(refs)) = (model_dir(), read_reference()) else {
        return;
    };
    let model = load_native(&dir);
    let mut checked = 0;
    for r in &refs {
        let Some(expected) = &r.ids else { continue };
        assert_eq!(&model.token_ids(&r.text).unwrap(), expected, "text {:?}", r.text);
        checked += 1;
    }
    assert!(checked > 0, "the reference file carries no token ids");
}

#[test]
fn logits_match_pytorch() {
    let (Some(dir), Some(refs)) = (model_dir(), read_reference()) else {
        return;
    };
    let mut model = load_native(&dir);
    let max_diff = assert_logits_match(&refs, |texts| model.logits(texts).unwrap());
    eprintln!("{} sentences, max |logit - PyTorch| = {max_diff:e}", refs.len());
}

/// Logits of all reference texts at once (a padded, masked batch) and one by one must both be within 1e-3 of
/// PyTorch's; returns the largest difference seen.
fn assert_logits_match(refs: &[Reference], mut logits: impl FnMut(&[&str]) -> Vec<[f32; 3]>) -> f32 {
    let texts: Vec<&str> = refs.iter().map(|r| r.text.as_str()).collect();
    let batched = logits(&texts);
    let mut max_diff = 0.0f32;
    for (r, got) in refs.iter().zip(&batched) {
        let single = logits(&[r.text.as_str()])[0];
        for k in 0..3 {
            let d = (got[k] - r.logits[k]).abs().max((single[k] - r.logits[k]).abs());
            max_diff = max_diff.max(d);
            assert!(d < 1e-3, "text {:?}: logits {got:?} / {single:?}, PyTorch {:?}", r.text, r.logits);
        }
    }
    max_diff
}

/// The first `n` rows of the validation file as (label, text), if it is there.
fn validation_rows(n: usize) -> Option<Vec<(Label, String)>> {
    let path = env_or("HEARSAY_SENTIMENT_VAL", "../shared/data/sentiment/val.tsv");
    let Ok(data) = std::fs::read_to_string(&path) else {
        eprintln!("skipped: no validation data at {}", path.display());
        return None;
    };
    Some(
        data.lines()
            .skip(1)
            .filter_map(|l| l.split_once('\t'))
            .take(n)
            .map(|(label, text)| (label.parse().expect("known label"), text.to_owned()))
            .collect(),
    )
}

#[test]
fn batching_gives_the_same_results_as_one_by_one() {
    let Some(dir) = model_dir() else { return };
    let mut texts: Vec<String> = TRICKY.iter().map(|s| s.to_string()).collect();
    if let Some(rows) = validation_rows(40) {
        texts.extend(rows.into_iter().map(|(_, t)| t));
    }
    let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
    let mut model = NativeClassifier::load(&dir, &LoadOptions { batch_size: 8, ..LoadOptions::default() }).unwrap();
    let batched = model.classify_batch(&refs).unwrap();
    assert_eq!(batched.len(), refs.len());
    for (text, b) in refs.iter().zip(&batched) {
        let single = model.classify_batch(&[text]).unwrap()[0];
        assert_eq!(b.label, single.label, "text {text:?}");
        for k in 0..3 {
            assert!((b.scores[k] - single.scores[k]).abs() < 1e-4, "text {text:?}");
        }
        assert!((b.scores.iter().sum::<f32>() - 1.0).abs() < 1e-4);
    }
    assert_eq!(batched[TRICKY.len() - 1], Prediction::EMPTY, "empty text");
}

#[test]
fn accuracy_on_validation_slice() {
    let (Some(dir), Some(rows)) = (model_dir(), validation_rows(300)) else {
        return;
    };
    let mut model = load_native(&dir);
    let texts: Vec<&str> = rows.iter().map(|(_, t)| t.as_str()).collect();
    let predictions = model.classify_batch(&texts).unwrap();
    let mut hits = [0usize; 3];
    let mut support = [0usize; 3];
    for ((gold, _), p) in rows.iter().zip(&predictions) {
        support[gold.index()] += 1;
        hits[gold.index()] += usize::from(p.label == *gold);
    }
    let recalls: Vec<f64> = (0..3).filter(|&c| support[c] > 0).map(|c| hits[c] as f64 / support[c] as f64).collect();
    let macro_recall = recalls.iter().sum::<f64>() / recalls.len() as f64;
    let version = model.model_version().to_owned();
    eprintln!(
        "model {version}: macro-recall {macro_recall:.4} on {} validation rows (recalls {recalls:.3?})",
        rows.len()
    );
    if version.starts_with("hearsay-sentiment") {
        // hearsay-sentiment-1 scores 0.695 on all of val.tsv and 0.67 on these 300 rows; a broken tokenizer,
        // mask or label order lands far below this floor.
        assert!(macro_recall > 0.62, "macro-recall {macro_recall:.4} too low");
    } else {
        eprintln!("not asserting accuracy: {version} is not a trained hearsay model");
    }
}

fn macro_recall(rows: &[(Label, String)], predictions: &[Prediction]) -> f64 {
    let mut hits = [0usize; 3];
    let mut support = [0usize; 3];
    for ((gold, _), p) in rows.iter().zip(predictions) {
        support[gold.index()] += 1;
        hits[gold.index()] += usize::from(p.label == *gold);
    }
    let recalls: Vec<f64> = (0..3).filter(|&c| support[c] > 0).map(|c| hits[c] as f64 / support[c] as f64).collect();
    recalls.iter().sum::<f64>() / recalls.len() as f64
}

/// The default precision (int8) against f32 on all of val.tsv: the issue allows half a point of macro-recall
/// in any reduced precision; labels must agree on nearly every text (98.35 % measured with hearsay-sentiment-4).
#[test]
fn int8_is_as_accurate_as_f32_on_the_validation_set() {
    let (Some(dir), Some(rows)) = (model_dir(), validation_rows(usize::MAX)) else {
        return;
    };
    let texts: Vec<&str> = rows.iter().map(|(_, t)| t.as_str()).collect();
    let f32_labels = load_native(&dir).classify_batch(&texts).unwrap();
    let opts = LoadOptions { precision: Precision::Int8, ..LoadOptions::default() };
    let mut int8 = NativeClassifier::load(&dir, &opts).unwrap();
    let int8_labels = int8.classify_batch(&texts).unwrap();
    let same = f32_labels.iter().zip(&int8_labels).filter(|(a, b)| a.label == b.label).count();
    let agreement = same as f64 / texts.len() as f64;
    let (m32, m8) = (macro_recall(&rows, &f32_labels), macro_recall(&rows, &int8_labels));
    eprintln!("{} rows: macro-recall f32 {m32:.4}, int8 {m8:.4}; labels agree {agreement:.4}", rows.len());
    assert!(agreement >= 0.97, "int8 and f32 labels agree on only {agreement:.4}");
    if rows.len() >= 1000 {
        assert!(m8 >= m32 - 0.005, "int8 macro-recall {m8:.4} is more than half a point below f32's {m32:.4}");
    }
    // Scores stay calibrated probabilities.
    for p in &int8_labels {
        assert!((p.scores.iter().sum::<f32>() - 1.0).abs() < 1e-4);
    }
}

/// Labels by text length, so that order mistakes show; honours the empty-text contract.
struct FakeClassifier {
    calls: std::sync::Arc<std::sync::Mutex<Vec<usize>>>,
}

impl Classifier for FakeClassifier {
    fn classify_batch(&mut self, texts: &[&str]) -> Result<Vec<Prediction>, SentimentError> {
        self.calls.lock().unwrap().push(texts.len());
        Ok(texts
            .iter()
            .map(|t| match t.trim().chars().count() {
                0 => Prediction::EMPTY,
                n => {
                    let mut scores = [0.1; 3];
                    scores[n % 3] = 0.8;
                    Prediction::from_scores(scores)
                }
            })
            .collect())
    }

    fn model_version(&self) -> &str {
        "fake-1"
    }
}

fn output_lines(out: Vec<u8>) -> Vec<serde_json::Value> {
    String::from_utf8(out).unwrap().lines().map(|l| serde_json::from_str(l).expect("each line is JSON")).collect()
}

#[test]
fn run_classify_keeps_order_and_survives_bad_input() {
    // 100 lines, one of them invalid UTF-8, one empty, CRLF endings, no final newline.
    let mut input = Vec::new();
    for i in 0..100 {
        match i {
            10 => input.extend_from_slice(b"caf\xe9 latin-1\r\n"),
            20 => input.extend_from_slice(b"\n"),
            99 => input.extend_from_slice(b"x".repeat(99).as_slice()),
            _ => input.extend_from_slice(format!("{}\n", "x".repeat(i)).as_bytes()),
        }
    }
    let calls = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let fake = FakeClassifier { calls: std::sync::Arc::clone(&calls) };
    let mut models = sentiment::Models::new((Box::new(fake), vec!["en".into()]), Vec::new());
    let mut out = Vec::new();
    // Lines 30 and 31 are "in" a language no model covers: they get no label, and the others are unaffected.
    let lang_of = |t: &str| if t.len() == 30 || t.len() == 31 { "ko".to_string() } else { "en".to_string() };
    let summary = run_classify(Cursor::new(input), &mut out, &mut models, &lang_of, 4).unwrap();
    assert_eq!(summary.lines, 100);
    assert_eq!(summary.invalid_utf8, 1);
    assert!(calls.lock().unwrap().iter().all(|&n| n <= 32), "read-ahead is bounded");
    let lines = output_lines(out);
    assert_eq!(lines.len(), 100);
    for (i, line) in lines.iter().enumerate() {
        if i == 30 || i == 31 {
            assert_eq!(*line, serde_json::json!({"label": null, "scores": null, "lang": "ko"}), "line {i}");
            continue;
        }
        assert_eq!(line["lang"], "en", "line {i}: {line}");
        let expected = match i {
            // "caf\u{fffd} latin-1" has 12 characters.
            10 => ["negative", "neutral", "positive"][12 % 3],
            0 | 20 => "neutral",
            _ => ["negative", "neutral", "positive"][i % 3],
        };
        assert_eq!(line["label"], expected, "line {i}: {line}");
        let scores = line["scores"].as_object().unwrap();
        assert_eq!(scores.len(), 3);
    }
    assert_eq!(
        lines[20],
        serde_json::json!({"label":"neutral","lang":"en","scores":{"negative":0.0,"neutral":1.0,"positive":0.0}})
    );
}

#[test]
fn run_classify_with_the_model() {
    let Some(dir) = model_dir() else { return };
    let model = load_native(&dir);
    let mut models = sentiment::Models::new((Box::new(model), vec!["en".into()]), Vec::new());
    let input: &[u8] = b"I love it\n\n   \nthis is terrible \xff\xfe\nok\n";
    let mut out = Vec::new();
    run_classify(input, &mut out, &mut models, &|t: &str| hearsay::lang::detect(t).0, 2).unwrap();
    let lines = output_lines(out);
    assert_eq!(lines.len(), 5);
    for i in [1, 2] {
        assert_eq!(lines[i]["label"], "neutral");
        assert_eq!(lines[i]["scores"]["neutral"], 1.0);
    }
    for line in &lines {
        let sum: f64 = ["negative", "neutral", "positive"].iter().map(|k| line["scores"][k].as_f64().unwrap()).sum();
        assert!((sum - 1.0).abs() < 1e-3, "{line}");
    }
}

#[test]
fn missing_model_dir_names_it() {
    let dir = Path::new("/nonexistent/models/sentiment");
    let err = sentiment::load(dir, Backend::Native, &LoadOptions::default()).err().unwrap();
    assert!(err.is_model_problem());
    assert!(err.to_string().starts_with("/nonexistent/models/sentiment: not found"), "{err}");
}

/// A precision the backend does not compute in is refused before the weights are read, naming the backend that can.
#[test]
fn a_precision_of_another_backend_is_refused_by_name() {
    let Some(dir) = model_dir() else {
        return;
    };
    let opts = LoadOptions { precision: Precision::F16, ..LoadOptions::default() };
    let err = NativeClassifier::load(&dir, &opts).err().unwrap();
    assert_eq!(
        err.to_string(),
        "inference failed: f16 needs backend = \"candle\"; the native backend computes in int8 or f32"
    );
}

/// Copies the model directory into a temp dir, leaving out `skip`.
fn copy_model(dir: &Path, skip: &str) -> tempfile::TempDir {
    let tmp = tempfile::tempdir().unwrap();
    for name in ["model.safetensors", "config.json", "tokenizer.json", "labels.json"] {
        if name != skip {
            std::fs::copy(dir.join(name), tmp.path().join(name)).unwrap();
        }
    }
    tmp
}

fn load_error(dir: &Path) -> String {
    NativeClassifier::load(dir, &LoadOptions::default()).err().expect("load fails").to_string()
}

#[test]
fn broken_model_files_are_named() {
    let Some(dir) = model_dir() else { return };

    let tmp = copy_model(&dir, "tokenizer.json");
    let expected = format!("{}: not found", tmp.path().join("tokenizer.json").display());
    assert!(load_error(tmp.path()).starts_with(&expected));

    let tmp = copy_model(&dir, "labels.json");
    let expected = format!("{}: not found", tmp.path().join("labels.json").display());
    assert!(load_error(tmp.path()).starts_with(&expected));

    let tmp = copy_model(&dir, "model.safetensors");
    let weights = tmp.path().join("model.safetensors");
    std::fs::write(&weights, b"definitely not safetensors").unwrap();
    let err = load_error(tmp.path());
    assert!(err.starts_with(&format!("{}: not a readable safetensors file", weights.display())), "{err}");

    let original = std::fs::read(dir.join("model.safetensors")).unwrap();
    std::fs::write(&weights, edit_safetensors_header(&original, |h| drop(h.remove("classifier.weight")))).unwrap();
    assert_eq!(load_error(tmp.path()), format!("{}: missing tensor classifier.weight", weights.display()));

    std::fs::write(
        &weights,
        edit_safetensors_header(&original, |h| {
            let bias = h["classifier.bias"].clone();
            h.insert("classifier.weight".into(), bias);
        }),
    )
    .unwrap();
    assert!(load_error(tmp.path()).contains("tensor classifier.weight has shape [3], expected [3, 384]"));
}

/// The libtorch backend (`--features rust-bert`): same logits as PyTorch, masked batches equal to one-by-one,
/// and the same labels as the native backend on the validation set (issue bar: ≥ 99.5% agreement).
#[cfg(feature = "rust-bert")]
mod rust_bert_backend {
    use super::*;
    use hearsay::sentiment::RustBertClassifier;

    fn load(dir: &Path, precision: Precision) -> RustBertClassifier {
        let started = std::time::Instant::now();
        let c = RustBertClassifier::load(dir, &LoadOptions { precision, ..LoadOptions::default() }).expect("loads");
        eprintln!("rust-bert {precision:?} loaded in {:?}", started.elapsed());
        c
    }

    #[test]
    fn logits_match_pytorch_batched_and_one_by_one() {
        let (Some(dir), Some(refs)) = (model_dir(), read_reference()) else { return };
        let mut model = load(&dir, Precision::F32);
        let max_diff = assert_logits_match(&refs, |texts| model.logits(texts).unwrap());
        eprintln!("rust-bert: {} sentences, max |logit - PyTorch| = {max_diff:e}", refs.len());
    }

    #[test]
    fn multilingual_model_matches_pytorch_on_rust_bert() {
        let (Some(dir), Some(refs)) = (multilingual_dir(), multilingual_reference()) else { return };
        let mut model = load(&dir, Precision::F32);
        let max_diff = assert_logits_match(&refs, |texts| model.logits(texts).unwrap());
        eprintln!("rust-bert, multilingual: {} sentences, max |logit - PyTorch| = {max_diff:e}", refs.len());
    }

    #[test]
    fn agrees_with_the_native_backend_on_the_validation_set() {
        let Some(dir) = model_dir() else { return };
        let Some(rows) = validation_rows(usize::MAX) else { return };
        let texts: Vec<&str> = rows.iter().map(|(_, t)| t.as_str()).collect();
        let native = load_native(&dir).classify_batch(&texts).unwrap();
        // bfloat16 is emulated (slowly) on CPUs without AVX-512 BF16 / AMX, so it is checked on a slice.
        for (precision, n) in [(Precision::F32, texts.len()), (Precision::Bf16, 300.min(texts.len()))] {
            let torch = load(&dir, precision).classify_batch(&texts[..n]).unwrap();
            let same = native.iter().zip(&torch).filter(|(a, b)| a.label == b.label).count();
            let agreement = same as f64 / n as f64;
            eprintln!("rust-bert {precision:?} vs native: {same}/{n} labels agree ({agreement:.4})");
            let bar = if precision == Precision::F32 { 0.995 } else { 0.98 };
            assert!(agreement >= bar, "{precision:?} agreement {agreement:.4} < {bar}");
        }
    }

    #[test]
    fn classify_cli_runs_the_rust_bert_backend() {
        let Some(dir) = model_dir() else { return };
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_hearsay"))
            .args(["classify", "--backend", "rust-bert", "--model"])
            .arg(&dir)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .and_then(|mut c| {
                use std::io::Write;
                c.stdin.take().unwrap().write_all(b"my refund never arrived, awful\n\nlove it\n")?;
                c.wait_with_output()
            })
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let lines = output_lines(out.stdout);
        assert_eq!(lines.len(), 3);
        assert_eq!(lines[0]["label"], "negative");
        assert_eq!(lines[1]["label"], "neutral", "empty line");
    }
}

/// Rewrites a safetensors file's JSON header (the table of tensors) with `edit`, keeping the data.
fn edit_safetensors_header(
    bytes: &[u8],
    edit: impl FnOnce(&mut serde_json::Map<String, serde_json::Value>),
) -> Vec<u8> {
    let len = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
    let mut header: serde_json::Map<String, serde_json::Value> = serde_json::from_slice(&bytes[8..8 + len]).unwrap();
    edit(&mut header);
    let text = serde_json::to_vec(&header).unwrap();
    let mut out = (text.len() as u64).to_le_bytes().to_vec();
    out.extend_from_slice(&text);
    out.extend_from_slice(&bytes[8 + len..]);
    out
}

/// The candle backend (`--features candle`): same logits as PyTorch and the same labels as the native backend.
#[cfg(feature = "candle")]
mod candle_backend {
    use super::*;
    use hearsay::sentiment::CandleClassifier;

    #[test]
    fn candle_matches_pytorch_and_the_native_backend() {
        let (Some(dir), Some(refs)) = (model_dir(), read_reference()) else { return };
        let mut model = CandleClassifier::load(&dir, &LoadOptions::default()).unwrap();
        let max_diff = assert_logits_match(&refs, |texts| model.logits(texts).unwrap());
        eprintln!("candle: {} sentences, max |logit - PyTorch| = {max_diff:e}", refs.len());
        let Some(rows) = validation_rows(500) else { return };
        let texts: Vec<&str> = rows.iter().map(|(_, t)| t.as_str()).collect();
        let native = load_native(&dir).classify_batch(&texts).unwrap();
        let candle = model.classify_batch(&texts).unwrap();
        let same = native.iter().zip(&candle).filter(|(a, b)| a.label == b.label).count();
        assert!(same as f64 >= 0.995 * texts.len() as f64, "candle and native agree on {same}/{}", texts.len());
    }

    #[test]
    fn candle_matches_pytorch_on_the_multilingual_model() {
        let (Some(dir), Some(refs)) = (multilingual_dir(), multilingual_reference()) else { return };
        let mut model = CandleClassifier::load(&dir, &LoadOptions::default()).unwrap();
        let max_diff = assert_logits_match(&refs, |texts| model.logits(texts).unwrap());
        eprintln!("candle, multilingual: {} sentences, max |logit - PyTorch| = {max_diff:e}", refs.len());
    }
}

// ------------------------------------------------------------------------------------------- multilingual model

fn multilingual_dir() -> Option<PathBuf> {
    shipped_model("HEARSAY_SENTIMENT_MULTILINGUAL_MODEL", "models/sentiment-multilingual")
}

fn multilingual_reference() -> Option<Vec<Reference>> {
    let path = manifest_path("tests/data/sentiment_multilingual_reference.json");
    let root: serde_json::Value = serde_json::from_slice(&std::fs::read(&path).ok()?).expect("reference is JSON");
    let cases = root["cases"].as_array().expect("cases");
    Some(
        cases
            .iter()
            .map(|c| Reference {
                text: c["text"].as_str().expect("text").to_owned(),
                ids: serde_json::from_value(c["input_ids"].clone()).ok(),
                logits: serde_json::from_value(c["logits"].clone()).expect("three logits"),
            })
            .collect(),
    )
}

/// The multilingual model (I8 block-quantised frozen part, float16 trained part) computes what PyTorch
/// computes from the same file, token ids included (SentencePiece Unigram through the `tokenizers` crate).
#[test]
fn multilingual_model_matches_pytorch() {
    let (Some(dir), Some(refs)) = (multilingual_dir(), multilingual_reference()) else { return };
    let mut model = load_native_f32(&dir);
    for r in &refs {
        assert_eq!(Some(model.token_ids(&r.text).unwrap()), r.ids, "text {:?}", r.text);
    }
    let max_diff = assert_logits_match(&refs, |texts| model.logits(texts).unwrap());
    eprintln!("{} sentences, max |logit - PyTorch| = {max_diff:e}", refs.len());
}

fn load_native_f32(dir: &Path) -> NativeClassifier {
    let opts = LoadOptions { precision: Precision::F32, ..LoadOptions::default() };
    let started = std::time::Instant::now();
    let c = NativeClassifier::load(dir, &opts).expect("model loads");
    eprintln!("model {} loaded in {:?}", c.info().version, started.elapsed());
    c
}

/// Sentences written for this test (none from a dataset): (language, gold label, text), two complaints and
/// two compliments per language, about the kind of thing brands hear.
const PER_LANGUAGE: &[(&str, Label, &str)] = &[
    ("de", Label::Negative, "Der Kundenservice ist eine Katastrophe, seit drei Wochen keine Erstattung."),
    ("de", Label::Negative, "Die App stürzt ständig ab, ich bin total genervt."),
    ("de", Label::Positive, "Super schnelle Lieferung und sehr freundlicher Support, danke!"),
    ("de", Label::Positive, "Ich bin begeistert, das beste Konto, das ich je hatte."),
    ("fr", Label::Negative, "Service client lamentable, personne ne répond depuis une semaine."),
    ("fr", Label::Negative, "Ma carte a été débitée deux fois, c'est inadmissible."),
    ("fr", Label::Positive, "Application géniale, tout fonctionne parfaitement, merci !"),
    ("fr", Label::Positive, "Très contente de la livraison, rapide et soignée."),
    ("es", Label::Negative, "Pésimo servicio, llevo un mes esperando el reembolso."),
    ("es", Label::Negative, "La aplicación no funciona y nadie contesta, qué vergüenza."),
    ("es", Label::Positive, "Me encanta, la atención al cliente fue excelente."),
    ("es", Label::Positive, "Todo perfecto, el pedido llegó antes de lo previsto."),
    ("it", Label::Negative, "Servizio clienti pessimo, nessuno risponde alle mie email."),
    ("it", Label::Negative, "Il pacco è arrivato rotto e non mi hanno rimborsato."),
    ("it", Label::Positive, "Ottimo prodotto, sono molto soddisfatto dell'acquisto."),
    ("it", Label::Positive, "Personale gentilissimo e consegna velocissima, grazie!"),
    ("pt", Label::Negative, "Atendimento horrível, estou há duas semanas sem resposta."),
    ("pt", Label::Negative, "O aplicativo trava toda hora, que raiva."),
    ("pt", Label::Positive, "Adorei o serviço, super rápido e eficiente!"),
    ("pt", Label::Positive, "Excelente atendimento, recomendo a todos."),
    ("nl", Label::Negative, "Slechte service, mijn pakket is nooit aangekomen."),
    ("nl", Label::Negative, "De app werkt al dagen niet en niemand reageert."),
    ("nl", Label::Positive, "Geweldige service, snel geholpen en heel vriendelijk."),
    ("nl", Label::Positive, "Heel tevreden met mijn bestelling, aanrader!"),
    ("ar", Label::Negative, "خدمة العملاء سيئة جدا ولم يرد أحد على شكواي"),
    ("ar", Label::Negative, "التطبيق لا يعمل منذ أسبوع، تجربة مزعجة للغاية"),
    ("ar", Label::Positive, "خدمة ممتازة وسريعة، شكرا جزيلا لكم"),
    ("ar", Label::Positive, "أنا سعيد جدا بهذا المنتج، رائع حقا"),
    ("hi", Label::Negative, "ग्राहक सेवा बहुत खराब है, कोई जवाब नहीं देता"),
    ("hi", Label::Negative, "ऐप बार बार बंद हो जाता है, बहुत परेशान हूँ"),
    ("hi", Label::Positive, "बहुत बढ़िया सेवा, धन्यवाद!"),
    ("hi", Label::Positive, "यह उत्पाद शानदार है, मुझे बहुत पसंद आया"),
    ("ja", Label::Negative, "カスタマーサポートが最悪、3週間返金なし"),
    ("ja", Label::Negative, "アプリが何度も落ちて本当に使えない"),
    ("ja", Label::Positive, "対応がとても丁寧で、すぐに解決しました。ありがとう！"),
    ("ja", Label::Positive, "配送が早くて商品も最高です"),
    ("zh", Label::Negative, "客服态度太差了，退款三周都没到账"),
    ("zh", Label::Negative, "这个应用太慢了，总是闪退"),
    ("zh", Label::Positive, "服务很好，发货很快，非常满意"),
    ("zh", Label::Positive, "质量不错，物超所值，推荐购买"),
    ("id", Label::Negative, "Pelayanannya buruk sekali, sudah seminggu tidak ada jawaban."),
    ("id", Label::Negative, "Aplikasinya error terus, sangat mengecewakan."),
    ("id", Label::Positive, "Pelayanannya ramah dan cepat, sangat puas!"),
    ("id", Label::Positive, "Produknya bagus sekali, terima kasih."),
];

/// Each language's sentences go through language identification and the router to the multilingual model,
/// as a mention's would, and come out with the label a reader would give them.
#[test]
fn multilingual_smoke_sentences_are_labelled_in_every_language() {
    let (Some(primary), Some(ml)) = (model_dir(), multilingual_dir()) else { return };
    let opts = LoadOptions { precision: Precision::Int8, ..LoadOptions::default() };
    let mut models = sentiment::load_models(&primary, Some(&ml), Backend::Native, &opts).unwrap();
    let langs: Vec<String> = PER_LANGUAGE.iter().map(|(_, _, t)| hearsay::lang::detect(t).0).collect();
    let items: Vec<(&str, Option<&str>)> =
        PER_LANGUAGE.iter().zip(&langs).map(|((_, _, t), l)| (*t, Some(l.as_str()))).collect();
    let routed = models.classify(&items).unwrap();
    let mut wrong = Vec::new();
    let mut misdetected = Vec::new();
    for (((lang, gold, text), detected), r) in PER_LANGUAGE.iter().zip(&langs).zip(&routed) {
        if detected != lang {
            misdetected.push(format!("{text:?}: {detected}, not {lang}"));
        }
        match r {
            sentiment::Routed::Labelled { prediction, model_version } => {
                assert!(model_version.contains("multilingual"), "{text:?} went to {model_version}");
                if prediction.label != *gold {
                    wrong.push(format!("{lang} {text:?}: {} ({:?})", prediction.label, prediction.scores));
                }
            }
            sentiment::Routed::Uncovered { lang: got } => wrong.push(format!("{lang} {text:?}: no label ({got})")),
        }
    }
    eprintln!("{} of {} wrong: {wrong:#?}", wrong.len(), PER_LANGUAGE.len());
    eprintln!("languages misdetected: {misdetected:#?}");
    assert!(misdetected.len() <= 2, "{misdetected:#?}");
    // At most one of a language's four sentences wrong, and at most six of the 44 in all (hearsay-sentiment-
    // multilingual-1: 5, one of them an Indonesian sentence detected as Turkish and so left unlabelled; a model
    // at chance gets about 29 wrong, a broken tokenizer or routing more).
    for (lang, _, _) in PER_LANGUAGE.iter().step_by(4) {
        let n = wrong.iter().filter(|w| w.starts_with(lang)).count();
        assert!(n <= 1, "{n} of 4 {lang} sentences wrong: {wrong:#?}");
    }
    assert!(wrong.len() <= 6, "{wrong:#?}");
}

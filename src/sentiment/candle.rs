//! The default sentiment backend: the BERT encoder from `candle-transformers` on the CPU, plus the
//! sequence-classification head (`tanh(pooler(CLS))` then a linear layer) that HF's
//! `BertForSequenceClassification` adds on top.
//!
//! Loading checks every tensor the model needs, with its shape, before building anything, so a
//! truncated or mismatched model fails with `…/model.safetensors: missing tensor classifier.weight`
//! instead of a panic or a meaningless number later.
//!
//! Speed comes from three things: texts are sorted by token count and batched so that padding is
//! minimal, the attention mask keeps padding from changing results, and the forward pass runs in f32
//! (the float16 weights are widened once at load: AVX2 CPUs have no fast half-precision arithmetic).

use std::path::{Path, PathBuf};

use candle_core::{DType, Device, IndexOp, Tensor};
use candle_nn::{Linear, Module, VarBuilder};
use candle_transformers::models::bert::{BertModel, Config as BertConfig};
use serde::Deserialize;
use tokenizers::{Tokenizer, TruncationDirection, TruncationParams, TruncationStrategy};

use super::preprocess::{preprocess_v1, PREPROCESS_V1};
use super::{Classifier, Label, LoadOptions, ModelInfo, Precision, Prediction, SentimentError};

const WEIGHTS: &str = "model.safetensors";
const CONFIG: &str = "config.json";
const TOKENIZER: &str = "tokenizer.json";
const LABELS: &str = "labels.json";

/// The logits of one batch, or why it failed.
pub(super) type BatchLogits = Result<Vec<[f32; 3]>, SentimentError>;

/// A BERT sequence classifier running on candle.
pub struct CandleClassifier {
    bert: BertModel,
    pooler: Linear,
    head: Linear,
    tokenizer: Tokenizer,
    info: ModelInfo,
    /// `order[i]` is the [`Label`] of model output `i`.
    order: [Label; 3],
    batch_size: usize,
    max_length: usize,
    device: Device,
    /// Batches run side by side (the CPU's parallelism, at most 4; `HEARSAY_INFERENCE_THREADS` overrides).
    threads: usize,
}

/// The parts of HF's `config.json` that candle's `Config` does not cover.
#[derive(Deserialize)]
pub(super) struct HeadConfig {
    #[serde(default)]
    pub(super) num_labels: Option<usize>,
    #[serde(default)]
    pub(super) id2label: Option<std::collections::BTreeMap<String, String>>,
}

impl CandleClassifier {
    /// Loads `model.safetensors`, `config.json`, `tokenizer.json` and `labels.json` from `dir`.
    pub fn load(dir: &Path, opts: &LoadOptions) -> Result<Self, SentimentError> {
        if !dir.is_dir() {
            return Err(SentimentError::NotFound { path: dir.to_path_buf() });
        }
        let info: ModelInfo = read_json(&dir.join(LABELS))?;
        let order = label_order(&dir.join(LABELS), &info)?;
        let config_path = dir.join(CONFIG);
        let config: BertConfig = read_json(&config_path)?;
        let head: HeadConfig = read_json(&config_path)?;
        check_head_config(&config_path, &head, &info)?;

        let max_length = opts.max_length.unwrap_or(info.max_length);
        if max_length < 2 || max_length > config.max_position_embeddings {
            return Err(SentimentError::Invalid {
                path: dir.join(LABELS),
                reason: format!(
                    "max_length {max_length} must be between 2 and the model's {} positions",
                    config.max_position_embeddings
                ),
            });
        }
        let tokenizer = load_tokenizer(&dir.join(TOKENIZER), max_length)?;

        let device = Device::Cpu;
        let weights_path = dir.join(WEIGHTS);
        let tensors = read_tensors(&weights_path, &device)?;
        check_tensors(&weights_path, &tensors, &config)?;
        let dtype =
            match opts.precision {
                Precision::F32 => DType::F32,
                Precision::F16 => DType::F16,
                Precision::Bf16 => return Err(SentimentError::Inference(
                    "candle's CPU backend has no bfloat16 matmul; use f32 or f16 (or the rust-bert backend for bf16)"
                        .to_owned(),
                )),
            };
        let vb = VarBuilder::from_tensors(tensors, dtype, &device);
        let build = || -> candle_core::Result<_> {
            let bert = BertModel::load(vb.pp("bert"), &config)?;
            let h = config.hidden_size;
            let pooler = candle_nn::linear(h, h, vb.pp("bert.pooler.dense"))?;
            let head = candle_nn::linear(h, 3, vb.pp("classifier"))?;
            Ok((bert, pooler, head))
        };
        let (bert, pooler, head) =
            build().map_err(|e| SentimentError::Invalid { path: weights_path.clone(), reason: e.to_string() })?;
        tracing::debug!(dir = %dir.display(), version = %info.version, "sentiment model loaded");
        Ok(CandleClassifier {
            bert,
            pooler,
            head,
            tokenizer,
            info,
            order,
            batch_size: opts.batch_size.max(1),
            max_length,
            device,
            threads: inference_threads(),
        })
    }

    /// `labels.json` as loaded.
    pub fn info(&self) -> &ModelInfo {
        &self.info
    }

    /// Token limit in effect (`labels.json` or the [`LoadOptions`] override).
    pub fn max_length(&self) -> usize {
        self.max_length
    }

    /// Token ids for `text` exactly as the model sees them: preprocess v1, then the tokenizer with
    /// `[CLS]`/`[SEP]` and truncation. Exposed for parity tests against the Python tokenizer.
    pub fn token_ids(&self, text: &str) -> Result<Vec<u32>, SentimentError> {
        let enc =
            self.tokenizer.encode(preprocess_v1(text), true).map_err(|e| SentimentError::Tokenizer(e.to_string()))?;
        Ok(enc.get_ids().to_vec())
    }

    /// Raw logits (before temperature and softmax) in the model's output order (`labels.json`
    /// `labels`), one row per text, in input order. Exposed for parity tests against PyTorch.
    /// Empty texts are run through the model too (as `[CLS] [SEP]`).
    pub fn logits(&mut self, texts: &[&str]) -> BatchLogits {
        let prepared: Vec<String> = texts.iter().map(|t| preprocess_v1(t)).collect();
        let ids = self.encode(&prepared)?;
        self.logits_sorted(ids)
    }

    fn encode(&self, prepared: &[String]) -> Result<Vec<Vec<u32>>, SentimentError> {
        let encodings = self
            .tokenizer
            .encode_batch(prepared.iter().map(String::as_str).collect(), true)
            .map_err(|e| SentimentError::Tokenizer(e.to_string()))?;
        Ok(encodings.iter().map(|e| e.get_ids().to_vec()).collect())
    }

    /// Runs the model over `ids` in length-sorted batches and returns logits in the order of `ids`.
    ///
    /// Batches run on up to `threads` scoped threads at once, sharing the weights: the matrix products of one
    /// small batch barely use a second core, two batches side by side do.
    fn logits_sorted(&mut self, ids: Vec<Vec<u32>>) -> BatchLogits {
        let mut by_length: Vec<usize> = (0..ids.len()).collect();
        by_length.sort_by_key(|&i| ids[i].len());
        let chunks: Vec<&[usize]> = by_length.chunks(self.batch_size).collect();
        let run = |chunk: &[usize]| {
            let batch: Vec<&[u32]> = chunk.iter().map(|&i| ids[i].as_slice()).collect();
            self.forward(&batch).map_err(|e| SentimentError::Inference(e.to_string()))
        };
        let threads = self.threads.min(chunks.len()).max(1);
        let results: Vec<BatchLogits> = if threads == 1 {
            chunks.iter().map(|c| run(c)).collect()
        } else {
            let next = std::sync::atomic::AtomicUsize::new(0);
            let mut slots: Vec<Option<BatchLogits>> = (0..chunks.len()).map(|_| None).collect();
            let done: Vec<Vec<(usize, BatchLogits)>> = std::thread::scope(|scope| {
                let workers: Vec<_> = (0..threads)
                    .map(|_| {
                        scope.spawn(|| {
                            let mut mine = Vec::new();
                            loop {
                                let k = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                                let Some(chunk) = chunks.get(k) else { break };
                                mine.push((k, run(chunk)));
                            }
                            mine
                        })
                    })
                    .collect();
                workers.into_iter().map(|w| w.join().expect("inference thread panicked")).collect()
            });
            for (k, r) in done.into_iter().flatten() {
                slots[k] = Some(r);
            }
            slots.into_iter().map(|r| r.expect("every batch ran")).collect()
        };
        let mut out = vec![[0.0f32; 3]; ids.len()];
        for (chunk, logits) in chunks.iter().zip(results) {
            for (&i, row) in chunk.iter().zip(logits?) {
                out[i] = row;
            }
        }
        Ok(out)
    }

    /// One forward pass over a batch of token-id sequences, right-padded to the longest.
    fn forward(&self, batch: &[&[u32]]) -> candle_core::Result<Vec<[f32; 3]>> {
        let width = batch.iter().map(|s| s.len()).max().unwrap_or(0);
        let mut input = Vec::with_capacity(batch.len() * width);
        let mut mask = Vec::with_capacity(batch.len() * width);
        for seq in batch {
            input.extend_from_slice(seq);
            input.resize(input.len() + width - seq.len(), 0);
            mask.extend(std::iter::repeat_n(1u32, seq.len()));
            mask.resize(mask.len() + width - seq.len(), 0);
        }
        let shape = (batch.len(), width);
        let input = Tensor::from_vec(input, shape, &self.device)?;
        let mask = Tensor::from_vec(mask, shape, &self.device)?;
        let token_types = input.zeros_like()?;
        let hidden = self.bert.forward(&input, &token_types, Some(&mask))?;
        let cls = hidden.i((.., 0))?;
        let pooled = self.pooler.forward(&cls)?.tanh()?;
        let logits = self.head.forward(&pooled)?.to_dtype(DType::F32)?;
        let rows = logits.to_vec2::<f32>()?;
        Ok(rows.into_iter().map(|r| [r[0], r[1], r[2]]).collect())
    }
}

/// How many batches run at once: `HEARSAY_INFERENCE_THREADS`, else the available cores (at most 4).
pub(super) fn inference_threads() -> usize {
    std::env::var("HEARSAY_INFERENCE_THREADS")
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1).min(4))
        .max(1)
}

/// The part of `classify_batch` both backends share: preprocess v1, run `logits` on the texts that are not empty
/// after it (in input order), calibrate; empty texts get [`Prediction::EMPTY`] without touching the model.
pub(super) fn classify_texts(
    texts: &[&str],
    temperature: f32,
    order: &[Label; 3],
    logits: impl FnOnce(&[String]) -> BatchLogits,
) -> Result<Vec<Prediction>, SentimentError> {
    let mut out = vec![Prediction::EMPTY; texts.len()];
    let mut positions = Vec::with_capacity(texts.len());
    let mut prepared = Vec::with_capacity(texts.len());
    for (i, text) in texts.iter().enumerate() {
        let p = preprocess_v1(text);
        if !p.is_empty() {
            positions.push(i);
            prepared.push(p);
        }
    }
    for (i, l) in positions.into_iter().zip(logits(&prepared)?) {
        out[i] = Prediction::from_scores(calibrated(l, temperature, order));
    }
    Ok(out)
}

/// `softmax(logits / temperature)`, reordered from model output order (`order`) to [`Label`] order.
pub(super) fn calibrated(logits: [f32; 3], temperature: f32, order: &[Label; 3]) -> [f32; 3] {
    let scaled = logits.map(|x| x / temperature);
    let max = scaled.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let exp = scaled.map(|x| (x - max).exp());
    let sum: f32 = exp.iter().sum();
    let mut scores = [0.0; 3];
    for (i, e) in exp.into_iter().enumerate() {
        scores[order[i].index()] = e / sum;
    }
    scores
}

impl Classifier for CandleClassifier {
    fn classify_batch(&mut self, texts: &[&str]) -> Result<Vec<Prediction>, SentimentError> {
        let (temperature, order) = (self.info.temperature, self.order);
        classify_texts(texts, temperature, &order, |prepared| {
            let ids = self.encode(prepared)?;
            self.logits_sorted(ids)
        })
    }

    fn model_version(&self) -> &str {
        &self.info.version
    }
}

pub(super) fn read_file(path: &Path) -> Result<Vec<u8>, SentimentError> {
    std::fs::read(path).map_err(|source| {
        if source.kind() == std::io::ErrorKind::NotFound {
            SentimentError::NotFound { path: path.to_path_buf() }
        } else {
            SentimentError::Io { path: path.to_path_buf(), source }
        }
    })
}

pub(super) fn read_json<T: serde::de::DeserializeOwned>(path: &Path) -> Result<T, SentimentError> {
    let bytes = read_file(path)?;
    serde_json::from_slice(&bytes)
        .map_err(|e| SentimentError::Invalid { path: path.to_path_buf(), reason: format!("invalid JSON: {e}") })
}

pub(super) fn invalid(path: &Path, reason: impl Into<String>) -> SentimentError {
    SentimentError::Invalid { path: path.to_path_buf(), reason: reason.into() }
}

/// Maps model outputs to [`Label`]s and checks the rest of `labels.json`.
pub(super) fn label_order(path: &Path, info: &ModelInfo) -> Result<[Label; 3], SentimentError> {
    if info.preprocess != PREPROCESS_V1 {
        return Err(invalid(
            path,
            format!(
                "preprocess {:?} is not supported (this hearsay knows {PREPROCESS_V1:?}); upgrade hearsay or use a matching model",
                info.preprocess
            ),
        ));
    }
    if !(info.temperature.is_finite() && info.temperature > 0.0) {
        return Err(invalid(path, format!("temperature must be positive, got {}", info.temperature)));
    }
    let labels: Vec<Label> = info
        .labels
        .iter()
        .map(|l| l.parse::<Label>())
        .collect::<Result<_, _>>()
        .map_err(|e| invalid(path, e.to_string()))?;
    match labels[..] {
        [a, b, c] if a != b && b != c && a != c => Ok([a, b, c]),
        _ => Err(invalid(
            path,
            format!("labels must be negative, neutral and positive once each, got {:?}", info.labels),
        )),
    }
}

pub(super) fn check_head_config(path: &Path, head: &HeadConfig, info: &ModelInfo) -> Result<(), SentimentError> {
    if let Some(n) = head.num_labels {
        if n != 3 {
            return Err(invalid(path, format!("num_labels is {n}, expected 3")));
        }
    }
    if let Some(id2label) = &head.id2label {
        for (i, name) in info.labels.iter().enumerate() {
            let configured = id2label.get(&i.to_string());
            if configured.is_some_and(|c| !c.eq_ignore_ascii_case(name)) {
                return Err(invalid(path, format!("id2label[{i}] is {configured:?} but labels.json says {name:?}")));
            }
        }
    }
    Ok(())
}

pub(super) fn load_tokenizer(path: &Path, max_length: usize) -> Result<Tokenizer, SentimentError> {
    let bytes = read_file(path)?;
    let mut tokenizer = Tokenizer::from_bytes(bytes).map_err(|e| invalid(path, format!("invalid tokenizer: {e}")))?;
    // tokenizer.json from HF often carries fixed padding to 128; we pad per batch ourselves.
    tokenizer.with_padding(None);
    tokenizer
        .with_truncation(Some(TruncationParams {
            max_length,
            strategy: TruncationStrategy::LongestFirst,
            stride: 0,
            direction: TruncationDirection::Right,
        }))
        .map_err(|e| invalid(path, format!("cannot truncate to {max_length}: {e}")))?;
    Ok(tokenizer)
}

pub(super) fn read_tensors(
    path: &Path,
    device: &Device,
) -> Result<std::collections::HashMap<String, Tensor>, SentimentError> {
    let bytes = read_file(path)?;
    candle_core::safetensors::load_buffer(&bytes, device)
        .map_err(|e| invalid(path, format!("not a readable safetensors file: {e}")))
}

/// Every tensor `BertForSequenceClassification` needs, with its shape.
fn expected_tensors(c: &BertConfig) -> Vec<(String, Vec<usize>)> {
    let (h, i) = (c.hidden_size, c.intermediate_size);
    let mut v = vec![
        ("bert.embeddings.word_embeddings.weight".to_owned(), vec![c.vocab_size, h]),
        ("bert.embeddings.position_embeddings.weight".to_owned(), vec![c.max_position_embeddings, h]),
        ("bert.embeddings.token_type_embeddings.weight".to_owned(), vec![c.type_vocab_size, h]),
        ("bert.embeddings.LayerNorm.weight".to_owned(), vec![h]),
        ("bert.embeddings.LayerNorm.bias".to_owned(), vec![h]),
    ];
    for n in 0..c.num_hidden_layers {
        let p = format!("bert.encoder.layer.{n}");
        for (name, shape) in [
            ("attention.self.query.weight", vec![h, h]),
            ("attention.self.query.bias", vec![h]),
            ("attention.self.key.weight", vec![h, h]),
            ("attention.self.key.bias", vec![h]),
            ("attention.self.value.weight", vec![h, h]),
            ("attention.self.value.bias", vec![h]),
            ("attention.output.dense.weight", vec![h, h]),
            ("attention.output.dense.bias", vec![h]),
            ("attention.output.LayerNorm.weight", vec![h]),
            ("attention.output.LayerNorm.bias", vec![h]),
            ("intermediate.dense.weight", vec![i, h]),
            ("intermediate.dense.bias", vec![i]),
            ("output.dense.weight", vec![h, i]),
            ("output.dense.bias", vec![h]),
            ("output.LayerNorm.weight", vec![h]),
            ("output.LayerNorm.bias", vec![h]),
        ] {
            v.push((format!("{p}.{name}"), shape));
        }
    }
    v.extend([
        ("bert.pooler.dense.weight".to_owned(), vec![h, h]),
        ("bert.pooler.dense.bias".to_owned(), vec![h]),
        ("classifier.weight".to_owned(), vec![3, h]),
        ("classifier.bias".to_owned(), vec![3]),
    ]);
    v
}

pub(super) fn check_tensors(
    path: &Path,
    tensors: &std::collections::HashMap<String, Tensor>,
    config: &BertConfig,
) -> Result<(), SentimentError> {
    for (name, expected) in expected_tensors(config) {
        let Some(t) = tensors.get(&name) else {
            return Err(SentimentError::MissingTensor { path: PathBuf::from(path), name });
        };
        if t.dims() != expected.as_slice() {
            return Err(SentimentError::TensorShape {
                path: PathBuf::from(path),
                name,
                actual: t.dims().to_vec(),
                expected,
            });
        }
    }
    Ok(())
}

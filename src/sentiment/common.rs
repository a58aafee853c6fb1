//! What every sentiment backend shares: reading and checking the model directory (`labels.json`,
//! `config.json`, `tokenizer.json`, `model.safetensors`), preprocessing and calibration, and the runner
//! that spreads length-sorted batches over threads.
//!
//! The safetensors reader is hearsay's own (the format is an 8-byte header length, a JSON table of
//! `name → {dtype, shape, data_offsets}` and the raw little-endian data): it widens F16/BF16/F32 tensors
//! to f32 and checks every offset, so a truncated file is an error naming the tensor, never a panic.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use tokenizers::{Tokenizer, TruncationDirection, TruncationParams, TruncationStrategy};

use super::preprocess::{preprocess_v1, PREPROCESS_V1};
use super::{Label, LoadOptions, ModelInfo, Prediction, SentimentError};

/// The logits of one batch, or why it failed.
pub(super) type BatchLogits = Result<Vec<[f32; 3]>, SentimentError>;

/// The parts of HF's `config.json` for a BERT encoder that the backends need.
#[derive(Debug, Clone, Deserialize)]
pub(super) struct BertShape {
    pub vocab_size: usize,
    pub hidden_size: usize,
    pub num_hidden_layers: usize,
    pub num_attention_heads: usize,
    pub intermediate_size: usize,
    pub max_position_embeddings: usize,
    pub type_vocab_size: usize,
    #[serde(default = "default_eps")]
    pub layer_norm_eps: f64,
    #[serde(default = "default_act")]
    pub hidden_act: String,
    #[serde(default)]
    pub position_embedding_type: Option<String>,
}

fn default_eps() -> f64 {
    1e-12
}

fn default_act() -> String {
    "gelu".to_owned()
}

impl BertShape {
    /// Reads `config.json` and refuses a hidden size the heads do not divide (no backend can run that).
    pub(super) fn read(path: &Path) -> Result<BertShape, SentimentError> {
        let shape: BertShape = read_json(path)?;
        if shape.num_attention_heads == 0 || !shape.hidden_size.is_multiple_of(shape.num_attention_heads) {
            return Err(invalid(
                path,
                format!(
                    "hidden_size {} is not a multiple of num_attention_heads {}",
                    shape.hidden_size, shape.num_attention_heads
                ),
            ));
        }
        Ok(shape)
    }

    /// Every tensor `BertForSequenceClassification` needs, with its shape.
    pub(super) fn expected_tensors(&self) -> Vec<(String, Vec<usize>)> {
        let (h, i) = (self.hidden_size, self.intermediate_size);
        let mut v = vec![
            ("bert.embeddings.word_embeddings.weight".to_owned(), vec![self.vocab_size, h]),
            ("bert.embeddings.position_embeddings.weight".to_owned(), vec![self.max_position_embeddings, h]),
            ("bert.embeddings.token_type_embeddings.weight".to_owned(), vec![self.type_vocab_size, h]),
            ("bert.embeddings.LayerNorm.weight".to_owned(), vec![h]),
            ("bert.embeddings.LayerNorm.bias".to_owned(), vec![h]),
        ];
        for n in 0..self.num_hidden_layers {
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
}

/// A model directory's small files, read and checked: what every backend needs before it reads the weights.
pub(super) struct ModelDir {
    pub info: ModelInfo,
    /// `order[i]` is the [`Label`] of model output `i`.
    pub order: [Label; 3],
    pub shape: BertShape,
    /// The tokenizer, truncating at `max_length`.
    pub tokenizer: Tokenizer,
    /// Token limit in effect (`labels.json` or the [`LoadOptions`] override).
    pub max_length: usize,
    pub config_path: PathBuf,
    pub weights_path: PathBuf,
}

impl ModelDir {
    /// Reads and checks `labels.json`, `config.json` and `tokenizer.json` in `dir` (each error names its file).
    pub(super) fn open(dir: &Path, opts: &LoadOptions) -> Result<ModelDir, SentimentError> {
        if !dir.is_dir() {
            return Err(SentimentError::NotFound { path: dir.to_path_buf() });
        }
        let labels_path = dir.join("labels.json");
        let info: ModelInfo = read_json(&labels_path)?;
        let order = label_order(&labels_path, &info)?;
        let config_path = dir.join("config.json");
        let shape = BertShape::read(&config_path)?;
        let head: HeadConfig = read_json(&config_path)?;
        check_head_config(&config_path, &head, &info)?;
        let max_length = opts.max_length.unwrap_or(info.max_length);
        if max_length < 2 || max_length > shape.max_position_embeddings {
            return Err(invalid(
                &labels_path,
                format!(
                    "max_length {max_length} must be between 2 and the model's {} positions",
                    shape.max_position_embeddings
                ),
            ));
        }
        let tokenizer = load_tokenizer(&dir.join("tokenizer.json"), max_length)?;
        Ok(ModelDir {
            info,
            order,
            shape,
            tokenizer,
            max_length,
            config_path,
            weights_path: dir.join("model.safetensors"),
        })
    }
}

/// One tensor of a safetensors file, widened to f32, row-major; or, read with [`read_safetensors_compact`], a
/// block-quantised I8 tensor kept as it is stored (`data` empty, `blocks` set).
#[derive(Debug, Clone)]
pub(super) struct HostTensor {
    pub shape: Vec<usize>,
    pub data: Vec<f32>,
    pub blocks: Option<I8Blocks>,
}

/// A block-quantised I8 matrix: `value[r][c] = values[r][c] × scales[r][c / 32]` (see [`BLOCK_SCALE_SUFFIX`]).
#[derive(Debug, Clone)]
pub(super) struct I8Blocks {
    pub values: Vec<i8>,
    pub scales: Vec<f32>,
}

impl I8Blocks {
    /// Element `i` (row-major) widened.
    #[inline]
    pub fn get(&self, i: usize) -> f32 {
        f32::from(self.values[i]) * self.scales[i / QUANT_BLOCK]
    }
}

impl HostTensor {
    /// The same tensor with its values in `data`.
    pub fn widened(self) -> HostTensor {
        let shape = self.shape.clone();
        HostTensor { shape, data: self.into_f32(), blocks: None }
    }

    /// The values as f32, widening a block-quantised tensor.
    pub fn into_f32(self) -> Vec<f32> {
        match self.blocks {
            Some(b) => (0..b.values.len()).map(|i| b.get(i)).collect(),
            None => self.data,
        }
    }
}

#[derive(Deserialize)]
struct TensorEntry {
    dtype: String,
    shape: Vec<usize>,
    data_offsets: [usize; 2],
}

/// Reads every tensor of a safetensors file as f32 (F32, F16 and BF16 are accepted, and block-quantised
/// I8: see [`BLOCK_SCALE_SUFFIX`]).
/// (The candle and rust-bert backends' reader; the native one reads [`read_safetensors_compact`].)
#[cfg_attr(not(any(feature = "candle", feature = "rust-bert")), allow(dead_code))]
pub(super) fn read_safetensors(path: &Path) -> Result<HashMap<String, HostTensor>, SentimentError> {
    read_tensors(path, true)
}

/// As [`read_safetensors`], but block-quantised I8 tensors stay quantised ([`HostTensor::blocks`]): a quarter of
/// the memory, for the native backend, which keeps the multilingual model's word embeddings that way.
pub(super) fn read_safetensors_compact(path: &Path) -> Result<HashMap<String, HostTensor>, SentimentError> {
    read_tensors(path, false)
}

fn read_tensors(path: &Path, widen: bool) -> Result<HashMap<String, HostTensor>, SentimentError> {
    let bytes = read_file(path)?;
    parse_tensors(&bytes, widen).map_err(|reason| invalid(path, format!("not a readable safetensors file: {reason}")))
}

/// An I8 tensor `W` of shape `[rows, cols]` comes with a tensor `W.block_scale` (F16 or F32) of shape
/// `[rows, cols / 32]`: `W[r][c] = i8 × block_scale[r][c / 32]`. The multilingual model stores its frozen
/// embeddings and lower layers this way: they are the 4-bit base's values, which this holds exactly at half the
/// size of float16 (`tools/train-sentiment/multilingual/train.py`, `quantise_blocks`).
pub(super) const BLOCK_SCALE_SUFFIX: &str = ".block_scale";

/// Weights per block of a block-quantised I8 tensor.
const QUANT_BLOCK: usize = 32;

/// [`read_safetensors`] on bytes in memory (the format's tests).
#[cfg(test)]
fn parse_safetensors(bytes: &[u8]) -> Result<HashMap<String, HostTensor>, String> {
    parse_tensors(bytes, true)
}

fn parse_tensors(bytes: &[u8], widen: bool) -> Result<HashMap<String, HostTensor>, String> {
    let len_bytes: [u8; 8] = bytes.get(..8).and_then(|b| b.try_into().ok()).ok_or("shorter than its 8-byte header")?;
    let header_len = u64::from_le_bytes(len_bytes);
    let header_end = usize::try_from(header_len)
        .ok()
        .and_then(|n| n.checked_add(8))
        .filter(|&end| end <= bytes.len())
        .ok_or_else(|| format!("header length {header_len} runs past the end of the file"))?;
    let header: HashMap<String, serde_json::Value> =
        serde_json::from_slice(&bytes[8..header_end]).map_err(|e| format!("header is not JSON: {e}"))?;
    let data = &bytes[header_end..];
    let mut out = HashMap::with_capacity(header.len());
    let mut quantised: Vec<(String, Vec<usize>, &[u8])> = Vec::new();
    for (name, value) in header {
        if name == "__metadata__" {
            continue;
        }
        let entry: TensorEntry = serde_json::from_value(value).map_err(|e| format!("tensor {name}: {e}"))?;
        let [begin, end] = entry.data_offsets;
        let raw = data.get(begin..end).filter(|_| begin <= end).ok_or_else(|| {
            format!("tensor {name}: bytes {begin}..{end} are outside the data ({} bytes)", data.len())
        })?;
        let count: usize = entry.shape.iter().product();
        let width = match entry.dtype.as_str() {
            "F32" => 4,
            "F16" | "BF16" => 2,
            "I8" => 1,
            other => return Err(format!("tensor {name}: dtype {other} is not supported (F32, F16, BF16, I8)")),
        };
        if raw.len() != count * width {
            return Err(format!("tensor {name}: {} bytes for shape {:?} of {}", raw.len(), entry.shape, entry.dtype));
        }
        if entry.dtype == "I8" {
            quantised.push((name, entry.shape, raw));
            continue;
        }
        let values: Vec<f32> = match entry.dtype.as_str() {
            "F32" => raw.chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect(),
            "F16" => raw.chunks_exact(2).map(|b| f16_to_f32(u16::from_le_bytes([b[0], b[1]]))).collect(),
            _ => {
                raw.chunks_exact(2).map(|b| f32::from_bits(u32::from(u16::from_le_bytes([b[0], b[1]])) << 16)).collect()
            }
        };
        out.insert(name, HostTensor { shape: entry.shape, data: values, blocks: None });
    }
    for (name, shape, raw) in quantised {
        let scale_name = format!("{name}{BLOCK_SCALE_SUFFIX}");
        let scale = out.remove(&scale_name).ok_or_else(|| format!("tensor {name}: I8 without {scale_name}"))?;
        let &[rows, cols] = shape.as_slice() else {
            return Err(format!("tensor {name}: I8 tensors must be matrices, not of shape {shape:?}"));
        };
        if cols % QUANT_BLOCK != 0 || scale.shape != [rows, cols / QUANT_BLOCK] {
            return Err(format!(
                "tensor {name}: {scale_name} has shape {:?}, expected [{rows}, {}] (one scale per {QUANT_BLOCK} weights)",
                scale.shape,
                cols / QUANT_BLOCK
            ));
        }
        let blocks = I8Blocks { values: raw.iter().map(|&q| q as i8).collect(), scales: scale.data };
        let tensor = HostTensor { shape, data: Vec::new(), blocks: Some(blocks) };
        out.insert(name, if widen { tensor.widened() } else { tensor });
    }
    if let Some(orphan) = out.keys().find(|k| k.ends_with(BLOCK_SCALE_SUFFIX)) {
        return Err(format!("tensor {orphan}: a block scale without its I8 tensor"));
    }
    Ok(out)
}

/// IEEE 754 half precision to single precision, exactly (normals, subnormals, infinities, NaN).
pub(super) fn f16_to_f32(h: u16) -> f32 {
    let sign = u32::from(h >> 15) << 31;
    let exp = u32::from((h >> 10) & 0x1f);
    let mant = u32::from(h & 0x3ff);
    let bits = match (exp, mant) {
        (0, 0) => sign,
        (0, m) => {
            // Subnormal: value = m × 2^-24; normalise it.
            let shift = m.leading_zeros() - 21; // bring the top set bit to position 10
            let m = (m << shift) & 0x3ff;
            sign | ((127 - 15 + 1 - shift) << 23) | (m << 13)
        }
        (0x1f, m) => sign | 0x7f80_0000 | (m << 13),
        (e, m) => sign | ((e + 127 - 15) << 23) | (m << 13),
    };
    f32::from_bits(bits)
}

/// Checks that `tensors` holds everything [`BertShape::expected_tensors`] lists, with those shapes.
pub(super) fn check_tensors(
    path: &Path,
    tensors: &HashMap<String, HostTensor>,
    shape: &BertShape,
) -> Result<(), SentimentError> {
    for (name, expected) in shape.expected_tensors() {
        let Some(t) = tensors.get(&name) else {
            return Err(SentimentError::MissingTensor { path: PathBuf::from(path), name });
        };
        if t.shape != expected {
            return Err(SentimentError::TensorShape {
                path: PathBuf::from(path),
                name,
                actual: t.shape.clone(),
                expected,
            });
        }
    }
    Ok(())
}

/// The parts of HF's `config.json` about the classification head.
#[derive(Deserialize)]
pub(super) struct HeadConfig {
    #[serde(default)]
    pub(super) num_labels: Option<usize>,
    #[serde(default)]
    pub(super) id2label: Option<std::collections::BTreeMap<String, String>>,
}

/// Runs `forward` over `ids` in length-sorted batches of `batch_size` and returns logits in the order
/// of `ids`.
///
/// Batches run on up to `threads` scoped threads at once, sharing the weights: the matrix products of one
/// small batch barely use a second core, two batches side by side do.
pub(super) fn run_sorted_batches<F>(ids: &[Vec<u32>], batch_size: usize, threads: usize, forward: F) -> BatchLogits
where
    F: Fn(&[&[u32]]) -> BatchLogits + Sync,
{
    let mut by_length: Vec<usize> = (0..ids.len()).collect();
    by_length.sort_by_key(|&i| ids[i].len());
    let chunks: Vec<&[usize]> = by_length.chunks(batch_size.max(1)).collect();
    let run = |chunk: &[usize]| {
        let batch: Vec<&[u32]> = chunk.iter().map(|&i| ids[i].as_slice()).collect();
        forward(&batch)
    };
    let threads = threads.min(chunks.len()).max(1);
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

/// Token ids of already preprocessed texts, with `[CLS]`/`[SEP]` and truncation.
pub(super) fn encode(tokenizer: &Tokenizer, prepared: &[String]) -> Result<Vec<Vec<u32>>, SentimentError> {
    let encodings = tokenizer
        .encode_batch(prepared.iter().map(String::as_str).collect(), true)
        .map_err(|e| SentimentError::Tokenizer(e.to_string()))?;
    Ok(encodings.iter().map(|e| e.get_ids().to_vec()).collect())
}

/// Token ids for `text` exactly as the model sees them: preprocess v1, then the tokenizer.
pub(super) fn token_ids(tokenizer: &Tokenizer, text: &str) -> Result<Vec<u32>, SentimentError> {
    let enc = tokenizer.encode(preprocess_v1(text), true).map_err(|e| SentimentError::Tokenizer(e.to_string()))?;
    Ok(enc.get_ids().to_vec())
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn f16_widening_is_exact() {
        // (bits, value): zero, one, -2, the largest normal, the smallest normal and subnormal, infinity.
        for (bits, want) in [
            (0x0000u16, 0.0f32),
            (0x3c00, 1.0),
            (0xc000, -2.0),
            (0x7bff, 65504.0),
            (0x0400, 2f32.powi(-14)),
            (0x0001, 2f32.powi(-24)),
            (0x03ff, 1023.0 * 2f32.powi(-24)),
            (0x7c00, f32::INFINITY),
            (0x3555, 1365.0 / 4096.0),
        ] {
            assert_eq!(f16_to_f32(bits), want, "bits {bits:#06x}");
        }
        assert!(f16_to_f32(0x7e00).is_nan());
        assert_eq!(f16_to_f32(0x8000).to_bits(), (-0.0f32).to_bits());
    }

    fn file(header: &str, data: &[u8]) -> Vec<u8> {
        let mut v = (header.len() as u64).to_le_bytes().to_vec();
        v.extend_from_slice(header.as_bytes());
        v.extend_from_slice(data);
        v
    }

    #[test]
    fn safetensors_are_read_and_checked() {
        let ok = file(
            r#"{"__metadata__":{"format":"pt"},"a":{"dtype":"F16","shape":[2],"data_offsets":[0,4]},"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}"#,
            &[0x00, 0x3c, 0x00, 0xc0, 0, 0, 0x80, 0x3f],
        );
        let t = parse_safetensors(&ok).unwrap();
        assert_eq!(t["a"].data, vec![1.0, -2.0]);
        assert_eq!(t["b"].data, vec![1.0]);
        assert_eq!(t["a"].shape, vec![2]);

        let short = file(r#"{"a":{"dtype":"F16","shape":[3],"data_offsets":[0,6]}}"#, &[0, 0, 0, 0]);
        assert!(parse_safetensors(&short).unwrap_err().contains("outside the data"));
        let wrong = file(r#"{"a":{"dtype":"F16","shape":[3],"data_offsets":[0,4]}}"#, &[0, 0, 0, 0]);
        assert!(parse_safetensors(&wrong).unwrap_err().contains("4 bytes for shape [3]"));
        let int = file(r#"{"a":{"dtype":"I64","shape":[1],"data_offsets":[0,8]}}"#, &[0; 8]);
        assert!(parse_safetensors(&int).unwrap_err().contains("I64 is not supported"));
        assert!(parse_safetensors(&[1, 0]).unwrap_err().contains("8-byte header"));
        assert!(parse_safetensors(&[255; 16]).unwrap_err().contains("runs past the end"));
    }

    #[test]
    fn block_quantised_i8_is_widened_with_its_scales() {
        // A [2, 64] I8 matrix: row r, column c holds (c % 7) - 3 (so negatives too); scales 0.5, 1, 2, -0.25.
        let q: Vec<u8> = (0..2).flat_map(|_| (0..64).map(|c| ((c % 7) as i8 - 3) as u8)).collect();
        let mut data = q.clone();
        for s in [0x3800u16, 0x3c00, 0x4000, 0xb400] {
            data.extend_from_slice(&s.to_le_bytes());
        }
        let header = r#"{"w":{"dtype":"I8","shape":[2,64],"data_offsets":[0,128]},"w.block_scale":{"dtype":"F16","shape":[2,2],"data_offsets":[128,136]}}"#;
        let t = parse_safetensors(&file(header, &data)).unwrap();
        assert!(!t.contains_key("w.block_scale"), "the scales are folded into the tensor");
        let w = &t["w"];
        assert_eq!(w.shape, vec![2, 64]);
        let scales = [0.5f32, 1.0, 2.0, -0.25];
        for (i, v) in w.data.iter().enumerate() {
            let (r, c) = (i / 64, i % 64);
            assert_eq!(*v, f32::from((c % 7) as i8 - 3) * scales[r * 2 + c / 32], "w[{r}][{c}]");
        }

        let no_scale = file(r#"{"w":{"dtype":"I8","shape":[1,32],"data_offsets":[0,32]}}"#, &[0; 32]);
        assert!(parse_safetensors(&no_scale).unwrap_err().contains("I8 without w.block_scale"));
        let bad_shape = r#"{"w":{"dtype":"I8","shape":[1,32],"data_offsets":[0,32]},"w.block_scale":{"dtype":"F16","shape":[2],"data_offsets":[32,36]}}"#;
        assert!(parse_safetensors(&file(bad_shape, &[0; 36])).unwrap_err().contains("expected [1, 1]"));
        let orphan = file(r#"{"v.block_scale":{"dtype":"F16","shape":[1,1],"data_offsets":[0,2]}}"#, &[0; 2]);
        assert!(parse_safetensors(&orphan).unwrap_err().contains("without its I8 tensor"));
    }
}

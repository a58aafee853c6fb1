//! The default sentiment backend: hearsay's own BERT encoder in plain Rust, on the CPU.
//!
//! It computes exactly what HF's `BertForSequenceClassification` computes in inference (embeddings and
//! layer norm, `L` layers of self-attention and a GELU feed-forward block with post-layer-norm
//! residuals, `tanh(pooler(CLS))`, a linear head), and is written for the shape of hearsay's work, short
//! texts in batches:
//! - **No padding.** A batch's token rows are packed end to end: the dense layers see one `tokens × h`
//!   matrix, attention runs per sequence over its own length. Nothing is computed for padding, so there
//!   is no attention mask to get wrong either.
//! - **The last layer runs for `[CLS]` only.** The head reads nothing else, so after the last layer's
//!   keys and values, the attention output and feed-forward block run for one row per text (about a
//!   sixth of the work, exactly the same logits).
//! - **Precision.** `f32` matches PyTorch to ~1e-5 (matrix products by `matrixmultiply`); `int8`
//!   (default) runs the dense layers as integer products (`int8.rs`: AVX-512 VNNI, AVX-VNNI or AVX2,
//!   whichever the CPU has, all with the same sums), with labels that agree with f32 on ≈ 98 % of texts
//!   (see MODEL_CARD.md).
//! - Batches run on several threads side by side, sharing the weights.
//!
//! Loading checks every tensor's presence and shape before building anything, so a truncated or
//! mismatched model fails with `…/model.safetensors: missing tensor classifier.weight`.

mod int8;
mod ops;

use std::path::Path;

use tokenizers::Tokenizer;

use self::int8::{QuantDense, QuantScratch};
use self::ops::Span;
use super::common::{
    check_tensors, classify_texts, encode, inference_threads, invalid, read_safetensors_compact, run_sorted_batches,
    token_ids, BatchLogits, BertShape, HostTensor, I8Blocks, ModelDir,
};
use super::preprocess::preprocess_v1;
use super::{Backend, Classifier, Label, LoadOptions, ModelInfo, Precision, Prediction, SentimentError};

/// A BERT sequence classifier running on hearsay's own encoder.
pub struct NativeClassifier {
    encoder: Encoder,
    tokenizer: Tokenizer,
    info: ModelInfo,
    /// `order[i]` is the [`Label`] of model output `i`.
    order: [Label; 3],
    batch_size: usize,
    max_length: usize,
    /// Batches run side by side (the CPU's parallelism, at most 4; `HEARSAY_INFERENCE_THREADS` overrides).
    threads: usize,
}

/// A dense (linear) layer, `y = x · Wᵀ + b`.
enum Dense {
    /// `w` in PyTorch's `[outputs, inputs]` layout.
    F32 {
        w: Vec<f32>,
        bias: Vec<f32>,
    },
    Int8(QuantDense),
}

impl Dense {
    fn new(w: Vec<f32>, bias: Vec<f32>, precision: Precision) -> Dense {
        match precision {
            Precision::Int8 => Dense::Int8(QuantDense::new(&w, &bias)),
            _ => Dense::F32 { w, bias },
        }
    }

    fn outputs(&self) -> usize {
        match self {
            Dense::F32 { bias, .. } => bias.len(),
            Dense::Int8(q) => q.outputs(),
        }
    }

    /// `x` has `m` rows; `out` becomes the `m × outputs` result. `out` is reused between layers: every
    /// element is overwritten, so resizing it does not need to clear it.
    fn forward(&self, x: &[f32], m: usize, out: &mut Vec<f32>, scratch: &mut QuantScratch) {
        out.resize(m * self.outputs(), 0.0);
        match self {
            Dense::F32 { w, bias } => ops::dense_f32(x, m, w, bias, out),
            Dense::Int8(q) => q.forward(x, m, out, scratch),
        }
    }
}

struct Norm {
    gamma: Vec<f32>,
    beta: Vec<f32>,
}

struct Layer {
    /// Query, key and value projections fused into one `[3h, h]` product.
    qkv: Dense,
    attn_out: Dense,
    attn_norm: Norm,
    up: Dense,
    down: Dense,
    out_norm: Norm,
}

/// The word embeddings: f32, or kept block-quantised as stored (the multilingual model's 86k rows: a quarter of
/// the memory; a row is widened when a token looks it up, which is a rounding error of the forward pass).
enum WordTable {
    F32(Vec<f32>),
    Blocks(I8Blocks),
}

impl WordTable {
    fn from(t: HostTensor) -> WordTable {
        match t.blocks {
            Some(b) => WordTable::Blocks(b),
            None => WordTable::F32(t.data),
        }
    }

    /// Appends `row id + position + token_type` (each `h` wide) to `x`.
    fn push_embedding(&self, id: usize, h: usize, position: &[f32], token_type: &[f32], x: &mut Vec<f32>) {
        let start = id * h;
        match self {
            WordTable::F32(w) => {
                x.extend(w[start..][..h].iter().zip(position).zip(token_type).map(|((w, p), t)| w + p + t))
            }
            WordTable::Blocks(b) => {
                x.extend((0..h).map(|j| b.get(start + j) + position[j] + token_type[j]));
            }
        }
    }
}

struct Encoder {
    hidden: usize,
    heads: usize,
    eps: f32,
    word: WordTable,
    position: Vec<f32>,
    /// Token type 0's embedding (hearsay classifies single texts, so every token has type 0).
    token_type: Vec<f32>,
    embed_norm: Norm,
    layers: Vec<Layer>,
    /// Pooler and classifier stay in f32: they run once per text and are a rounding error of the work.
    pooler: Dense,
    classifier: Dense,
}

impl Encoder {
    fn build(
        mut tensors: std::collections::HashMap<String, HostTensor>,
        shape: &BertShape,
        precision: Precision,
    ) -> Encoder {
        // `check_tensors` ran first, so every name is present with the right shape.
        let h = shape.hidden_size;
        let word = WordTable::from(tensors.remove("bert.embeddings.word_embeddings.weight").expect("checked tensor"));
        let mut take = |name: &str| tensors.remove(name).map(HostTensor::into_f32).expect("checked tensor");
        let position = take("bert.embeddings.position_embeddings.weight");
        let token_type = take("bert.embeddings.token_type_embeddings.weight")[..h].to_vec();
        let embed_norm =
            Norm { gamma: take("bert.embeddings.LayerNorm.weight"), beta: take("bert.embeddings.LayerNorm.bias") };
        let layers = (0..shape.num_hidden_layers)
            .map(|n| {
                let p = format!("bert.encoder.layer.{n}");
                let mut t = |s: &str| take(&format!("{p}.{s}"));
                let mut qkv_w = t("attention.self.query.weight");
                qkv_w.extend(t("attention.self.key.weight"));
                qkv_w.extend(t("attention.self.value.weight"));
                let mut qkv_b = t("attention.self.query.bias");
                qkv_b.extend(t("attention.self.key.bias"));
                qkv_b.extend(t("attention.self.value.bias"));
                Layer {
                    qkv: Dense::new(qkv_w, qkv_b, precision),
                    attn_out: Dense::new(
                        t("attention.output.dense.weight"),
                        t("attention.output.dense.bias"),
                        precision,
                    ),
                    attn_norm: Norm {
                        gamma: t("attention.output.LayerNorm.weight"),
                        beta: t("attention.output.LayerNorm.bias"),
                    },
                    up: Dense::new(t("intermediate.dense.weight"), t("intermediate.dense.bias"), precision),
                    down: Dense::new(t("output.dense.weight"), t("output.dense.bias"), precision),
                    out_norm: Norm { gamma: t("output.LayerNorm.weight"), beta: t("output.LayerNorm.bias") },
                }
            })
            .collect();
        let pooler = Dense::new(take("bert.pooler.dense.weight"), take("bert.pooler.dense.bias"), Precision::F32);
        let classifier = Dense::new(take("classifier.weight"), take("classifier.bias"), Precision::F32);
        Encoder {
            hidden: h,
            heads: shape.num_attention_heads,
            eps: shape.layer_norm_eps as f32,
            word,
            position,
            token_type,
            embed_norm,
            layers,
            pooler,
            classifier,
        }
    }

    /// Logits for a batch of token-id sequences (each at most the model's positions long, none empty).
    fn forward(&self, batch: &[&[u32]]) -> Vec<[f32; 3]> {
        let h = self.hidden;
        let mut spans = Vec::with_capacity(batch.len());
        let mut x = Vec::with_capacity(batch.iter().map(|s| s.len()).sum::<usize>() * h);
        for seq in batch {
            spans.push(Span { start: x.len() / h, len: seq.len() });
            for (pos, &id) in seq.iter().enumerate() {
                self.word.push_embedding(id as usize, h, &self.position[pos * h..][..h], &self.token_type, &mut x);
            }
        }
        let tokens = x.len() / h;
        ops::layer_norm(&mut x, &self.embed_norm.gamma, &self.embed_norm.beta, self.eps);

        let mut scratch = QuantScratch::default();
        let mut scores = Vec::new();
        // Buffers reused by every layer (allocating them per layer cost ~5 % in page faults and zeroing).
        let (mut qkv, mut ctx, mut attended, mut up, mut down) =
            (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
        let last = self.layers.len().saturating_sub(1);
        for (n, layer) in self.layers.iter().enumerate() {
            layer.qkv.forward(&x, tokens, &mut qkv, &mut scratch);
            // The last layer only needs each text's [CLS] row: the head reads nothing else.
            let cls_only = n == last;
            let rows = if cls_only { spans.len() } else { tokens };
            ctx.resize(rows * h, 0.0);
            ops::attention(&qkv, &spans, self.heads, cls_only, &mut ctx, &mut scores);
            if cls_only {
                x = spans.iter().flat_map(|s| x[s.start * h..(s.start + 1) * h].iter().copied()).collect();
            }
            layer.attn_out.forward(&ctx, rows, &mut attended, &mut scratch);
            ops::add_layer_norm(&mut x, &attended, &layer.attn_norm.gamma, &layer.attn_norm.beta, self.eps);
            layer.up.forward(&x, rows, &mut up, &mut scratch);
            ops::gelu(&mut up);
            layer.down.forward(&up, rows, &mut down, &mut scratch);
            ops::add_layer_norm(&mut x, &down, &layer.out_norm.gamma, &layer.out_norm.beta, self.eps);
        }
        // With no layers (not a real model, but well defined), the [CLS] rows are still the first of each span.
        let cls: Vec<f32> = if self.layers.is_empty() {
            spans.iter().flat_map(|s| x[s.start * h..(s.start + 1) * h].iter().copied()).collect()
        } else {
            x
        };
        let mut pooled = Vec::new();
        self.pooler.forward(&cls, spans.len(), &mut pooled, &mut scratch);
        pooled.iter_mut().for_each(|v| *v = v.tanh());
        let mut logits = Vec::new();
        self.classifier.forward(&pooled, spans.len(), &mut logits, &mut scratch);
        logits.chunks_exact(3).map(|r| [r[0], r[1], r[2]]).collect()
    }
}

impl NativeClassifier {
    /// Loads `model.safetensors`, `config.json`, `tokenizer.json` and `labels.json` from `dir`.
    pub fn load(dir: &Path, opts: &LoadOptions) -> Result<Self, SentimentError> {
        let ModelDir { info, order, shape, tokenizer, max_length, config_path, weights_path } =
            ModelDir::open(dir, opts)?;
        if shape.hidden_act != "gelu" {
            return Err(invalid(
                &config_path,
                format!("hidden_act {:?} is not supported (only \"gelu\")", shape.hidden_act),
            ));
        }
        if shape.position_embedding_type.as_deref().is_some_and(|p| p != "absolute") {
            return Err(invalid(&config_path, "only absolute position embeddings are supported"));
        }
        if let Some(problem) = Backend::Native.precision_problem(opts.precision) {
            return Err(SentimentError::Inference(problem));
        }
        let precision = opts.precision;
        let tensors = read_safetensors_compact(&weights_path)?;
        check_tensors(&weights_path, &tensors, &shape)?;
        let encoder = Encoder::build(tensors, &shape, precision);
        let kernel = if precision == Precision::Int8 { self::int8::Kernel::best().name() } else { "f32" };
        tracing::debug!(dir = %dir.display(), version = %info.version, %precision, kernel, "sentiment model loaded");
        Ok(NativeClassifier {
            encoder,
            tokenizer,
            info,
            order,
            batch_size: opts.batch_size.max(1),
            max_length,
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
        token_ids(&self.tokenizer, text)
    }

    /// Raw logits (before temperature and softmax) in the model's output order (`labels.json`
    /// `labels`), one row per text, in input order. Exposed for parity tests against PyTorch.
    /// Empty texts are run through the model too (as `[CLS] [SEP]`).
    pub fn logits(&mut self, texts: &[&str]) -> BatchLogits {
        let prepared: Vec<String> = texts.iter().map(|t| preprocess_v1(t)).collect();
        let ids = encode(&self.tokenizer, &prepared)?;
        self.logits_of(&ids)
    }

    fn logits_of(&self, ids: &[Vec<u32>]) -> BatchLogits {
        let encoder = &self.encoder;
        run_sorted_batches(ids, self.batch_size, self.threads, |batch| {
            if batch.iter().any(|s| s.is_empty()) {
                return Err(SentimentError::Inference("an empty token sequence (the tokenizer adds [CLS])".into()));
            }
            Ok(encoder.forward(batch))
        })
    }
}

impl Classifier for NativeClassifier {
    fn classify_batch(&mut self, texts: &[&str]) -> Result<Vec<Prediction>, SentimentError> {
        let (temperature, order) = (self.info.temperature, self.order);
        classify_texts(texts, temperature, &order, |prepared| {
            let ids = encode(&self.tokenizer, prepared)?;
            self.logits_of(&ids)
        })
    }

    fn model_version(&self) -> &str {
        &self.info.version
    }
}

//! The `candle` sentiment backend (cargo feature `candle`): the BERT encoder from `candle-transformers` on the CPU, plus the
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

use std::path::Path;

use candle_core::{DType, Device, IndexOp, Tensor};
use candle_nn::{Linear, Module, VarBuilder};
use candle_transformers::models::bert::{BertModel, Config as BertConfig};
use tokenizers::Tokenizer;

use super::common::{
    check_tensors, classify_texts, encode, inference_threads, read_json, read_safetensors, run_sorted_batches,
    token_ids, BatchLogits, ModelDir,
};
use super::preprocess::preprocess_v1;
use super::{Backend, Classifier, Label, LoadOptions, ModelInfo, Precision, Prediction, SentimentError};

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

impl CandleClassifier {
    /// Loads `model.safetensors`, `config.json`, `tokenizer.json` and `labels.json` from `dir`.
    pub fn load(dir: &Path, opts: &LoadOptions) -> Result<Self, SentimentError> {
        let ModelDir { info, order, shape, tokenizer, max_length, config_path, weights_path } =
            ModelDir::open(dir, opts)?;
        let config: BertConfig = read_json(&config_path)?;
        if let Some(problem) = Backend::Candle.precision_problem(opts.precision) {
            return Err(SentimentError::Inference(problem));
        }

        let device = Device::Cpu;
        let host = read_safetensors(&weights_path)?;
        check_tensors(&weights_path, &host, &shape)?;
        let mut tensors = std::collections::HashMap::with_capacity(host.len());
        for (name, t) in host {
            let tensor = Tensor::from_vec(t.data, t.shape, &device)
                .map_err(|e| SentimentError::Invalid { path: weights_path.clone(), reason: format!("{name}: {e}") })?;
            tensors.insert(name, tensor);
        }
        let dtype = if opts.precision == Precision::F16 { DType::F16 } else { DType::F32 };
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
        token_ids(&self.tokenizer, text)
    }

    /// Raw logits (before temperature and softmax) in the model's output order (`labels.json`
    /// `labels`), one row per text, in input order. Exposed for parity tests against PyTorch.
    /// Empty texts are run through the model too (as `[CLS] [SEP]`).
    pub fn logits(&mut self, texts: &[&str]) -> BatchLogits {
        let prepared: Vec<String> = texts.iter().map(|t| preprocess_v1(t)).collect();
        let ids = encode(&self.tokenizer, &prepared)?;
        self.logits_sorted(ids)
    }

    fn logits_sorted(&mut self, ids: Vec<Vec<u32>>) -> BatchLogits {
        let this = &*self;
        run_sorted_batches(&ids, self.batch_size, self.threads, |batch| {
            this.forward(batch).map_err(|e| SentimentError::Inference(e.to_string()))
        })
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

impl Classifier for CandleClassifier {
    fn classify_batch(&mut self, texts: &[&str]) -> Result<Vec<Prediction>, SentimentError> {
        let (temperature, order) = (self.info.temperature, self.order);
        classify_texts(texts, temperature, &order, |prepared| {
            let ids = encode(&self.tokenizer, prepared)?;
            self.logits_sorted(ids)
        })
    }

    fn model_version(&self) -> &str {
        &self.info.version
    }
}

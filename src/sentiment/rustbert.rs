//! The libtorch sentiment backend (cargo feature `rust-bert`): rust-bert's `BertForSequenceClassification` on
//! libtorch (Debian's `libtorch-dev`), loading the very same `models/sentiment/` directory as the native backend.
//!
//! Weights: the float16 `model.safetensors` is read once (through `common.rs`'s reader, which is always built),
//! widened to f32 and copied into the libtorch variables by name; there is no converted file to ship or keep
//! in sync. Every variable rust-bert creates must be found in the file with the same shape, or loading fails
//! naming the tensor.
//!
//! Unlike rust-bert's ready-made sequence-classification pipeline, which pads a batch without an attention
//! mask, the forward pass here gets the mask, so padding never changes a result: a batch gives the same labels
//! as one text at a time. Tokenisation, preprocessing and calibration are shared with the other backends (`common.rs`).

use std::path::Path;

use rust_bert::bert::{BertConfig, BertForSequenceClassification};
use tch::{nn, Device, Kind, Tensor};
use tokenizers::Tokenizer;

use super::common::{classify_texts, read_json, read_safetensors, ModelDir};
use super::preprocess::preprocess_v1;
use super::{Backend, Classifier, Label, LoadOptions, ModelInfo, Precision, Prediction, SentimentError};

/// A BERT sequence classifier running on libtorch through rust-bert.
pub struct RustBertClassifier {
    model: BertForSequenceClassification,
    // Owns the parameters the model's modules refer to.
    _vs: nn::VarStore,
    tokenizer: Tokenizer,
    info: ModelInfo,
    order: [Label; 3],
    batch_size: usize,
    max_length: usize,
    kind: Kind,
}

impl RustBertClassifier {
    pub fn load(dir: &Path, opts: &LoadOptions) -> Result<Self, SentimentError> {
        let ModelDir { info, order, tokenizer, max_length, config_path, weights_path, .. } = ModelDir::open(dir, opts)?;
        let config: BertConfig = read_json(&config_path)?;
        if let Some(problem) = Backend::RustBert.precision_problem(opts.precision) {
            return Err(SentimentError::Inference(problem));
        }

        let tensors = read_safetensors(&weights_path)?;
        let mut vs = nn::VarStore::new(Device::Cpu);
        let model = BertForSequenceClassification::new(vs.root(), &config)
            .map_err(|e| SentimentError::Invalid { path: config_path.clone(), reason: e.to_string() })?;
        let bad = |reason: String| SentimentError::Invalid { path: weights_path.clone(), reason };
        tch::no_grad(|| -> Result<(), SentimentError> {
            for (name, mut var) in vs.variables() {
                let t = tensors.get(&name).ok_or_else(|| bad(format!("missing tensor {name}")))?;
                let shape: Vec<i64> = t.shape.iter().map(|&d| d as i64).collect();
                if shape != var.size() {
                    return Err(bad(format!("tensor {name} has shape {shape:?}, the model needs {:?}", var.size())));
                }
                var.copy_(&Tensor::of_slice(&t.data).reshape(&shape));
            }
            Ok(())
        })?;
        let kind = if opts.precision == Precision::Bf16 {
            vs.bfloat16();
            Kind::BFloat16
        } else {
            Kind::Float
        };
        tracing::debug!(dir = %dir.display(), version = %info.version, ?kind, "sentiment model loaded (rust-bert)");
        Ok(RustBertClassifier {
            model,
            _vs: vs,
            tokenizer,
            info,
            order,
            batch_size: opts.batch_size.max(1),
            max_length,
            kind,
        })
    }

    /// Token limit in effect.
    pub fn max_length(&self) -> usize {
        self.max_length
    }

    /// Raw logits in the model's output order, one row per text, in input order (parity tests).
    pub fn logits(&mut self, texts: &[&str]) -> Result<Vec<[f32; 3]>, SentimentError> {
        let prepared: Vec<String> = texts.iter().map(|t| preprocess_v1(t)).collect();
        self.logits_prepared(&prepared)
    }

    fn logits_prepared(&self, prepared: &[String]) -> Result<Vec<[f32; 3]>, SentimentError> {
        let encodings = self
            .tokenizer
            .encode_batch(prepared.iter().map(String::as_str).collect(), true)
            .map_err(|e| SentimentError::Tokenizer(e.to_string()))?;
        let ids: Vec<Vec<u32>> = encodings.iter().map(|e| e.get_ids().to_vec()).collect();
        let mut by_length: Vec<usize> = (0..ids.len()).collect();
        by_length.sort_by_key(|&i| ids[i].len());
        let mut out = vec![[0.0f32; 3]; ids.len()];
        for chunk in by_length.chunks(self.batch_size) {
            let batch: Vec<&[u32]> = chunk.iter().map(|&i| ids[i].as_slice()).collect();
            for (&i, row) in chunk.iter().zip(self.forward(&batch)?) {
                out[i] = row;
            }
        }
        Ok(out)
    }

    /// One forward pass over right-padded sequences, with the attention mask.
    fn forward(&self, batch: &[&[u32]]) -> Result<Vec<[f32; 3]>, SentimentError> {
        let width = batch.iter().map(|s| s.len()).max().unwrap_or(0);
        let mut input = Vec::with_capacity(batch.len() * width);
        let mut mask = Vec::with_capacity(batch.len() * width);
        for seq in batch {
            input.extend(seq.iter().map(|&t| i64::from(t)));
            input.resize(input.len() + width - seq.len(), 0);
            mask.extend(std::iter::repeat_n(1i64, seq.len()));
            mask.resize(mask.len() + width - seq.len(), 0);
        }
        let shape = [batch.len() as i64, width as i64];
        let input = Tensor::of_slice(&input).reshape(&shape);
        let mask = Tensor::of_slice(&mask).reshape(&shape);
        let token_types = input.zeros_like();
        let logits = tch::no_grad(|| {
            self.model.forward_t(Some(&input), Some(&mask), Some(&token_types), None, None, false).logits
        });
        let flat: Vec<f32> = Vec::from(&logits.to_kind(Kind::Float).flatten(0, -1));
        if flat.len() != batch.len() * 3 {
            return Err(SentimentError::Inference(format!("expected {} logits, got {}", batch.len() * 3, flat.len())));
        }
        let _ = self.kind;
        Ok(flat.chunks(3).map(|r| [r[0], r[1], r[2]]).collect())
    }
}

impl Classifier for RustBertClassifier {
    fn classify_batch(&mut self, texts: &[&str]) -> Result<Vec<Prediction>, SentimentError> {
        classify_texts(texts, self.info.temperature, &self.order, |prepared| self.logits_prepared(prepared))
    }

    fn model_version(&self) -> &str {
        &self.info.version
    }
}

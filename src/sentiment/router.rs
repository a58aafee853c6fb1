//! [`Models`]: which model labels a text, by the text's language.
//!
//! hearsay ships two models: the English one (`models/sentiment`, the most accurate for English) and a
//! multilingual one (`models/sentiment-multilingual`) for the languages its `labels.json` lists under
//! `languages`. A text goes to the first model whose languages hold its language; a text whose language could
//! not be told (`und`, or none given) goes to the primary model, as every text did before languages were
//! known. A text in a language no loaded model covers gets **no label** ([`Routed::Uncovered`]): a confident
//! wrong label would count a complaint storm abroad as praise, a missing one is shown as such and left out of
//! the negative share.
//!
//! Architecture Invariant: like the rest of `sentiment`, this only turns (text, language) into labels; the
//! language itself comes from the caller (`crate::lang`).

use std::path::Path;
use std::sync::Arc;

use super::common::read_json;
use super::{Classifier, ModelInfo, Prediction, SentimentError};
use crate::lang::normalise_tag;

/// The `model_version` stored with a mention that no model covers: `uncovered:<lang>`.
pub const UNCOVERED_PREFIX: &str = "uncovered:";

/// What [`Models::classify`] made of one text.
#[derive(Debug, Clone, PartialEq)]
pub enum Routed {
    /// Labelled by the model with this `labels.json` version.
    Labelled { prediction: Prediction, model_version: Arc<str> },
    /// The text's language (ISO 639-1) is covered by no loaded model: no label.
    Uncovered { lang: String },
}

struct Routee {
    classifier: Box<dyn Classifier>,
    version: Arc<str>,
    /// Primary subtags, lower-case.
    languages: Vec<String>,
}

/// The loaded models, the primary first.
pub struct Models {
    models: Vec<Routee>,
}

impl Models {
    /// `primary` labels its own languages and every text of unknown language; `others` label theirs.
    /// `languages` of each: `labels.json` `languages`, or `["en"]` for a model that does not list any (every
    /// model before the multilingual one was English).
    pub fn new(primary: (Box<dyn Classifier>, Vec<String>), others: Vec<(Box<dyn Classifier>, Vec<String>)>) -> Models {
        let models = std::iter::once(primary)
            .chain(others)
            .map(|(classifier, languages)| Routee {
                version: Arc::from(classifier.model_version()),
                classifier,
                languages: languages.iter().filter_map(|l| normalise_tag(l)).collect(),
            })
            .collect();
        Models { models }
    }

    /// Labels `items` (text, language) with the model each language routes to, in input order. Each model
    /// sees all of its texts in one call, so its length sorting and batching work as for one model.
    pub fn classify(&mut self, items: &[(&str, Option<&str>)]) -> Result<Vec<Routed>, SentimentError> {
        // Each text's primary subtag; none (no language, "und"): the primary model.
        let langs: Vec<Option<String>> = items.iter().map(|(_, lang)| lang.and_then(normalise_tag)).collect();
        let routes: Vec<Option<usize>> = langs
            .iter()
            .map(|lang| match lang {
                None => Some(0),
                Some(l) => self.models.iter().position(|m| m.languages.contains(l)),
            })
            .collect();
        let mut out: Vec<Option<Routed>> = vec![None; items.len()];
        for (m, model) in self.models.iter_mut().enumerate() {
            let mine: Vec<usize> = (0..items.len()).filter(|&i| routes[i] == Some(m)).collect();
            if mine.is_empty() {
                continue;
            }
            let texts: Vec<&str> = mine.iter().map(|&i| items[i].0).collect();
            let predictions = model.classifier.classify_batch(&texts)?;
            for (&i, prediction) in mine.iter().zip(predictions) {
                out[i] = Some(Routed::Labelled { prediction, model_version: Arc::clone(&model.version) });
            }
        }
        Ok(out
            .into_iter()
            .zip(langs)
            .map(|(r, lang)| r.unwrap_or_else(|| Routed::Uncovered { lang: lang.unwrap_or_default() }))
            .collect())
    }

    /// The loaded models' versions, primary first, joined by `+` (what `check-config` and the demo print).
    pub fn version(&self) -> String {
        self.models.iter().map(|m| &*m.version).collect::<Vec<_>>().join(" + ")
    }

    /// Every language some loaded model covers, sorted.
    pub fn languages(&self) -> Vec<String> {
        let mut all: Vec<String> = self.models.iter().flat_map(|m| m.languages.iter().cloned()).collect();
        all.sort();
        all.dedup();
        all
    }
}

/// `labels.json` `languages` of the model in `dir` (`["en"]` when it lists none).
pub fn model_languages(dir: &Path) -> Result<Vec<String>, SentimentError> {
    let info: ModelInfo = read_json(&dir.join("labels.json"))?;
    Ok(info.languages.unwrap_or_else(|| vec!["en".to_owned()]))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sentiment::Label;

    /// A classifier that labels by a fixed rule, so routing is visible in the output: the real models are
    /// exercised in `tests/sentiment.rs`.
    struct Fixed {
        label: Label,
        version: &'static str,
        calls: std::sync::Arc<std::sync::atomic::AtomicUsize>,
    }

    impl Classifier for Fixed {
        fn classify_batch(&mut self, texts: &[&str]) -> Result<Vec<Prediction>, SentimentError> {
            self.calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            let mut scores = [0.0; 3];
            scores[self.label.index()] = 1.0;
            Ok(texts.iter().map(|_| Prediction::from_scores(scores)).collect())
        }
        fn model_version(&self) -> &str {
            self.version
        }
    }

    fn models() -> (Models, [std::sync::Arc<std::sync::atomic::AtomicUsize>; 2]) {
        let calls = [Default::default(), Default::default()];
        let en = Fixed { label: Label::Positive, version: "en-1", calls: std::sync::Arc::clone(&calls[0]) };
        let ml = Fixed { label: Label::Negative, version: "ml-1", calls: std::sync::Arc::clone(&calls[1]) };
        let m = Models::new(
            (Box::new(en), vec!["en".into()]),
            vec![(Box::new(ml), vec!["de".into(), "ja".into(), "pt".into()])],
        );
        (m, calls)
    }

    #[test]
    fn each_language_goes_to_its_model_and_uncovered_ones_get_no_label() {
        let (mut m, calls) = models();
        let items = [
            ("great", Some("en")),
            ("schlecht", Some("de")),
            ("?", None),
            ("??", Some("und")),
            ("ruim", Some("pt-BR")),
            ("mies", Some("de-AT")),
            ("나쁘다", Some("ko")),
            ("最悪", Some("JA")),
        ];
        let out = m.classify(&items).unwrap();
        let summary: Vec<String> = out
            .iter()
            .map(|r| match r {
                Routed::Labelled { prediction, model_version } => format!("{}/{model_version}", prediction.label),
                Routed::Uncovered { lang } => format!("uncovered {lang}"),
            })
            .collect();
        assert_eq!(
            summary,
            [
                "positive/en-1",
                "negative/ml-1",
                "positive/en-1",
                "positive/en-1",
                "negative/ml-1",
                "negative/ml-1",
                "uncovered ko",
                "negative/ml-1"
            ]
        );
        // one call per model, however the languages interleave
        assert_eq!(calls.iter().map(|c| c.load(std::sync::atomic::Ordering::SeqCst)).collect::<Vec<_>>(), [1, 1]);
        assert_eq!(m.languages(), ["de", "en", "ja", "pt"]);
        assert_eq!(m.version(), "en-1 + ml-1");
    }

    #[test]
    fn a_model_with_no_texts_is_not_called() {
        let (mut m, calls) = models();
        let out = m.classify(&[("fine", Some("en"))]).unwrap();
        assert_eq!(out.len(), 1);
        assert_eq!(calls[1].load(std::sync::atomic::Ordering::SeqCst), 0);
        assert!(m.classify(&[]).unwrap().is_empty());
    }
}

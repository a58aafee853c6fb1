//! [`ClassifierWorker`]: sentiment inference on a dedicated OS thread, fed from async code.
//!
//! A forward pass takes tens of milliseconds of solid CPU work. Run on a tokio worker it would stall
//! every poll and timer scheduled there, and `spawn_blocking` would let several passes fight over the
//! same cores. Instead one thread owns the model; async callers send requests through a bounded channel
//! (so a flood of mentions waits in the queue instead of growing memory) and await a oneshot reply.
//! Requests that are already queued when the thread gets to them are merged into one call, which keeps
//! batches full when many small requests arrive together.
//!
//! Architecture Invariant: the worker never touches the store or the network; it only classifies.

use std::thread;

use tokio::sync::{mpsc, oneshot};

use super::{Classifier, Prediction, SentimentError};

type Reply = oneshot::Sender<Result<Vec<Prediction>, SentimentError>>;

struct Request {
    texts: Vec<String>,
    reply: Reply,
}

/// A cheap, cloneable handle to the classification thread. The thread ends when the last handle is
/// dropped (after finishing what is queued).
#[derive(Clone)]
pub struct ClassifierWorker {
    tx: mpsc::Sender<Request>,
    model_version: std::sync::Arc<str>,
}

impl ClassifierWorker {
    /// Moves `classifier` onto a new thread named `hearsay-sentiment`.
    ///
    /// `batch_size`: queued requests are merged until they hold this many texts (one request larger
    /// than that is still classified in one call). `queue_depth`: how many requests may wait before
    /// [`ClassifierWorker::classify`] waits too.
    pub fn spawn(
        classifier: Box<dyn Classifier>,
        batch_size: usize,
        queue_depth: usize,
    ) -> std::io::Result<ClassifierWorker> {
        let (tx, rx) = mpsc::channel(queue_depth.max(1));
        let model_version = std::sync::Arc::from(classifier.model_version());
        thread::Builder::new()
            .name("hearsay-sentiment".to_owned())
            .spawn(move || run(classifier, rx, batch_size.max(1)))?;
        Ok(ClassifierWorker { tx, model_version })
    }

    /// Classifies `texts`; the predictions come back in the same order.
    pub async fn classify(&self, texts: Vec<String>) -> Result<Vec<Prediction>, SentimentError> {
        if texts.is_empty() {
            return Ok(Vec::new());
        }
        let (reply, answer) = oneshot::channel();
        self.tx.send(Request { texts, reply }).await.map_err(|_| SentimentError::WorkerStopped)?;
        answer.await.map_err(|_| SentimentError::WorkerStopped)?
    }

    /// Version of the model the worker runs.
    pub fn model_version(&self) -> &str {
        &self.model_version
    }
}

fn run(mut classifier: Box<dyn Classifier>, mut rx: mpsc::Receiver<Request>, batch_size: usize) {
    while let Some(first) = rx.blocking_recv() {
        let mut requests = vec![first];
        let mut queued = requests[0].texts.len();
        while queued < batch_size {
            match rx.try_recv() {
                Ok(next) => {
                    queued += next.texts.len();
                    requests.push(next);
                }
                Err(_) => break,
            }
        }
        serve(classifier.as_mut(), requests);
    }
    tracing::debug!("sentiment worker stopped: all handles dropped");
}

/// Answers `requests` with one classifier call; if that fails, answers each on its own so that one
/// bad request cannot fail the others.
fn serve(classifier: &mut dyn Classifier, requests: Vec<Request>) {
    if requests.len() > 1 {
        let texts: Vec<&str> = requests.iter().flat_map(|r| r.texts.iter().map(String::as_str)).collect();
        if let Ok(mut predictions) = classifier.classify_batch(&texts) {
            // Split from the back so each request takes its own tail without copying.
            for request in requests.into_iter().rev() {
                let own = predictions.split_off(predictions.len() - request.texts.len());
                // The caller may have given up waiting; nothing to do then.
                let _ = request.reply.send(Ok(own));
            }
            return;
        }
    }
    for request in requests {
        let texts: Vec<&str> = request.texts.iter().map(String::as_str).collect();
        let result = classifier.classify_batch(&texts);
        if let Err(e) = &result {
            tracing::warn!(error = %e, texts = texts.len(), "sentiment classification failed");
        }
        let _ = request.reply.send(result);
    }
}

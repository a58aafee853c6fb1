#!/usr/bin/env python3
"""Print reference outputs of the shipped model for the Rust parity test (tests/data/sentiment_reference.json).

    HF_HUB_OFFLINE=1 python tools/train-sentiment/reference_logits.py > tests/data/sentiment_reference.json

For each sentence: the raw text, the text after preprocess v1, the tokenizer ids ([CLS] ... [SEP], truncated to
labels.json max_length, no padding), and the raw logits (before temperature) computed in float32 from the
float16 weights in models/sentiment/model.safetensors, plus the calibrated probabilities softmax(logits / T).
token_type_ids are all 0 and the attention mask is all 1 for these unpadded ids.
"""

import argparse
import json
import os
import sys

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from common import preprocess_v1, repo_root  # noqa: E402
from evaluate import load_model  # noqa: E402

SENTENCES = [
    "I love this product, works great!",
    "my flight was delayed 3 hours and nobody answers",
    "The package arrived on Tuesday.",
    "@AcmeSupport still no refund after 3 weeks 😡 https://t.co/xyz",
    "Café crème brûlée était délicieux",
    "这个应用太慢了",
    "",
]


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default=os.path.join(repo_root(), "models", "sentiment"))
    args = p.parse_args()
    torch.set_num_threads(2)
    model, tokenizer, labels = load_model(args.model)
    cases = []
    with torch.no_grad():
        for text in SENTENCES:
            clean = preprocess_v1(text)
            ids = tokenizer(clean, truncation=True, max_length=labels["max_length"], padding=False)["input_ids"]
            x = torch.tensor([ids])
            logits = model(input_ids=x, attention_mask=torch.ones_like(x),
                           token_type_ids=torch.zeros_like(x)).logits[0].float()
            probs = torch.softmax(logits / labels["temperature"], dim=-1)
            cases.append({
                "text": text,
                "preprocessed": clean,
                "input_ids": ids,
                "logits": [round(float(v), 6) for v in logits],
                "probabilities": [round(float(v), 6) for v in probs],
                "label": labels["labels"][int(torch.argmax(logits))],
            })
    out = {
        "model_version": labels["version"],
        "labels": labels["labels"],
        "temperature": labels["temperature"],
        "max_length": labels["max_length"],
        "preprocess": labels["preprocess"],
        "weights": "float16 safetensors, computed in float32",
        "suggested_tolerance": 1e-3,
        "cases": cases,
    }
    json.dump(out, sys.stdout, indent=2, ensure_ascii=False)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()

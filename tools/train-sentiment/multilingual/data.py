"""Training rows and seeded hold-out slices for the multilingual model.

Rows are (text, label id, lang). Sources: `sentiment-multilingual/train.tsv` (11 languages) and, for English
and the review register, `sentiment/train.tsv` and `sentiment/reviews_train.tsv` (minus the seed-13 hold-out
that the English model is selected on). Every slice is a pure function of the files and the seed.
"""

import os
import random
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from common import LABEL2ID, read_tsv, split_reviews  # noqa: E402

# Per (lang, source) hold-out sizes: the proxies for the hidden tweet and review sets.
HOLDOUT = {
    ("ar", "xlm-t"): 300,
    ("de", "xlm-t"): 300,
    ("en", "xlm-t"): 300,
    ("es", "xlm-t"): 300,
    ("fr", "xlm-t"): 300,
    ("hi", "xlm-t"): 300,
    ("it", "xlm-t"): 300,
    ("pt", "xlm-t"): 300,
    ("de", "germeval2017-dev"): 300,
    ("ar", "astd"): 500,
    ("id", "tyqiangz-indonesian"): 500,
    ("ms", "tyqiangz-malay"): 300,
    ("zh", "sophonplus-online"): 600,
    ("zh", "sophonplus-waimai"): 400,
    ("zh", "sophonplus-chnsenticorp"): 400,
}
SEED = 13


def read_multilingual(data_dir):
    rows = []
    path = os.path.join(data_dir, "sentiment-multilingual", "train.tsv")
    with open(path, encoding="utf-8") as fh:
        header = fh.readline().rstrip("\n").split("\t")
        assert header == ["lang", "label", "source", "text"], f"{path}: unexpected header {header}"
        for line in fh:
            line = line.rstrip("\n")
            if line:
                lang, label, source, text = line.split("\t", 3)
                rows.append((text, LABEL2ID[label], lang, source))
    return rows


# Training rows kept per language (after the hold-out), so that two CPU cores get through the set: the
# large Arabic, Indonesian and Chinese sets are subsampled, the small balanced tweet sets kept whole.
CAPS = {"ar": 7000, "id": 4000, "ms": 2500, "zh": 7000}


def split(data_dir, en_tweets=5000, en_reviews=4000, caps=CAPS):
    """Returns (train, holdout): train [(text, label, lang)], holdout {(lang, source): [(text, label)]}."""
    rng = random.Random(SEED)
    groups = {}
    for text, label, lang, source in read_multilingual(data_dir):
        groups.setdefault((lang, source), []).append((text, label))
    train, holdout = [], {}
    per_lang = {}
    for key in sorted(groups):
        rows = groups[key]
        rng.shuffle(rows)
        n = HOLDOUT.get(key, 0)
        holdout[key] = rows[:n]
        per_lang.setdefault(key[0], []).extend((t, lab, key[0]) for t, lab in rows[n:])
    for lang in sorted(per_lang):
        rest = per_lang[lang]
        rng.shuffle(rest)
        train.extend(rest[: caps.get(lang, len(rest))])
    en_dir = os.path.join(data_dir, "sentiment")
    tweets = read_tsv(os.path.join(en_dir, "train.tsv"))
    rng.shuffle(tweets)
    train.extend((t, lab, "en") for lab, t in tweets[:en_tweets])
    reviews, _held = split_reviews(read_tsv(os.path.join(en_dir, "reviews_train.tsv")), 2000, SEED)
    reviews = list(reviews)
    rng.shuffle(reviews)
    train.extend((t, lab, "en") for lab, t in reviews[:en_reviews])
    rng.shuffle(train)
    return train, holdout


def all_rows(data_dir):
    """Every text the vocabulary should cover (train and hold-out alike: pruning sees text, not labels)."""
    out = [(t, lab, lang) for t, lab, lang, _s in read_multilingual(data_dir)]
    en_dir = os.path.join(data_dir, "sentiment")
    for name in ("train.tsv", "reviews_train.tsv", "val.tsv"):
        out.extend((t, lab, "en") for lab, t in read_tsv(os.path.join(en_dir, name)))
    return out

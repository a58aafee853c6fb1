#!/bin/sh
# Writes the seed corpora of the four targets under fuzz/corpus/ from hearsay's own hand-written inputs:
# tests/fixtures (one copy per platform, the platform's byte in front), config/hearsay.toml and a few
# queries and import lines. Run from anywhere; existing corpus files are kept (libFuzzer adds its own).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
fixtures="$here/../tests/fixtures"
mkdir -p "$here/corpus/parse_payload" "$here/corpus/query" "$here/corpus/config" "$here/corpus/import"

# Platform bytes: the index in hearsay::sources::Platform::ALL.
index() {
    case "$1" in
        reddit) echo 0 ;; hackernews) echo 1 ;; mastodon) echo 2 ;; bluesky) echo 3 ;; lemmy) echo 4 ;;
        youtube) echo 5 ;; stackexchange) echo 6 ;; github) echo 7 ;; appstore) echo 8 ;; trustpilot) echo 9 ;;
        yelp) echo 10 ;; feed) echo 11 ;; html) echo 12 ;; *) echo "" ;;
    esac
}
seed() { # platform-index file
    out="$here/corpus/parse_payload/$(basename "$(dirname "$2")")-$(basename "$2")-$1"
    { printf "\\$(printf '%03o' "$1")"; cat "$2"; } > "$out"
}
for dir in "$fixtures"/*/; do
    name=$(basename "$dir")
    i=$(index "$name")
    for f in "$dir"*; do
        if [ -n "$i" ]; then
            seed "$i" "$f"
        else
            # tests/fixtures/hostile: an error page, truncated JSON and RSS, offered to every parser.
            for j in 0 1 2 3 4 5 6 7 8 9 10 11 12; do seed "$j" "$f"; done
        fi
    done
done

cp "$here/../config/hearsay.toml" "$here/corpus/config/hearsay.toml"
printf '[[brands]]\nname = "Acme"\nquery = "acme"\n\n[[sources]]\ntype = "hackernews"\n' > "$here/corpus/config/minimal.toml"

# Query seeds: query|title|text, one per line ("|" becomes the newline the target splits on).
n=0
while IFS= read -r q; do
    n=$((n + 1))
    printf '%s\n' "$q" | tr '|' '\n' > "$here/corpus/query/seed-$n"
done <<'QUERIES'
acme|Acme's new rocket|is slow, #acme @acme ACME!
("acme corp" OR acme OR "acme cloud") NOT ("acme anvil" OR wile)|acme cloud down|again, says acme support
(acme OR acmecorp) NEAR/3 (outage OR down)|status|the acmecorp api had an outage today
colo*r AND "crème brulee"|menu|colour of the crème brûlée
nestle OR أرامكو OR 手机 OR Straße OR "ＡＣＭＥ rockets"|وأرامكو|我的新手机 STRASSE Nestlé
"AND" OR near NEAR/0 and|x|and near AND
QUERIES

n=0
while IFS= read -r line; do
    n=$((n + 1))
    printf '%s\n' "$line" > "$here/corpus/import/seed-$n"
done <<'LINES'
{"platform":"hackernews","external_id":"1","created_at":"2024-05-01T10:00:00Z","text":"acme is slow","brand":"acme"}
{"platform":"reddit","external_id":"t3_x","created_at":"2024-05-01T10:00:00Z","title":"Acme rockets","text":"the widgets are broken and slow","author":"bob","url":"https://reddit.com/r/x","kind":"comment","lang":"en","rating":3,"metrics":{"score":5},"parent_id":"t3_y","sentiment":"negative"}
{"platform":"appstore","external_id":"gb:1","created_at":"2024-05-01T10:00:00Z","text":"Das Widget ist kaputt und langsam","kind":"review","rating":1}
LINES
echo "seeded: $(ls "$here/corpus/parse_payload" | wc -l) payloads, $(ls "$here/corpus/query" | wc -l) queries," \
    "$(ls "$here/corpus/config" | wc -l) configs, $(ls "$here/corpus/import" | wc -l) import lines"

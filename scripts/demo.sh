#!/usr/bin/env bash
# make demo: train a twin model on the Go standard library's documentation
# (already on this machine: $(go env GOROOT)/src), build a collection and
# query it in every mode. Needs nothing but Go; about 2-4 minutes on 2 cores.
#
#   DEMO_DIR=/tmp/twin-demo  where the corpus, model and collection go
#   DEMO_STEPS=300           training steps
set -euo pipefail
cd "$(dirname "$0")/.."
DIR=${DEMO_DIR:-/tmp/twin-demo}
STEPS=${DEMO_STEPS:-300}
TWIN=./bin/twin

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

mkdir -p "$DIR"
rm -rf "$DIR/model" "$DIR/coll"

step "1/5 corpus: the Go standard library's doc comments ($(go env GOROOT)/src)"
go run ./internal/tools/godoccorpus -out "$DIR/corpus.jsonl"
head -c 300 "$DIR/corpus.jsonl"; echo " ..."

step "2/5 train: self-supervised twin towers (BCE on random crops and title<->body pairs, IDF-weighted bag, 512-d), $STEPS steps"
$TWIN train --corpus "$DIR/corpus.jsonl" --steps "$STEPS" --out "$DIR/model" \
  --idf --hidden= --bag-dim 512 --dim 512 --emb-lr 0.1 --loss bce --learn-scale

step "3/5 build: Badger store + HNSW graph + BM25 index + LSH tables"
$TWIN build --model "$DIR/model/model.safetensors" --corpus "$DIR/corpus.jsonl" --index "$DIR/coll"
$TWIN info --index "$DIR/coll"

step "4/5 search: dense, BM25 and hybrid"
queries=(
  "split a string around a separator"
  "read a whole file into memory"
  "how do I sort a slice with a custom comparison"
  "parse a URL query string"
  "compute a SHA-256 checksum"
  "wait for several goroutines to finish"
)
for q in "${queries[@]}"; do
  for mode in dense bm25 hybrid; do
    printf '\n-- %s: "%s"\n' "$mode" "$q"
    $TWIN search --index "$DIR/coll" --mode "$mode" -k 3 --snippet 90 "$q" || true
  done
done
printf '\n-- hybrid with --explain: "%s"\n' "${queries[0]}"
$TWIN search --index "$DIR/coll" --mode hybrid -k 3 --snippet 0 --explain "${queries[0]}"

step "5/5 dedup: near-duplicate doc comments (cosine >= 0.95)"
$TWIN dedup --index "$DIR/coll" --threshold 0.95 --out "$DIR/groups.jsonl" --force || true
head -n 3 "$DIR/groups.jsonl" 2>/dev/null | cut -c1-300 || true

step "done: files in $DIR — try: $TWIN search --index $DIR/coll --mode hybrid --explain \"your question\""

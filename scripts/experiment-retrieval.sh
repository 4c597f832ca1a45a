#!/usr/bin/env bash
# The zero-shot SciFact retrieval table of bench/RESULTS.md (issue 6): train
# self-supervised on the corpus only, build a collection, tune hybrid fusion
# on a dev carve of the TRAIN qrels, evaluate bm25/dense/hybrid on test.
# About 2-3 minutes on 2 cores. DATA defaults to ../shared/data.
set -euo pipefail
cd "$(dirname "$0")/.."
DATA=${DATA:-$(cd .. && pwd)/shared/data}
OUT=${OUT:-/tmp/twin-retrieval-exp}
S=$DATA/scifact
mkdir -p "$OUT"
go build -o "$OUT/twin" ./cmd/twin
T=$OUT/twin
rm -rf "$OUT/zs" "$OUT/coll"
$T train -q --corpus "$S/corpus.jsonl" --out "$OUT/zs" --steps 400   # defaults: BCE, IDF bag, no hidden, 512-d
$T build -q -m "$OUT/zs/model.safetensors" --corpus "$S/corpus.jsonl" --index "$OUT/coll"
$T eval --index "$OUT/coll" --beir "$S" --split train --dev-frac 0.2 --tune
$T eval --index "$OUT/coll" --beir "$S" --split test --mode bm25,dense,hybrid --unseen train

#!/bin/sh
# Trainer experiments of bench/RESULTS.md (Trainer section) (issue 3). Long: run one at
# a time on a quiet machine. Usage: scripts/experiment-trainer.sh [zeroshot|supervised|stsb|throughput|all]
set -eu
DATA=${DATA:-$(cd "$(dirname "$0")/../.." && pwd)/shared/data}
OUT=${OUT:-/tmp/twin-trainer-exp}
TWIN=${TWIN:-$OUT/twin}
mkdir -p "$OUT"
go build -o "$TWIN" ./cmd/twin
score() { go run ./bench/experiments/trainer "$@"; }
what=${1:-all}

if [ "$what" = random ] || [ "$what" = all ]; then
  score --beir "$DATA/scifact"
fi
if [ "$what" = zeroshot ] || [ "$what" = all ]; then
  # Self-supervised pairs from the corpus only (no qrels, nothing selected on test).
  $TWIN train --quiet --corpus "$DATA/scifact/corpus.jsonl" --out "$OUT/zeroshot" \
    --steps 400 --batch 256 --loss ${ZS_LOSS:-bce} --learn-scale \
    --hidden= --idf --emb-lr 0.1 --bag-dim ${DIM:-512} --dim ${DIM:-512} ${ZS_ARGS:-}
  score --model "$OUT/zeroshot/model.safetensors" --beir "$DATA/scifact"
fi
if [ "$what" = supervised ] || [ "$what" = all ]; then
  # Train qrels (10% of train queries held out as dev for model selection) + self-supervised pairs.
  $TWIN train --quiet --beir "$DATA/scifact" --corpus "$DATA/scifact/corpus.jsonl" --out "$OUT/supervised" \
    --steps 800 --eval-every 100 --batch 256 --loss ${SUP_LOSS:-infonce} --weights 1,1 --dev-frac 0.1 \
    --hidden= --idf --emb-lr 0.1 --bag-dim ${DIM:-512} --dim ${DIM:-512} ${SUP_ARGS:-}
  score --model "$OUT/supervised/model.safetensors" --beir "$DATA/scifact"
fi
if [ "$what" = stsb ] || [ "$what" = all ]; then
  for loss in ${STS_LOSSES:-mse cosent}; do
    $TWIN train --quiet --pairs "$DATA/stsb/sts-train.csv" --preset stsb --dev-pairs "$DATA/stsb/sts-dev.csv" \
      --out "$OUT/stsb-$loss" --loss $loss --epochs ${STS_EPOCHS:-8} --batch 32 --hidden= --idf ${STS_ARGS:-}
    score --model "$OUT/stsb-$loss/model.safetensors" --pairs "$DATA/stsb/sts-test.csv" --preset stsb
  done
fi
if [ "$what" = throughput ] || [ "$what" = all ]; then
  go test -run '^$' -bench BenchmarkStep -benchtime 20x -count 5 ./trainer/
fi

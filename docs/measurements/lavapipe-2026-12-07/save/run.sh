#!/bin/bash
# Before/after of the save and read path: bench/save.ts on one 22-layer TinyLlama-shaped f16
# checkpoint (node dist/bench/synth.js --shape tinyllama --layers 22 --seed 1 --out $MODEL), three runs per
# version alternating, each of 3 reps. /work/base: 881a72b plus bench/save.ts (commit 1e5edc1);
# /work/after: cd95dde. Both built with `npx tsc -p tsconfig.json`.
set -e
MODEL=${MODEL:-/tmp/exp/tl22}
OUT=$(dirname "$0")
for i in 1 2 3; do
  for v in base after; do
    (cd /work/$v && node dist/bench/save.js --model "$MODEL" --reps 3) > "$OUT/$v-$i.json" 2> "$OUT/$v-$i.log"
  done
done

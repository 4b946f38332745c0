#!/bin/bash
# Before/after of the save and read path: bench/save.ts on one 22-layer TinyLlama-shaped f16
# checkpoint (node dist/bench/synth.js --shape tinyllama --layers 22 --out $MODEL), three runs per
# version alternating, each of 3 reps. /work/base: cc37a01 (bench/save.ts with its f32 step);
# /work/after: 414974d (narrowF16's branch-free path). Both built with `npx tsc -p tsconfig.json`.
set -e
MODEL=${MODEL:-/tmp/exp/tl22}
OUT=$(dirname "$0")
for i in 1 2 3; do
  for v in base after; do
    (cd /work/$v && node dist/bench/save.js --model "$MODEL" --reps 3) > "$OUT/$v-$i.json" 2> "$OUT/$v-$i.log"
  done
done

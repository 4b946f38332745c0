#!/bin/bash
# Before/after of reading a GGUF model as stored: bench/save.ts on the 22-layer TinyLlama-shaped
# checkpoint of ../run.sh saved as one F16 GGUF (saveModel(openHf(M), MODEL, { dtype: 'F16' }),
# 2,200,293,664 bytes), three runs per version alternating, each of 3 reps. /work/base: 8e55909
# (= c55fff1 plus bench/save.ts as committed in f300059; made for these runs, not kept in main);
# /work/after: f300059.
# Both built with `npx tsc -p tsconfig.json`.
set -e
MODEL=${MODEL:-/tmp/exp/tl22-f16.gguf}
OUT=$(dirname "$0")
for i in 1 2 3; do
  for v in base after; do
    (cd /work/$v && node dist/bench/save.js --model "$MODEL" --reps 3) > "$OUT/$v-$i.json" 2> "$OUT/$v-$i.log"
  done
done

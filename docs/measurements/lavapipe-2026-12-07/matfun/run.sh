#!/bin/bash
# Before/after of the Paterson–Stockmeyer Taylor stage of spectralSigmoid: bench/matfun.ts at
# n = 2048 (C_Y's size for TinyLlama), three runs per version alternating, 5 timed calls each.
# /work/base: 404be10 (Horner); /work/after: 3b6653c. Both built with `npx tsc -p tsconfig.json`.
set -e
OUT=$(dirname "$0")
for i in 1 2 3; do
  for v in base after; do
    (cd /work/$v && node dist/bench/matfun.js --n 2048 --reps 5) > "$OUT/$v-$i.json" 2> "$OUT/$v-$i.log"
  done
done

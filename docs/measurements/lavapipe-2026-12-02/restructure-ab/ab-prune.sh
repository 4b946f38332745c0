#!/usr/bin/env bash
# A/B: bench:prune (tiny shape, 4 layers, GPU) at the session's start commit and after the restructuring,
# interleaved so background load hits both alike.
set -u
OUT=$1
mkdir -p $OUT
for i in 1 2 3 4 5 6 7 8 9; do
  for side in before after; do
    dir=/work/wt-$([ $side = before ] && echo before || echo merge)
    (cd $dir && node dist/bench/prune.js --shape tiny --layers 4 --device gpu --reps 1 2>>$OUT/$side.stderr | tail -1 > $OUT/$side-$i.json)
    echo "$side $i $(date +%T)"
  done
done

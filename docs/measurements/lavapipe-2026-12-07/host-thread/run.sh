#!/bin/bash
# alternating A/B: before = /work/base (eed9311), after = /work/after (ce35cb6)
for i in 1 2 3; do
  for v in before after; do
    d=/work/base; [ $v = after ] && d=/work/after
    (cd $d && node dist/bench/prune.js --shape tinyllama --layers 2 --samples 2 --seq-len 64 --device gpu --reps 1 > /tmp/ab/$v-$i.json 2> /tmp/ab/$v-$i.log)
    uptime >> /tmp/ab/load.txt
  done
done
echo done > /tmp/ab/DONE

#!/bin/bash
for i in 1 2 3; do
  for v in before after; do
    d=/work/after; [ $v = after ] && d=/work/after3
    echo "$v $i start $(date -u +%FT%TZ) load $(cut -d' ' -f1-3 /proc/loadavg)" >> /tmp/ab3/load.txt
    (cd $d && node dist/bench/prune.js --shape tinyllama --layers 2 --samples 2 --seq-len 64 --device gpu --reps 1 > /tmp/ab3/$v-$i.json 2> /tmp/ab3/$v-$i.log)
    echo "$v $i end $(date -u +%FT%TZ) load $(cut -d' ' -f1-3 /proc/loadavg) rc=$?" >> /tmp/ab3/load.txt
  done
done
echo done > /tmp/ab3/DONE

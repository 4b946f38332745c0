#!/bin/bash
for i in 1 2 3; do
  for v in before after; do
    d=/work/after; [ $v = after ] && d=/work/after2
    echo "$v $i start $(date -u +%FT%TZ) load $(cut -d' ' -f1-3 /proc/loadavg)" >> /tmp/ab2/load.txt
    (cd $d && node dist/bench/prune.js --shape tinyllama --layers 2 --samples 2 --seq-len 64 --device gpu --reps 1 > /tmp/ab2/$v-$i.json 2> /tmp/ab2/$v-$i.log)
    echo "$v $i end $(date -u +%FT%TZ) load $(cut -d' ' -f1-3 /proc/loadavg) rc=$?" >> /tmp/ab2/load.txt
  done
done
echo done > /tmp/ab2/DONE

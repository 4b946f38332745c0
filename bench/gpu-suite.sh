#!/usr/bin/env bash
# The benchmark suite for a machine with a real GPU: machine facts, bench:kernels, then
# bench:prune on TinyLlama shapes (1 layer, then all 22) and 2 layers of the Llama-2-7B shape,
# GPU path only (the CPU twin of one TinyLlama layer takes ~15 min on one core; its numbers come
# from bench:kernels' CPU columns and from the 2-core development machine, docs/performance.md).
#
#   npm run build && [PEAK_TFLOPS=X] bash bench/gpu-suite.sh OUTDIR [--probe]
#
# PEAK_TFLOPS: the GPU's stated fp32 peak, passed to bench:kernels as --peak-tflops.
# Each step's log (progress on stderr, JSON last line) goes to OUTDIR/<step>.txt; each step has
# its own time limit (seconds) so one slow step cannot starve the rest.
set -u
out=${1:?usage: gpu-suite.sh OUTDIR [--probe]}
mkdir -p "$out"
peak=(${PEAK_TFLOPS:+--peak-tflops "$PEAK_TFLOPS"})
step() { # step NAME LIMIT CMD...
  local name=$1 limit=$2; shift 2
  echo "=== $name (limit ${limit}s): $*"
  local t0=$(date +%s.%N)
  timeout --signal=TERM --kill-after=10 "$limit" "$@" >"$out/$name.txt" 2>&1
  local rc=$?
  echo "=== $name rc=$rc in $(echo "$(date +%s.%N) - $t0" | bc 2>/dev/null || echo '?') s"
  tail -c 1500 "$out/$name.txt"; echo
}
{
  date -u; uname -a; node -v
  nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv 2>&1 || true
  lscpu | grep -E 'Model name|^CPU\(s\)' || true
  node --input-type=module -e "
    import { GpuContext } from './dist/src/gpu/context.js';
    const ctx = await GpuContext.create();
    const l = ctx.limits;
    console.log(JSON.stringify({ adapter: ctx.adapterName, maxStorageBufferBindingSize: l.maxStorageBufferBindingSize, maxBufferSize: l.maxBufferSize, maxComputeWorkgroupStorageSize: l.maxComputeWorkgroupStorageSize }));
    ctx.dispose();"
} >"$out/env.txt" 2>&1
cat "$out/env.txt"
if [ "${2:-}" = "--probe" ]; then
  step kernels-quick 60 node dist/bench/kernels.js --quick --reps 3 "${peak[@]}"
  exit 0
fi
step kernels 150 node dist/bench/kernels.js --reps 5 "${peak[@]}"
step prune-tinyllama-1 60 node dist/bench/prune.js --shape tinyllama --layers 1 --samples 32 --seq-len 128 --device gpu --reps 3
step prune-tinyllama-22 210 node dist/bench/prune.js --shape tinyllama --layers 22 --samples 32 --seq-len 128 --device gpu --trace
step prune-7b-2 150 node dist/bench/prune.js --shape llama2-7b --layers 2 --samples 32 --seq-len 128 --device gpu --trace

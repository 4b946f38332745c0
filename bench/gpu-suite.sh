#!/usr/bin/env bash
# The benchmark suite for a machine with a real GPU, sized for one run of about 9 minutes of a
# 15-minute device loan. In order (each step has its own time limit, so one slow step cannot starve
# the rest, and each step's log is kept even when a later one fails):
#   env              machine facts, the adapter's features (with and without Dawn's unsafe APIs)
#                    and its subgroup-matrix configurations where it reports them
#   shader-registers where each linear kernel keeps its register tile, read from the SPIR-V
#   kernels          linear and covariance with both matmul cores (--matmul tiled,register), one run
#   matfun           spectralSigmoid of a 2048 × 2048 C_Y-shaped matrix, 5 calls (the eigen term)
#   prune-tinyllama-1-{tiled,register}   one TinyLlama layer, 3 reps, each core
#   prune-tinyllama-22                   the whole TinyLlama shape, on the core the library picks
#   prune-7b-8                           8 Llama-2-7B-shaped layers, the same
#                                        (each bench:prune JSON records the pick as `matmul`)
# then suite.json: every step's JSON (its log's last line) in one object, with the steps' exit codes.
#
#   npm run build && [PEAK_TFLOPS=X] bash bench/gpu-suite.sh OUTDIR [--probe]
#
# PEAK_TFLOPS: the GPU's stated fp32 peak, passed to bench:kernels as --peak-tflops.
# --probe: machine facts and a quick kernel run only (about a minute).
# The GPU path only: the CPU twin's numbers come from bench:kernels' CPU columns and from the
# development machine (docs/performance.md).
set -u
out=${1:?usage: gpu-suite.sh OUTDIR [--probe]}
mkdir -p "$out"
peak=(${PEAK_TFLOPS:+--peak-tflops "$PEAK_TFLOPS"})
declare -A codes
step() { # step NAME LIMIT CMD...
  local name=$1 limit=$2; shift 2
  echo "=== $name (limit ${limit}s): $*"
  local t0=$(date +%s.%N)
  timeout --signal=TERM --kill-after=10 "$limit" "$@" >"$out/$name.txt" 2>&1
  local rc=$?
  codes[$name]=$rc
  echo "=== $name rc=$rc in $(echo "$(date +%s.%N) - $t0" | bc 2>/dev/null || echo '?') s"
  tail -c 1500 "$out/$name.txt"; echo
}
# One JSON: each step's last line that parses as JSON, and every step's exit code.
summarize() {
  local codes_json=$(for k in "${!codes[@]}"; do printf '"%s":%s,' "$k" "${codes[$k]}"; done)
  node --input-type=module -e "
    import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
    const dir = process.argv[1];
    const steps = {};
    for (const f of readdirSync(dir).filter((f) => f.endsWith('.txt') && f !== 'env.txt')) {
      const lines = readFileSync(dir + '/' + f, 'utf8').trim().split('\\n').reverse();
      for (const l of lines) { try { steps[f.slice(0, -4)] = JSON.parse(l); break; } catch {} }
    }
    const exitCodes = JSON.parse('{' + process.argv[2].replace(/,\$/, '') + '}');
    writeFileSync(dir + '/suite.json', JSON.stringify({ env: readFileSync(dir + '/env.txt', 'utf8'), exitCodes, steps }) + '\\n');
    console.log('suite.json: ' + Object.keys(steps).join(', '));" "$out" "$codes_json"
}
{
  date -u; uname -a; node -v
  echo "commit $(git rev-parse HEAD 2>/dev/null) dirty=$(test -z "$(git status --porcelain --untracked-files=no 2>/dev/null)" && echo false || echo true)"
  nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv 2>&1 || true
  lscpu | grep -E 'Model name|^CPU\(s\)' || true
  node --input-type=module -e "
    import { GpuContext } from './dist/src/gpu/context.js';
    import { create } from 'webgpu';
    const ctx = await GpuContext.create();
    const l = ctx.limits;
    console.log(JSON.stringify({ adapter: ctx.adapterName, maxStorageBufferBindingSize: l.maxStorageBufferBindingSize, maxBufferSize: l.maxBufferSize, maxComputeWorkgroupStorageSize: l.maxComputeWorkgroupStorageSize }));
    console.log('features: ' + [...ctx.adapterFeatures].sort().join(' '));
    ctx.dispose();
    const unsafe = await create(['enable-dawn-features=allow_unsafe_apis']).requestAdapter({ powerPreference: 'high-performance' });
    console.log('features with allow_unsafe_apis: ' + [...unsafe.features].sort().join(' '));
    console.log('subgroupMatrixConfigs: ' + JSON.stringify(unsafe.info?.subgroupMatrixConfigs ?? null));"
} >"$out/env.txt" 2>&1
cat "$out/env.txt"
if [ "${2:-}" = "--probe" ]; then
  step kernels-quick 60 node dist/bench/kernels.js --quick --reps 3 --matmul tiled,register "${peak[@]}"
  summarize
  exit 0
fi
prune=(node dist/bench/prune.js --samples 32 --seq-len 128 --device gpu)
step shader-registers 40 node dist/bench/shader-registers.js
step kernels 150 node dist/bench/kernels.js --reps 5 --matmul tiled,register "${peak[@]}"
step matfun 30 node dist/bench/matfun.js --n 2048 --reps 5
step prune-tinyllama-1-tiled 50 env SLIMLLM_MATMUL=tiled "${prune[@]}" --shape tinyllama --layers 1 --reps 3
step prune-tinyllama-1-register 50 env SLIMLLM_MATMUL=register "${prune[@]}" --shape tinyllama --layers 1 --reps 3
step prune-tinyllama-22 100 "${prune[@]}" --shape tinyllama --layers 22 --trace
step prune-7b-8 120 "${prune[@]}" --shape llama2-7b --layers 8 --trace
summarize

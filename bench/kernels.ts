// GPU vs CPU for the heavy kernels: linear (Y = X·Wᵀ), a symmetric product (symmetricLinear, the
// matrix function's and C_Y's product) and streaming covariance.
//
//   npm run build && npm run bench:kernels [-- --quick] [--tokens 1024] [--reps 5] [--only square,llama,covariance,symmetric] [--poll-ms 0] [--peak-tflops X] [--matmul tiled,register]
//
// Prints one line per measurement, then (last line) JSON: provenance (commit, dirty, command), the
// GPU (adapter info, driver, enabled features, limits), and
//   "results": [ { "kernel", "shape", "gpu": { "ms", "gflops" }, "gpuTimestamp"?: {...}, "timing",
//                  "peakFraction"?, "cpu": {...}, "speedup", "matmul"?, "full"? } ],
//   "matmulRatios"?: [ { "shape", "kinds", "gflops": {kind: x}, "ratio": last kind / first } ]
// The symmetric product's GFLOP/s count a whole product's flops (2n³), so they compare with linear's;
// its `full` is the same product by `linear` (every tile), timed in the same run, and time ratio.
// --matmul times each linear shape with each of the named kernels (src/gpu/tuning.ts MatmulKind),
// in one run, so that their ratio is not a comparison across runs; the CPU side is timed once.
// Times are medians of `reps` (≥ 3) runs after a warm-up on a small problem (compiles the pipelines,
// warms the JIT).
// GPU: wall time from enqueueing the kernel to the GPU being done (`gpu`), and where the device has
// timestamp queries the GPU's own time of the same runs (`gpuTimestamp`, GpuContext.timeGpu);
// `timing` says which of the two the peak share uses. CPU: wall time of the TypeScript twin,
// measured only once the GPU is idle (a pending GPU wait keeps a core busy). The speedup is of
// wall times on both sides.
import { readFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { GpuContext, type GpuTensor } from '../src/gpu/context.js';
import { covAccumulate as cpuCovAccumulate, covInit as cpuCovInit } from '../src/kernels/cpu/covariance.js';
import { linear as cpuLinear, symmetricLinear as cpuSymmetricLinear } from '../src/kernels/cpu/linear.js';
import { CpuTensor } from '../src/kernels/cpu/tensor.js';
import { COVARIANCE_PROGRAMS, covAccumulate, covInit } from '../src/kernels/gpu/covariance.js';
import { environmentMatmulKind, LINEAR_PROGRAMS, linear, symmetricLinear } from '../src/kernels/gpu/linear.js';
import { tuneMatmul } from '../src/kernels/gpu/matmul-tune.js';
import { MATMUL_KINDS, type MatmulKind } from '../src/gpu/tuning.js';
import { provenance } from './common.js';
import { describeGpu, type GpuTimings, gpuEnvironment, gpuTimings, parsePeakTflops, type Timing, timing } from './kernel-report.js';

interface Result extends GpuTimings {
  kernel: string;
  shape: number[];
  cpu: Timing;
  speedup: number;
  /** Rows of X the CPU was timed on when fewer than the shape's (its time is scaled up linearly). */
  cpuRows?: number;
  runs: { gpu: number; cpu: number };
  /** Share of the machine's CPU time used by other processes while this result was measured. */
  background?: number;
  /** The linear kernel timed (with --matmul). */
  matmul?: MatmulKind;
  /** Symmetric product: the same product by `linear` on every tile (GPU ms, clock as `timing`), and symmetric / full time. */
  full?: { ms: number; ratio: number };
}

/**
 * Other processes' share of all cores over a measurement (Linux /proc/stat minus our own CPU time),
 * so a noisy result on a shared machine is visible as such.
 */
class BackgroundLoad {
  private stat0 = BackgroundLoad.busyTicks();
  private own0 = process.cpuUsage();
  private t0 = performance.now();
  static busyTicks(): number | null {
    try {
      const f = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
      return f.reduce((a, b) => a + b, 0) - f[3] - (f[4] ?? 0); // all but idle and iowait
    } catch {
      return null;
    }
  }
  share(): number | undefined {
    const s1 = BackgroundLoad.busyTicks();
    if (s1 === null || this.stat0 === null) return undefined;
    const busyMs = ((s1 - this.stat0) * 1000) / 100; // USER_HZ = 100 on Linux
    const own = process.cpuUsage(this.own0);
    const ownMs = (own.user + own.system) / 1000;
    const wallMs = performance.now() - this.t0;
    const share = Math.max(0, (busyMs - ownMs) / (wallMs * cpus().length));
    return Number(share.toFixed(2));
  }
}

function flag(name: string): string | undefined {
  const joined = process.argv.find((a) => a.startsWith(`--${name}=`));
  if (joined !== undefined) return joined.slice(name.length + 3);
  const i = process.argv.indexOf(`--${name}`);
  if (i < 0) return undefined;
  const v = process.argv[i + 1];
  return v === undefined || v.startsWith('--') ? '' : v;
}
const quick = flag('quick') !== undefined;
const reps = Math.max(3, Number(flag('reps') ?? 3));
const tokens = Number(flag('tokens') ?? (quick ? 512 : 4096));
// --only square,llama,covariance,symmetric: a subset of the cases (default: all).
const only = new Set((flag('only') || 'square,llama,covariance,symmetric').split(','));
// --poll-ms N: how far apart GPU waits poll dawn.node (GpuContext.pollIntervalMs; 0 = dawn.node's
// own busy polling, which keeps one of the two cores of a small machine busy). Default: the library's.
const pollMs = flag('poll-ms');
// --peak-tflops X: the GPU's stated peak (TFLOP/s); results then give their share of it.
// Parsed in main(), so that a bad value is one error line before any GPU work.
const peakFlag = flag('peak-tflops');
// --matmul tiled,register: the linear kernels to time, each on every linear shape (default: the
// library's choice). Checked in main().
const matmulFlag = flag('matmul');

function parseKinds(v: string | undefined): MatmulKind[] | null {
  if (v === undefined || v === '') return null;
  const kinds = v.split(',');
  for (const k of kinds) {
    if (!(MATMUL_KINDS as readonly string[]).includes(k)) throw new Error(`--matmul: '${k}' is not a linear kernel (${MATMUL_KINDS.join(', ')})`);
  }
  return kinds as MatmulKind[];
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** Uniform values in [-scale, scale), deterministic (mulberry32). */
function rand(n: number, seed: number, scale = 1): Float32Array {
  let a = seed >>> 0;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    out[i] = ((((t ^ (t >>> 14)) >>> 0) / 4294967296) * 2 - 1) * scale;
  }
  return out;
}

interface GpuTimes {
  /** ms from an idle GPU, through enqueueing, to the GPU being done, per run. */
  wall: number[];
  /** ms between the timestamps of the first and last pass, per run; empty without timestamps. */
  timestamp: number[];
}

/**
 * Median-ready GPU times: `warm` runs once first (same pipelines on a small problem: compiles them
 * without paying for a full run), then `run` `reps` times, each from an idle GPU until it is done,
 * timed by the wall clock and, where the device has them, by GPU timestamps (ctx.timeGpu, which
 * waits for the work itself). `prepare` runs before each timed run, off the clock.
 */
async function measureGpu(
  ctx: GpuContext,
  label: string,
  run: () => GpuTensor[] | void,
  warm: () => GpuTensor[] | void,
  prepare?: () => void,
): Promise<GpuTimes> {
  for (const o of warm() ?? []) ctx.free(o);
  await ctx.sync();
  const times: GpuTimes = { wall: [], timestamp: [] };
  for (let i = 0; i < reps; i++) {
    prepare?.();
    await ctx.sync();
    const t0 = performance.now();
    let out: GpuTensor[] | void = undefined;
    const ns = await ctx.timeGpu(label, () => {
      out = run();
    });
    if (ns === null) await ctx.sync();
    times.wall.push(performance.now() - t0);
    if (ns !== null) times.timestamp.push(ns / 1e6);
    for (const o of (out as GpuTensor[] | void) ?? []) ctx.free(o);
  }
  return times;
}

/** The GPU side of a result: medians of both clocks, GFLOP/s and the peak share. */
function gpuResult(times: GpuTimes, flops: number, peakTflops: number | null): GpuTimings {
  const timestampMs = times.timestamp.length > 0 ? median(times.timestamp) : null;
  return gpuTimings(median(times.wall), timestampMs, flops, peakTflops);
}

function timeCpu(run: () => void, warm: () => void, n: number): number[] {
  warm();
  const times: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    run();
    times.push(performance.now() - t0);
  }
  return times;
}

async function benchLinear(ctx: GpuContext, M: number, K: number, N: number, cpuRows: number, peakTflops: number | null, kinds: MatmulKind[] | null): Promise<Result[]> {
  const x = rand(M * K, 1);
  const w = rand(N * K, 2, 0.05);
  const warmRows = Math.min(M, 64);
  const gx = ctx.upload(x, [M, K]);
  const gxWarm = ctx.upload(x.subarray(0, warmRows * K), [warmRows, K]);
  const gw = ctx.upload(w, [N, K]);
  const gpuRuns: { kind: MatmulKind | undefined; times: GpuTimes; load: BackgroundLoad }[] = [];
  for (const kind of kinds ?? [undefined]) {
    const load = new BackgroundLoad();
    const times = await measureGpu(
      ctx,
      'linear',
      () => [linear(ctx, gx, gw, null, { kind })],
      () => [linear(ctx, gxWarm, gw, null, { kind })],
    );
    gpuRuns.push({ kind, times, load });
  }
  for (const t of [gx, gxWarm, gw]) ctx.free(t);
  await ctx.sync();

  const rows = Math.min(M, cpuRows);
  const cx = new CpuTensor(x.subarray(0, rows * K), [rows, K]);
  const cxWarm = new CpuTensor(x.subarray(0, Math.min(rows, 8) * K), [Math.min(rows, 8), K]);
  const cw = new CpuTensor(w, [N, K]);
  const cpuTimes = timeCpu(
    () => cpuLinear(cx, cw),
    () => cpuLinear(cxWarm, cw),
    reps,
  ).map((t) => (t * M) / rows);

  const flops = 2 * M * K * N;
  const cpu = timing(median(cpuTimes), flops);
  return gpuRuns.map(({ kind, times, load }) => {
    const gpu = gpuResult(times, flops, peakTflops);
    return {
      kernel: 'linear',
      shape: [M, K, N],
      ...gpu,
      cpu,
      speedup: Number((cpu.ms / gpu.gpu.ms).toFixed(2)),
      ...(rows < M ? { cpuRows: rows } : {}),
      runs: { gpu: times.wall.length, cpu: cpuTimes.length },
      background: load.share(),
      ...(kind ? { matmul: kind } : {}),
    };
  });
}

/** X·Xᵀ [n×n] by symmetricLinear (upper tiles, mirrored) against linear (every tile), per core, and the CPU twin. */
async function benchSymmetric(ctx: GpuContext, n: number, peakTflops: number | null, kinds: MatmulKind[] | null): Promise<Result[]> {
  const x = rand(n * n, 4);
  const gx = ctx.upload(x, [n, n]);
  const gxWarm = ctx.upload(x.subarray(0, 64 * n), [64, n]);
  const flops = 2 * n * n * n;
  const runs: { kind: MatmulKind | undefined; sym: GpuTimes; full: GpuTimes; load: BackgroundLoad }[] = [];
  for (const kind of kinds ?? [undefined]) {
    const load = new BackgroundLoad();
    const full = await measureGpu(ctx, 'linear', () => [linear(ctx, gx, gx, null, { kind })], () => [linear(ctx, gxWarm, gxWarm, null, { kind })]);
    const sym = await measureGpu(ctx, 'symmetric', () => [symmetricLinear(ctx, gx, gx, { kind })], () => [symmetricLinear(ctx, gxWarm, gxWarm, { kind })]);
    runs.push({ kind, sym, full, load });
  }
  for (const t of [gx, gxWarm]) ctx.free(t);
  await ctx.sync();

  const cx = new CpuTensor(x, [n, n]);
  const cxWarm = new CpuTensor(x.subarray(0, 64 * n), [64, n]);
  const cpuTimes = timeCpu(() => cpuSymmetricLinear(cx, cx), () => cpuSymmetricLinear(cxWarm, cxWarm), reps);
  const cpu = timing(median(cpuTimes), flops);
  return runs.map(({ kind, sym, full, load }) => {
    const gpu = gpuResult(sym, flops, peakTflops);
    const whole = gpuResult(full, flops, peakTflops);
    const ms = (g: GpuTimings) => (g.gpuTimestamp ?? g.gpu).ms;
    return {
      kernel: 'symmetric',
      shape: [n, n],
      ...gpu,
      cpu,
      speedup: Number((cpu.ms / gpu.gpu.ms).toFixed(2)),
      runs: { gpu: sym.wall.length, cpu: cpuTimes.length },
      background: load.share(),
      ...(kind ? { matmul: kind } : {}),
      full: { ms: ms(whole), ratio: Number((ms(gpu) / ms(whole)).toFixed(3)) },
    };
  });
}

/** Per kernel and shape timed with several matmul cores: each one's GFLOP/s (timestamps where there are) and last / first. */
function matmulRatios(results: Result[], kinds: MatmulKind[]) {
  const byShape = new Map<string, Result[]>();
  for (const r of results.filter((x) => x.matmul)) {
    const key = `${r.kernel} ${r.shape.join('x')}`;
    byShape.set(key, [...(byShape.get(key) ?? []), r]);
  }
  return [...byShape.values()].map((rs) => {
    const rate = (r: Result) => (r.gpuTimestamp ?? r.gpu).gflops;
    const gflops = Object.fromEntries(rs.map((r) => [r.matmul, rate(r)]));
    return { kernel: rs[0].kernel, shape: rs[0].shape, kinds, gflops, ratio: Number((rate(rs[rs.length - 1]) / rate(rs[0])).toFixed(3)) };
  });
}

async function benchCovariance(ctx: GpuContext, M: number, K: number, peakTflops: number | null, kinds: MatmulKind[] | null): Promise<Result[]> {
  // Activations on an offset, as the centring is there for.
  const x = rand(M * K, 3);
  for (let i = 0; i < x.length; i++) x[i] += 3;
  const gx = ctx.upload(x, [M, K]);
  const gxWarm = ctx.upload(x.subarray(0, 16 * K), [16, K]);
  const gpuRuns: { kind: MatmulKind | undefined; times: GpuTimes; load: BackgroundLoad }[] = [];
  for (const kind of kinds ?? [undefined]) {
    const load = new BackgroundLoad();
    let stats = covInit(ctx, K);
    const times = await measureGpu(
      ctx,
      'covariance',
      () => covAccumulate(ctx, stats, gx, { kind }),
      () => covAccumulate(ctx, stats, gxWarm, { kind }),
      () => {
        for (const t of [stats.mean, stats.m2, stats.sumsq]) ctx.free(t);
        stats = covInit(ctx, K); // fresh statistics, zeroed before the clock starts
      },
    );
    for (const t of [stats.mean, stats.m2, stats.sumsq]) ctx.free(t);
    gpuRuns.push({ kind, times, load });
  }
  for (const t of [gx, gxWarm]) ctx.free(t);
  await ctx.sync();

  const cx = new CpuTensor(x, [M, K]);
  const cxWarm = new CpuTensor(x.subarray(0, 16 * K), [16, K]);
  const cpuTimes = timeCpu(
    () => cpuCovAccumulate(cpuCovInit(K), cx),
    () => cpuCovAccumulate(cpuCovInit(K), cxWarm),
    reps,
  );

  // Useful work: the K(K+1)/2 distinct entries of the Gram matrix, one multiply-add per row each.
  const flops = M * K * (K + 1);
  const cpu = timing(median(cpuTimes), flops);
  return gpuRuns.map(({ kind, times, load }) => {
    const gpu = gpuResult(times, flops, peakTflops);
    return {
      kernel: 'covariance',
      shape: [M, K],
      ...gpu,
      cpu,
      speedup: Number((cpu.ms / gpu.gpu.ms).toFixed(2)),
      runs: { gpu: times.wall.length, cpu: cpuTimes.length },
      background: load.share(),
      ...(kind ? { matmul: kind } : {}),
    };
  });
}

/** One printed line per result: GPU (wall, timestamps, peak share), CPU, speedup, noise. */
function printResult(r: Result, peakTflops: number | null): void {
  const kernel = r.matmul ? `${r.kernel}/${r.matmul}` : r.kernel;
  const cpuNote = r.cpuRows ? ` (CPU timed on ${r.cpuRows} rows, scaled)` : '';
  const full = r.full ? ` | by linear ${r.full.ms.toFixed(1)} ms: ×${r.full.ratio} the time` : '';
  const noise = r.background && r.background > 0.1 ? `  [other processes used ${Math.round(r.background * 100)} % of the CPUs]` : '';
  console.log(
    `${kernel.padEnd(10)} [${r.shape.join('×')}]  ${describeGpu(r, peakTflops)} | ` +
      `CPU ${r.cpu.ms.toFixed(1)} ms ${r.cpu.gflops.toFixed(2)} GFLOP/s | ×${r.speedup}${cpuNote}${full}${noise}`,
  );
}

async function runCases(ctx: GpuContext, peakTflops: number | null, kinds: MatmulKind[] | null): Promise<Result[]> {
  const results: Result[] = [];
  const report = (rs: Result | Result[]) => {
    for (const r of Array.isArray(rs) ? rs : [rs]) {
      results.push(r);
      printResult(r, peakTflops);
    }
  };
  const square = quick ? 512 : 1024;
  if (only.has('square')) report(await benchLinear(ctx, square, square, square, square, peakTflops, kinds));
  if (only.has('llama')) {
    // Llama-like projections (TinyLlama-1.1B: d=2048, ffn=5632): gate/up, then down.
    report(await benchLinear(ctx, tokens, 2048, 5632, quick ? 64 : 256, peakTflops, kinds));
    report(await benchLinear(ctx, tokens, 5632, 2048, quick ? 64 : 256, peakTflops, kinds));
  }
  if (only.has('covariance')) report(await benchCovariance(ctx, quick ? 1024 : 4096, quick ? 1024 : 2048, peakTflops, kinds));
  // The matrix function's products are D × D (TinyLlama: 2048).
  if (only.has('symmetric')) report(await benchSymmetric(ctx, quick ? 512 : 2048, peakTflops, kinds));
  return results;
}

async function main(): Promise<void> {
  let peakTflops: number | null;
  let kinds: MatmulKind[] | null;
  try {
    peakTflops = parsePeakTflops(peakFlag);
    kinds = parseKinds(matmulFlag);
    environmentMatmulKind(); // a bad SLIMLLM_MATMUL is one line before any GPU work
  } catch (e) {
    console.error(`bench:kernels: ${(e as Error).message}`);
    process.exitCode = 2;
    return;
  }
  const ctx = await GpuContext.create();
  if (pollMs !== undefined && pollMs !== '') ctx.pollIntervalMs = Number(pollMs);
  try {
    await ctx.loadPrograms([...LINEAR_PROGRAMS, ...COVARIANCE_PROGRAMS]);
    await tuneMatmul(ctx); // the library's own choice of kernel, which runs when --matmul is not given
    const results = await runCases(ctx, peakTflops, kinds);
    const header = { ...provenance(), device: ctx.adapterName, ...gpuEnvironment(ctx), pollMs: ctx.pollIntervalMs, matmulChoice: ctx.matmul };
    const ratios = kinds && kinds.length > 1 ? { matmulRatios: matmulRatios(results, kinds) } : {};
    console.log(JSON.stringify({ ...header, ...(peakTflops === null ? {} : { peakTflops }), results, ...ratios }));
  } finally {
    ctx.dispose();
  }
}

main().catch((e) => {
  console.error(e);
  process.exitCode = 1;
});

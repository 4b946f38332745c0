// End-to-end pruning benchmark: SlimLLM on a synthetic checkpoint with real Llama shapes, GPU vs
// CPU in one invocation.
//
//   npm run build && npm run bench:prune -- --shape tinyllama --layers 1 --samples 32 --seq-len 128 --device both [--layer-store disk|memory]
//
// The parent generates the model (f16 safetensors in a temp folder, removed at the end) and the
// seeded calibration ids, then runs every measurement in a fresh child process, one at a time:
// GPU first, CPU only after the GPU child has disposed its device and exited (nothing of the GPU
// run can still be executing or holding memory while the CPU is timed). Each child runs
// pruneModel, then saves the pruned model (F16) to a temp folder ('write' phase).
//
// Memory: peakRssMB is the child's kernel high-water mark (Linux VmHWM, reset at the start of
// the run; on lavapipe it includes the "GPU" buffers, which live in host memory) over pruning
// and writing; pruneModel's own sampled figure is reported beside it. peakGpuMB is the high-water
// mark of live pooled storage buffers (Backend.deviceMemory).
//
// Progress goes to stderr; the last stdout line is the JSON result.
import { type ChildProcess, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { MatmulChoice } from '../src/gpu/context.js';
import { GpuBackend } from '../src/kernels/gpu/index.js';
import { createBackend, type Backend, type DeviceKind, type Tensor } from '../src/kernels/index.js';
import { openHf } from '../src/model/hf.js';
import { saveModel } from '../src/model/writer.js';
import { layerStoreFor } from '../src/model/layer-store.js';
import { pruneModel, type PruneProgress, type PruneReport } from '../src/prune/orchestrator.js';
import { regressionRecovery } from '../src/prune/recoveries.js';
import { slimllmMethod } from '../src/prune/slimllm.js';
import { type Phase, PhaseTimer } from '../src/prune/timer.js';
import { choiceFlag, intFlag, isMain, log, median, numFlag, parseFlags, provenance, round1, RssPeak, rssMB } from './common.js';
import { SHAPES, syntheticCalibration, writeSyntheticCheckpoint, type ShapeName } from './synth.js';

export const PHASES = ['forward', 'statistics', 'scoring', 'eigen', 'regression', 'write', 'other'] as const;
export type BenchPhase = (typeof PHASES)[number];

export interface ChildJob {
  model: string;
  calib: string;
  device: DeviceKind;
  p: number;
  alpha: number;
  batchRows?: number;
  /** Where the pruned model is saved (removed afterwards). */
  writeDir: string;
  /** No progress lines on stderr. */
  quiet?: boolean;
  /** 'memory': keep pruned layers in memory instead of the default disk store (memory comparisons). */
  layerStore?: 'disk' | 'memory';
}

/**
 * The backend as the benchmark runs it: `b` itself, plus the time the host spends blocked on the
 * device. pruneModel's 'statistics' phase times the *encoding* of the covariance updates; on the
 * GPU the work runs asynchronously and is waited for by the first read of the statistics (their
 * column means), which happens outside every phase ('other'). The time spent in those reads is
 * counted here and moved to 'statistics' (on the CPU it is ~0). Every other wait on the device
 * (read, sync, the async factorisations) is charged to the phase `timer` is in when it starts.
 */
export function instrument<T extends Tensor>(b: Backend<T>, timer: PhaseTimer): { backend: Backend<T>; statsWaitMs: () => number; deviceWaitMs: () => Record<Phase | 'other', number> } {
  const statMeans = new WeakSet<object>();
  let statsWait = 0;
  const waits: Record<Phase | 'other', number> = { forward: 0, statistics: 0, scoring: 0, eigen: 0, regression: 0, other: 0 };
  const covInit = (dim: number) => {
    const st = b.covInit(dim);
    statMeans.add(st.mean);
    return st;
  };
  const waited = <A extends unknown[], R>(f: (...a: A) => Promise<R>, stats?: (...a: A) => boolean) => async (...a: A): Promise<R> => {
    const phase = timer.current() ?? 'other';
    const t0 = performance.now();
    try {
      return await f.apply(b, a);
    } finally {
      const ms = performance.now() - t0;
      if (stats?.(...a)) statsWait += ms;
      else waits[phase] += ms;
    }
  };
  const overrides: Record<string, unknown> = {
    covInit,
    read: waited(b.read, (t: T) => statMeans.has(t)),
    sync: waited(b.sync),
    cholesky: waited(b.cholesky),
    spectralSigmoid: waited(b.spectralSigmoid),
  };
  const backend = new Proxy(b, {
    get(target, prop) {
      if (typeof prop === 'string' && prop in overrides) return overrides[prop];
      const v = Reflect.get(target, prop, target);
      return typeof v === 'function' ? v.bind(target) : v;
    },
  });
  return { backend, statsWaitMs: () => statsWait, deviceWaitMs: () => ({ ...waits }) };
}

/** One measured run on one device. */
export interface DeviceResult {
  device: string;
  /** Pruning + writing, ms. */
  ms: number;
  /** Pruning alone (pruneModel's total), ms. */
  pruneMs: number;
  /** Phase times, ms; 'other' = pruneModel's total minus its named phases (weight reads and uploads, slicing, ratio solve). */
  phases: Record<BenchPhase, number>;
  /**
   * Each phase split in two: `device`, the time the host spent blocked waiting on the device
   * (reads, syncs, the async factorisations) within it; `host`, the rest (work on the host,
   * including encoding; on the CPU backend every kernel is host work). host + device = phases[p].
   */
  phaseSplit: Record<BenchPhase, { host: number; device: number }>;
  /** Host time of the phases that are not kernels: other + write (host side), ms. */
  hostMs: number;
  /** The GPU's linear kernel and why (src/kernels/gpu/matmul-tune.ts); absent on the CPU. */
  matmul?: MatmulChoice;
  /** Peak RSS over pruning and writing (kernel high-water mark; sampled where unavailable). */
  peakRssMB: number;
  /** Peak RSS over pruning alone. */
  peakRssPruneMB: number;
  /** pruneModel's own RSS samples (taken between layers and modules). */
  reportPeakRssMB: number;
  /** High-water mark of live GPU storage buffers (null on the CPU). */
  peakGpuMB: number | null;
  /** GPU bytes still live after pruneModel returned (a leak if > 0). */
  gpuLiveAfterMB: number | null;
  /** RSS and live GPU MB at each progress step: shows what grows with the layer count. */
  trace: { layer: number; phase: string; s: number; rssMB: number; gpuLiveMB: number | null }[];
  removedFraction: number;
  layerScores: number[];
  ratios: number[];
}

/** MB in live device buffers, or null on the CPU backend. */
function liveMB(dev: Backend): number | null {
  const m = dev.deviceMemory();
  return m ? m.liveBytes / 2 ** 20 : null;
}

/** Runs one pruning measurement in this process (what the child does). */
export async function runOnce(job: ChildJob): Promise<DeviceResult> {
  const calib = JSON.parse(fs.readFileSync(job.calib, 'utf8')) as number[][];
  const mem = new RssPeak(50);
  const src = openHf(job.model);
  const dev = await createBackend(job.device);
  const matmul = dev instanceof GpuBackend ? { ...dev.ctx.matmul } : undefined;
  const timer = new PhaseTimer();
  const inst = instrument(dev, timer);
  const b = inst.backend;
  const tag = `[${job.device}]`;
  const t0 = performance.now();
  const trace: DeviceResult['trace'] = [];
  const onProgress = (pr: PruneProgress) => {
    const r = mem.sample();
    const g = liveMB(dev);
    const s = (performance.now() - t0) / 1000;
    trace.push({ layer: pr.layer, phase: pr.phase, s: round1(s), rssMB: round1(r), gpuLiveMB: g === null ? null : round1(g) });
    if (!job.quiet) log(`${tag} ${s.toFixed(1)} s  layer ${pr.layer + 1}/${pr.layers} ${pr.phase}  rss ${r.toFixed(0)} MB${g === null ? '' : `  gpu live ${g.toFixed(0)} MB`}`);
  };
  let report: PruneReport;
  let writeMs: number;
  let prunePeak: { hwm: number | null; sampled: number };
  let gpuLiveAfterMB: number | null = null;
  try {
    const L = src.config.nLayers;
    const run = {
      method: slimllmMethod({ keepLowest: 0.01 }),
      recovery: regressionRecovery,
      ratios: { kind: 'layer-based' as const, p: job.p, K: L, alpha: job.alpha },
      batchRows: job.batchRows,
      timer,
      layerStore: layerStoreFor(job.layerStore ?? 'disk'),
    };
    const out = await pruneModel(b, src, calib, run, onProgress);
    report = out.report;
    prunePeak = mem.peak();
    gpuLiveAfterMB = liveMB(dev);
    dev.dispose();
    if (!job.quiet) log(`${tag} pruned in ${(report.timeMs.total / 1000).toFixed(1)} s; writing`);
    const tw = performance.now();
    try {
      saveModel(out.model, job.writeDir, { dtype: 'F16' });
    } finally {
      out.model.close();
    }
    writeMs = performance.now() - tw;
    fs.rmSync(job.writeDir, { recursive: true, force: true });
  } finally {
    dev.dispose();
    src.close();
  }
  const all = mem.peak();
  mem.stop();
  const t = report.timeMs;
  const wait = inst.statsWaitMs();
  const phases = benchPhases(t, wait, writeMs);
  const phaseSplit = splitPhases(phases, inst.deviceWaitMs(), wait);
  return {
    device: report.device,
    ms: round1(t.total + writeMs),
    pruneMs: round1(t.total),
    phases,
    phaseSplit,
    hostMs: round1(phaseSplit.other.host + phaseSplit.write.host),
    ...(matmul ? { matmul } : {}),
    // max(): the kernel's per-thread RSS counters are synced lazily, so two readings can differ by a few pages.
    peakRssMB: round1(Math.max(all.hwm ?? all.sampled, prunePeak.hwm ?? prunePeak.sampled)),
    peakRssPruneMB: round1(prunePeak.hwm ?? prunePeak.sampled),
    reportPeakRssMB: round1(report.peak.rssMB),
    peakGpuMB: report.peak.gpuMB === null ? null : round1(report.peak.gpuMB),
    gpuLiveAfterMB: gpuLiveAfterMB === null ? null : round1(gpuLiveAfterMB),
    trace,
    removedFraction: report.params.removedFraction,
    layerScores: report.layerScores,
    ratios: report.ratios,
  };
}

/** The benchmark's phases from pruneModel's (the statistics reads' wait moved from 'other' to 'statistics'). */
function benchPhases(t: PruneReport['timeMs'], statsWait: number, writeMs: number): Record<BenchPhase, number> {
  const named = t.forward + t.statistics + statsWait + t.scoring + t.eigen + t.regression;
  return {
    forward: round1(t.forward),
    statistics: round1(t.statistics + statsWait),
    scoring: round1(t.scoring),
    eigen: round1(t.eigen),
    regression: round1(t.regression),
    write: round1(writeMs),
    other: round1(t.total - named),
  };
}

/** Splits each phase into host time and device wait (the statistics reads' wait belongs to 'statistics'). */
function splitPhases(phases: Record<BenchPhase, number>, waits: Record<Phase | 'other', number>, statsWait: number): Record<BenchPhase, { host: number; device: number }> {
  const device: Record<BenchPhase, number> = { ...waits, statistics: waits.statistics + statsWait, write: 0 };
  return Object.fromEntries(
    PHASES.map((p) => {
      const d = Math.min(device[p], phases[p]);
      return [p, { host: round1(phases[p] - d), device: round1(d) }];
    }),
  ) as Record<BenchPhase, { host: number; device: number }>;
}

let current: ChildProcess | null = null;

/** Runs `runOnce` in a fresh node process; its stderr passes through, its last stdout line is the result. */
function runChild(job: ChildJob): Promise<DeviceResult> {
  const script = fileURLToPath(import.meta.url);
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...process.execArgv, script, '--child', JSON.stringify(job)], { stdio: ['ignore', 'pipe', 'inherit'] });
    current = child;
    let out = '';
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (d: string) => (out += d));
    child.on('error', reject);
    child.on('close', (code, signal) => {
      current = null;
      const last = out.trim().split('\n').pop() ?? '';
      if (code !== 0) return reject(new Error(`${job.device} run failed (exit ${code ?? signal})`));
      try {
        resolve(JSON.parse(last) as DeviceResult);
      } catch {
        reject(new Error(`${job.device} run printed no result`));
      }
    });
  });
}

interface Summary {
  ms: number;
  pruneMs: number;
  peakRssMB: number;
  peakRssPruneMB: number;
  reportPeakRssMB: number;
  peakGpuMB?: number | null;
  gpuLiveAfterMB?: number | null;
  phases: Record<BenchPhase, number>;
  phaseSplit: Record<BenchPhase, { host: number; device: number }>;
  hostMs: number;
  /** hostMs / ms: the share of the run that is host work off the kernels. */
  hostShare: number;
  matmul?: MatmulChoice;
  device: string;
  reps: number[];
  removedFraction: number;
  trace: DeviceResult['trace'];
}

/** Median times over repetitions; memory is the maximum over them. */
function summarise(rs: DeviceResult[], gpu: boolean): Summary {
  const phases = Object.fromEntries(PHASES.map((p) => [p, round1(median(rs.map((r) => r.phases[p])))])) as Record<BenchPhase, number>;
  const s: Summary = {
    ms: round1(median(rs.map((r) => r.ms))),
    pruneMs: round1(median(rs.map((r) => r.pruneMs))),
    peakRssMB: Math.max(...rs.map((r) => r.peakRssMB)),
    peakRssPruneMB: Math.max(...rs.map((r) => r.peakRssPruneMB)),
    reportPeakRssMB: Math.max(...rs.map((r) => r.reportPeakRssMB)),
    phases,
    phaseSplit: Object.fromEntries(
      PHASES.map((p) => [p, { host: round1(median(rs.map((r) => r.phaseSplit[p].host))), device: round1(median(rs.map((r) => r.phaseSplit[p].device))) }]),
    ) as Record<BenchPhase, { host: number; device: number }>,
    hostMs: round1(median(rs.map((r) => r.hostMs))),
    hostShare: Number((median(rs.map((r) => r.hostMs)) / median(rs.map((r) => r.ms))).toFixed(4)),
    ...(rs[0].matmul ? { matmul: rs[0].matmul } : {}),
    device: rs[0].device,
    reps: rs.map((r) => r.ms),
    removedFraction: Number(rs[0].removedFraction.toFixed(4)),
    trace: rs[rs.length - 1].trace,
  };
  if (gpu) {
    s.peakGpuMB = Math.max(...rs.map((r) => r.peakGpuMB ?? 0));
    s.gpuLiveAfterMB = Math.max(...rs.map((r) => r.gpuLiveAfterMB ?? 0));
  }
  return s;
}

async function main(argv: string[]): Promise<void> {
  if (argv[0] === '--child') {
    const res = await runOnce(JSON.parse(argv[1]) as ChildJob);
    process.stdout.write(`${JSON.stringify(res)}\n`);
    return;
  }
  const f = parseFlags(argv, {
    shape: 'string', layers: 'string', samples: 'string', 'seq-len': 'string', device: 'string', reps: 'string',
    seed: 'string', p: 'string', alpha: 'string', 'batch-rows': 'string', model: 'string', trace: 'boolean', 'layer-store': 'string',
  });
  const layerStore = choiceFlag(f['layer-store'], 'layer-store', ['disk', 'memory'] as const, 'disk');
  const shape = choiceFlag<ShapeName>(f.shape, 'shape', SHAPES, 'tinyllama');
  const layers = intFlag(f.layers, 'layers', 1);
  const samples = intFlag(f.samples, 'samples', 32);
  const seqLen = intFlag(f['seq-len'], 'seq-len', 128, 2);
  const which = choiceFlag(f.device, 'device', ['gpu', 'cpu', 'both'] as const, 'both');
  const reps = intFlag(f.reps, 'reps', 1);
  const seed = intFlag(f.seed, 'seed', 0, 0);
  const p = numFlag(f.p, 'p', 0.25);
  const alpha = numFlag(f.alpha, 'alpha', 10);
  const batchRows = f['batch-rows'] === undefined ? undefined : intFlag(f['batch-rows'], 'batch-rows', 1);
  const devices: DeviceKind[] = which === 'both' ? ['gpu', 'cpu'] : [which];

  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'slimllm-bench-'));
  const cleanup = () => fs.rmSync(tmp, { recursive: true, force: true });
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    process.once(sig, () => {
      current?.kill('SIGTERM');
      cleanup();
      process.exit(sig === 'SIGINT' ? 130 : 143);
    });
  }
  try {
    let modelDir: string;
    let vocab: number;
    let nLayers: number;
    if (typeof f.model === 'string') {
      // An existing checkpoint (e.g. one written by synth.js), used as is.
      const src = openHf(f.model);
      vocab = src.config.vocabSize;
      nLayers = src.config.nLayers;
      src.close();
      modelDir = f.model;
    } else {
      const t0 = performance.now();
      const r = writeSyntheticCheckpoint(path.join(tmp, 'model'), { shape, layers, seed });
      log(`synthetic ${shape} × ${layers} layers: ${(r.bytes / 2 ** 20).toFixed(0)} MiB f16 in ${((performance.now() - t0) / 1000).toFixed(1)} s (parent rss ${rssMB().toFixed(0)} MB)`);
      modelDir = r.dir;
      vocab = r.config.vocabSize;
      nLayers = r.config.nLayers;
    }
    const calibFile = path.join(tmp, 'calib.json');
    fs.writeFileSync(calibFile, JSON.stringify(syntheticCalibration(vocab, samples, seqLen, seed)));

    const results: Partial<Record<DeviceKind, DeviceResult[]>> = {};
    for (let k = 0; k < reps; k++) {
      for (const device of devices) {
        log(`--- ${device}, rep ${k + 1}/${reps}: ${samples} × ${seqLen} tokens, p = ${p}, K = ${nLayers}`);
        const res = await runChild({ model: modelDir, calib: calibFile, device, p, alpha, batchRows, layerStore, writeDir: path.join(tmp, `out-${device}-${k}`) });
        log(`--- ${device}: ${(res.ms / 1000).toFixed(1)} s, peak rss ${res.peakRssMB.toFixed(0)} MB${res.peakGpuMB === null ? '' : `, peak gpu ${res.peakGpuMB.toFixed(0)} MB`}`);
        (results[device] ??= []).push(res);
      }
    }
    const run: Record<string, unknown> = { shape: typeof f.model === 'string' ? f.model : shape, layers: nLayers, tokens: samples * seqLen, samples, seqLen, p, alpha, layerStore };
    const strip = (s: Summary) => {
      const { trace, ...rest } = s;
      return f.trace ? s : rest;
    };
    if (results.gpu) run.gpu = strip(summarise(results.gpu, true));
    if (results.cpu) run.cpu = strip(summarise(results.cpu, false));
    if (results.gpu && results.cpu) {
      const g = run.gpu as Summary;
      const c = run.cpu as Summary;
      run.speedup = Number((c.ms / g.ms).toFixed(2));
      run.speedupPruneOnly = Number((c.pruneMs / g.pruneMs).toFixed(2));
    }
    process.stdout.write(`${JSON.stringify({ ...provenance(), runs: [run] })}\n`);
  } finally {
    cleanup();
  }
}

if (isMain(import.meta.url)) {
  main(process.argv.slice(2)).catch((e) => {
    log(`bench:prune: ${(e as Error).stack ?? (e as Error).message}`);
    process.exitCode = 1;
  });
}

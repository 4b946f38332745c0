// Shared test utilities: a seeded RNG, array comparison with stated tolerances, and the GPU/CPU
// backend pair (one device per test file, acquired in beforeAll).
import { afterAll, beforeAll } from 'vitest';
import { prune } from '../src/api.js';
import { CpuBackend } from '../src/kernels/cpu/index.js';
import { GpuBackend } from '../src/kernels/gpu/index.js';
import { seededRandom } from '../src/corpus.js';

/** The library's seeded generator (Mulberry32), so tests and calibration share one definition. */
export const rng = seededRandom;

/** Uniform values in [-scale, scale). */
export function randArray(n: number, seed: number, scale = 1): Float32Array {
  const r = rng(seed);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = (r() * 2 - 1) * scale;
  return out;
}

/** Standard normal values (Box–Muller). */
export function randn(n: number, seed: number, scale = 1): Float32Array {
  const r = rng(seed);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i += 2) {
    const u = Math.max(r(), 1e-12);
    const v = r();
    const m = Math.sqrt(-2 * Math.log(u));
    out[i] = m * Math.cos(2 * Math.PI * v) * scale;
    if (i + 1 < n) out[i + 1] = m * Math.sin(2 * Math.PI * v) * scale;
  }
  return out;
}

/**
 * Max of |a-b| / (atol + rtol·|b|) over all elements; ≤ 1 means "close". Returns the worst
 * index too so a failure says where.
 */
export function closeness(a: ArrayLike<number>, b: ArrayLike<number>, rtol: number, atol: number) {
  if (a.length !== b.length) throw new Error(`length ${a.length} vs ${b.length}`);
  let worst = 0;
  let at = -1;
  for (let i = 0; i < a.length; i++) {
    const diff = Math.abs(a[i] - b[i]);
    const e = diff === 0 ? 0 : diff / (atol + rtol * Math.abs(b[i]));
    if (!(e <= worst)) {
      worst = e;
      at = i;
      if (Number.isNaN(e)) break;
    }
  }
  return { worst, at, a: a[at], b: b[at] };
}

export function expectClose(a: ArrayLike<number>, b: ArrayLike<number>, rtol: number, atol: number, what = ''): void {
  const c = closeness(a, b, rtol, atol);
  if (!(c.worst <= 1)) {
    throw new Error(`${what} not close: at ${c.at} got ${c.a}, want ${c.b} (rtol ${rtol}, atol ${atol})`);
  }
}

/** The two backends for one test file. The GPU one must exist: a missing adapter fails the file. */
export function useBackends(): { gpu: () => GpuBackend; cpu: CpuBackend } {
  let gpu: GpuBackend | null = null;
  const cpu = new CpuBackend();
  beforeAll(async () => {
    gpu = await GpuBackend.create();
  });
  afterAll(() => {
    gpu?.dispose();
  });
  return {
    gpu: () => {
      if (!gpu) throw new Error('GPU backend not created');
      return gpu;
    },
    cpu,
  };
}

/**
 * prune() for one test file: the pruned models (whose layers wait in temporary files) are closed
 * after the file's tests — vitest ends its workers without the process 'exit' event that would
 * otherwise remove them.
 */
export function usePrune(): typeof prune {
  const models: { close(): void }[] = [];
  afterAll(() => {
    for (const m of models) m.close();
  });
  return async (...args) => {
    const r = await prune(...args);
    models.push(r.model);
    return r;
  };
}


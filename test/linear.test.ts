// linear: Y = X·Wᵀ (+ b). The CPU kernel is checked against a naive f64 reference, the GPU kernel
// against the same reference and against the CPU kernel, on shapes that are not multiples of the
// tiles (128×128×BK), with K % 4 != 0 (the scalar-load path), and with large magnitudes.
import { describe, expect, it } from 'vitest';
import { linear as gpuLinear, matmulConfig, type MatmulOptions } from '../src/kernels/gpu/linear.js';
import { randArray, useBackends } from './helpers.js';

const { gpu, cpu } = useBackends();

/** f64 reference and Σ|x·w| per output (the scale f32 rounding errors are relative to). */
function reference(x: Float32Array, w: Float32Array, b: Float32Array | null, M: number, K: number, N: number) {
  const y = new Float64Array(M * N);
  const mag = new Float64Array(M * N);
  for (let m = 0; m < M; m++) {
    for (let n = 0; n < N; n++) {
      let s = b ? b[n] : 0;
      let a = b ? Math.abs(b[n]) : 0;
      for (let k = 0; k < K; k++) {
        const p = x[m * K + k] * w[n * K + k];
        s += p;
        a += Math.abs(p);
      }
      y[m * N + n] = s;
      mag[m * N + n] = a;
    }
  }
  return { y, mag };
}

/** max |got − want| / (rtol·Σ|x·w| + tiny): ≤ 1 passes. */
function worstError(got: Float32Array, want: Float64Array, mag: Float64Array, rtol: number) {
  let worst = 0;
  let at = -1;
  for (let i = 0; i < got.length; i++) {
    const e = Math.abs(got[i] - want[i]) / (rtol * mag[i] + 1e-30);
    if (!(e <= worst)) {
      worst = e;
      at = i;
    }
  }
  return { worst, at, got: got[at], want: want[at] };
}

// Tolerances, relative to Σ|x·w| of each output:
// - CPU: f64 sums rounded once to f32 → ≤ 2⁻²⁴ of |y| ≤ Σ|x·w|; 2e-7 leaves room for the f64 part.
// - GPU: f32 accumulation over K terms (FMA chains, each rounding ≤ 2⁻²⁴ of a partial sum ≤ Σ|x·w|)
//   → ≤ K·6e-8·Σ|x·w| in the worst case; K ≤ 300 here, so 2e-5 is that bound, not a loose guess.
const CPU_RTOL = 2e-7;
const GPU_RTOL = 2e-5;

interface Case {
  M: number;
  K: number;
  N: number;
  bias: boolean;
  scale?: number;
}

const cases: Case[] = [
  { M: 1, K: 3, N: 5, bias: false },
  { M: 1, K: 3, N: 5, bias: true },
  { M: 1, K: 1, N: 1, bias: true },
  { M: 37, K: 172, N: 65, bias: true },
  { M: 37, K: 172, N: 65, bias: false },
  { M: 129, K: 64, N: 172, bias: true },
  { M: 130, K: 67, N: 129, bias: true }, // K % 4 == 3, two tiles each way
  { M: 5, K: 6, N: 300, bias: false }, // K % 4 == 2, N > 2 tiles
  { M: 3, K: 257, N: 7, bias: true, scale: 1e3 }, // K % 4 == 1, large values
  { M: 64, K: 96, N: 33, bias: true, scale: 1e3 },
];

function makeCase(c: Case, seed: number) {
  const scale = c.scale ?? 1;
  return {
    x: randArray(c.M * c.K, seed, scale),
    w: randArray(c.N * c.K, seed + 1, scale),
    b: c.bias ? randArray(c.N, seed + 2, scale * scale) : null,
  };
}

describe('linear', () => {
  it.each(cases)('CPU matches f64: M=$M K=$K N=$N bias=$bias', (c) => {
    const { x, w, b } = makeCase(c, c.M * 1000 + c.K);
    const y = cpu.linear(cpu.upload(x, [c.M, c.K]), cpu.upload(w, [c.N, c.K]), b ? cpu.upload(b, [c.N]) : null);
    expect(y.shape).toEqual([c.M, c.N]);
    const ref = reference(x, w, b, c.M, c.K, c.N);
    const e = worstError(y.data, ref.y, ref.mag, CPU_RTOL);
    expect(e.worst, JSON.stringify(e)).toBeLessThanOrEqual(1);
  });

  it.each(cases)('GPU matches f64 and CPU: M=$M K=$K N=$N bias=$bias', async (c) => {
    const g = gpu();
    const { x, w, b } = makeCase(c, c.M * 1000 + c.K);
    const gx = g.upload(x, [c.M, c.K]);
    const gw = g.upload(w, [c.N, c.K]);
    const gb = b ? g.upload(b, [c.N]) : null;
    const gy = g.linear(gx, gw, gb);
    expect(gy.shape).toEqual([c.M, c.N]);
    const y = await g.read(gy);
    for (const t of [gx, gw, gy]) g.free(t);
    if (gb) g.free(gb);
    const ref = reference(x, w, b, c.M, c.K, c.N);
    const e = worstError(y, ref.y, ref.mag, GPU_RTOL);
    expect(e.worst, JSON.stringify(e)).toBeLessThanOrEqual(1);
    const yc = cpu.linear(cpu.upload(x, [c.M, c.K]), cpu.upload(w, [c.N, c.K]), b ? cpu.upload(b, [c.N]) : null);
    const e2 = worstError(y, Float64Array.from(yc.data), ref.mag, GPU_RTOL + CPU_RTOL);
    expect(e2.worst, JSON.stringify(e2)).toBeLessThanOrEqual(1);
  });

  it('treats leading dimensions of X as rows', async () => {
    const [B, T, K, N] = [2, 3, 10, 6];
    const x = randArray(B * T * K, 11);
    const w = randArray(N * K, 12);
    const yc = cpu.linear(cpu.upload(x, [B, T, K]), cpu.upload(w, [N, K]));
    expect(yc.shape).toEqual([B, T, N]);
    const g = gpu();
    const gy = g.linear(g.upload(x, [B, T, K]), g.upload(w, [N, K]));
    expect(gy.shape).toEqual([B, T, N]);
    const ref = reference(x, w, null, B * T, K, N);
    expect(worstError(await g.read(gy), ref.y, ref.mag, GPU_RTOL).worst).toBeLessThanOrEqual(1);
    expect(worstError(yc.data, ref.y, ref.mag, CPU_RTOL).worst).toBeLessThanOrEqual(1);
  });

  // The adapter decides the register tile (16×16 on lavapipe, 8×8 on real GPUs): run the other one
  // too, and the row-chunked path for tensors over the binding limit (with a pretend limit).
  it.each([
    ['the other register tile', 'other'],
    ['row chunks through temporaries', 'chunked'],
  ])('GPU with %s', async (_name, mode) => {
    const g = gpu();
    const def = matmulConfig(g.ctx);
    const opts: MatmulOptions =
      mode === 'other'
        ? { config: def.WIDE ? { WG_X: 16, WG_Y: 16, BK: 16, WIDE: false } : { WG_X: 8, WG_Y: 8, BK: 16, WIDE: true } }
        : { maxBindingBytes: 16 * 1024 };
    for (const c of [
      { M: 150, K: 20, N: 70, bias: true },
      { M: 150, K: 19, N: 70, bias: false },
      // W itself over the pretend limit: bound in row ranges of whole tiles (128 + 128 + 44 rows).
      { M: 150, K: 20, N: 300, bias: true },
      { M: 3, K: 20, N: 300, bias: false },
    ]) {
      const { x, w, b } = makeCase(c, 77 + c.K);
      const gy = gpuLinear(g.ctx, g.upload(x, [c.M, c.K]), g.upload(w, [c.N, c.K]), b ? g.upload(b, [c.N]) : null, opts);
      const ref = reference(x, w, b, c.M, c.K, c.N);
      const e = worstError(await g.read(gy), ref.y, ref.mag, GPU_RTOL);
      expect(e.worst, `${mode} K=${c.K} ${JSON.stringify(e)}`).toBeLessThanOrEqual(1);
    }
  });

  it('rejects mismatched shapes on both backends', () => {
    const g = gpu();
    const x = new Float32Array(12);
    for (const be of [cpu, g] as const) {
      const bx = be.upload(x, [3, 4]);
      expect(() => be.linear(bx as never, be.upload(new Float32Array(10), [2, 5]) as never)).toThrow(/K=4.*K=5/);
      expect(() =>
        be.linear(bx as never, be.upload(new Float32Array(8), [2, 4]) as never, be.upload(new Float32Array(3), [3]) as never),
      ).toThrow(/bias must be \[2\]/);
      expect(() => be.linear(bx as never, be.upload(new Float32Array(8), [8]) as never)).toThrow(/W must be \[N, K\]/);
    }
  });
});

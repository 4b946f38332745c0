// symmetricLinear: X·Wᵀ known to be symmetric, computed on the upper triangle and mirrored. The GPU
// result against the CPU twin and a float64 reference, on both matmul cores and their tile
// configurations, at shapes that are not multiples of the tile or of 4, one row, and the row-chunked
// and column-split paths (where tiles start below, on and above the diagonal of the whole product).
import { describe, expect, it } from 'vitest';
import { MATMUL_RR_GPU, MATMUL_RR_GPU_SMALL } from '../src/gpu/tuning.js';
import { type MatmulOptions, symmetricLinear } from '../src/kernels/gpu/linear.js';
import { randArray, useBackends } from './helpers.js';

const { gpu, cpu } = useBackends();

/**
 * The GPU's and the twin's result for X [n×K] and W (W = X unless `general`), checked: exactly
 * symmetric, and the upper triangle within f32 accumulation error of Σ_k x·w in float64.
 */
async function check(n: number, K: number, opts: MatmulOptions, general: boolean, seed: number): Promise<void> {
  const x = randArray(n * K, seed);
  const w = general ? randArray(n * K, seed + 1) : x;
  const g = gpu();
  const y = await g.read(symmetricLinear(g.ctx, g.upload(x, [n, K]), g.upload(w, [n, K]), opts));
  const yc = cpu.symmetricLinear(cpu.upload(x, [n, K]), cpu.upload(w, [n, K]));
  expect(y.length).toBe(n * n);
  expect(yc.shape).toEqual([n, n]);
  const what = `${n}×${K} ${JSON.stringify(opts)}${general ? ' general' : ''}`;
  const rtol = 2e-5; // ≤ K·2⁻²⁴ of Σ|x·w| per output (K ≤ 300 here)
  let worst = 0;
  let twinWorst = 0;
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) {
      expect(y[i * n + j], `${what}: [${i}][${j}] mirrors [${j}][${i}]`).toBe(y[j * n + i]);
      expect(yc.data[i * n + j]).toBe(yc.data[j * n + i]);
      if (j < i) continue;
      let s = 0;
      let mag = 0;
      for (let k = 0; k < K; k++) {
        s += x[i * K + k] * w[j * K + k];
        mag += Math.abs(x[i * K + k] * w[j * K + k]);
      }
      worst = Math.max(worst, Math.abs(y[i * n + j] - s) / (rtol * mag + 1e-30));
      twinWorst = Math.max(twinWorst, Math.abs(yc.data[i * n + j] - s) / (rtol * mag + 1e-30));
    }
  }
  expect(worst, what).toBeLessThanOrEqual(1);
  expect(twinWorst, what).toBeLessThanOrEqual(1);
}

const SHAPES: [number, number][] = [
  [1, 8], // one row
  [5, 3], // K % 4 != 0: scalar loads
  [70, 20],
  [130, 67], // one past a 128 tile, K % 4 != 0
  [257, 64], // one past two 128 tiles
];

describe('symmetricLinear', () => {
  it.each([
    ['the tiled core', { kind: 'tiled' } as MatmulOptions],
    ['the register core, 128×128', { registerTile: MATMUL_RR_GPU }],
    ['the register core, 64×64', { registerTile: MATMUL_RR_GPU_SMALL }],
    ['the register core, non-square tiles, no prefetch', { registerTile: { WG_X: 8, WG_Y: 4, TM: 4, TN: 8, BK: 8, prefetch: false } }],
  ])('%s: exactly symmetric, the upper triangle as the product (Gram and general operands)', async (_name, opts) => {
    for (const [n, K] of SHAPES) {
      await check(n, K, opts, false, n + K);
      await check(n, K, opts, true, 2 * n + K);
    }
  });

  it('row chunks (X over the binding limit) and column splits (the work cap) skip only tiles below the diagonal', async () => {
    for (const kind of ['tiled', 'register'] as const) {
      // X [140 × 150] is 84 KB, over the 80 KB limit that its 78 KB result fits: bound in chunks of
      // rows, each at its own row of the product.
      await check(140, 150, { kind, maxBindingBytes: 80 * 1024 }, true, 3);
      // Column blocks of 32 outputs per dispatch: blocks before a row range are not launched.
      await check(300, 20, { kind, maxDispatchFlop: 2 * 300 * 20 * 32 }, true, 4);
    }
  });

  it('computes the whole product where the result does not fit one binding, and refuses non-square products', async () => {
    await check(100, 12, { maxBindingBytes: 32 * 1024 }, false, 6); // 100² f32 = 40 KB
    const g = gpu();
    expect(() => symmetricLinear(g.ctx, g.upload(new Float32Array(6), [2, 3]), g.upload(new Float32Array(9), [3, 3]))).toThrow(
      'symmetricLinear: expected two [n × K] matrices, got [2,3] and [3,3]',
    );
    expect(() => cpu.symmetricLinear(cpu.upload(new Float32Array(6), [2, 3]), cpu.upload(new Float32Array(9), [3, 3]))).toThrow(/symmetricLinear/);
  });
});

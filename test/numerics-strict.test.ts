// Numerics that must not fail silently: the float64 eigensolver refuses non-finite input and says
// when it does not converge; the row cosine does not overflow for large rows (GPU and CPU twin).
import { describe, expect, it } from 'vitest';
import { eighF64 } from '../src/kernels/cpu/linalg.js';
import { useBackends } from './helpers.js';

describe('numerics', () => {
  const { gpu, cpu } = useBackends();

  it('eighF64 refuses non-finite entries, naming the entry', () => {
    const a = Float64Array.from([2, 1, 1, 3]);
    expect(eighF64(a, 2).values[0]).toBeCloseTo((5 - Math.sqrt(5)) / 2, 12);
    a[1] = NaN;
    expect(() => eighF64(a, 2)).toThrow('eigendecomposition: entry (0, 1) of the 2×2 matrix is NaN (statistics must be finite)');
    a[1] = Infinity;
    expect(() => eighF64(a, 2)).toThrow('is Infinity');
  });

  it('row cosine of rows with large norms is 1, not 0 from an overflowed product (GPU = CPU)', async () => {
    const rows = 3;
    const D = 64;
    const x = new Float32Array(rows * D).map((_, i) => 1e17 * (1 + (i % 7)));
    for (const b of [gpu(), cpu] as const) {
      const t = (b.upload as (d: Float32Array, s: number[]) => unknown)(x, [rows, D]);
      const s = await (b as unknown as { read(t: unknown): Promise<Float32Array> }).read((b.rowCosineSum as (a: unknown, c: unknown) => unknown)(t, t));
      expect(s[0]).toBeCloseTo(rows, 4);
    }
  });
});

describe('statistics that are not finite are reported, not turned into 0', () => {
  it('Pearson correlation from non-finite moments throws; a zero variance still gives 0', async () => {
    const { pearsonFromMoments } = await import('../src/prune/stats-math.js');
    expect(pearsonFromMoments(1, 0, 4)).toBe(0);
    expect(pearsonFromMoments(2e200, 2e200, 2e200)).toBeCloseTo(1, 12); // no overflow of varX·varY
    expect(() => pearsonFromMoments(NaN, 1, 1)).toThrow('Pearson correlation: moments cov NaN, var 1, 1 are not finite (statistics overflowed?)');
    expect(() => pearsonFromMoments(1, Infinity, 1)).toThrow('are not finite');
  });
});

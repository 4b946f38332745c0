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

describe('degenerate calibration is reported', () => {
  it('one repeated token, too few positions: warnings in the report (and the CLI prints them)', async () => {
    const { calibrationWarnings } = await import('../src/prune/calibration.js');
    const { loadModelWeights } = await import('../src/model/load.js');
    const { bundled } = await import('../src/paths.js');
    const c = loadModelWeights(bundled.model()).config;
    const allBos = [Array(64).fill(1), Array(64).fill(1)];
    expect(calibrationWarnings(c, allBos)).toEqual([
      "calibration has 128 token positions, fewer than the widest module's 172 inputs: its statistics are rank-deficient (use more or longer samples)",
      "calibration uses only 1 distinct token ids: its statistics describe almost nothing of the model's inputs (use real text)",
    ]);
    const fixture = await import('./fixtures/stories260K-calib-32x128.json', { with: { type: 'json' } });
    expect(calibrationWarnings(c, fixture.default as number[][])).toEqual([]);

    const { spawnSync } = await import('node:child_process');
    const fs = await import('node:fs');
    const os = await import('node:os');
    const path = await import('node:path');
    const { packageRoot } = await import('../src/paths.js');
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'slimllm-degenerate-'));
    try {
      fs.writeFileSync(path.join(dir, 'calib.json'), JSON.stringify(allBos));
      const r = spawnSync(process.execPath, [path.join(packageRoot(), 'bin', 'slimllm.js'), 'prune', '--model', bundled.model(), '--out', path.join(dir, 'out'),
        '--layer-ratio', '0.2', '--calib-tokens', path.join(dir, 'calib.json'), '--device', 'cpu'], { encoding: 'utf8' });
      expect(r.status, r.stderr).toBe(0);
      expect(r.stderr).toContain('slimllm: warning: calibration uses only 1 distinct token ids');
      expect(JSON.parse(fs.readFileSync(path.join(dir, 'out', 'report.json'), 'utf8')).warnings).toHaveLength(2);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }, 120_000);
});

describe('regression recovery', () => {
  it('a kept-part variance that is only f32 rounding noise keeps the slope at 1', async () => {
    const { regressionFromCov } = await import('../src/prune/regression.js');
    // Two inputs, identical (C is rank 1); the kept weights cancel: w̃ = [1, -1 + 1e-9].
    const n = 2;
    const m2 = Float64Array.from([1, 1, 1, 1]);
    const w = Float32Array.from([1, -1 + 1e-7]);
    const r = regressionFromCov({ w, D: 1, n, mean: new Float32Array(2), count: 10, kept: [0, 1], m2 } as never);
    expect(r.summary.degenerate).toBe(1);
    expect(r.newWeight[0]).toBe(w[0]);
  });
});

describe('row cosine', () => {
  const { gpu, cpu } = useBackends();
  it('a zero row gives 0, a non-finite row a non-finite sum (GPU = CPU), not a silent 0', async () => {
    for (const b of [gpu(), cpu] as const) {
      const up = (d: number[]) => (b.upload as (d: Float32Array, s: number[]) => unknown)(Float32Array.from(d), [2, 2]);
      const read = async (t: unknown) => (await (b as unknown as { read(t: unknown): Promise<Float32Array> }).read(t))[0];
      const cos = (a: unknown, c: unknown) => (b.rowCosineSum as (a: unknown, c: unknown) => unknown)(a, c);
      expect(await read(cos(up([0, 0, 1, 0]), up([1, 1, 1, 0])))).toBeCloseTo(1, 6);
      expect(await read(cos(up([NaN, 0, 1, 0]), up([1, 1, 1, 0])))).toBeNaN();
    }
  });
});

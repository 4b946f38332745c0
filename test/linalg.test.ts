// Cholesky, Cholesky solves and spectralSigmoid: GPU (fp32) against the CPU twin (float64 inside), plus
// residual checks that do not depend on either backend being right. Sizes are deliberately
// awkward (not multiples of the 32-wide blocks or of any workgroup size).
import { describe, expect, it } from 'vitest';
import type { Backend, Tensor } from '../src/kernels/backend.js';
import { randn, useBackends } from './helpers.js';

const { gpu, cpu } = useBackends();
const SIZES = [1, 2, 3, 7, 64, 172];

/** A = XᵀX + εI with X [k×n], k = 2n + 4 (well conditioned, cond ≈ 35), entries ~ 1e5. */
function spd(n: number, seed: number): Float32Array {
  const k = 2 * n + 4;
  const x = randn(k * n, seed, 30);
  const a = new Float64Array(n * n);
  for (let r = 0; r < k; r++) {
    for (let i = 0; i < n; i++) {
      const xi = x[r * n + i];
      for (let j = 0; j < n; j++) a[i * n + j] += xi * x[r * n + j];
    }
  }
  let meanDiag = 0;
  for (let i = 0; i < n; i++) meanDiag += a[i * n + i] / n;
  for (let i = 0; i < n; i++) a[i * n + i] += 1e-3 * meanDiag;
  return Float32Array.from(a);
}

/** A random orthogonal [n×n] Q (columns orthonormalised by Gram–Schmidt, twice, in float64). */
function randomOrthogonal(n: number, seed: number): Float64Array {
  const g = randn(n * n, seed);
  const q = new Float64Array(n * n);
  for (let c = 0; c < n; c++) {
    const v = new Float64Array(n);
    for (let i = 0; i < n; i++) v[i] = g[i * n + c];
    for (let pass = 0; pass < 2; pass++) {
      for (let p = 0; p < c; p++) {
        let dot = 0;
        for (let i = 0; i < n; i++) dot += q[i * n + p] * v[i];
        for (let i = 0; i < n; i++) v[i] -= dot * q[i * n + p];
      }
    }
    let norm = 0;
    for (let i = 0; i < n; i++) norm += v[i] * v[i];
    norm = Math.sqrt(norm);
    for (let i = 0; i < n; i++) q[i * n + c] = v[i] / norm;
  }
  return q;
}

function frob(x: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < x.length; i++) s += x[i] * x[i];
  return Math.sqrt(s);
}

/** C = A·B in float64; A [r×k], B [k×c]. */
function matmul(a: ArrayLike<number>, b: ArrayLike<number>, r: number, k: number, c: number): Float64Array {
  const out = new Float64Array(r * c);
  for (let i = 0; i < r; i++) {
    for (let t = 0; t < k; t++) {
      const ait = a[i * k + t];
      for (let j = 0; j < c; j++) out[i * c + j] += ait * b[t * c + j];
    }
  }
  return out;
}

function transpose(a: ArrayLike<number>, r: number, c: number): Float64Array {
  const out = new Float64Array(r * c);
  for (let i = 0; i < r; i++) for (let j = 0; j < c; j++) out[j * r + i] = a[i * c + j];
  return out;
}

function relDiff(a: ArrayLike<number>, b: ArrayLike<number>, scale: number): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += (a[i] - b[i]) ** 2;
  return Math.sqrt(s) / scale;
}

async function run<T extends Tensor>(be: Backend<T>, data: Float32Array, shape: number[], f: (t: T) => T | Promise<T>) {
  const t = be.upload(data, shape);
  const out = await f(t);
  const res = await be.read(out);
  be.free(t);
  be.free(out);
  return res;
}

describe('cholesky', () => {
  for (const n of SIZES) {
    it(`n = ${n}: A = L·Lᵀ, L lower, GPU ≈ CPU`, async () => {
      const a = spd(n, 100 + n);
      const lg = await run(gpu(), a, [n, n], (t) => gpu().cholesky(t, `spd ${n}`));
      const lc = await run(cpu, a, [n, n], (t) => cpu.cholesky(t, `spd ${n}`));
      for (let i = 0; i < n; i++) for (let j = i + 1; j < n; j++) expect(lg[i * n + j]).toBe(0);
      // ‖A − L·Lᵀ‖/‖A‖: fp32 Cholesky's backward error is ~√n·u typically (u = 6e-8; measured
      // ≤ 1e-7 up to n = 172); the float64 CPU twin only pays the f32 rounding of L (≈ u).
      expect(relDiff(matmul(lg, transpose(lg, n, n), n, n, n), a, frob(a))).toBeLessThan(1e-6);
      expect(relDiff(matmul(lc, transpose(lc, n, n), n, n, n), a, frob(a))).toBeLessThan(3e-7);
      // Forward error ≲ cond(A) ≈ 35 × backward error (measured ≤ 1.1e-7).
      expect(relDiff(lg, lc, frob(lc))).toBeLessThan(5e-6);
    });
  }

  it('rejects a matrix that is not positive definite, naming it, on both backends', async () => {
    const a = new Float32Array([1, 0, 0, 0, -1, 0, 0, 0, 1]);
    for (const be of [gpu(), cpu] as Backend[]) {
      const t = be.upload(a, [3, 3]);
      await expect(be.cholesky(t, 'layer 3 down_proj covariance')).rejects.toThrow(
        /cholesky failed for 'layer 3 down_proj covariance': matrix is not positive definite \(pivot 1 = -1\)/,
      );
      be.free(t);
    }
  });

  it('rejects a pivot that turns negative only after elimination, past the first block', async () => {
    // A = M·D·Mᵀ with M unit-diagonal-dominant lower triangular and D = diag(1, …, -1 at 40, …):
    // Cholesky's pivots are D_jj·M_jj², so pivot 40 (in the second 32-column block) is the
    // first bad one, and the failure flag must survive the panel and trailing updates.
    const n = 50;
    const r = randn(n * n, 7, 0.1);
    const mm = new Float64Array(n * n);
    for (let i = 0; i < n; i++) for (let j = 0; j <= i; j++) mm[i * n + j] = i === j ? 2 : r[i * n + j];
    const md = Float64Array.from(mm);
    for (let i = 0; i < n; i++) md[i * n + 40] *= -1;
    const a = Float32Array.from(matmul(md, transpose(mm, n, n), n, n, n));
    for (const be of [gpu(), cpu] as Backend[]) {
      const t = be.upload(a, [n, n]);
      await expect(be.cholesky(t, 'indefinite')).rejects.toThrow(/'indefinite': matrix is not positive definite \(pivot 40 = -4(\.\d+)?\)/);
      be.free(t);
    }
  });

  it('rejects non-finite entries (lower or upper triangle) on both backends', async () => {
    const n = 7;
    for (const [i, j, v] of [
      [5, 2, NaN],
      [1, 4, Infinity],
    ] as const) {
      const a = spd(n, 3);
      a[i * n + j] = v;
      for (const be of [gpu(), cpu] as Backend[]) {
        const t = be.upload(a, [n, n]);
        await expect(be.cholesky(t, 'nan matrix')).rejects.toThrow(
          new RegExp(`cholesky failed for 'nan matrix': matrix has a non-finite value at \\[${i}, ${j}\\]`),
        );
        be.free(t);
      }
    }
  });
});

describe('choleskySolve', () => {
  for (const [n, m] of [
    [1, 1],
    [2, 3],
    [3, 1],
    [7, 5],
    [64, 17],
    [172, 40],
  ] as const) {
    it(`n = ${n}, m = ${m}: A·X = B, GPU ≈ CPU`, async () => {
      const a = spd(n, 200 + n);
      const b = randn(n * m, 300 + n, 100);
      const results: Float32Array[] = [];
      for (const be of [gpu(), cpu] as Backend[]) {
        const at = be.upload(a, [n, n]);
        const l = await be.cholesky(at, 'solve');
        const bt = be.upload(b, [n, m]);
        const x = be.choleskySolve(l, bt);
        results.push(await be.read(x));
        for (const t of [at, l, bt, x]) be.free(t);
      }
      const [xg, xc] = results;
      // ‖A·X − B‖/(‖A‖‖X‖) is a backward error: ≈ u for both (rounding X to f32 alone costs
      // up to u = 6e-8; measured ≤ 6e-8), 5e-7 leaves margin for fp32 factor + solves.
      for (const x of results) {
        expect(relDiff(matmul(a, x, n, n, m), b, frob(a) * frob(x))).toBeLessThan(5e-7);
      }
      // Forward error ≲ cond(A) ≈ 35 × backward error (measured ≤ 4e-7).
      expect(relDiff(xg, xc, frob(xc))).toBeLessThan(5e-6);
    });
  }

  it('accepts a vector right-hand side [n]', async () => {
    const n = 37;
    const a = spd(n, 11);
    const b = randn(n, 12);
    const be = gpu();
    const at = be.upload(a, [n, n]);
    const l = await be.cholesky(at, 'vector');
    const x = be.choleskySolve(l, be.upload(b, [n]));
    expect(x.shape).toEqual([n]);
    const xs = await be.read(x);
    expect(relDiff(matmul(a, xs, n, n, 1), b, frob(a) * frob(xs))).toBeLessThan(5e-7);
  });
});

describe('spectralSigmoid', () => {
  /** A = Q·diag(λ)·Qᵀ (float64, Q random orthogonal) and the exact Z = Q·diag(σ(λ/mean λ))·Qᵀ. */
  function psd(n: number, lambdas: number[], seed: number): { a: Float32Array; z: Float64Array } {
    const q = randomOrthogonal(n, seed);
    const mean = lambdas.reduce((s, l) => s + l, 0) / n;
    const w = lambdas.map((l) => 1 / (1 + Math.exp(-(mean > 0 ? l / mean : 0))));
    const a = new Float32Array(n * n);
    const z = new Float64Array(n * n);
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < n; j++) {
        let sa = 0;
        let sz = 0;
        for (let m = 0; m < n; m++) {
          const p = q[i * n + m] * q[j * n + m];
          sa += p * lambdas[m];
          sz += p * w[m];
        }
        a[i * n + j] = sa;
        z[i * n + j] = sz;
      }
    }
    return { a, z };
  }
  /** log-uniform spectrum over `spread`, one outlier `spread`× the largest, `zeros` exact zeros, times `scale`. */
  function spectrum(n: number, spread: number, zeros: number, scale: number, seed: number): number[] {
    const u = randn(n, seed);
    const l = Array.from({ length: n }, (_, i) => scale * Math.exp(Math.log(spread) * (0.5 * Math.tanh(u[i]))));
    if (n > 2) l[0] *= spread;
    for (let i = 1; i <= zeros && i < n; i++) l[i] = 0;
    return l;
  }

  const cases: [string, number, number, number, number][] = [
    // what, n, spread, zeros, scale
    ['1×1', 1, 1, 0, 3],
    ['3×3 with a zero eigenvalue', 3, 10, 1, 1],
    ['67×67, spread 1e3, entries ~1e5', 67, 1e3, 5, 1e5],
    ['130×130 (not a tile multiple), spread 1e5 outlier', 130, 1e5, 0, 1],
    ['172×172, rank-deficient, entries ~1e-3', 172, 100, 40, 1e-3],
  ];
  for (const [what, n, spread, zeros, scale] of cases) {
    it(`${what}: GPU (products only) ≈ CPU (eigh) ≈ the definition`, async () => {
      const { a, z } = psd(n, spectrum(n, spread, zeros, scale, 900 + n), 700 + n);
      const w = randn(n * 3, 50 + n); // three probe vectors: ‖Z·w‖² is what the FFN score uses
      for (const be of [gpu(), cpu] as Backend[]) {
        const t = be.upload(a, [n, n]);
        const out = await be.spectralSigmoid(t);
        expect(out.shape).toEqual([n, n]);
        const got = await be.read(out);
        be.free(t);
        be.free(out);
        // Entries are in [-1, 1]; fp32 products over ~25 steps, the expm1 doubling keeps errors
        // relative (measured ≤ 2e-6 on these cases). An eigh of A in fp32 costs the same order.
        let worst = 0;
        for (let i = 0; i < n * n; i++) worst = Math.max(worst, Math.abs(got[i] - z[i]));
        expect(worst, `${be.deviceName} max |Z − Z_exact|`).toBeLessThan(2e-5);
        for (let v = 0; v < 3; v++) {
          let exact = 0;
          let mine = 0;
          for (let i = 0; i < n; i++) {
            let e = 0;
            let m = 0;
            for (let j = 0; j < n; j++) {
              e += z[i * n + j] * w[v * n + j];
              m += got[i * n + j] * w[v * n + j];
            }
            exact += e * e;
            mine += m * m;
          }
          expect(Math.abs(mine / exact - 1), `${be.deviceName} ‖Z·w‖²`).toBeLessThan(5e-5);
        }
      }
    });
  }

  it('an all-zero matrix gives ½·I; non-finite or negative-trace input is an error on both backends', async () => {
    for (const be of [gpu(), cpu] as Backend[]) {
      const n = 4;
      const zero = be.upload(new Float32Array(n * n), [n, n]);
      const z = await be.spectralSigmoid(zero);
      expect(Array.from(await be.read(z))).toEqual([0.5, 0, 0, 0, 0, 0.5, 0, 0, 0, 0, 0.5, 0, 0, 0, 0, 0.5]);
      const bad = new Float32Array(n * n);
      bad[5] = Number.NaN;
      await expect(be.spectralSigmoid(be.upload(bad, [n, n]))).rejects.toThrow(/spectralSigmoid: the 4×4 matrix has non-finite entries/);
      const neg = new Float32Array(n * n);
      neg[0] = -1;
      await expect(be.spectralSigmoid(be.upload(neg, [n, n]))).rejects.toThrow(/negative trace/);
      await expect(be.spectralSigmoid(be.upload(new Float32Array(6), [2, 3]))).rejects.toThrow(/square/);
    }
  });
});

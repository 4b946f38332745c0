// Dense linear algebra on the CPU in float64 (results stored as f32): the reference twins of
// the GPU kernels. Cholesky–Crout, row-oriented triangular solves, and Householder
// tridiagonalisation + implicit QL (the classic EISPACK tred2/tql2, as in JAMA) for eigh.
import { pivotText, squareOrder } from '../shapes.js';
import { CpuTensor } from './tensor.js';

/**
 * Lower Cholesky factor L of A (A = L·Lᵀ; only the lower triangle of A is read, the strict
 * upper triangle of L is zero). Rejects, naming `name`, on a non-finite entry anywhere in A or a
 * pivot that is not positive (pivots are numbered from 0).
 */
export async function cholesky(a: CpuTensor, name: string): Promise<CpuTensor> {
  const n = squareOrder(a, 'cholesky');
  const A = a.data;
  for (let idx = 0; idx < n * n; idx++) {
    if (!Number.isFinite(A[idx])) {
      const i = Math.floor(idx / n);
      throw new Error(`cholesky failed for '${name}': matrix has a non-finite value at [${i}, ${idx - i * n}]`);
    }
  }
  const L = new Float64Array(n * n);
  for (let j = 0; j < n; j++) {
    const rj = j * n;
    let d = A[rj + j];
    for (let t = 0; t < j; t++) d -= L[rj + t] * L[rj + t];
    if (!(d > 0) || !Number.isFinite(d)) {
      throw new Error(`cholesky failed for '${name}': matrix is not positive definite (pivot ${j} = ${pivotText(d)})`);
    }
    const ljj = Math.sqrt(d);
    L[rj + j] = ljj;
    for (let i = j + 1; i < n; i++) {
      const ri = i * n;
      let s = A[ri + j];
      for (let t = 0; t < j; t++) s -= L[ri + t] * L[rj + t];
      L[ri + j] = s / ljj;
    }
  }
  return new CpuTensor(Float32Array.from(L), [n, n]);
}

/** Row i of X (m columns) loses coef × row t; a zero coefficient (the factor's zeros) costs nothing. */
function subtractRow(X: Float64Array, m: number, i: number, t: number, coef: number): void {
  if (coef === 0) return;
  const xi = i * m;
  const xt = t * m;
  for (let j = 0; j < m; j++) X[xi + j] -= coef * X[xt + j];
}

/** Row i of X (m columns) divided by the pivot d. */
function divideRow(X: Float64Array, m: number, i: number, d: number): void {
  const xi = i * m;
  for (let j = 0; j < m; j++) X[xi + j] /= d;
}

/** X = A⁻¹·B given A's Cholesky factor L [n×n]; B [n×m] (or [n]). */
export function choleskySolve(l: CpuTensor, b: CpuTensor): CpuTensor {
  const n = squareOrder(l, 'choleskySolve');
  if ((b.shape[0] ?? 0) !== n || b.shape.length > 2) {
    throw new Error(`choleskySolve: right-hand side [${b.shape}] does not match L [${l.shape}]`);
  }
  const m = b.shape.length === 2 ? b.shape[1] : 1;
  const L = l.data;
  const X = Float64Array.from(b.data);
  // Forward: L·Y = B, one row of Y (all m columns) at a time.
  for (let i = 0; i < n; i++) {
    for (let t = 0; t < i; t++) subtractRow(X, m, i, t, L[i * n + t]);
    divideRow(X, m, i, L[i * n + i]);
  }
  // Backward: Lᵀ·X = Y.
  for (let i = n - 1; i >= 0; i--) {
    for (let t = i + 1; t < n; t++) subtractRow(X, m, i, t, L[t * n + i]);
    divideRow(X, m, i, L[i * n + i]);
  }
  return new CpuTensor(Float32Array.from(X), b.shape);
}

/**
 * Eigenvalues (ascending) and eigenvectors (eigenvector m in column m of the row-major V) of the
 * symmetric part ½(A + Aᵀ), in float64. Non-finite input gives non-finite output.
 */
export function eighF64(A: ArrayLike<number>, n: number): { values: Float64Array; vectors: Float64Array } {
  const V = new Float64Array(n * n);
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) V[i * n + j] = 0.5 * (A[i * n + j] + A[j * n + i]);
  for (let k = 0; k < n * n; k++) {
    if (!Number.isFinite(V[k])) throw new Error(`eigendecomposition: entry (${Math.floor(k / n)}, ${k % n}) of the ${n}×${n} matrix is ${V[k]} (statistics must be finite)`);
  }
  const d = new Float64Array(n);
  const e = new Float64Array(n);
  if (n > 0) {
    tred2(n, V, d, e);
    tql2(n, V, d, e);
  }
  return { values: d, vectors: V };
}

/** Householder reduction to tridiagonal form (d: diagonal, e: sub-diagonal); V accumulates Q. */
function tred2(n: number, V: Float64Array, d: Float64Array, e: Float64Array): void {
  for (let j = 0; j < n; j++) d[j] = V[(n - 1) * n + j];
  for (let i = n - 1; i > 0; i--) {
    let scale = 0;
    let h = 0;
    for (let k = 0; k < i; k++) scale += Math.abs(d[k]);
    if (scale === 0) {
      e[i] = d[i - 1];
      for (let j = 0; j < i; j++) {
        d[j] = V[(i - 1) * n + j];
        V[i * n + j] = 0;
        V[j * n + i] = 0;
      }
    } else {
      for (let k = 0; k < i; k++) {
        d[k] /= scale;
        h += d[k] * d[k];
      }
      let f = d[i - 1];
      let g = Math.sqrt(h);
      if (f > 0) g = -g;
      e[i] = scale * g;
      h -= f * g;
      d[i - 1] = f - g;
      for (let j = 0; j < i; j++) e[j] = 0;
      for (let j = 0; j < i; j++) {
        f = d[j];
        V[j * n + i] = f;
        g = e[j] + V[j * n + j] * f;
        for (let k = j + 1; k <= i - 1; k++) {
          const vkj = V[k * n + j];
          g += vkj * d[k];
          e[k] += vkj * f;
        }
        e[j] = g;
      }
      f = 0;
      for (let j = 0; j < i; j++) {
        e[j] /= h;
        f += e[j] * d[j];
      }
      const hh = f / (h + h);
      for (let j = 0; j < i; j++) e[j] -= hh * d[j];
      for (let j = 0; j < i; j++) {
        f = d[j];
        g = e[j];
        for (let k = j; k <= i - 1; k++) V[k * n + j] -= f * e[k] + g * d[k];
        d[j] = V[(i - 1) * n + j];
        V[i * n + j] = 0;
      }
    }
    d[i] = h;
  }
  // Accumulate the transformations.
  for (let i = 0; i < n - 1; i++) {
    V[(n - 1) * n + i] = V[i * n + i];
    V[i * n + i] = 1;
    const h = d[i + 1];
    if (h !== 0) {
      for (let k = 0; k <= i; k++) d[k] = V[k * n + i + 1] / h;
      for (let j = 0; j <= i; j++) {
        let g = 0;
        for (let k = 0; k <= i; k++) g += V[k * n + i + 1] * V[k * n + j];
        for (let k = 0; k <= i; k++) V[k * n + j] -= g * d[k];
      }
    }
    for (let k = 0; k <= i; k++) V[k * n + i + 1] = 0;
  }
  for (let j = 0; j < n; j++) {
    d[j] = V[(n - 1) * n + j];
    V[(n - 1) * n + j] = 0;
  }
  V[(n - 1) * n + n - 1] = 1;
  e[0] = 0;
}

/** Implicit QL on the tridiagonal (d, e), rotating V; then sorts ascending. */
function tql2(n: number, V: Float64Array, d: Float64Array, e: Float64Array): void {
  for (let i = 1; i < n; i++) e[i - 1] = e[i];
  e[n - 1] = 0;
  let f = 0;
  let tst1 = 0;
  for (let l = 0; l < n; l++) {
    tst1 = Math.max(tst1, Math.abs(d[l]) + Math.abs(e[l]));
    let m = l;
    while (m < n - 1 && !(Math.abs(e[m]) <= EPS * tst1)) m++;
    if (m > l) f = convergeEigenvalue(n, V, d, e, l, m, f, tst1);
    d[l] += f;
    e[l] = 0;
  }
  sortEigenpairs(n, V, d);
}

/** Double precision's unit roundoff: the QL sweeps stop when an off-diagonal is below it (relative). */
const EPS = 2 ** -52;
/** QL iterations allowed per eigenvalue before the decomposition is declared failed. */
const MAX_QL_ITERATIONS = 100;

/**
 * QL iterations on the block l..m until e[l] is negligible; returns the accumulated shift f.
 * Throws when eigenvalue l does not converge.
 */
function convergeEigenvalue(
  n: number,
  V: Float64Array,
  d: Float64Array,
  e: Float64Array,
  l: number,
  m: number,
  f: number,
  tst1: number,
): number {
  let iter = 0;
  do {
    iter++;
    f = qlSweep(n, V, d, e, l, m, f);
  } while (Math.abs(e[l]) > EPS * tst1 && iter < MAX_QL_ITERATIONS);
  if (!(Math.abs(e[l]) <= EPS * tst1)) {
    throw new Error(`eigendecomposition: eigenvalue ${l} of ${n} did not converge in ${iter} QL iterations (off-diagonal ${e[l]})`);
  }
  return f;
}

/** One implicit-shift QL sweep over l..m (Wilkinson shift), rotating V; returns the new shift total. */
function qlSweep(n: number, V: Float64Array, d: Float64Array, e: Float64Array, l: number, m: number, f: number): number {
  let g = d[l];
  let p = (d[l + 1] - g) / (2 * e[l]);
  let r = Math.hypot(p, 1);
  if (p < 0) r = -r;
  d[l] = e[l] / (p + r);
  d[l + 1] = e[l] * (p + r);
  const dl1 = d[l + 1];
  let h = g - d[l];
  for (let i = l + 2; i < n; i++) d[i] -= h;
  f += h;
  p = d[m];
  let c = 1;
  let c2 = c;
  let c3 = c;
  const el1 = e[l + 1];
  let s = 0;
  let s2 = 0;
  for (let i = m - 1; i >= l; i--) {
    c3 = c2;
    c2 = c;
    s2 = s;
    g = c * e[i];
    h = c * p;
    r = Math.hypot(p, e[i]);
    e[i + 1] = s * r;
    s = e[i] / r;
    c = p / r;
    p = c * d[i] - s * g;
    d[i + 1] = h + s * (c * g + s * d[i]);
    rotateColumns(n, V, i, c, s);
  }
  p = (-s * s2 * c3 * el1 * e[l]) / dl1;
  e[l] = s * p;
  d[l] = c * p;
  return f;
}

/** Columns i and i+1 of V turned by the Givens rotation (c, s). */
function rotateColumns(n: number, V: Float64Array, i: number, c: number, s: number): void {
  for (let k = 0; k < n; k++) {
    const row = k * n;
    const h = V[row + i + 1];
    V[row + i + 1] = s * V[row + i] + c * h;
    V[row + i] = c * V[row + i] - s * h;
  }
}

/** Selection sort of eigenvalues with their vectors (n swaps at most). */
function sortEigenpairs(n: number, V: Float64Array, d: Float64Array): void {
  for (let i = 0; i < n - 1; i++) {
    let k = i;
    let p = d[i];
    for (let j = i + 1; j < n; j++) {
      if (d[j] < p) {
        k = j;
        p = d[j];
      }
    }
    if (k !== i) {
      d[k] = d[i];
      d[i] = p;
      for (let j = 0; j < n; j++) {
        const t = V[j * n + i];
        V[j * n + i] = V[j * n + k];
        V[j * n + k] = t;
      }
    }
  }
}

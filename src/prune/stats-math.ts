// Small float64 helpers shared by the pruning math (ratios, head groups, FFN channels, regression).
// Inputs arrive as Float32Array (downloaded from the GPU) or Float64Array; every sum here is done in
// JS numbers (float64) so the selection does not depend on fp32 accumulation order.

/** A dense vector or row-major matrix as the orchestrator hands it over. */
export type Vec = Float32Array | Float64Array;

/**
 * Streaming covariance statistics of a matrix X [count rows × n cols], as accumulated on the GPU:
 * `mean` [n], `m2` [n×n] row-major centred Gram matrix Σ_rows (x−μ)(x−μ)ᵀ (NOT divided by count).
 */
export interface CovMoments {
  mean: Vec;
  m2: Vec;
  count: number;
}

/**
 * Round to the nearest integer, ties to even — Python 3's `round()` on a float, which the reference
 * implementation uses for `round(r * units)` (so round(2.5) = 2, round(3.5) = 4).
 */
export function roundHalfEven(x: number): number {
  if (!Number.isFinite(x)) throw new Error(`roundHalfEven: value must be finite, got ${x}`);
  const f = Math.floor(x);
  const diff = x - f; // exact for doubles: f and x share the exponent range
  if (diff < 0.5) return f;
  if (diff > 0.5) return f + 1;
  return f % 2 === 0 ? f : f + 1;
}

/**
 * Indices that sort `values` (ascending or descending). Stable: equal values keep the lower index
 * first, so results are reproducible (torch.sort is not stable; ties are measure-zero on real data).
 */
export function stableArgsort(values: ArrayLike<number>, descending: boolean): number[] {
  const idx = Array.from({ length: values.length }, (_, i) => i);
  const sign = descending ? -1 : 1;
  idx.sort((a, b) => {
    const d = sign * (values[a] - values[b]);
    return d !== 0 ? d : a - b;
  });
  return idx;
}

/**
 * Pearson correlation from second moments (any common positive scale, e.g. population or M-scaled).
 * A zero variance gives 0: a constant column carries no correlation (the reference would produce
 * NaN there). Non-finite moments are an error, not a silent 0. Rounding may push |r| a hair past 1;
 * it is clamped.
 */
export function pearsonFromMoments(cov: number, varX: number, varY: number): number {
  if (!Number.isFinite(cov) || !Number.isFinite(varX) || !Number.isFinite(varY)) {
    throw new Error(`Pearson correlation: moments cov ${cov}, var ${varX}, ${varY} are not finite (statistics overflowed?)`);
  }
  if (!(varX > 0) || !(varY > 0)) return 0;
  const r = cov / (Math.sqrt(varX) * Math.sqrt(varY));
  return r > 1 ? 1 : r < -1 ? -1 : r;
}

// ---- argument checks (clear messages instead of silent garbage) ----

export function assertDim(name: string, v: number): void {
  if (!Number.isInteger(v) || v <= 0) throw new Error(`${name} must be a positive integer, got ${v}`);
}

export function assertLength(name: string, v: ArrayLike<number>, expected: number): void {
  if (v.length !== expected) throw new Error(`${name} has length ${v.length}, expected ${expected}`);
}

export function assertPositiveCount(count: number): void {
  if (!Number.isInteger(count) || count <= 0) throw new Error(`count must be a positive integer, got ${count}`);
}

/** Distinct integer indices in [0, n). */
export function assertIndexSet(name: string, idx: readonly number[], n: number): void {
  const seen = new Uint8Array(n);
  for (const i of idx) {
    if (!Number.isInteger(i) || i < 0 || i >= n) throw new Error(`${name}: index ${i} out of range [0, ${n})`);
    if (seen[i]) throw new Error(`${name}: index ${i} repeated`);
    seen[i] = 1;
  }
}

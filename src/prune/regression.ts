// Recovery by per-output-channel linear regression (docs/algorithm.md).
//
// For an output layer W [D × n] (o_proj or down_proj, row-major) with input h (statistics: mean μ,
// centred Gram m2, C = m2/M), kept input columns K and optional existing bias β:
//   x_c = W[c,K]·h[K]                (the pruned module's output before the new bias)
//   y_c = W[c,:]·h + β_c             (the unpruned module's output)
// The OLS fit y_c ≈ a_c·x_c + b_c gives a_c = Cov(x_c, y_c)/Var(x_c) (β shifts y only, so it does
// not enter a_c) and b_c = mean(y_c) − a_c·mean(x_c) = W[c,:]·μ + β_c − a_c·W[c,K]·μ[K].
// The pruned layer computes (a_c·W[c,K])·h[K] + b_c: the old bias is folded into b_c, not re-added.
import {
  type Vec,
  assertDim,
  assertIndexSet,
  assertLength,
  assertPositiveCount,
} from './stats-math.js';

/**
 * Optional covariance products (e.g. computed on the GPU), both [D × kept.length] row-major and
 * made with the SAME positive multiple s·C of the covariance (s = 1 with C = m2/M, or s = M with m2):
 */
export interface RegressionProducts {
  /** (W · C)[:, kept]: entry [c, i] = Σ_j W[c,j]·C[j, kept[i]] (all n input columns). */
  full: Vec;
  /** (W[:,kept] · C[kept,kept]): entry [c, i] = Σ_{j∈K} W[c,j]·C[j, kept[i]]. */
  kept: Vec;
}

export interface RegressionArgs {
  /** Output weight W [D × n], row-major. */
  w: Vec;
  D: number;
  n: number;
  /** [n] mean of the layer input h. */
  mean: Vec;
  /** [n×n] centred Gram matrix of h (not divided by count). Not read when `products` is given. */
  m2?: Vec | null;
  /** Rows M behind the statistics (> 0). a_c does not depend on it (a ratio of covariances). */
  count: number;
  /** Kept input columns (distinct); the new weight's columns follow this order. */
  kept: number[];
  /** [D] existing bias of the output layer, if any. */
  bias?: Vec | null;
  /** Precomputed products that replace the O(D·n·|K|) CPU work (see RegressionProducts). */
  products?: RegressionProducts | null;
}

export interface RegressionResult {
  /** [D] slopes a_c. */
  a: Float64Array;
  /** [D] intercepts b_c (old bias included). */
  b: Float64Array;
  /** [D × kept.length] = a_c · W[c, kept[i]]. */
  newWeight: Float32Array;
  /** [D] = b as float32. */
  newBias: Float32Array;
  summary: {
    meanA: number;
    minA: number;
    maxA: number;
    /** Output channels whose Var(x_c) is zero or rounding noise (or a non-finite fit): a_c = 1 there. */
    degenerate: number;
  };
}

/** Relative size below which a variance computed from f32 statistics is rounding noise. */
const F32_NOISE = 1e-5;

/**
 * Per-channel regression from covariance statistics. A Var(x_c) that is zero, negative or only f32
 * rounding noise, or a non-finite slope, gives a_c = 1 and b_c = mean(y_c) − mean(x_c) — never NaN;
 * non-finite statistics are an error. CPU cost without `products`: 2·D·|K|·n multiply-adds in
 * float64 (minutes for a 7B down_proj — supply GPU `products` there).
 */
export function regressionFromCov(args: RegressionArgs): RegressionResult {
  checkRegressionArgs(args);
  const { w, D, n, mean, kept } = args;
  const bias = args.bias ?? null;
  const nk = kept.length;
  const moments = args.products ? productMoments(args.products, nk) : covarianceMoments(args.m2 as Vec, n, kept);
  const a = new Float64Array(D);
  const b = new Float64Array(D);
  let degenerate = 0;
  const wk = new Float64Array(nk);
  for (let c = 0; c < D; c++) {
    const row = c * n;
    let meanX = 0;
    for (let i = 0; i < nk; i++) {
      wk[i] = w[row + kept[i]];
      meanX += wk[i] * mean[kept[i]];
    }
    let meanY = bias ? bias[c] : 0;
    for (let j = 0; j < n; j++) meanY += w[row + j] * mean[j];
    const { varX, varTerms, covXY } = moments(c, wk, w, row);
    if (!Number.isFinite(varX) || !Number.isFinite(covXY)) {
      throw new Error(`regression recovery: output channel ${c}: variance ${varX}, covariance ${covXY} are not finite (statistics overflowed?)`);
    }
    // A kept part with no variance — or one that is only the f32 rounding left after its terms
    // cancel (the statistics are f32) — cannot predict the channel: keep the slope at 1.
    let ac = covXY / varX;
    if (!(varX > F32_NOISE * varTerms) || !Number.isFinite(ac)) {
      ac = 1;
      degenerate++;
    }
    a[c] = ac;
    b[c] = meanY - ac * meanX;
  }
  return regressionResult(a, b, w, D, n, kept, degenerate);
}

function checkRegressionArgs(args: RegressionArgs): void {
  const { w, D, n, mean, count, kept } = args;
  assertDim('D', D);
  assertDim('n', n);
  assertLength('w', w, D * n);
  assertLength('mean', mean, n);
  assertPositiveCount(count);
  if (kept.length === 0) throw new Error('regressionFromCov: kept is empty');
  assertIndexSet('kept', kept, n);
  if (args.bias) assertLength('bias', args.bias, D);
  const nk = kept.length;
  if (args.products) {
    assertLength('products.full', args.products.full, D * nk);
    assertLength('products.kept', args.products.kept, D * nk);
  } else {
    if (!args.m2) throw new Error('regressionFromCov: either m2 or products is required');
    assertLength('m2', args.m2, n * n);
  }
}

/**
 * Var(x_c) and Cov(x_c, y_c) of output channel c, up to the common 1/count scale (it cancels in
 * the slope), with Σ|terms| of the variance: the scale its rounding error is relative to.
 * `wk` holds the channel's kept weights, `row` its offset in the full weight matrix.
 */
type ChannelMoments = (c: number, wk: Float64Array, w: Vec, row: number) => { varX: number; varTerms: number; covXY: number };

/** Moments from products made elsewhere (the device): row c of products.kept is W[c,K]·C[K,K], of products.full W[c,:]·C[:,K]. */
function productMoments(products: { full: Vec; kept: Vec }, nk: number): ChannelMoments {
  return (c, wk) => {
    let varX = 0;
    let varTerms = 0;
    let covXY = 0;
    const prow = c * nk;
    for (let i = 0; i < nk; i++) {
      const t = wk[i] * products.kept[prow + i];
      varX += t;
      varTerms += Math.abs(t);
      covXY += wk[i] * products.full[prow + i];
    }
    return { varX, varTerms, covXY };
  };
}

/**
 * Moments on the CPU: with w the full row and w̃ the same row with pruned columns zeroed,
 * Var(x) ∝ w̃ᵀ C w̃ and Cov(x, y) ∝ w̃ᵀ C w; both come from one contiguous pass over the kept rows of C.
 */
function covarianceMoments(C: Vec, n: number, kept: readonly number[]): ChannelMoments {
  const isKept = new Uint8Array(n);
  for (const j of kept) isKept[j] = 1;
  const wFull = new Float64Array(n);
  const wMasked = new Float64Array(n);
  return (_c, wk, w, row) => {
    for (let j = 0; j < n; j++) {
      wFull[j] = w[row + j];
      wMasked[j] = isKept[j] ? wFull[j] : 0;
    }
    let varX = 0;
    let varTerms = 0;
    let covXY = 0;
    for (let i = 0; i < kept.length; i++) {
      const crow = kept[i] * n;
      let sk = 0;
      let sa = 0;
      for (let j = 0; j < n; j++) {
        const cij = C[crow + j];
        sk += cij * wMasked[j];
        sa += cij * wFull[j];
      }
      varX += wk[i] * sk;
      varTerms += Math.abs(wk[i] * sk);
      covXY += wk[i] * sa;
    }
    return { varX, varTerms, covXY };
  };
}

/** W' = diag(a)·W[:, kept], b' = b, and the slopes' summary. */
function regressionResult(a: Float64Array, b: Float64Array, w: Vec, D: number, n: number, kept: readonly number[], degenerate: number): RegressionResult {
  const nk = kept.length;
  const newWeight = new Float32Array(D * nk);
  for (let c = 0; c < D; c++) {
    for (let i = 0; i < nk; i++) newWeight[c * nk + i] = a[c] * w[c * n + kept[i]];
  }
  let sumA = 0;
  let minA = Infinity;
  let maxA = -Infinity;
  for (let c = 0; c < D; c++) {
    sumA += a[c];
    minA = Math.min(minA, a[c]);
    maxA = Math.max(maxA, a[c]);
  }
  return { a, b, newWeight, newBias: Float32Array.from(b), summary: { meanA: sumA / D, minA, maxA, degenerate } };
}

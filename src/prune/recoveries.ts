// Recoveries of the output projection (o_proj / down_proj) over the kept input columns, selectable
// for any method: none, bias (FLAP's mean compensation), regression (the paper's per-channel fit) and
// lstsq (a full least-squares refit of the kept matrix with a bias, solved on the backend).
//
// Notation: input h [n] with mean μ and centred Gram m2 = M·C (device), output y = W·h + β,
// kept columns K, pruned columns P.
//   none:  W' = W[:,K], b' = β.
//   bias:  W' = W[:,K], b' = β + W[:,P]·μ_P   (the pruned inputs replaced by their means).
//   lstsq: minimise E‖W'·h_K + b' − y‖². Centring removes b': with y − E y = W·(h − μ),
//          W' = W·C[:,K]·C[K,K]⁻¹ and b' = E y − W'·μ_K = β + W·μ − W'·μ_K.
//          C[K,K] gets λ·I with λ = damping · mean(diag C[K,K]) (GPTQ-style; also keeps dead,
//          zero-variance kept channels SPD: their column of W' is 0 and their constant value
//          lands in b' through μ). All products use m2 (the 1/M cancels, λ is relative).
import type { Tensor } from '../kernels/backend.js';
import { outputProjection, type ModuleContext, type Recovered, type Recovery } from './module.js';
import { regressionProducts, takeColumns } from './products.js';
import { dampedSolve, keptDiagonal, keptSystem } from './solve.js';
import { regressionFromCov } from './regression.js';

export type RecoveryName = 'none' | 'regression' | 'bias' | 'lstsq';
export const RECOVERY_NAMES: readonly RecoveryName[] = ['none', 'regression', 'bias', 'lstsq'];

/** The paper's recovery: y_c ≈ a_c·x_c + b_c per output channel, from the statistics. */
export const regressionRecovery: Recovery = {
  name: 'regression',
  async recover<T extends Tensor>(ctx: ModuleContext<T>, keptCols: number[]) {
    const { w, bias, n } = outputProjection(ctx);
    const products = await regressionProducts(ctx.b, ctx.wOut, ctx.D, n, ctx.stats.m2, keptCols);
    const reg = regressionFromCov({ w, D: ctx.D, n, mean: ctx.stats.mean, count: ctx.stats.count, kept: keptCols, bias, products });
    return { weight: reg.newWeight, bias: reg.newBias, summary: reg.summary };
  },
};

export const noRecovery: Recovery = {
  name: 'none',
  async recover<T extends Tensor>(ctx: ModuleContext<T>, keptCols: number[]): Promise<Recovered> {
    const { w, bias, n } = outputProjection(ctx);
    return { weight: takeColumns(w, ctx.D, n, keptCols), bias: bias ? Float32Array.from(bias) : null };
  },
};

/** FLAP's bias compensation: b' = β + W[:, pruned]·mean(x_pruned). */
export const biasRecovery: Recovery = {
  name: 'bias',
  async recover<T extends Tensor>(ctx: ModuleContext<T>, keptCols: number[]): Promise<Recovered> {
    const { w, bias, n } = outputProjection(ctx);
    const { D } = ctx;
    const mean = ctx.stats.mean;
    const isKept = new Uint8Array(n);
    for (const j of keptCols) isKept[j] = 1;
    const out = new Float32Array(D);
    let shift = 0;
    for (let c = 0; c < D; c++) {
      const s = bias ? bias[c] : 0;
      let add = 0;
      for (let j = 0; j < n; j++) if (!isKept[j]) add += w[c * n + j] * mean[j];
      out[c] = s + add;
      shift += Math.abs(add);
    }
    return { weight: takeColumns(w, D, n, keptCols), bias: out, summary: { meanAbsShift: shift / D } };
  },
};

export interface LstsqOptions {
  /** λ relative to the mean diagonal of C[K,K] (default 0.01). */
  damping?: number;
  /** Extra tries, each with λ ×10, when the Cholesky factorisation still fails (default 4). */
  retries?: number;
}

/** The least-squares refit W' = W·C[:,K]·(C[K,K] + λI)⁻¹, b' = β + W·μ − W'·μ_K, on the backend. */
export function lstsqRecovery(o: LstsqOptions = {}): Recovery {
  const damping = o.damping ?? 0.01;
  const retries = o.retries ?? 4;
  if (!(damping >= 0) || !Number.isFinite(damping)) throw new Error(`lstsq damping must be finite and >= 0, got ${damping}`);
  return {
    name: 'lstsq',
    async recover<T extends Tensor>(ctx: ModuleContext<T>, keptCols: number[]): Promise<Recovered> {
      const { b, D } = ctx;
      const { w, bias, n } = outputProjection(ctx);
      if (keptCols.length === 0) throw new Error('lstsq: no kept columns');
      const where = `layer ${ctx.layer} ${ctx.kind === 'attention' ? 'o_proj' : 'down_proj'} kept covariance`;
      const { meanDiag, dead } = await keptDiagonal(b, ctx.stats.m2, n, keptCols, where);
      const system = keptSystem(b, ctx.stats.m2, ctx.wOut, keptCols);
      // All kept channels dead: any λ > 0 gives W' = 0 (Rᵀ is 0 there).
      const lambda0 = meanDiag > 0 ? damping * meanDiag : 1;
      const solved = await dampedSolve(b, system, lambda0, meanDiag, retries, where);
      const { lambda, tries } = solved;
      const x = await b.read(solved.X);
      b.free(solved.X);
      const refit = refitFromSolution(x, w, bias, ctx.stats.mean, D, n, keptCols);
      if (refit.nonFinite > 0) throw new Error(`lstsq: ${refit.nonFinite} non-finite weights solving '${where}' (λ = ${lambda}); raise lstsqDamping`);
      return {
        weight: refit.weight,
        bias: refit.bias,
        summary: { lambda, damping: meanDiag > 0 ? lambda / meanDiag : NaN, tries, deadKept: dead },
      };
    },
  };
}

/** W' [D × k] from the solution W'ᵀ, and b' = β + W·μ − W'·μ_K; counts non-finite weights. */
function refitFromSolution(x: Float32Array, w: Float32Array, bias: Float32Array | null, mean: Float32Array, D: number, n: number, keptCols: number[]): { weight: Float32Array; bias: Float32Array; nonFinite: number } {
  const k = keptCols.length;
  const weight = new Float32Array(D * k);
  const newBias = new Float32Array(D);
  let nonFinite = 0;
  for (let c = 0; c < D; c++) {
    let by = bias ? bias[c] : 0;
    for (let j = 0; j < n; j++) by += w[c * n + j] * mean[j];
    let bx = 0;
    for (let i = 0; i < k; i++) {
      const v = x[i * D + c];
      if (!Number.isFinite(v)) nonFinite++;
      weight[c * k + i] = v;
      bx += v * mean[keptCols[i]];
    }
    newBias[c] = by - bx;
  }
  return { weight, bias: newBias, nonFinite };
}

/** A recovery by name. */
export function recoveryByName(name: RecoveryName, o: { lstsqDamping?: number } = {}): Recovery {
  switch (name) {
    case 'none':
      return noRecovery;
    case 'bias':
      return biasRecovery;
    case 'regression':
      return regressionRecovery;
    case 'lstsq':
      return lstsqRecovery({ damping: o.lstsqDamping });
  }
}

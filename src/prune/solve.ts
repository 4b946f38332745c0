// Damped symmetric positive-definite solves on the backend, shared by the least-squares refit
// (recoveries.ts) and the error-aware selection (obs.ts): the ridge λ is relative to the mean
// variance of the columns involved, and a failed Cholesky factorisation is retried with more.
import type { Backend, Tensor } from '../kernels/backend.js';
import { columnsTransposed, deviceDiagonal, scaledIdentity } from './products.js';

/** The mean positive diagonal of m2[K,K] (λ's scale) and how many kept channels are dead (numerically constant). */
export async function keptDiagonal<T extends Tensor>(b: Backend<T>, m2: T, n: number, keptCols: number[], where: string): Promise<{ meanDiag: number; dead: number }> {
  const diag = await deviceDiagonal(b, m2, n);
  let diagSum = 0;
  let diagMax = 0;
  for (const j of keptCols) {
    const v = diag[j];
    // Non-finite statistics make every Cholesky fail: say so instead of retrying with more damping.
    if (!Number.isFinite(v)) throw new Error(`${where}: diagonal entry ${j} is ${v} (calibration statistics are not finite)`);
    if (v > 0) {
      diagSum += v;
      diagMax = Math.max(diagMax, v);
    }
  }
  const dead = keptCols.filter((j) => !(diag[j] > 1e-12 * diagMax)).length;
  return { meanDiag: diagSum / keptCols.length, dead };
}

/** The normal equations' pieces on the device: A = m2[K,K] [k × k] and Rᵀ = m2[K,:]·Wᵀ [k × D], with W [D × n] on the device. */
export function keptSystem<T extends Tensor>(b: Backend<T>, m2: T, w: T, keptCols: number[]): { A: T; Rt: T } {
  const Pt = columnsTransposed(b, m2, keptCols); // m2[:,K]ᵀ = m2[K,:]  [k × n]
  const A = b.gatherColumns(Pt, keptCols);
  const Rt = b.linear(Pt, w); // m2[K,:]·Wᵀ = (W·m2[:,K])ᵀ
  b.free(Pt);
  return { A, Rt };
}

/**
 * X = (A + λI)⁻¹·Rᵀ on the device (for the lstsq refit X = W'ᵀ [k × D]), through a Cholesky factorisation; a failed factorisation is retried
 * with λ ×10 up to `retries` times. Frees the system.
 */
export async function dampedSolve<T extends Tensor>(
  b: Backend<T>,
  system: { A: T; Rt: T },
  lambda0: number,
  meanDiag: number,
  retries: number,
  name: string,
): Promise<{ X: T; lambda: number; tries: number }> {
  const k = system.A.shape[0];
  let lambda = lambda0;
  try {
    for (let t = 0; ; t++) {
      const lam = b.upload(scaledIdentity(k, lambda), [k, k]);
      const Ad = b.add(system.A, lam);
      b.free(lam);
      let L: T;
      try {
        L = await b.cholesky(Ad, name);
      } catch (e) {
        if (t >= retries || !/cholesky/i.test((e as Error).message)) throw e;
        lambda = lambda > 0 ? lambda * 10 : 1e-6 * meanDiag;
        continue;
      } finally {
        b.free(Ad);
      }
      const X = b.choleskySolve(L, system.Rt);
      b.free(L);
      return { X, lambda, tries: t + 1 };
    }
  } finally {
    b.free(system.A);
    b.free(system.Rt);
  }
}


// CPU twin of the GPU matrix function (src/kernels/gpu/matfun.ts): the definition itself, through
// the float64 eigendecomposition — exact, and on the CPU cheaper than the GPU's 10 + s products.
import { eighF64 } from './linalg.js';
import { CpuTensor } from './tensor.js';

/** See Backend.spectralSigmoid. */
export function spectralSigmoid(a: CpuTensor): CpuTensor {
  const n = a.shape[0];
  if (a.shape.length !== 2 || a.shape[1] !== n) throw new Error(`spectralSigmoid: expected a square matrix, got [${a.shape}]`);
  for (let i = 0; i < a.data.length; i++) {
    if (!Number.isFinite(a.data[i])) throw new Error(`spectralSigmoid: the ${n}×${n} matrix has non-finite entries`);
  }
  let trace = 0;
  for (let i = 0; i < n; i++) trace += a.data[i * n + i];
  if (trace < 0) throw new Error(`spectralSigmoid: the ${n}×${n} matrix has a negative trace (${trace}); it must be positive semi-definite`);
  const { values, vectors: V } = eighF64(a.data, n);
  const w = eigenWeights(values);
  // Z = V·diag(w)·Vᵀ, upper triangle then mirrored.
  const out = new Float32Array(n * n);
  const vw = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    for (let m = 0; m < n; m++) vw[m] = V[i * n + m] * w[m];
    for (let j = i; j < n; j++) {
      let s = 0;
      const row = j * n;
      for (let m = 0; m < n; m++) s += vw[m] * V[row + m];
      out[i * n + j] = s;
      out[j * n + i] = s;
    }
  }
  return new CpuTensor(out, [n, n]);
}

/**
 * Eigen-direction weights w_m = sigmoid(|λ_m| / mean(|λ|)). If every eigenvalue is 0 (constant
 * output) the ratio is defined as 0, giving w_m = ½ for all m (the reference would give NaN).
 */
export function eigenWeights(eigValues: ArrayLike<number>): Float64Array {
  const D = eigValues.length;
  let meanAbs = 0;
  for (let m = 0; m < D; m++) meanAbs += Math.abs(eigValues[m]);
  meanAbs /= Math.max(1, D);
  const w = new Float64Array(D);
  for (let m = 0; m < D; m++) w[m] = 1 / (1 + Math.exp(-(meanAbs > 0 ? Math.abs(eigValues[m]) / meanAbs : 0)));
  return w;
}


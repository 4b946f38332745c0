// Y = X·Wᵀ (+ b) on the CPU: the reference twin of shaders/lib/linear.wgsl and the benchmarks' baseline.
import { linearDims } from '../shapes.js';
import { CpuTensor } from './tensor.js';

export { linearDims };


/**
 * For each block of 4 rows of X and each row of W: four dot products that share the loads of the
 * W row, each accumulated in 4 interleaved partial sums (JS numbers, i.e. f64). W rows are walked
 * in blocks that stay in cache while all of X streams past them. K-contiguous on both sides.
 */
export function linear(x: CpuTensor, w: CpuTensor, bias?: CpuTensor | null): CpuTensor {
  const [M, K, N] = linearDims(x, w, bias);
  const X = x.data;
  const W = w.data;
  const b = bias?.data ?? null;
  const Y = new Float32Array(M * N);
  // W rows per block: ~256 KiB of W, so the block stays in L2 while X streams past it.
  const NB = Math.max(1, Math.min(N, Math.floor(65536 / Math.max(1, K))));
  const K4 = K - (K % 4);
  for (let n0 = 0; n0 < N; n0 += NB) {
    const n1 = Math.min(N, n0 + NB);
    let m = 0;
    for (; m + 4 <= M; m += 4) {
      const x0 = m * K, x1 = x0 + K, x2 = x1 + K, x3 = x2 + K;
      for (let n = n0; n < n1; n++) {
        const wo = n * K;
        let a0 = 0, a1 = 0, a2 = 0, a3 = 0;
        let b0 = 0, b1 = 0, b2 = 0, b3 = 0;
        let c0 = 0, c1 = 0, c2 = 0, c3 = 0;
        let d0 = 0, d1 = 0, d2 = 0, d3 = 0;
        let k = 0;
        for (; k < K4; k += 4) {
          const w0 = W[wo + k], w1 = W[wo + k + 1], w2 = W[wo + k + 2], w3 = W[wo + k + 3];
          a0 += X[x0 + k] * w0; a1 += X[x0 + k + 1] * w1; a2 += X[x0 + k + 2] * w2; a3 += X[x0 + k + 3] * w3;
          b0 += X[x1 + k] * w0; b1 += X[x1 + k + 1] * w1; b2 += X[x1 + k + 2] * w2; b3 += X[x1 + k + 3] * w3;
          c0 += X[x2 + k] * w0; c1 += X[x2 + k + 1] * w1; c2 += X[x2 + k + 2] * w2; c3 += X[x2 + k + 3] * w3;
          d0 += X[x3 + k] * w0; d1 += X[x3 + k + 1] * w1; d2 += X[x3 + k + 2] * w2; d3 += X[x3 + k + 3] * w3;
        }
        for (; k < K; k++) {
          const wk = W[wo + k];
          a0 += X[x0 + k] * wk; b0 += X[x1 + k] * wk; c0 += X[x2 + k] * wk; d0 += X[x3 + k] * wk;
        }
        const bn = b ? b[n] : 0;
        Y[m * N + n] = a0 + a1 + (a2 + a3) + bn;
        Y[(m + 1) * N + n] = b0 + b1 + (b2 + b3) + bn;
        Y[(m + 2) * N + n] = c0 + c1 + (c2 + c3) + bn;
        Y[(m + 3) * N + n] = d0 + d1 + (d2 + d3) + bn;
      }
    }
    for (; m < M; m++) {
      for (let n = n0; n < n1; n++) Y[m * N + n] = dot(X, m * K, W, n * K, K) + (b ? b[n] : 0);
    }
  }
  return new CpuTensor(Y, [...x.shape.slice(0, -1), N]);
}

/**
 * The twin of the GPU's symmetricLinear: X·Wᵀ of two [n × K] matrices whose product is known to be
 * symmetric, computed on the upper triangle (`dot`, as `linear`'s remainder rows) and mirrored,
 * so the result is exactly symmetric.
 */
export function symmetricLinear(x: CpuTensor, w: CpuTensor): CpuTensor {
  const [n, K, N] = linearDims(x, w, null);
  if (n !== N || x.shape.length !== 2) throw new Error(`symmetricLinear: expected two [n × K] matrices, got [${x.shape}] and [${w.shape}]`);
  const Y = new Float32Array(n * n);
  for (let m = 0; m < n; m++) {
    for (let c = m; c < n; c++) {
      const v = dot(x.data, m * K, w.data, c * K, K);
      Y[m * n + c] = v;
      Y[c * n + m] = v;
    }
  }
  return new CpuTensor(Y, [n, n]);
}

/** Σ_k X[xo + k]·W[wo + k] over K terms, in 4 interleaved partial sums (as `linear`'s blocks of rows). */
function dot(X: Float32Array, xo: number, W: Float32Array, wo: number, K: number): number {
  const K4 = K - (K % 4);
  let s0 = 0, s1 = 0, s2 = 0, s3 = 0;
  let k = 0;
  for (; k < K4; k += 4) {
    s0 += X[xo + k] * W[wo + k];
    s1 += X[xo + k + 1] * W[wo + k + 1];
    s2 += X[xo + k + 2] * W[wo + k + 2];
    s3 += X[xo + k + 3] * W[wo + k + 3];
  }
  for (; k < K; k++) s0 += X[xo + k] * W[wo + k];
  return s0 + s1 + (s2 + s3);
}

// Small symmetric positive-definite algebra in float64 on the host: the per-unit blocks of the
// error-aware selection are at most a head group wide, so they are factorised here, not on the device.

/** Lower Cholesky factor of a row-major [g × g] SPD matrix, or null when it is not (numerically) positive definite. */
export function choleskyF64(a: ArrayLike<number>, g: number): Float64Array | null {
  const l = new Float64Array(g * g);
  for (let i = 0; i < g; i++) {
    for (let j = 0; j <= i; j++) {
      let s = a[i * g + j];
      for (let k = 0; k < j; k++) s -= l[i * g + k] * l[j * g + k];
      if (i === j) {
        if (!(s > 0) || !Number.isFinite(s)) return null;
        l[i * g + i] = Math.sqrt(s);
      } else {
        l[i * g + j] = s / l[j * g + j];
      }
    }
  }
  return l;
}

/** X = A⁻¹·B for A = L·Lᵀ [g × g] and B [g × m], row-major. */
export function choleskySolveF64(l: Float64Array, g: number, bm: ArrayLike<number>, m: number): Float64Array {
  const x = Float64Array.from(bm);
  for (let c = 0; c < m; c++) {
    for (let i = 0; i < g; i++) {
      let s = x[i * m + c];
      for (let k = 0; k < i; k++) s -= l[i * g + k] * x[k * m + c];
      x[i * m + c] = s / l[i * g + i];
    }
    for (let i = g - 1; i >= 0; i--) {
      let s = x[i * m + c];
      for (let k = i + 1; k < g; k++) s -= l[k * g + i] * x[k * m + c];
      x[i * m + c] = s / l[i * g + i];
    }
  }
  return x;
}

/** A⁻¹ of an SPD [g × g] matrix; throws naming `what` when it is not positive definite. */
export function spdInverseF64(a: ArrayLike<number>, g: number, what: string): Float64Array {
  const l = choleskyF64(a, g);
  if (!l) throw new Error(`${what}: the block is not positive definite (raise lstsqDamping)`);
  const eye = new Float64Array(g * g);
  for (let i = 0; i < g; i++) eye[i * g + i] = 1;
  return choleskySolveF64(l, g, eye, g);
}

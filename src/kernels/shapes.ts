// Shape checks and helpers shared by both kernel sides (src/kernels/cpu and src/kernels/gpu), so
// the two twins accept the same shapes and word their refusals the same way.
import type { AttentionOptions, HalfDtype, Tensor } from './backend.js';

export type { HalfDtype };

/** Rows and columns of a tensor seen as a matrix (last dimension = columns). */
export function dims2(t: Tensor): [number, number] {
  const cols = t.shape[t.shape.length - 1] ?? 1;
  return [cols === 0 ? 0 : t.size / cols, cols];
}

/** The same as dims2, under the name the GPU kernels used. */
export const rowsCols = dims2;

/** The order n of a square [n × n] matrix; `what` names the op in the error. */
export function squareOrder(t: Tensor, what: string): number {
  const n = t.shape[0] ?? 0;
  if (t.shape.length !== 2 || t.shape[1] !== n) throw new Error(`${what}: expected a square matrix, got [${t.shape}]`);
  return n;
}

/** A failed Cholesky pivot as both backends print it. */
export function pivotText(v: number): string {
  return Number.isFinite(v) ? String(Number(v.toPrecision(4))) : String(v);
}

/** Checks q, k, v against the attention options; returns the rows and the width of q. */
export function attentionDims(q: Tensor, k: Tensor, v: Tensor, o: AttentionOptions): [number, number] {
  const { seqLen: T, nHeads: H, nKvHeads: G, headDim: d } = o;
  const [rows, qw] = dims2(q);
  if (qw !== H * d) throw new Error(`attention: q rows have ${qw} values, expected ${H}×${d}`);
  if (k.size !== rows * G * d || v.size !== rows * G * d) throw new Error(`attention: k/v must be [${rows}, ${G * d}]`);
  if (rows % T !== 0) throw new Error(`attention: ${rows} rows are not whole sequences of ${T}`);
  if (H % G !== 0) throw new Error(`attention: ${H} heads not divisible by ${G} KV heads`);
  return [rows, qw];
}

/** Checks the operands of a linear layer and returns [M, K, N] (X may be [..., K]). */
export function linearDims(
  x: { shape: readonly number[]; size: number },
  w: { shape: readonly number[] },
  bias?: { shape: readonly number[] } | null,
): [number, number, number] {
  if (x.shape.length < 1) throw new Error(`linear: X must have at least one dimension, got shape [${x.shape}]`);
  if (w.shape.length !== 2) throw new Error(`linear: W must be [N, K], got shape [${w.shape}]`);
  const K = x.shape[x.shape.length - 1];
  const [N, Kw] = w.shape;
  if (Kw !== K) throw new Error(`linear: X [${x.shape}] has K=${K} but W [${w.shape}] has K=${Kw}`);
  if (bias && (bias.shape.length !== 1 || bias.shape[0] !== N)) {
    throw new Error(`linear: bias must be [${N}] for W [${w.shape}], got shape [${bias.shape}]`);
  }
  const M = K === 0 ? x.shape.slice(0, -1).reduce((a, b) => a * b, 1) : x.size / K;
  return [M, K, N];
}

/** The element count of `shape` after checking `bits` holds exactly that many 16-bit values. */
export function checkHalfUpload(bits: Uint16Array, dtype: HalfDtype, shape: readonly number[]): number {
  if (dtype !== 'F16' && dtype !== 'BF16') throw new Error(`widenHalf: dtype ${JSON.stringify(dtype)} is not F16 or BF16`);
  const n = shape.reduce((a, b) => a * b, 1);
  if (bits.length !== n) throw new Error(`widenHalf: ${bits.length} values for shape [${shape}]`);
  return n;
}

// The O(D·n²) matrix products of the scoring and regression formulas, run on the backend's
// `linear` kernel (X·Wᵀ) against the covariance statistics that never leave the device. The host
// then does only O(D·n) work in float64. Covariances are symmetric, so C[:,S] read as rows is C[S,:].
import type { Backend, Tensor } from '../kernels/backend.js';
import type { RegressionProducts } from './regression.js';

/** W[:, cols] of a row-major [rows × n] matrix. */
export function takeColumns(w: Float32Array, rows: number, n: number, cols: readonly number[]): Float32Array {
  const out = new Float32Array(rows * cols.length);
  for (let r = 0; r < rows; r++) for (let j = 0; j < cols.length; j++) out[r * cols.length + j] = w[r * n + cols[j]];
  return out;
}

export function scaledIdentity(k: number, v: number): Float32Array {
  const out = new Float32Array(k * k);
  for (let i = 0; i < k; i++) out[i * k + i] = v;
  return out;
}

/** (M[:, cols])ᵀ [|cols| × rows] of a device matrix. */
export function columnsTransposed<T extends Tensor>(b: Backend<T>, m: T, cols: readonly number[]): T {
  const c = b.gatherColumns(m, cols);
  const t = b.transpose(c);
  b.free(c);
  return t;
}

/** X·Wᵀ of two device matrices, read back. */
async function readLinear<T extends Tensor>(b: Backend<T>, x: T, w: T): Promise<Float32Array> {
  const y = b.linear(x, w);
  try {
    return await b.read(y);
  } finally {
    b.free(y);
  }
}

/**
 * B_g = W_o[:,S_g] · M2[S_g,:] for every head group g (each [D × n]), for the Σ_gk table.
 * `wo` [D × n] and `m2`, the centred Gram matrix of the head outputs [n × n], are on the device.
 */
export async function headBlockProducts<T extends Tensor>(b: Backend<T>, wo: T, G: number, colsPerGroup: number, m2: T): Promise<Float32Array[]> {
  const out: Float32Array[] = [];
  for (let g = 0; g < G; g++) {
    const cols = Array.from({ length: colsPerGroup }, (_, j) => g * colsPerGroup + j);
    const woCols = b.gatherColumns(wo, cols); // W_o[:,S_g]  [D × cpg]
    const m2Cols = b.gatherColumns(m2, cols); // [n × cpg] = M2[:,S_g] = M2[S_g,:]ᵀ
    out.push(await readLinear(b, woCols, m2Cols));
    b.free(woCols);
    b.free(m2Cols);
  }
  return out;
}

/** Device bytes of M2's kept rows that regressionProducts gathers at once (it works through them in blocks). */
const KEPT_ROWS_BLOCK_BYTES = 64 * 2 ** 20;

/**
 * The two [D × |K|] products the regression needs, with M2 (scale M) as the covariance:
 * kept = W[:,K]·M2[K,K] and full = W·M2[:,K] = kept + W[:,P]·M2[P,K] (P the pruned columns), so
 * only M2's kept columns are multiplied: D·n·|K| multiply-adds in all instead of 2·D·n². M2's kept
 * rows are gathered a block at a time (`blockBytes`), so the device holds one block beside M2.
 */
export async function regressionProducts<T extends Tensor>(
  b: Backend<T>, w: T, D: number, n: number, m2: T, kept: readonly number[], blockBytes = KEPT_ROWS_BLOCK_BYTES,
): Promise<RegressionProducts> {
  const nk = kept.length;
  const pruned = complement(kept, n);
  const keptProduct = new Float32Array(D * nk);
  const full = new Float64Array(D * nk);
  const wk = b.gatherColumns(w, kept); // W[:,K]
  const wp = pruned.length > 0 ? b.gatherColumns(w, pruned) : null; // W[:,P]
  try {
    const step = Math.max(1, Math.floor(blockBytes / (n * 4)));
    for (let i0 = 0; i0 < nk; i0 += step) {
      const block = kept.slice(i0, i0 + step);
      const rows = b.gatherRows(m2, block); // M2[Kb,:]
      // Both products are queued before either is read: one wait per block.
      const partY = blockProduct(b, wk, rows, kept); // W[:,K]·M2[K,Kb]
      const restY = wp ? blockProduct(b, wp, rows, pruned) : null; // W[:,P]·M2[P,Kb]
      b.free(rows);
      try {
        const part = await b.read(partY);
        const rest = restY ? await b.read(restY) : null;
        placeBlock({ kept: keptProduct, full }, part, rest, D, nk, i0, block.length);
      } finally {
        b.free(partY);
        if (restY) b.free(restY);
      }
    }
  } finally {
    b.free(wk);
    if (wp) b.free(wp);
  }
  return { full, kept: keptProduct };
}

/** x·M2[cols, Kb] [D × |Kb|] on the device, from `rows` = M2[Kb, :] (M2 symmetric) and x [D × |cols|]. */
function blockProduct<T extends Tensor>(b: Backend<T>, x: T, rows: T, cols: readonly number[]): T {
  const g = b.gatherColumns(rows, cols); // M2[Kb, cols]
  const y = b.linear(x, g);
  b.free(g);
  return y;
}

/** Writes a block's [D × nb] products into columns i0 … i0 + nb of the [D × nk] results (full = part + rest). */
function placeBlock(out: { kept: Float32Array; full: Float64Array }, part: Float32Array, rest: Float32Array | null, D: number, nk: number, i0: number, nb: number): void {
  for (let c = 0; c < D; c++) {
    const src = c * nb;
    const dst = c * nk + i0;
    out.kept.set(part.subarray(src, src + nb), dst);
    if (rest) for (let j = 0; j < nb; j++) out.full[dst + j] = part[src + j] + rest[src + j];
    else for (let j = 0; j < nb; j++) out.full[dst + j] = part[src + j];
  }
}

/** 0 … n−1 without `kept` (ascending). */
function complement(kept: readonly number[], n: number): number[] {
  const isKept = new Uint8Array(n);
  for (const k of kept) isKept[k] = 1;
  const out: number[] = [];
  for (let j = 0; j < n; j++) if (!isKept[j]) out.push(j);
  return out;
}

/** C_Y ∝ W_down·M2_H·W_downᵀ [D × D] from W_down [D × F] on the device, left there for the matrix function. */
export function outputCovariance<T extends Tensor>(b: Backend<T>, wDown: T, m2: T): T {
  const t1 = b.linear(wDown, m2); // W_down·M2_H  [D × F]
  const cy = b.symmetricLinear(t1, wDown); // (W_down·M2_H)·W_downᵀ  [D × D], symmetric as M2_H is
  b.free(t1);
  return cy;
}

/**
 * ‖Z·W_down[:,k]‖² for every channel k [F], with Z = spectralSigmoid(C_Y) on the device: equals
 * Σ_m ⟨W_down[:,k], v_m⟩²·sigmoid(|λ_m|/mean|λ|)², the FFN score's eigen term, without eigenvectors.
 */
export async function weightedDownNorms<T extends Tensor>(b: Backend<T>, wDown: T, z: T): Promise<Float64Array> {
  const [D, F] = wDown.shape;
  const wt = b.transpose(wDown); // W_downᵀ [F × D]
  let q: Float32Array;
  try {
    q = await readLinear(b, wt, z); // W_downᵀ·Zᵀ = W_downᵀ·Z [F × D]
  } finally {
    b.free(wt);
  }
  const out = new Float64Array(F);
  for (let k = 0; k < F; k++) {
    let s = 0;
    for (let j = 0; j < D; j++) s += q[k * D + j] * q[k * D + j];
    out[k] = s;
  }
  return out;
}

/**
 * The diagonal of a device-resident symmetric [n × n] matrix, read block by block
 * (gather B columns, slice their B rows): O(n·B) values cross the bus instead of n².
 */
export async function deviceDiagonal<T extends Tensor>(b: Backend<T>, m: T, n: number, block = 256): Promise<Float64Array> {
  const out = new Float64Array(n);
  for (let s = 0; s < n; s += block) {
    const w = Math.min(block, n - s);
    const cols = Array.from({ length: w }, (_, i) => s + i);
    const g = b.gatherColumns(m, cols); // [n × w]
    const sq = b.sliceRows(g, s, w); // [w × w]
    b.free(g);
    const v = await b.read(sq);
    b.free(sq);
    for (let i = 0; i < w; i++) out[s + i] = v[i * w + i];
  }
  return out;
}

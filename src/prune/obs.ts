// Error-aware selection (optimal-brain-surgeon style structured pruning, as ZipLM and SlimGPT do
// it): units are chosen by the output error that remains AFTER the optimal least-squares refit of
// the output projection, not by a score the refit never sees.
//
// With H = C + λI the (damped) covariance of the projection's inputs and W [D × n] its current
// weights, removing the columns G of a unit and re-fitting the rest optimally costs
//   ΔE_G = tr(W_G · ((H⁻¹)_GG)⁻¹ · W_Gᵀ),
// and the refit itself is W ← W − W_G·((H⁻¹)_GG)⁻¹·(H⁻¹)_{G,:},  H⁻¹ ← H⁻¹ − (H⁻¹)_{:,G}·((H⁻¹)_GG)⁻¹·(H⁻¹)_{G,:}.
// Units go greedily, cheapest first: head groups one at a time, FFN channels in small batches
// (each batch removed jointly, which is exact for the batch). W and H⁻¹ stay on the device; only
// the per-unit diagonal blocks of H⁻¹ and of WᵀW come back, and the small blocks are inverted here.
// The method's refit is the lstsq recovery with the same ridge, run on the chosen columns.
import type { Backend, Tensor } from '../kernels/backend.js';
import { outputProjection, unitColumns, type ModuleContext, type PruningMethod, type Selection } from './module.js';
import { columnsTransposed, scaledIdentity } from './products.js';
import { dampedSolve, keptDiagonal } from './solve.js';
import { choleskyF64, choleskySolveF64, spdInverseF64 } from './spd.js';

export interface ObsOptions {
  /** Ridge λ relative to the mean input variance (the lstsq refit's lstsqDamping). */
  damping: number;
  /** Most greedy steps per module: FFN channels go in batches of ⌈nPrune / maxSteps⌉. */
  maxSteps?: number;
}

/** Each step reads blocks back and synchronises with the device: bound their number per module. */
export const DEFAULT_MAX_STEPS = 64;
/** Columns whose blocks are read back at once (one gather and one small product per chunk). */
const BLOCK_COLUMNS = 256;

export function obsMethod(o: ObsOptions): PruningMethod {
  if (!(o.damping >= 0) || !Number.isFinite(o.damping)) throw new Error(`obs damping must be finite and >= 0, got ${o.damping}`);
  return {
    name: 'obs',
    select: (ctx) => obsSelect(ctx, o.damping, o.maxSteps ?? DEFAULT_MAX_STEPS),
  };
}

async function obsSelect<T extends Tensor>(ctx: ModuleContext<T>, damping: number, maxSteps: number): Promise<Selection> {
  const { w, n } = outputProjection(ctx);
  const where = `layer ${ctx.layer} ${ctx.kind === 'attention' ? 'o_proj' : 'down_proj'} inputs`;
  const m = { w, D: ctx.D, n, m2: ctx.stats.m2, units: ctx.units, colsPerUnit: ctx.colsPerUnit, blockSize: ctx.blockSize };
  const path = await greedyRemoval(ctx.b, m, ctx.nPrune, damping, maxSteps, where);
  const gone = new Set(path.removed);
  const kept = Array.from({ length: ctx.units }, (_, u) => u).filter((u) => !gone.has(u));
  return { kept, details: { removalOrder: path.removed, stepErrors: path.steps.map((x) => x.error) } };
}

/** An output projection and the statistics of its inputs, as the greedy search needs them. */
export interface ObsModule<T extends Tensor> {
  /** W [D × n], row-major. */
  w: Float32Array;
  D: number;
  n: number;
  /** Centred Gram matrix of the inputs [n × n], on the device. */
  m2: T;
  units: number;
  colsPerUnit: number;
  /** Units per block that must each lose the same number (see ModuleContext.blockSize). */
  blockSize: number;
}

/**
 * Removes `nPrune` units greedily, cheapest refit error first; returns the removal order and each
 * step's units and error increase. Query heads leave one at a time, every KV group losing its equal
 * share; other units in batches of ⌈nPrune / maxSteps⌉.
 */
export async function greedyRemoval<T extends Tensor>(
  b: Backend<T>, m: ObsModule<T>, nPrune: number, damping: number, maxSteps: number, where: string,
): Promise<{ removed: number[]; steps: { units: number[]; error: number }[] }> {
  const g = m.colsPerUnit;
  const state = { w: b.upload(m.w, [m.D, m.n]), hinv: await dampedInverse(b, m.m2, m.n, damping, where) };
  const removed: number[] = [];
  const steps: { units: number[]; error: number }[] = [];
  const blocks = m.units / m.blockSize;
  const quota = nPrune / blocks;
  const batch = blocks > 1 ? 1 : Math.max(1, Math.ceil(nPrune / maxSteps));
  const gone = new Uint8Array(m.units);
  const takenInBlock = new Array<number>(blocks).fill(0);
  try {
    while (removed.length < nPrune) {
      const costs = await unitCosts(b, state, m.n, m.units, g, where);
      // Removed units, and every unit of a block that has lost its share, are out of the running.
      for (let u = 0; u < m.units; u++) if (gone[u] || takenInBlock[Math.floor(u / m.blockSize)] >= quota) costs[u] = Infinity;
      const take = cheapest(costs, Math.min(batch, nPrune - removed.length));
      steps.push({ units: take, error: take.reduce((s, u) => s + costs[u], 0) });
      await removeColumns(b, state, unitColumns(take, g), where);
      for (const u of take) {
        gone[u] = 1;
        takenInBlock[Math.floor(u / m.blockSize)]++;
      }
      removed.push(...take);
    }
  } finally {
    b.free(state.w);
    b.free(state.hinv);
  }
  return { removed, steps };
}

/** (m2 + λI)⁻¹ on the device, λ = damping · mean positive diagonal of m2 (1 when all are zero). */
async function dampedInverse<T extends Tensor>(b: Backend<T>, m2: T, n: number, damping: number, where: string): Promise<T> {
  const all = Array.from({ length: n }, (_, j) => j);
  const { meanDiag } = await keptDiagonal(b, m2, n, all, where);
  const system = { A: b.gatherColumns(m2, all), Rt: b.upload(scaledIdentity(n, 1), [n, n]) };
  const { X } = await dampedSolve(b, system, meanDiag > 0 ? damping * meanDiag : 1, meanDiag, 4, where);
  return X;
}

/** ΔE of removing each unit alone: tr(((H⁻¹)_uu)⁻¹ · (WᵀW)_uu), from the units' diagonal blocks. */
async function unitCosts<T extends Tensor>(b: Backend<T>, s: { w: T; hinv: T }, n: number, units: number, g: number, where: string): Promise<Float64Array> {
  const hBlocks = await diagonalBlocks(b, n, g, (cols) => gatherSquare(b, s.hinv, cols));
  const wBlocks = await diagonalBlocks(b, n, g, (cols) => columnGram(b, s.w, cols));
  const costs = new Float64Array(units);
  for (let u = 0; u < units; u++) {
    const l = choleskyF64(hBlocks[u], g);
    if (!l) {
      costs[u] = Infinity; // a block already removed (zero) or lost to rounding: never the cheapest
      continue;
    }
    const x = choleskySolveF64(l, g, wBlocks[u], g);
    let tr = 0;
    for (let i = 0; i < g; i++) tr += x[i * g + i];
    costs[u] = tr;
  }
  if (costs.every((c) => c === Infinity)) throw new Error(`${where}: no unit's inverse-covariance block is positive definite (raise lstsqDamping)`);
  return costs;
}

/**
 * The [g × g] diagonal blocks of a symmetric [n × n] quantity, unit by unit, read in chunks of
 * whole units: `square(cols)` gives the [|cols| × |cols|] block of the chunk on the device.
 */
async function diagonalBlocks<T extends Tensor>(b: Backend<T>, n: number, g: number, square: (cols: number[]) => T): Promise<Float64Array[]> {
  const perChunk = Math.max(1, Math.floor(BLOCK_COLUMNS / g));
  const out: Float64Array[] = [];
  for (let u0 = 0; u0 * g < n; u0 += perChunk) {
    const cols = Array.from({ length: Math.min(perChunk * g, n - u0 * g) }, (_, i) => u0 * g + i);
    const t = square(cols);
    const v = await b.read(t);
    b.free(t);
    const k = cols.length;
    for (let u = 0; u * g < k; u++) {
      const blk = new Float64Array(g * g);
      for (let i = 0; i < g; i++) for (let j = 0; j < g; j++) blk[i * g + j] = v[(u * g + i) * k + u * g + j];
      out.push(blk);
    }
  }
  return out;
}

/** M[cols, cols] of a symmetric device matrix (its columns `cols` read as rows). */
function gatherSquare<T extends Tensor>(b: Backend<T>, m: T, cols: number[]): T {
  const ct = columnsTransposed(b, m, cols); // M[cols, :]  [k × n]
  const sq = b.gatherColumns(ct, cols);
  b.free(ct);
  return sq;
}

/** W[:, cols]ᵀ·W[:, cols] [k × k] of a device matrix W [D × n]. */
function columnGram<T extends Tensor>(b: Backend<T>, w: T, cols: number[]): T {
  const wct = columnsTransposed(b, w, cols); // W[:, cols]ᵀ  [k × D]
  const gram = b.linear(wct, wct);
  b.free(wct);
  return gram;
}

/** The `count` lowest costs (ties: the lower unit first), ascending by unit. */
function cheapest(costs: Float64Array, count: number): number[] {
  const order = Array.from(costs.keys()).sort((a, c) => costs[a] - costs[c] || a - c);
  return order.slice(0, count).sort((a, c) => a - c);
}

/** Removes the columns P jointly: the optimal refit of W on the rest, and H⁻¹ restricted to it. */
async function removeColumns<T extends Tensor>(b: Backend<T>, s: { w: T; hinv: T }, cols: number[], where: string): Promise<void> {
  const k = cols.length;
  const a = b.gatherColumns(s.hinv, cols); // (H⁻¹)[:, P]  [n × k]
  const hpp = gatherSquare(b, s.hinv, cols);
  const inv = spdInverseF64(await b.read(hpp), k, `${where}: (H⁻¹)_PP`);
  b.free(hpp);
  const negInv = b.upload(Float32Array.from(inv, (v) => -v), [k, k]);
  const wp = b.gatherColumns(s.w, cols); // W[:, P]  [D × k]
  const tw = b.linear(wp, negInv); // −W_P·((H⁻¹)_PP)⁻¹ (symmetric)
  const th = b.linear(a, negInv); // −(H⁻¹)_{:,P}·((H⁻¹)_PP)⁻¹
  b.free(wp);
  b.free(negInv);
  s.w = replaceWith(b, s.w, b.linear(tw, a)); // W + tw·(H⁻¹)_{P,:}
  s.hinv = replaceWith(b, s.hinv, b.linear(th, a)); // H⁻¹ + th·(H⁻¹)_{P,:}
  b.free(tw);
  b.free(th);
  b.free(a);
}

/** x + delta, freeing both. */
function replaceWith<T extends Tensor>(b: Backend<T>, x: T, delta: T): T {
  const y = b.add(x, delta);
  b.free(x);
  b.free(delta);
  return y;
}

// Attention head-group selection (docs/algorithm.md): holistic Pearson score + greedy swaps.
//
// The reference materialises every group's o_proj contribution O_g = Z[:,S_g]·W_o[:,S_g]ᵀ (M×D per
// group). Here everything is derived from the covariance C of Z instead, through the per-channel
// group cross-covariances Σ_gk[c] = W_o[c,S_g]·C[S_g,S_k]·W_o[c,S_k]ᵀ = Cov(O_g[:,c], O_k[:,c]):
// the variance of any sum of groups and its covariance with the full output Y are sums of Σ entries.
// Means are never needed: Pearson is centred.
//
// Layout conventions: W_o is row-major [D × n] (nn.Linear: rows are output channels), n = G·cpg,
// group g owns the contiguous columns [g·cpg, (g+1)·cpg) (cpg = q·d: its q query heads of size d).
// Σ is a Float64Array [G × G × D]: Σ_gk[c] at index (g·G + k)·D + c.
import {
  type Vec,
  assertDim,
  assertLength,
  pearsonFromMoments,
  stableArgsort,
} from './stats-math.js';

/** Validates W_o [D × G·colsPerGroup] and the group layout; returns n = G·colsPerGroup. */
export function checkShapes(wo: Vec, D: number, G: number, colsPerGroup: number): number {
  assertDim('D', D);
  assertDim('G', G);
  assertDim('colsPerGroup', colsPerGroup);
  const n = G * colsPerGroup;
  assertLength('wo', wo, D * n);
  return n;
}

/**
 * Σ from caller-supplied block products, so the O(D·n²) matmuls can run on the GPU.
 * @param blockProduct (g) → B_g [D × n] row-major = W_o[:,S_g] · C[S_g,:] (any scale s·C; `scale` is
 *   applied on top). Called once per group, in order 0..G−1; the array need not outlive the call.
 * @param scale multiplies the result (e.g. 1/count when the products were made with m2). Pearson
 *   scores are invariant to it; it only matters if Σ is used as an absolute covariance.
 * @returns Σ [G×G×D], Σ_gk[c] = scale·Σ_{j∈S_k} B_g[c,j]·W_o[c,j], symmetrised ((Σ_gk+Σ_kg)/2)
 *   because fp32 GPU products of a symmetric form are not exactly symmetric.
 */
export function groupCrossCovFromProducts(
  wo: Vec,
  D: number,
  G: number,
  colsPerGroup: number,
  blockProduct: (g: number) => Vec,
  scale = 1,
): Float64Array {
  const n = checkShapes(wo, D, G, colsPerGroup);
  const sigma = new Float64Array(G * G * D);
  for (let g = 0; g < G; g++) {
    const B = blockProduct(g);
    assertLength(`blockProduct(${g})`, B, D * n);
    for (let c = 0; c < D; c++) {
      const row = c * n;
      for (let k = 0; k < G; k++) {
        let s = 0;
        for (let j = k * colsPerGroup, e = j + colsPerGroup; j < e; j++) s += B[row + j] * wo[row + j];
        sigma[(g * G + k) * D + c] = s * scale;
      }
    }
  }
  for (let g = 0; g < G; g++) {
    for (let k = g + 1; k < G; k++) {
      for (let c = 0; c < D; c++) {
        const a = (g * G + k) * D + c;
        const b = (k * G + g) * D + c;
        const m = 0.5 * (sigma[a] + sigma[b]);
        sigma[a] = m;
        sigma[b] = m;
      }
    }
  }
  return sigma;
}

/** Per-channel sums that every score needs: R_g[c] = Σ_k Σ_gk[c] = Cov(O_g, Y) and T[c] = Var(Y). */
function rowSums(sigma: Float64Array, G: number, D: number): { R: Float64Array; T: Float64Array } {
  const R = new Float64Array(G * D);
  const T = new Float64Array(D);
  for (let g = 0; g < G; g++) {
    for (let k = 0; k < G; k++) {
      const off = (g * G + k) * D;
      for (let c = 0; c < D; c++) R[g * D + c] += sigma[off + c];
    }
    for (let c = 0; c < D; c++) T[c] += R[g * D + c];
  }
  return { R, T };
}

function checkSigma(sigma: Float64Array, G: number, D: number): void {
  assertDim('G', G);
  assertDim('D', D);
  assertLength('sigma', sigma, G * G * D);
}

/**
 * F(set) = Σ_c |pearson(Σ_{g∈set} O_g[:,c], Y[:,c])| evaluated from Σ (O(|set|²·D)).
 * A channel where either variance is zero contributes 0 (the reference would give NaN).
 */
export function headSetScore(sigma: Float64Array, G: number, D: number, set: readonly number[]): number {
  checkSigma(sigma, G, D);
  const { R, T } = rowSums(sigma, G, D);
  return setScore(sigma, R, T, G, D, set);
}

function setScore(sigma: Float64Array, R: Float64Array, T: Float64Array, G: number, D: number, set: readonly number[]): number {
  const v = new Float64Array(D);
  const cv = new Float64Array(D);
  for (const g of set) {
    for (let c = 0; c < D; c++) cv[c] += R[g * D + c];
    for (const k of set) {
      const off = (g * G + k) * D;
      for (let c = 0; c < D; c++) v[c] += sigma[off + c];
    }
  }
  let f = 0;
  for (let c = 0; c < D; c++) f += Math.abs(pearsonFromMoments(cv[c], v[c], T[c]));
  return f;
}

export interface HeadSelection {
  /** Kept groups, ascending. */
  kept: number[];
  /** Pruned groups, ascending. */
  pruned: number[];
  /** sim_g = F(all \ {g}) per group (higher = removing g disturbs the output less). */
  scores: number[];
  /** Groups by sim descending (stable); the first nPrune were the initial pruning choice. */
  rank: number[];
  /** F(kept set) before the greedy search. */
  fBefore: number;
  /** F(kept set) after it (≥ fBefore). */
  fAfter: number;
  /** Swaps the greedy search accepted. */
  swaps: number;
}

/**
 * Head-group choice from a precomputed Σ (see `groupCrossCov*`). Follows the reference code:
 * sim_g = F(all∖{g}); the nPrune highest-sim groups are pruned; then for each pruned group p in rank
 * order, every position j of the kept list (kept in rank order, swaps replace in place) is tried with
 * p in place of j; the best candidate is taken if it strictly raises f* (equal candidates: the
 * earlier position wins, as with the reference's `>` test).
 * [ext] With `blockSize` < G the units are query heads in KV groups of `blockSize` consecutive
 * units, and every block must lose the same number: the initial choice takes, in rank order, only
 * units whose block still has room, and a swap only exchanges units of the same block.
 * @param nPrune integer in [0, G−1] (at least one group must survive); with blocks, a multiple of
 *   the block count with at least one unit left in each block.
 */
export function selectHeadGroupsFromCrossCov(sigma: Float64Array, G: number, D: number, nPrune: number, blockSize = G): HeadSelection {
  checkSigma(sigma, G, D);
  const quota = blockQuota(G, nPrune, blockSize);
  const { R, T } = rowSums(sigma, G, D);
  const scores = removalScores(sigma, R, T, G, D);
  const rank = stableArgsort(scores, true);
  const { prunedRank, keptList } = initialChoice(rank, quota, blockSize);
  let fStar = setScore(sigma, R, T, G, D, keptList);
  const fBefore = fStar;
  let swaps = 0;
  const block = (u: number) => Math.floor(u / blockSize);
  for (const p of prunedRank) {
    const pos = bestSwap(sigma, R, T, G, D, keptList, p, fStar, (j) => block(j) === block(p));
    if (pos >= 0) {
      keptList[pos] = p;
      swaps++;
      // Re-evaluate from scratch so incremental rounding cannot drift across swaps.
      fStar = setScore(sigma, R, T, G, D, keptList);
    }
  }
  const keptSet = new Set(keptList);
  const kept = [...keptList].sort((a, b) => a - b);
  const pruned: number[] = [];
  for (let g = 0; g < G; g++) if (!keptSet.has(g)) pruned.push(g);
  return { kept, pruned, scores, rank, fBefore, fAfter: fStar, swaps };
}

/** Units each block loses; throws unless nPrune splits evenly and leaves a unit in every block. */
function blockQuota(G: number, nPrune: number, blockSize: number): number {
  if (!Number.isInteger(blockSize) || blockSize < 1 || G % blockSize !== 0) throw new Error(`blockSize ${blockSize} does not divide ${G} units`);
  const blocks = G / blockSize;
  if (!Number.isInteger(nPrune) || nPrune < 0 || nPrune % blocks !== 0 || nPrune / blocks > blockSize - 1) {
    const what = blocks === 1 ? `an integer in [0, ${G - 1}] (keep at least one of ${G} groups)` : `a multiple of ${blocks} blocks, at most ${blocks * (blockSize - 1)} (keep one unit in each block)`;
    throw new Error(`nPrune must be ${what}, got ${nPrune}`);
  }
  return nPrune / blocks;
}

/** sim_g = F(all∖{g}): with X = Y − O_g, Var = T − 2R_g + Σ_gg and Cov(X, Y) = T − R_g. */
function removalScores(sigma: Float64Array, R: Float64Array, T: Float64Array, G: number, D: number): number[] {
  const scores: number[] = [];
  for (let g = 0; g < G; g++) {
    let f = 0;
    for (let c = 0; c < D; c++) {
      const r = R[g * D + c];
      f += Math.abs(pearsonFromMoments(T[c] - r, T[c] - 2 * r + sigma[(g * G + g) * D + c], T[c]));
    }
    scores.push(f);
  }
  return scores;
}

/** The highest-ranked units whose block still has room are pruned; the rest, in rank order, kept. */
function initialChoice(rank: number[], quota: number, blockSize: number): { prunedRank: number[]; keptList: number[] } {
  const taken = new Map<number, number>();
  const prunedRank: number[] = [];
  const keptList: number[] = [];
  for (const u of rank) {
    const blk = Math.floor(u / blockSize);
    if ((taken.get(blk) ?? 0) < quota) {
      taken.set(blk, (taken.get(blk) ?? 0) + 1);
      prunedRank.push(u);
    } else {
      keptList.push(u);
    }
  }
  return { prunedRank, keptList };
}

/**
 * The position in `keptList` whose replacement by p raises F the most above fStar (−1: none does),
 * among the positions `allowed` admits. Each candidate S − j + p costs O(D) from the moments of S:
 * Var = Var_S − 2A_j + Σ_jj + 2(A_p − Σ_pj) + Σ_pp,  Cov = Cov_S − R_j + R_p.
 */
function bestSwap(
  sigma: Float64Array, R: Float64Array, T: Float64Array, G: number, D: number,
  keptList: number[], p: number, fStar: number, allowed: (j: number) => boolean,
): number {
  const diag = (g: number, c: number) => sigma[(g * G + g) * D + c];
  const A = new Float64Array(G * D); // A_x[c] = Σ_{k∈S} Σ_xk[c]
  for (const x of [...keptList, p]) {
    for (const k of keptList) {
      const off = (x * G + k) * D;
      for (let c = 0; c < D; c++) A[x * D + c] += sigma[off + c];
    }
  }
  const varS = new Float64Array(D);
  const covS = new Float64Array(D);
  for (const k of keptList) {
    for (let c = 0; c < D; c++) {
      varS[c] += A[k * D + c];
      covS[c] += R[k * D + c];
    }
  }
  let best = fStar;
  let bestPos = -1;
  keptList.forEach((j, pos) => {
    if (!allowed(j)) return;
    let f = 0;
    const pj = (p * G + j) * D;
    for (let c = 0; c < D; c++) {
      const v = varS[c] - 2 * A[j * D + c] + diag(j, c) + 2 * (A[p * D + c] - sigma[pj + c]) + diag(p, c);
      const cv = covS[c] - R[j * D + c] + R[p * D + c];
      f += Math.abs(pearsonFromMoments(cv, v, T[c]));
    }
    if (f > best) {
      best = f;
      bestPos = pos;
    }
  });
  return bestPos;
}

// σ(A/μ) as a matrix function on the GPU, without an eigendecomposition (the parallel-Jacobi eigh
// is dispatch-bound: ~1200 s for n = 2048 on lavapipe, 2.2 s on an H200). Everything is a matmul:
//   1. μ = trace(A)/n (= mean |λ| for a positive semi-definite A); s = ⌈log2(‖A‖∞/(μ·θ))⌉.
//   2. D = expm1(X), X = −A/(μ·2ˢ) (‖X‖ ≤ θ): Taylor series of degree 8 by Horner.
//   3. s doublings in the expm1 form, D ← 2D + D² (= exp(2Y) − 1). Squaring E = I + D directly
//      would double the absolute error of the eigen-directions with λ ≈ 0 at every step (f32:
//      ~1e-3 after 12 squarings); the expm1 form keeps them relative (~1e-6, see the tests).
//   4. Z = (I + E)⁻¹ = (2I + D)⁻¹ by Newton–Schulz: M's eigenvalues are in (1, 2], so from
//      Z₁ = 2α − α²M (α = 2/3) the residual ‖I − MZ‖ ≤ 1/9 squares at each step: 3 steps → 2e-8.
// Cost: 13 + s symmetric products of n × n, each half a general product's work (s grows with the
// spread of the spectrum). All iterates are polynomials in A:
// symmetric and commuting, so every product is symmetric: symmetricLinear computes its upper half.
import type { GpuContext, GpuTensor } from '../../gpu/context.js';
import { runProgram } from '../../gpu/program.js';
import { ROW_ITEM_WG } from '../../gpu/tuning.js';
import { squareOrder } from '../shapes.js';
import { symmetricLinear } from './linear.js';
import { perItemKernel } from './programs.js';

const COMBINE_UNIFORMS = { size: 'u32', n: 'u32', hasY: 'u32', a: 'f32', b: 'f32', c: 'f32' } as const;
/** a·X + b·Y + c·I on [n × n]; size = elements. */
const COMBINE = perItemKernel('matfun', 'combine', COMBINE_UNIFORMS);
/** Per row: Σ|a_rj| and a_rr; size = rows. */
const ROW_STATS = perItemKernel('matfun', 'rowstats', { n: 'u32' } as const, ROW_ITEM_WG);

export const MATFUN_PROGRAMS = [COMBINE, ROW_STATS];

/** ‖X‖∞ bound of the Taylor stage; degree 8 truncates at θ⁹/9! ≈ 5e-9. */
const THETA = 0.5;
const TAYLOR_DEGREE = 8;
const NEWTON_SCHULZ_STEPS = 3;

/** a·X + b·Y + c·I (Y null: a·X + c·I). */
function combine(ctx: GpuContext, x: GpuTensor, y: GpuTensor | null, a: number, b: number, c: number): GpuTensor {
  const n = x.shape[0];
  const out = ctx.tensor([n, n]);
  runProgram(ctx, COMBINE, {
    bindings: [x.buffer, (y ?? x).buffer, out.buffer],
    uniforms: { size: n * n, n, hasY: y ? 1 : 0, a, b: y ? b : 0, c },
    size: n * n,
  });
  return out;
}

/** See Backend.spectralSigmoid. */
export async function spectralSigmoid(ctx: GpuContext, a: GpuTensor): Promise<GpuTensor> {
  const n = squareOrder(a, 'spectralSigmoid');
  if (n === 0) return ctx.tensor([0, 0]);
  const rs = ctx.tensor([2 * n]);
  runProgram(ctx, ROW_STATS, { bindings: [a.buffer, rs.buffer], uniforms: { n }, size: n });
  const stats = await ctx.read(rs);
  ctx.free(rs);
  let trace = 0;
  let normInf = 0;
  for (let r = 0; r < n; r++) {
    normInf = Math.max(normInf, stats[2 * r]);
    trace += stats[2 * r + 1];
  }
  if (!Number.isFinite(trace) || !Number.isFinite(normInf)) {
    throw new Error(`spectralSigmoid: the ${n}×${n} matrix has non-finite entries`);
  }
  if (trace < 0) throw new Error(`spectralSigmoid: the ${n}×${n} matrix has a negative trace (${trace}); it must be positive semi-definite`);
  if (trace === 0 || normInf === 0) return combine(ctx, a, null, 0, 0, 0.5); // every λ = 0: σ(0)·I
  const mu = trace / n;
  const s = Math.max(0, Math.ceil(Math.log2(normInf / mu / THETA)));

  const x = combine(ctx, a, null, -1 / (mu * 2 ** s), 0, 0);
  // expm1(X) = X·(I + X/2·(I + X/3·(… (I + X/8))))
  let p = combine(ctx, x, null, 1 / TAYLOR_DEGREE, 0, 1);
  for (let k = TAYLOR_DEGREE - 1; k >= 2; k--) {
    const t = symmetricLinear(ctx, x, p);
    ctx.free(p);
    p = combine(ctx, t, null, 1 / k, 0, 1);
    ctx.free(t);
  }
  let d = symmetricLinear(ctx, x, p);
  ctx.free(p);
  ctx.free(x);
  for (let i = 0; i < s; i++) {
    const sq = symmetricLinear(ctx, d, d);
    const next = combine(ctx, d, sq, 2, 1, 0);
    ctx.free(sq);
    ctx.free(d);
    d = next;
  }
  const m = combine(ctx, d, null, 1, 0, 2); // I + exp(−A/μ)
  ctx.free(d);
  const alpha = 2 / 3;
  let z = combine(ctx, m, null, -alpha * alpha, 0, 2 * alpha);
  for (let i = 0; i < NEWTON_SCHULZ_STEPS; i++) {
    const mz = symmetricLinear(ctx, m, z);
    const r = combine(ctx, mz, null, -1, 0, 2); // 2I − M·Z
    ctx.free(mz);
    const next = symmetricLinear(ctx, z, r);
    ctx.free(r);
    ctx.free(z);
    z = next;
  }
  ctx.free(m);
  return z;
}

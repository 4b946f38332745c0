// σ(A/μ) as a matrix function on the GPU, without an eigendecomposition (the parallel-Jacobi eigh
// is dispatch-bound: ~1200 s for n = 2048 on lavapipe, 2.2 s on an H200). Everything is a matmul:
//   1. μ = trace(A)/n (= mean |λ| for a positive semi-definite A); s = ⌈log2(‖A‖∞/(μ·θ))⌉.
//   2. D = expm1(X), X = −A/(μ·2ˢ) (‖X‖ ≤ θ): Taylor series of degree 8, evaluated as
//      Paterson–Stockmeyer does, in powers of X³: D = B₀ + X³·(B₁ + X³·B₂) with each Bᵢ a
//      combination of I, X and X². Four products (X², X³ and two), where Horner needs seven.
//   3. s doublings in the expm1 form, D ← 2D + D² (= exp(2Y) − 1). Squaring E = I + D directly
//      would double the absolute error of the eigen-directions with λ ≈ 0 at every step (f32:
//      ~1e-3 after 12 squarings); the expm1 form keeps them relative (~1e-6, see the tests).
//   4. Z = (I + E)⁻¹ = (2I + D)⁻¹ by Newton–Schulz: M's eigenvalues are in (1, 2], so from
//      Z₁ = 2α − α²M (α = 2/3) the residual ‖I − MZ‖ ≤ 1/9 squares at each step: 3 steps → 2e-8.
// Cost: 10 + s symmetric products of n × n, each half a general product's work (s grows with the
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

/** 1/k! for k = 0 … TAYLOR_DEGREE. */
const INVERSE_FACTORIALS = Array.from({ length: TAYLOR_DEGREE + 1 }, (_, k) => {
  let f = 1;
  for (let i = 2; i <= k; i++) f *= i;
  return 1 / f;
});

/**
 * expm1(X) = Σₖ₌₁⁸ Xᵏ/k! for ‖X‖ ≤ θ, as B₀ + X³·(B₁ + X³·B₂) where Bᵢ = cᵢ₀·I + cᵢ₁·X + cᵢ₂·X²
 * holds the coefficients of X^(3i), X^(3i+1), X^(3i+2) (B₀ has no I term: the series starts at X).
 */
function expm1Taylor(ctx: GpuContext, x: GpuTensor): GpuTensor {
  const c = INVERSE_FACTORIALS;
  const x2 = symmetricLinear(ctx, x, x);
  const x3 = symmetricLinear(ctx, x2, x);
  const block = (i: number) => combine(ctx, x2, x, c[3 * i + 2], c[3 * i + 1], i === 0 ? 0 : c[3 * i]);
  const b2 = block(2);
  const t = symmetricLinear(ctx, x3, b2);
  ctx.free(b2);
  const b1 = block(1);
  const u = combine(ctx, t, b1, 1, 1, 0); // B₁ + X³·B₂
  ctx.free(t);
  ctx.free(b1);
  const v = symmetricLinear(ctx, x3, u);
  ctx.free(u);
  const b0 = block(0);
  const d = combine(ctx, v, b0, 1, 1, 0);
  for (const m of [v, b0, x2, x3]) ctx.free(m);
  return d;
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
  let d = expm1Taylor(ctx, x);
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

// GPU transformer kernels: RMSNorm, RoPE, causal GQA attention.
import type { GpuContext, GpuTensor } from '../../gpu/context.js';
import { type KernelProgram, runProgram } from '../../gpu/program.js';
import { ROW_ITEM_WG } from '../../gpu/tuning.js';
import type { AttentionOptions, RopeOptions } from '../backend.js';
import { attentionDims, rowsCols } from '../shapes.js';
import { perItemKernel, perRowKernel } from './programs.js';

/** Row-wise RMSNorm; size = rows. */
const RMSNORM = perRowKernel('rmsnorm', 'main', { rows: 'u32', cols: 'u32', eps: 'f32' } as const);
const ROPE_UNIFORMS = { rows: 'u32', nHeads: 'u32', headDim: 'u32', seqLen: 'u32', mode: 'u32', posOffset: 'u32', theta: 'f32' } as const;
/** One invocation per rotated pair; size = pairs. */
const ROPE = perItemKernel('rope', 'main', ROPE_UNIFORMS, ROW_ITEM_WG);
const ATTENTION_UNIFORMS = { rows: 'u32', seqLen: 'u32', nHeads: 'u32', nKvHeads: 'u32', headDim: 'u32', scale: 'f32' } as const;
/**
 * One invocation per (row, query head); size = rows × heads. Compiled per head dim (the variant,
 * prepended as `const HD`: it sizes a register array); the shader is validated with a small one.
 */
const ATTENTION: KernelProgram<typeof ATTENTION_UNIFORMS, number> = {
  ...perItemKernel<typeof ATTENTION_UNIFORMS, number>('attention', 'main', ATTENTION_UNIFORMS, ROW_ITEM_WG),
  defines: (headDim) => ({ HD: headDim }),
  sampleVariant: 8,
};

/** Largest head dim the attention kernel takes: its per-invocation register arrays grow with it. */
const MAX_HEAD_DIM = 256;

export const TRANSFORMER_PROGRAMS = [RMSNORM, ROPE, ATTENTION];

export function rmsnorm(ctx: GpuContext, x: GpuTensor, weight: GpuTensor, eps: number): GpuTensor {
  const [rows, D] = rowsCols(x);
  if (weight.size !== D) throw new Error(`rmsnorm: weight has ${weight.size} values, rows have ${D}`);
  const y = ctx.tensor(x.shape);
  runProgram(ctx, RMSNORM, { bindings: [x.buffer, weight.buffer, y.buffer], uniforms: { rows, cols: D, eps }, size: rows });
  return y;
}

export function rope(ctx: GpuContext, x: GpuTensor, o: RopeOptions): GpuTensor {
  const [rows, width] = rowsCols(x);
  if (width !== o.nHeads * o.headDim) throw new Error(`rope: rows have ${width} values, expected ${o.nHeads}×${o.headDim}`);
  if (o.headDim % 2 !== 0) throw new Error(`rope: head dim ${o.headDim} is odd`);
  const y = ctx.tensor(x.shape);
  const pairs = rows * o.nHeads * (o.headDim / 2);
  runProgram(ctx, ROPE, {
    bindings: [x.buffer, y.buffer],
    uniforms: { rows, nHeads: o.nHeads, headDim: o.headDim, seqLen: o.seqLen, mode: o.layout === 'interleaved' ? 0 : 1, posOffset: o.posOffset ?? 0, theta: o.theta },
    size: pairs,
  });
  return y;
}

export function attention(ctx: GpuContext, q: GpuTensor, k: GpuTensor, v: GpuTensor, o: AttentionOptions): GpuTensor {
  const { seqLen: T, nHeads: H, nKvHeads: G, headDim: d } = o;
  const [rows, qw] = attentionDims(q, k, v, o);
  if (d > MAX_HEAD_DIM) throw new Error(`attention: head dim ${d} above the kernel's ${MAX_HEAD_DIM}`);
  const out = ctx.tensor([rows, qw]);
  runProgram(ctx, ATTENTION, {
    bindings: [q.buffer, k.buffer, v.buffer, out.buffer],
    uniforms: { rows, seqLen: T, nHeads: H, nKvHeads: G, headDim: d, scale: 1 / Math.sqrt(d) },
    size: rows * H,
    variant: d,
  });
  return out;
}

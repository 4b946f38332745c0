// GPU transformer kernels: RMSNorm, RoPE, causal GQA attention.
import type { GpuContext, GpuTensor, ShaderSpec } from '../../gpu/context.js';
import type { AttentionOptions, RopeOptions } from '../backend.js';
import { flatGrid, rowsCols } from './grid.js';



// attention.wgsl is compiled per head dim (`HD`, prepended by the host); validated with HD = 8.
export const TRANSFORMER_SHADERS: ShaderSpec[] = ['rmsnorm', 'rope', { name: 'attention', defines: { HD: 8 } }];

export function rmsnorm(ctx: GpuContext, x: GpuTensor, weight: GpuTensor, eps: number): GpuTensor {
  const [rows, D] = rowsCols(x);
  if (weight.size !== D) throw new Error(`rmsnorm: weight has ${weight.size} values, rows have ${D}`);
  const y = ctx.tensor(x.shape);
  ctx.dispatch(ctx.pipeline('rmsnorm'), [x.buffer, weight.buffer, y.buffer], { u32: [rows, D], f32: [eps] }, flatGrid(ctx, rows, 1));
  return y;
}

export function rope(ctx: GpuContext, x: GpuTensor, o: RopeOptions): GpuTensor {
  const [rows, width] = rowsCols(x);
  if (width !== o.nHeads * o.headDim) throw new Error(`rope: rows have ${width} values, expected ${o.nHeads}×${o.headDim}`);
  if (o.headDim % 2 !== 0) throw new Error(`rope: head dim ${o.headDim} is odd`);
  const y = ctx.tensor(x.shape);
  const pairs = rows * o.nHeads * (o.headDim / 2);
  const u = [rows, o.nHeads, o.headDim, o.seqLen, o.layout === 'interleaved' ? 0 : 1, o.posOffset ?? 0];
  ctx.dispatch(ctx.pipeline('rope'), [x.buffer, y.buffer], { u32: u, f32: [o.theta] }, flatGrid(ctx, pairs, 64));
  return y;
}

export function attention(ctx: GpuContext, q: GpuTensor, k: GpuTensor, v: GpuTensor, o: AttentionOptions): GpuTensor {
  const { seqLen: T, nHeads: H, nKvHeads: G, headDim: d } = o;
  const [rows, qw] = rowsCols(q);
  if (qw !== H * d) throw new Error(`attention: q rows have ${qw} values, expected ${H}×${d}`);
  if (k.size !== rows * G * d || v.size !== rows * G * d) throw new Error(`attention: k/v must be [${rows}, ${G * d}]`);
  if (rows % T !== 0) throw new Error(`attention: ${rows} rows are not whole sequences of ${T}`);
  if (H % G !== 0) throw new Error(`attention: ${H} heads not divisible by ${G} KV heads`);
  if (d > 256) throw new Error(`attention: head dim ${d} above the kernel's 256`);
  const out = ctx.tensor([rows, qw]);
  ctx.dispatch(
    ctx.pipeline('attention', 'main', {}, { HD: d }),
    [q.buffer, k.buffer, v.buffer, out.buffer],
    { u32: [rows, T, H, G, d], f32: [1 / Math.sqrt(d)] },
    flatGrid(ctx, rows * H, 64),
  );
  return out;
}

// GPU widening of f16/bf16 checkpoint weights: the 16-bit words are uploaded as they were read
// (half the bytes of f32) and widened on the device, so no host loop touches every element.
import type { GpuContext, GpuTensor } from '../../gpu/context.js';
import { type KernelProgram, runProgram } from '../../gpu/program.js';
import { checkHalfUpload, type HalfDtype } from '../shapes.js';
import { alignedRowStep, formatBytes } from './grid.js';
import { perItemKernel } from './programs.js';

/** One invocation per 32-bit word (two halves); size = words; the variant picks bf16 or f16. */
const WIDEN: KernelProgram<{ n: 'u32' }, HalfDtype> = {
  ...perItemKernel<{ n: 'u32' }, HalfDtype>('widen', 'main', { n: 'u32' }),
  constants: (dtype) => ({ BF16: dtype === 'BF16' ? 1 : 0 }),
};

export const WIDEN_PROGRAMS = [WIDEN];

/** The words as a Float32Array view for upload (bytes copied as they are, never read as floats); odd counts padded by one half. */
function words(bits: Uint16Array): Float32Array {
  const n = Math.ceil(bits.length / 2);
  if (bits.length % 2 === 0 && bits.byteOffset % 4 === 0) return new Float32Array(bits.buffer, bits.byteOffset, n);
  const padded = new Uint16Array(2 * n);
  padded.set(bits);
  return new Float32Array(padded.buffer, 0, n);
}

/**
 * f32 tensor of `shape` from f16 or bf16 bits. A tensor whose f32 size exceeds one storage binding
 * is widened in word ranges whose offsets meet the storage alignment, one dispatch each.
 * `opts.maxBindingBytes` pretends a smaller binding limit (test hook).
 */
export function widenHalf(ctx: GpuContext, bits: Uint16Array, dtype: HalfDtype, shape: readonly number[], opts: { maxBindingBytes?: number } = {}): GpuTensor {
  const n = checkHalfUpload(bits, dtype, shape);
  const y = ctx.tensor(shape);
  if (n === 0) return y;
  const src = ctx.upload(words(bits), [Math.ceil(n / 2)]);
  try {
    const total = src.size;
    const maxBind = Math.min(ctx.limits.maxStorageBufferBindingSize, opts.maxBindingBytes ?? Infinity);
    const step = alignedRowStep(ctx.limits.minStorageBufferOffsetAlignment, 1, 4, 8);
    const chunk = total * 8 <= maxBind ? total : Math.floor(maxBind / 8 / step) * step;
    if (chunk < 1) throw new Error(`widenHalf: ${step} words (${formatBytes(step * 8)} widened) do not fit a ${formatBytes(maxBind)} storage binding`);
    for (let w0 = 0; w0 < total; w0 += chunk) {
      const w = Math.min(chunk, total - w0);
      const halves = Math.min(2 * w, n - 2 * w0);
      runProgram(ctx, WIDEN, {
        bindings: [
          { buffer: src.buffer, offset: w0 * 4, size: w * 4 },
          { buffer: y.buffer, offset: w0 * 8, size: halves * 4 },
        ],
        uniforms: { n: halves },
        size: w,
        variant: dtype,
      });
    }
  } finally {
    ctx.free(src);
  }
  return y;
}

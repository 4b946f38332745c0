// f16/bf16 → f32 widening on the host: the CPU twin of the GPU's widen kernel, and the loop every
// half read of a checkpoint runs (model/half.ts, model/safetensors.ts).
import type { HalfDtype } from '../backend.js';
import { checkHalfUpload } from '../shapes.js';
import { CpuTensor } from './tensor.js';

let f16Table: Float32Array | null = null;

/** f32 value of every f16 pattern (non-finite exponents: ±Infinity, or NaN for any payload). */
export function f16ToF32Table(): Float32Array {
  if (f16Table) return f16Table;
  const t = new Float32Array(65536);
  for (let h = 0; h < 65536; h++) {
    const sign = h & 0x8000 ? -1 : 1;
    const e = (h >> 10) & 0x1f;
    const m = h & 0x3ff;
    if (e === 0) t[h] = sign * m * 2 ** -24;
    else if (e === 31) t[h] = m ? NaN : sign * Infinity;
    else t[h] = sign * (1 + m / 1024) * 2 ** (e - 15);
  }
  return (f16Table = t);
}

/** Widens f16 bits to f32 in bulk (a table lookup per element). */
export function widenF16(bits: Uint16Array, out = new Float32Array(bits.length)): Float32Array {
  const t = f16ToF32Table();
  for (let i = 0; i < bits.length; i++) out[i] = t[bits[i]];
  return out;
}

/** Widens bf16 bits to f32 in bulk: each value is its bits in the high half of an f32. */
export function widenBf16(bits: Uint16Array, out = new Float32Array(bits.length)): Float32Array {
  const u = new Uint32Array(out.buffer, out.byteOffset, out.length);
  for (let i = 0; i < bits.length; i++) u[i] = bits[i] << 16;
  return out;
}

export function widenHalf(bits: Uint16Array, dtype: HalfDtype, shape: readonly number[]): CpuTensor {
  checkHalfUpload(bits, dtype, shape);
  return new CpuTensor(dtype === 'BF16' ? widenBf16(bits) : widenF16(bits), shape);
}

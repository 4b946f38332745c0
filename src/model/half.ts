// IEEE half (f16) and bfloat16 ⇄ f32 conversions for checkpoint storage. Narrowing rounds to
// nearest, ties to even (what PyTorch's .half() / .bfloat16() do), so a checkpoint we write in
// f16/bf16 holds the same bits PyTorch would.

import { f16ToF32Table } from '../kernels/cpu/widen.js';

// The bulk widening loops are the CPU twin of the GPU's widen kernel; every host read uses them.
export { widenBf16, widenF16 } from '../kernels/cpu/widen.js';

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

export function f16BitsToF32(h: number): number {
  return f16ToF32Table()[h & 0xffff];
}

export function bf16BitsToF32(b: number): number {
  u32[0] = (b & 0xffff) << 16;
  return f32[0];
}

export function f32ToF16Bits(v: number): number {
  f32[0] = v;
  return f32BitsToF16Bits(u32[0]);
}

/** f16 bits of the f32 whose bits are `x` (round to nearest, ties to even). */
function f32BitsToF16Bits(x: number): number {
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  let mant = x & 0x7fffff;
  if (exp === 255) return sign | 0x7c00 | (mant ? 0x200 : 0); // Inf / NaN
  const e = exp - 127 + 15;
  if (e >= 31) return sign | 0x7c00; // overflow → Inf
  if (e <= 0) {
    if (e < -10) return sign; // below half the smallest subnormal → ±0
    mant |= 0x800000;
    const shift = 14 - e;
    let h = mant >>> shift;
    const rem = mant & ((1 << shift) - 1);
    const half = 1 << (shift - 1);
    if (rem > half || (rem === half && h & 1)) h++;
    return sign | h;
  }
  let h = (e << 10) | (mant >>> 13);
  const rem = mant & 0x1fff;
  if (rem > 0x1000 || (rem === 0x1000 && h & 1)) h++; // a carry into the exponent is correct
  return sign | h;
}

/**
 * Narrows f32 values to f16 bits in bulk, bit for bit what f32ToF16Bits gives element by element;
 * written inline over the f32 bits because a per-element call dominated F16 saves.
 */
export function narrowF16(a: Float32Array, out = new Uint16Array(a.length)): Uint16Array {
  const x32 = new Uint32Array(a.buffer, a.byteOffset, a.length);
  for (let i = 0; i < a.length; i++) out[i] = f32BitsToF16Bits(x32[i]);
  return out;
}

/** Narrows f32 values to bf16 bits in bulk (what f32ToBf16Bits gives element by element). */
export function narrowBf16(a: Float32Array, out = new Uint16Array(a.length)): Uint16Array {
  const x32 = new Uint32Array(a.buffer, a.byteOffset, a.length);
  for (let i = 0; i < a.length; i++) {
    const x = x32[i];
    out[i] = (x & 0x7fffffff) > 0x7f800000 ? ((x >>> 16) | 0x40) & 0xffff : ((x + 0x7fff + ((x >>> 16) & 1)) >>> 16) & 0xffff;
  }
  return out;
}

export function f32ToBf16Bits(v: number): number {
  f32[0] = v;
  const x = u32[0];
  if ((x & 0x7fffffff) > 0x7f800000) return ((x >>> 16) | 0x40) & 0xffff; // quiet NaN
  return ((x + 0x7fff + ((x >>> 16) & 1)) >>> 16) & 0xffff;
}

/** Rounds every value to the nearest f16 (returns a new array): what a F16 save then load gives. */
export function roundToF16(a: Float32Array): Float32Array {
  const out = new Float32Array(a.length);
  for (let i = 0; i < a.length; i++) out[i] = f16BitsToF32(f32ToF16Bits(a[i]));
  return out;
}

/** Rounds every value to the nearest bf16 (returns a new array). */
export function roundToBf16(a: Float32Array): Float32Array {
  const out = new Float32Array(a.length);
  for (let i = 0; i < a.length; i++) out[i] = bf16BitsToF32(f32ToBf16Bits(a[i]));
  return out;
}

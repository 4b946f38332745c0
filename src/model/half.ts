// IEEE half (f16) and bfloat16 ⇄ f32 conversions for checkpoint storage. Narrowing rounds to
// nearest, ties to even (what PyTorch's .half() / .bfloat16() do), so a checkpoint we write in
// f16/bf16 holds the same bits PyTorch would.

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

let f16Table: Float32Array | null = null;

function buildF16Table(): Float32Array {
  const t = new Float32Array(65536);
  for (let h = 0; h < 65536; h++) {
    const sign = h & 0x8000 ? -1 : 1;
    const e = (h >> 10) & 0x1f;
    const m = h & 0x3ff;
    if (e === 0) t[h] = sign * m * 2 ** -24;
    else if (e === 31) t[h] = m ? NaN : sign * Infinity;
    else t[h] = sign * (1 + m / 1024) * 2 ** (e - 15);
  }
  return t;
}

export function f16BitsToF32(h: number): number {
  f16Table ??= buildF16Table();
  return f16Table[h & 0xffff];
}

/** Widens f16 bits to f32 in bulk (a table lookup per element: the hot loop of every f16 read). */
export function widenF16(bits: Uint16Array, out = new Float32Array(bits.length)): Float32Array {
  const t = (f16Table ??= buildF16Table());
  for (let i = 0; i < bits.length; i++) out[i] = t[bits[i]];
  return out;
}

/** Widens bf16 bits to f32 in bulk: each value is its bits in the high half of an f32. */
export function widenBf16(bits: Uint16Array, out = new Float32Array(bits.length)): Float32Array {
  const u = new Uint32Array(out.buffer, out.byteOffset, out.length);
  for (let i = 0; i < bits.length; i++) u[i] = bits[i] << 16;
  return out;
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

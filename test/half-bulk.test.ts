// The bulk f16/bf16 conversions (the loops every half read and F16/BF16 save runs) against the
// per-element conversions they replace, bit for bit, over every f16/bf16 pattern and a spread of
// f32 patterns that covers each exponent, the rounding boundaries, subnormals, infinities and NaN.
import { describe, expect, it } from 'vitest';
import { bf16BitsToF32, f16BitsToF32, f32ToBf16Bits, f32ToF16Bits, narrowBf16, narrowF16, widenBf16, widenF16 } from '../src/model/half.js';

const allHalves = Uint16Array.from({ length: 65536 }, (_, i) => i);

function f32Patterns(): Float32Array {
  const bits: number[] = [];
  for (let e = 0; e < 256; e++) {
    for (const m of [0, 1, 0xfff, 0x1000, 0x1001, 0x2000, 0x3000, 0x7fff, 0x8000, 0x18000, 0x3fffff, 0x400000, 0x7fe000, 0x7ff000, 0x7fffff]) {
      bits.push((e << 23) | m, ((e << 23) | m | 0x80000000) >>> 0);
    }
  }
  for (let k = 0; k < 200_000; k++) bits.push(Math.imul(k, 2654435761) >>> 0);
  return new Float32Array(Uint32Array.from(bits).buffer);
}

const u32 = (a: Float32Array) => new Uint32Array(a.buffer, a.byteOffset, a.length);

describe('bulk half conversions', () => {
  it('widenF16 gives f16BitsToF32 for every f16 pattern', () => {
    const want = Float32Array.from(allHalves, (h) => f16BitsToF32(h));
    expect(Array.from(u32(widenF16(allHalves)))).toEqual(Array.from(u32(want)));
  });

  it('widenBf16 gives bf16BitsToF32 for every bf16 pattern', () => {
    const want = Float32Array.from(allHalves, (h) => bf16BitsToF32(h));
    const got = widenBf16(allHalves);
    // NaNs: bf16BitsToF32 returns a JS number, which may not keep a NaN's payload; the bulk path copies bits.
    for (let h = 0; h < 65536; h++) {
      if (Number.isNaN(want[h])) expect(Number.isNaN(got[h])).toBe(true);
      else expect(u32(got)[h]).toBe(u32(want)[h]);
    }
    expect(u32(got)[0x7fc1]).toBe(0x7fc10000);
  });

  it('narrowF16 gives f32ToF16Bits for f32 patterns of every exponent', () => {
    const a = f32Patterns();
    const want = Uint16Array.from(a, (v) => f32ToF16Bits(v));
    const got = narrowF16(a);
    for (let i = 0; i < a.length; i++) {
      if (Number.isNaN(a[i])) expect(got[i] & 0x7fff).toBe(0x7e00);
      else if (got[i] !== want[i]) expect.fail(`f32 bits ${u32(a)[i].toString(16)}: ${got[i]} ≠ ${want[i]}`);
    }
  });

  it('narrowBf16 gives f32ToBf16Bits for f32 patterns of every exponent', () => {
    const a = f32Patterns();
    const want = Uint16Array.from(a, (v) => f32ToBf16Bits(v));
    const got = narrowBf16(a);
    for (let i = 0; i < a.length; i++) {
      if (Number.isNaN(a[i])) expect(got[i] & 0x7fc0).toBe(0x7fc0);
      else if (got[i] !== want[i]) expect.fail(`f32 bits ${u32(a)[i].toString(16)}: ${got[i]} ≠ ${want[i]}`);
    }
  });

  it('works on views that do not start at the buffer', () => {
    const buf = new Float32Array([1, 0.5, -2, 65504, 1e-7]);
    const view = buf.subarray(1, 4);
    expect(Array.from(narrowF16(view))).toEqual([f32ToF16Bits(0.5), f32ToF16Bits(-2), f32ToF16Bits(65504)]);
    expect(Array.from(widenF16(narrowF16(view)))).toEqual([0.5, -2, 65504]);
  });
});

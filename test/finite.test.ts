// The word-wise non-finite scan (src/model/finite.ts) against the obvious value-by-value one, on
// every packing it handles: f32, f16 and bf16, views that start off a 4-byte boundary, odd lengths,
// the values on either side of the exponent's all-ones boundary, and bad values at every place a
// block or word boundary could hide them.
import { describe, expect, it } from 'vitest';
import { firstNonFinite, firstNonFiniteStored } from '../src/model/finite.js';
import { bf16BitsToF32, f16BitsToF32 } from '../src/model/half.js';
import { assertFinite, assertFiniteStored } from '../src/model/safetensors.js';

type Half = 'F16' | 'BF16';

function reference(bits: Uint16Array, dtype: Half): number {
  const widen = dtype === 'F16' ? f16BitsToF32 : bf16BitsToF32;
  for (let i = 0; i < bits.length; i++) if (!Number.isFinite(widen(bits[i]))) return i;
  return -1;
}

/** Seeded finite 16-bit floats of either sign, subnormals and the largest finite values included. */
function finiteHalves(n: number, dtype: Half, seed: number): Uint16Array {
  const maxMagnitude = dtype === 'F16' ? 0x7bff : 0x7f7f;
  const bits = new Uint16Array(n);
  let s = seed;
  for (let i = 0; i < n; i++) {
    s = (s * 1103515245 + 12345) >>> 0;
    const magnitude = i % 7 === 0 ? maxMagnitude : i % 11 === 0 ? 1 : s % (maxMagnitude + 1);
    bits[i] = magnitude | (s & 0x10000 ? 0x8000 : 0);
  }
  return bits;
}

const BAD_HALVES: Record<Half, number[]> = {
  F16: [0x7c00, 0xfc00, 0x7e00, 0x7c01, 0xffff],
  BF16: [0x7f80, 0xff80, 0x7fc0, 0x7f81, 0xffff],
};
/** 8192 words per block (src/model/finite.ts): positions on both sides of block and word edges. */
const LENGTH = 2 * 8192 * 2 + 5;
const POSITIONS = [0, 1, 2, 3, 16383, 16384, 16385, 32767, 32768, 32769, LENGTH - 2, LENGTH - 1];

describe('firstNonFiniteStored on 16-bit floats', () => {
  for (const dtype of ['F16', 'BF16'] as const) {
    it(`${dtype}: finite data, the largest finite values and subnormals included, has none`, () => {
      const bits = finiteHalves(LENGTH, dtype, 7);
      expect(reference(bits, dtype)).toBe(-1);
      expect(firstNonFiniteStored({ dtype, bits })).toBeNull();
    });

    it(`${dtype}: every ±Inf/NaN pattern is found at every block and word edge, aligned or not`, () => {
      const backing = finiteHalves(LENGTH + 1, dtype, 3);
      for (const offset of [0, 1]) {
        const view = backing.subarray(offset, offset + LENGTH);
        for (const bad of BAD_HALVES[dtype]) {
          for (const at of POSITIONS) {
            const saved = view[at];
            view[at] = bad;
            const found = firstNonFiniteStored({ dtype, bits: view });
            view[at] = saved;
            expect(found?.index, `${dtype} 0x${bad.toString(16)} at ${at}, view offset ${offset}`).toBe(at);
            expect(Number.isFinite(found?.value)).toBe(false);
          }
        }
      }
    });

    it(`${dtype}: the first of two bad values is reported`, () => {
      const bits = finiteHalves(LENGTH, dtype, 5);
      bits[20000] = BAD_HALVES[dtype][0];
      bits[17] = BAD_HALVES[dtype][2];
      expect(firstNonFiniteStored({ dtype, bits })?.index).toBe(17);
    });

    it(`${dtype}: short and empty views, off a 4-byte boundary`, () => {
      const backing = finiteHalves(8, dtype, 9);
      for (const [start, end] of [[1, 1], [1, 2], [1, 4], [0, 1], [3, 6]]) {
        const view = backing.subarray(start, end);
        expect(firstNonFiniteStored({ dtype, bits: view })).toBeNull();
        if (view.length === 0) continue;
        view[view.length - 1] = BAD_HALVES[dtype][1];
        expect(firstNonFiniteStored({ dtype, bits: view })?.index).toBe(view.length - 1);
        expect(firstNonFiniteStored({ dtype, bits: view })?.index).toBe(reference(view, dtype));
        view[view.length - 1] = 0;
      }
    });
  }
});

describe('firstNonFinite on f32', () => {
  const a = new Float32Array(LENGTH);
  for (let i = 0; i < LENGTH; i++) a[i] = Math.sin(i) * (i % 5 === 0 ? 3.4e38 : i % 3 === 0 ? 1e-44 : 1);

  it('finite data, the largest finite values and subnormals included, has none', () => {
    expect(firstNonFinite(a)).toBe(-1);
    expect(firstNonFinite(new Float32Array([3.4028234663852886e38, -3.4028234663852886e38, 1.4e-45]))).toBe(-1);
  });

  it('±Inf and NaN are found at every block edge, also in a view with an offset', () => {
    const view = a.subarray(3);
    for (const bad of [Infinity, -Infinity, NaN]) {
      for (const at of [0, 1, 8191, 8192, 8193, view.length - 1]) {
        const saved = view[at];
        view[at] = bad;
        expect(firstNonFinite(view), `${bad} at ${at}`).toBe(at);
        view[at] = saved;
      }
    }
  });
});

describe('the assertions keep their messages', () => {
  it('name the tensor, the element and the value', () => {
    const bits = new Uint16Array(10);
    bits[6] = 0xfc00;
    expect(() => assertFiniteStored({ dtype: 'F16', bits }, 'm.safetensors: tensor \'w\'')).toThrow("m.safetensors: tensor 'w': element 6 is -Infinity (weights must be finite)");
    const f = new Float32Array(5);
    f[4] = NaN;
    expect(() => assertFinite(f, 'x')).toThrow('x: element 4 is NaN (weights must be finite)');
    expect(() => assertFinite([1, 2, Infinity], 'y')).toThrow('y: element 2 is Infinity (weights must be finite)');
  });
});

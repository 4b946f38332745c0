// The GPU's f16/bf16 widening against its CPU twin (the host's conversion), bit for bit, at awkward
// element counts, over every 16-bit pattern (subnormals, ±0, ±Inf, NaN), and in word ranges when a
// tensor does not fit one storage binding.
import { describe, expect, it } from 'vitest';
import type { HalfDtype } from '../src/kernels/backend.js';
import { widenHalf as gpuWiden } from '../src/kernels/gpu/widen.js';
import { f16BitsToF32, bf16BitsToF32 } from '../src/model/half.js';
import { useBackends } from './helpers.js';

const { gpu, cpu } = useBackends();

const bitsOf = (a: Float32Array) => Array.from(new Uint32Array(a.buffer, a.byteOffset, a.length));

/** Seeded 16-bit patterns, every exponent included. */
function patterns(n: number, seed: number): Uint16Array {
  const out = new Uint16Array(n);
  for (let i = 0; i < n; i++) out[i] = (Math.imul(i + seed, 2654435761) >>> 7) & 0xffff;
  return out;
}

async function gpuBits(bits: Uint16Array, dtype: HalfDtype, shape: number[]): Promise<number[]> {
  const t = gpu().widenHalf(bits, dtype, shape);
  expect(t.shape).toEqual(shape);
  const out = await gpu().read(t);
  gpu().free(t);
  return bitsOf(out);
}

describe('widenHalf', () => {
  for (const dtype of ['F16', 'BF16'] as const) {
    it(`${dtype}: every 16-bit pattern widens to the CPU twin's bits`, async () => {
      const all = Uint16Array.from({ length: 65536 }, (_, i) => i);
      const want = bitsOf(cpu.widenHalf(all, dtype, [256, 256]).data);
      expect(await gpuBits(all, dtype, [256, 256])).toEqual(want);
    });

    for (const shape of [[1], [3], [7, 13], [255], [257], [1, 513], [3, 1001]]) {
      it(`${dtype}: ${shape.join('×')} elements (odd counts, partial workgroups)`, async () => {
        const n = shape.reduce((a, b) => a * b, 1);
        const bits = patterns(n, n);
        expect(await gpuBits(bits, dtype, shape)).toEqual(bitsOf(cpu.widenHalf(bits, dtype, shape).data));
      });
    }

    it(`${dtype}: a view that starts at an odd half of its buffer`, async () => {
      const bits = patterns(101, 5).subarray(1, 100);
      expect(await gpuBits(bits, dtype, [99])).toEqual(bitsOf(cpu.widenHalf(bits, dtype, [99]).data));
    });

    it(`${dtype}: word ranges when the widened tensor exceeds a (pretended) binding limit`, async () => {
      const n = 5 * 1024 + 3;
      const bits = patterns(n, 11);
      const t = gpuWiden(gpu().ctx, bits, dtype, [n], { maxBindingBytes: 4096 });
      const got = bitsOf(await gpu().read(t));
      gpu().free(t);
      expect(got).toEqual(bitsOf(cpu.widenHalf(bits, dtype, [n]).data));
    });
  }

  it('the CPU twin is the host conversion (subnormals, ±Inf, NaN)', () => {
    const special = Uint16Array.from([0x0000, 0x8000, 0x0001, 0x03ff, 0x8001, 0x0400, 0x7bff, 0x7c00, 0xfc00, 0x7c01, 0xfe00, 0x3c00]);
    const f16 = cpu.widenHalf(special, 'F16', [special.length]).data;
    special.forEach((h, i) => expect(Object.is(f16[i], f16BitsToF32(h))).toBe(true));
    expect(f16[2]).toBe(2 ** -24);
    expect(f16[7]).toBe(Infinity);
    expect(bitsOf(f16)[9]).toBe(0x7fc00000);
    const bf16 = cpu.widenHalf(special, 'BF16', [special.length]).data;
    special.forEach((h, i) => expect(Object.is(bf16[i], bf16BitsToF32(h))).toBe(true));
  });

  it('refuses a count that does not match the shape, and an unknown dtype, on both sides', () => {
    for (const b of [gpu(), cpu] as const) {
      expect(() => b.widenHalf(new Uint16Array(5), 'F16', [2, 3])).toThrow('widenHalf: 5 values for shape [2,3]');
      expect(() => b.widenHalf(new Uint16Array(6), 'F8' as HalfDtype, [2, 3])).toThrow('widenHalf: dtype "F8" is not F16 or BF16');
    }
  });

  it('an empty tensor', async () => {
    expect(await gpuBits(new Uint16Array(0), 'F16', [0, 4])).toEqual([]);
  });
});

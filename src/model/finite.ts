// Where a tensor's first non-finite value is, read from its bits. Every weight that is read or
// saved passes through here, so the scan is a hot loop of the reader and the writer.
//
// Why bits, and why words: a float is ±Inf or NaN exactly when its exponent bits are all ones. For
// 32-bit words the test is done without a branch per value: (w >>> 1) & mask keeps each packed
// value's exponent, shifted down one bit so that the sums below stay inside a signed 32-bit integer
// (the JIT's fast path); adding the exponent's lowest bit carries into the bit above the exponent
// only when the exponent is all ones. So a block of words is OR-ed together and tested once, and
// only a block that has a carry is scanned value by value for the exact index.
import type { HalfDtype } from '../kernels/backend.js';
import { bf16BitsToF32, f16BitsToF32 } from './half.js';
import type { StoredTensor } from './weights.js';

/** Words OR-ed together before their carry bits are tested. */
const BLOCK_WORDS = 8192;

/** One packing of values into 32-bit words: the shifted exponent mask, its lowest bit, the carries. */
interface WordLayout {
  mask: number;
  carry: number;
  flags: number;
}

/** One f32 per word: exponent bits 23–30. */
const F32_WORDS: WordLayout = { mask: 0x3fc00000, carry: 0x00400000, flags: 0x40000000 };
/** Two f16 per word: exponent bits 10–14 of each half. */
const F16_WORDS: WordLayout = { mask: 0x3e003e00, carry: 0x02000200, flags: 0x40004000 };
/** Two bf16 per word: exponent bits 7–14 of each half. */
const BF16_WORDS: WordLayout = { mask: 0x3fc03fc0, carry: 0x00400040, flags: 0x40004000 };

/** Index of the first word of the first block that holds a non-finite value, or −1. */
function firstFlaggedBlock(words: Uint32Array, { mask, carry, flags }: WordLayout): number {
  for (let b = 0; b < words.length; b += BLOCK_WORDS) {
    const end = Math.min(words.length, b + BLOCK_WORDS);
    let acc = 0;
    for (let i = b; i < end; i++) acc |= ((words[i] >>> 1) & mask) + carry;
    if ((acc & flags) !== 0) return b;
  }
  return -1;
}

/** Index of the first NaN or ±Inf in `a`, or −1. */
export function firstNonFinite(a: Float32Array): number {
  const words = new Uint32Array(a.buffer, a.byteOffset, a.length);
  const b = firstFlaggedBlock(words, F32_WORDS);
  if (b < 0) return -1;
  for (let i = b; i < a.length; i++) if (!Number.isFinite(a[i])) return i;
  return -1; // unreachable: the block held one
}

/** Index of the first 16-bit value in `bits` whose exponent is all ones (`exp`), from `from` on, or −1. */
function firstAllOnes(bits: Uint16Array, exp: number, from: number): number {
  for (let i = from; i < bits.length; i++) if ((bits[i] & exp) === exp) return i;
  return -1;
}

/** Index of the first non-finite value of 16-bit floats (`dtype`'s bits), or −1. */
function firstNonFiniteHalf(bits: Uint16Array, dtype: HalfDtype): number {
  if (bits.length === 0) return -1;
  const exp = dtype === 'BF16' ? 0x7f80 : 0x7c00;
  // The word view needs a 4-byte-aligned start: a value before it is tested on its own.
  const head = bits.byteOffset % 4 === 0 ? 0 : 1;
  if (head === 1 && (bits[0] & exp) === exp) return 0;
  const pairs = (bits.length - head) >> 1;
  const words = new Uint32Array(bits.buffer, bits.byteOffset + 2 * head, pairs);
  const b = firstFlaggedBlock(words, dtype === 'BF16' ? BF16_WORDS : F16_WORDS);
  if (b >= 0) return firstAllOnes(bits, exp, head + 2 * b);
  // The odd value after the last whole word.
  return firstAllOnes(bits, exp, head + 2 * pairs);
}

/** The first non-finite value of a stored tensor, with its index, or null. */
export function firstNonFiniteStored(t: StoredTensor): { index: number; value: number } | null {
  if (t instanceof Float32Array) {
    const i = firstNonFinite(t);
    return i < 0 ? null : { index: i, value: t[i] };
  }
  const i = firstNonFiniteHalf(t.bits, t.dtype);
  if (i < 0) return null;
  return { index: i, value: t.dtype === 'BF16' ? bf16BitsToF32(t.bits[i]) : f16BitsToF32(t.bits[i]) };
}

// GPU transformer and elementwise kernels against their CPU twins on awkward shapes.
// Tolerances: both sides compute in f32; the GPU may reorder sums (tree reductions) and use
// approximate exp/sin/cos, so elementwise agreement is ~1e-6 relative; we allow 1e-4 relative
// plus a small absolute term for values that cancel to near zero.
import type { Backend } from '../src/kernels/backend.js';
import { describe, expect, it } from 'vitest';
import type { RopeOptions } from '../src/kernels/backend.js';
import { expectClose, randArray, randn, useBackends } from './helpers.js';

const { gpu, cpu } = useBackends();

async function both<T>(fn: (b: Backend) => T) {
  const g = gpu();
  const gOut = fn(g) as never;
  const cOut = fn(cpu) as never;
  return { g: await g.read(gOut), c: await cpu.read(cOut) };
}

describe('rmsnorm', () => {
  for (const [rows, D, scale] of [
    [1, 64, 1],
    [7, 172, 1],
    [33, 5, 1e3],
    [3, 300, 1e-3],
  ] as const) {
    it(`matches the CPU twin on ${rows}×${D} (scale ${scale})`, async () => {
      const x = randn(rows * D, rows + D, scale);
      const w = randArray(D, 7);
      const { g, c } = await both((b) => b.rmsnorm(b.upload(x, [rows, D]), b.upload(w, [D]), 1e-5));
      expectClose(g, c, 1e-4, 1e-6, 'rmsnorm');
    });
  }
});

describe('rope', () => {
  for (const layout of ['interleaved', 'half'] as const) {
    for (const [batch, T, H, d] of [
      [1, 1, 1, 2],
      [2, 13, 3, 8],
      [1, 130, 2, 6],
    ] as const) {
      it(`${layout}: batch ${batch}, T ${T}, ${H} heads of ${d}`, async () => {
        const rows = batch * T;
        const x = randn(rows * H * d, T * 31 + d, 10);
        const o: RopeOptions = { seqLen: T, nHeads: H, headDim: d, theta: 10000, layout };
        const { g, c } = await both((b) => b.rope(b.upload(x, [rows, H * d]), o));
        // Angles up to ~130 rad: f32 sin/cos of large arguments lose ~1e-5 absolute.
        expectClose(g, c, 1e-4, 1e-4, 'rope');
      });
    }
  }
  it('position 0 is the identity and layouts differ elsewhere', async () => {
    const x = randn(2 * 8, 3);
    const o: RopeOptions = { seqLen: 2, nHeads: 1, headDim: 8, theta: 10000, layout: 'half' };
    const y = await gpu().read(gpu().rope(gpu().upload(x, [2, 8]), o));
    expectClose(y.slice(0, 8), x.slice(0, 8), 0, 0, 'rope at position 0');
    const y2 = await gpu().read(gpu().rope(gpu().upload(x, [2, 8]), { ...o, layout: 'interleaved' }));
    expect(Array.from(y2.slice(8))).not.toEqual(Array.from(y.slice(8)));
  });
});

describe('attention', () => {
  for (const [batch, T, H, G, d] of [
    [1, 1, 1, 1, 4],
    [2, 9, 4, 2, 8],
    [1, 37, 6, 3, 5],
    [3, 17, 8, 8, 16],
  ] as const) {
    it(`batch ${batch}, T ${T}, ${H} heads / ${G} KV heads, d ${d}`, async () => {
      const rows = batch * T;
      const q = randn(rows * H * d, 1 + T, 2);
      const k = randn(rows * G * d, 2 + T, 2);
      const v = randn(rows * G * d, 3 + T, 100);
      const o = { seqLen: T, nHeads: H, nKvHeads: G, headDim: d };
      const { g, c } = await both((b) =>
        b.attention(b.upload(q, [rows, H * d]), b.upload(k, [rows, G * d]), b.upload(v, [rows, G * d]), o),
      );
      expectClose(g, c, 1e-4, 1e-3, 'attention');
    });
  }
  it('first token attends only to itself', async () => {
    const q = randn(3 * 4, 1);
    const k = randn(3 * 4, 2);
    const v = randn(3 * 4, 3);
    const b = gpu();
    const out = await b.read(b.attention(b.upload(q, [3, 4]), b.upload(k, [3, 4]), b.upload(v, [3, 4]), { seqLen: 3, nHeads: 1, nKvHeads: 1, headDim: 4 }));
    expectClose(out.slice(0, 4), v.slice(0, 4), 1e-6, 1e-7, 'first row');
  });
});

describe('elementwise and row reductions', () => {
  it('swiglu and add on 1, 257 and 1000 values', async () => {
    for (const n of [1, 257, 1000]) {
      const a = randn(n, n, 20);
      const bb = randn(n, n + 1, 3);
      const s = await both((b) => b.swiglu(b.upload(a, [n]), b.upload(bb, [n])));
      expectClose(s.g, s.c, 1e-5, 1e-6, 'swiglu');
      const p = await both((b) => b.add(b.upload(a, [n]), b.upload(bb, [n])));
      expectClose(p.g, p.c, 1e-6, 1e-6, 'add');
    }
  });
  it('rowCosineSum, with a zero row', async () => {
    const rows = 19;
    const D = 70;
    const a = randn(rows * D, 5, 1e3);
    const bb = randn(rows * D, 6);
    for (let j = 0; j < D; j++) a[3 * D + j] = 0;
    const { g, c } = await both((b) => b.rowCosineSum(b.upload(a, [rows, D]), b.upload(bb, [rows, D])));
    expectClose(g, c, 1e-4, 1e-5, 'rowCosineSum');
  });
  it('nll of large logits', async () => {
    const rows = 5;
    const V = 513;
    const logits = randn(rows * V, 9, 30);
    const t = Float32Array.from([0, 512, 17, 400, 3]);
    const { g, c } = await both((b) => b.nll(b.upload(logits, [rows, V]), b.upload(t, [rows])));
    expectClose(g, c, 1e-4, 1e-4, 'nll');
  });
  it('sliceRows and gatherColumns', async () => {
    const x = randArray(11 * 7, 4);
    const s = await both((b) => b.sliceRows(b.upload(x, [11, 7]), 3, 5));
    expectClose(s.g, s.c, 0, 0, 'sliceRows');
    const cols = [6, 0, 3, 3];
    const gth = await both((b) => b.gatherColumns(b.upload(x, [11, 7]), cols));
    expectClose(gth.g, gth.c, 0, 0, 'gatherColumns');
    expect(() => cpu.gatherColumns(cpu.upload(x, [11, 7]), [7])).toThrow(/column 7 outside 7/);
  });
  it('gatherRows: runs of consecutive rows, any order, repeats, none', async () => {
    const x = randArray(11 * 7, 5);
    const rows = [0, 1, 2, 5, 6, 10, 4, 4, 3];
    const g = await both((b) => b.gatherRows(b.upload(x, [11, 7]), rows));
    expectClose(g.g, g.c, 0, 0, 'gatherRows');
    expect(Array.from(g.g.subarray(3 * 7, 4 * 7))).toEqual(Array.from(x.subarray(5 * 7, 6 * 7)));
    expect((await both((b) => b.gatherRows(b.upload(x, [11, 7]), []))).g.length).toBe(0);
    for (const b of [cpu, gpu()] as Backend[]) expect(() => b.gatherRows(b.upload(x, [11, 7]), [11])).toThrow('gatherRows: row 11 outside 11');
  });
});

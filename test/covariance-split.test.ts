// M2 larger than one storage binding (a 7B FFN: 11008² f32 = 485 MB against lavapipe's 128 MiB).
// The Gram update then binds M2 in row blocks, one dispatch per pair of blocks; the consumers of M2
// (linear with M2 as W, gatherColumns, sliceRows) bind it in row ranges too. Pretend binding limits
// (test hooks) make the split happen on small matrices; one test runs the real size.
import { describe, expect, it } from 'vitest';
import type { CovStats } from '../src/kernels/backend.js';
import type { CpuTensor } from '../src/kernels/cpu/tensor.js';
import { covAccumulate, covInit, gramRowBlocks } from '../src/kernels/gpu/covariance.js';
import { gatherColumns, sliceRows } from '../src/kernels/gpu/elementwise.js';
import type { GpuTensor } from '../src/kernels/gpu/index.js';
import { type MatmulConfig, linear, matmulConfig, matmulTile } from '../src/kernels/gpu/linear.js';
import { data, mergeBound, reference, TOL } from './covariance-helpers.js';
import { randArray, useBackends } from './helpers.js';

const { gpu, cpu } = useBackends();

/**
 * Worst |got − want| / (tol·√(M2ii·M2jj) + k·bound(ri, j)) over M2 rows `rows` (got and want hold
 * those rows, in order); ≤ 1 passes.
 */
function worstM2(
  got: ArrayLike<number>,
  want: ArrayLike<number>,
  diag: ArrayLike<number>,
  bound: (ri: number, j: number) => number,
  K: number,
  rows: readonly number[],
  tol: number,
) {
  let worst = 0;
  let at = '';
  rows.forEach((i, ri) => {
    for (let j = 0; j < K; j++) {
      const e = Math.abs(got[ri * K + j] - want[ri * K + j]) / (tol * Math.sqrt(diag[i] * diag[j]) + bound(ri, j));
      if (!(e <= worst)) {
        worst = e;
        at = `M2[${i}, ${j}] = ${got[ri * K + j]}, want ${want[ri * K + j]}`;
      }
    }
  });
  return { worst, at };
}

async function readAll(t: GpuTensor): Promise<Float32Array> {
  return gpu().read(t);
}

function feed(stats: CovStats<GpuTensor>, x: Float32Array, chunks: number[], K: number, opts: Parameters<typeof covAccumulate>[3]) {
  const g = gpu();
  let r0 = 0;
  for (const rows of chunks) {
    const t = g.upload(x.slice(r0 * K, (r0 + rows) * K), [rows, K]);
    covAccumulate(g.ctx, stats, t, opts);
    g.free(t);
    r0 += rows;
  }
}

function feedCpu(x: Float32Array, chunks: number[], K: number): CovStats<CpuTensor> {
  const s = cpu.covInit(K);
  let r0 = 0;
  for (const rows of chunks) {
    cpu.covAccumulate(s, cpu.upload(x.slice(r0 * K, (r0 + rows) * K), [rows, K]));
    r0 += rows;
  }
  return s;
}

/** Leaves garbage in the pooled buffers that covInit(K) will get, so a missed zero fill shows. */
function dirtyPool(K: number) {
  const g = gpu();
  for (const n of [K * K, K, K]) g.free(g.upload(new Float32Array(n).fill(7), [n]));
}

interface SplitCase {
  name: string;
  K: number;
  offset: number;
  chunks: number[];
  /** Rows of M2 per pretend binding. */
  bindRows: number;
  blocks: number[];
  config?: MatmulConfig;
}

const cases: SplitCase[] = [
  { name: 'K=300 (vec4), 3 blocks of 128 rows, offset 1e3', K: 300, offset: 1e3, chunks: [40, 1, 90, 7], bindRows: 128, blocks: [0, 128, 256] },
  // Last block holds 3 rows; the pretend limit is not a whole number of tiles.
  { name: 'K=515 (scalar), 5 blocks, offset 3', K: 515, offset: 3, chunks: [33, 1, 64], bindRows: 150, blocks: [0, 128, 256, 384, 512] },
  // A 32-row tile: 32·515·4 B is not 256-aligned, so blocks are 64 rows.
  {
    name: 'K=515, 32-row tile, blocks rounded to 64 rows for offset alignment',
    K: 515,
    offset: 1e3,
    chunks: [20, 50],
    bindRows: 100,
    blocks: Array.from({ length: 9 }, (_, i) => i * 64),
    config: { WG_X: 4, WG_Y: 4, BK: 16, WIDE: false },
  },
];

describe('covariance with M2 over the storage binding limit', () => {
  it.each(cases)('row-block Gram update equals the unsplit one, the CPU twin and f64: $name', async (c) => {
    const g = gpu();
    const { K, chunks } = c;
    const M = chunks.reduce((a, b) => a + b, 0);
    const x = data(M, K, c.offset, K + M);
    const limit = c.bindRows * K * 4;
    const cfg = c.config ?? matmulConfig(g.ctx);
    expect(gramRowBlocks(g.ctx, K, matmulTile(cfg), limit)).toEqual(c.blocks);
    expect(gramRowBlocks(g.ctx, K, matmulTile(cfg), K * K * 4)).toEqual([0]);

    dirtyPool(K);
    const split = covInit(g.ctx, K, { maxBindingBytes: limit });
    feed(split, x, chunks, K, { config: c.config, maxM2BindingBytes: limit });
    const whole = covInit(g.ctx, K);
    feed(whole, x, chunks, K, { config: c.config });
    const [sm2, wm2] = [await readAll(split.m2), await readAll(whole.m2)];
    // Every element gets the same tile arithmetic either way: bit-identical.
    expect(split.count).toBe(M);
    expect(Buffer.from(sm2.buffer).equals(Buffer.from(wm2.buffer))).toBe(true);
    expect(Array.from(await readAll(split.mean))).toEqual(Array.from(await readAll(whole.mean)));
    expect(Array.from(await readAll(split.sumsq))).toEqual(Array.from(await readAll(whole.sumsq)));

    const ref = reference(x, M, K);
    const bound = mergeBound(x, chunks, K);
    const diag = Array.from({ length: K }, (_, i) => ref.m2[i * K + i]);
    const all = Array.from({ length: K }, (_, i) => i);
    const cs = feedCpu(x, chunks, K);
    const b1 = (i: number, j: number) => bound[i * K + j];
    const gpuVsF64 = worstM2(sm2, ref.m2, diag, b1, K, all, TOL.gpu.m2);
    expect(gpuVsF64.worst, `GPU vs f64: ${gpuVsF64.at}`).toBeLessThanOrEqual(1);
    const cpuVsF64 = worstM2(cs.m2.data, ref.m2, diag, b1, K, all, TOL.cpu.m2);
    expect(cpuVsF64.worst, `CPU vs f64: ${cpuVsF64.at}`).toBeLessThanOrEqual(1);
    // Both within their bound of f64, so within the sum of each other.
    const gpuVsCpu = worstM2(sm2, cs.m2.data, diag, (i, j) => 2 * b1(i, j), K, all, TOL.gpu.m2 + TOL.cpu.m2);
    expect(gpuVsCpu.worst, `GPU vs CPU twin: ${gpuVsCpu.at}`).toBeLessThanOrEqual(1);
    const mean = await readAll(split.mean);
    const sumsq = await readAll(split.sumsq);
    for (let k = 0; k < K; k++) {
      expect(Math.abs(mean[k] - ref.mean[k])).toBeLessThanOrEqual(1e-6 * Math.abs(ref.mean[k]) + 1e-6);
      expect(Math.abs(sumsq[k] - ref.sumsq[k])).toBeLessThanOrEqual(TOL.gpu.sumsq * ref.sumsq[k]);
    }
    for (const s of [split, whole]) g.covFree(s);
  });

  it('zero-fills M2 in binding-sized ranges', async () => {
    const g = gpu();
    const K = 300;
    dirtyPool(K);
    const s = covInit(g.ctx, K, { maxBindingBytes: 4096 }); // 88 ranges of 1024 floats for M2
    for (const t of [s.m2, s.mean, s.sumsq]) expect((await readAll(t)).every((v) => v === 0)).toBe(true);
    g.covFree(s);
  });

  it('a too-large X is fed in row chunks that still split M2', async () => {
    const g = gpu();
    const K = 300;
    const M = 60;
    const x = data(M, K, 1e3, 3);
    const limit = 128 * K * 4;
    const split = covInit(g.ctx, K);
    const t = g.upload(x, [M, K]);
    covAccumulate(g.ctx, split, t, { maxBindingBytes: 32 * 1024, maxM2BindingBytes: limit }); // 20-row chunks
    const whole = covInit(g.ctx, K);
    feed(whole, x, [20, 20, 20], K, {});
    expect(Buffer.from((await readAll(split.m2)).buffer).equals(Buffer.from((await readAll(whole.m2)).buffer))).toBe(true);
    g.free(t);
    for (const s of [split, whole]) g.covFree(s);
  });

  it('names the sizes when no tile of M2 rows fits a binding', () => {
    const g = gpu();
    const s = covInit(g.ctx, 300);
    const t = g.upload(new Float32Array(300), [1, 300]);
    expect(() => covAccumulate(g.ctx, s, t, { maxM2BindingBytes: 100_000 })).toThrow(
      /covAccumulate: 128 rows of the 300×300 Gram matrix \(153600 B\) do not fit a 100000 B storage binding/,
    );
    g.free(t);
    g.covFree(s);
  });

  it('only maxBufferSize refuses a Gram matrix, naming the sizes', () => {
    const g = gpu();
    const dim = Math.ceil(Math.sqrt(g.ctx.limits.maxBufferSize / 4)) + 1;
    expect(() => g.covInit(dim)).toThrow(new RegExp(`covInit: the ${dim}×${dim} f32 Gram matrix \\(.* MiB\\) cannot be allocated: .*maxBufferSize`));
  });

  it('linear with M2 as W over the binding limit matches the CPU kernel', async () => {
    const g = gpu();
    const K = 515;
    const D = 70;
    const x = data(98, K, 3, 11);
    const stats = covInit(g.ctx, K);
    feed(stats, x, [98], K, {});
    const m2 = await readAll(stats.m2);
    const wd = randArray(D * K, 12);
    const gx = g.upload(wd, [D, K]);
    const limit = 128 * K * 4; // W in 128-row ranges: 5 dispatches
    const y = await g.read(linear(g.ctx, gx, stats.m2, null, { maxBindingBytes: limit }));
    const y1 = await g.read(linear(g.ctx, gx, stats.m2, null));
    const yc = cpu.linear(cpu.upload(wd, [D, K]), cpu.upload(m2, [K, K])).data;
    // Relative to Σ|x·w|: f32 sums over K terms on the GPU (K·6e-8 = 3.1e-5), f64 then f32 on the CPU.
    let worst = 0;
    for (let r = 0; r < D; r++) {
      for (let n = 0; n < K; n++) {
        let mag = 0;
        for (let k = 0; k < K; k++) mag += Math.abs(wd[r * K + k] * m2[n * K + k]);
        worst = Math.max(worst, Math.abs(y[r * K + n] - yc[r * K + n]) / (4e-5 * mag));
      }
    }
    expect(worst).toBeLessThanOrEqual(1);
    // The W ranges are whole tiles: the same sums as one binding.
    expect(Buffer.from(y.buffer).equals(Buffer.from(y1.buffer))).toBe(true);
    g.free(gx);
    g.covFree(stats);
  });

  it('gatherColumns and sliceRows on M2 over the binding limit', async () => {
    const g = gpu();
    const K = 515;
    const stats = covInit(g.ctx, K);
    feed(stats, data(40, K, 1, 5), [40], K, {});
    const m2 = await readAll(stats.m2);
    const cols = [514, 0, 3, 128, 127, ...Array.from({ length: 395 }, (_, i) => 100 + i)];
    const want = cpu.gatherColumns(cpu.upload(m2, [K, K]), cols).data;
    // X in 128-row ranges; Y (400 columns) too: 5 dispatches.
    const got = await g.read(gatherColumns(g.ctx, stats.m2, cols, { maxBindingBytes: 128 * K * 4 }));
    expect(Buffer.from(got.buffer).equals(Buffer.from(want.buffer))).toBe(true);
    expect(() => gatherColumns(g.ctx, stats.m2, cols, { maxBindingBytes: 4096 })).toThrow(
      /gatherColumns: 64 rows of x \[515,515\] gathered to 400 columns \(131840 B\) do not fit a 4096 B storage binding/,
    );
    const rows = await g.read(sliceRows(g.ctx, stats.m2, 300, 3));
    expect(Array.from(rows)).toEqual(Array.from(m2.subarray(300 * K, 303 * K)));
    g.covFree(stats);
  });

  // The real thing: a 7B FFN width, with the device's own binding limit (no pretend one).
  it('real size: an 11008×11008 M2 (485 MB) on the device limit', async () => {
    const g = gpu();
    const K = 11008;
    const maxBind = g.ctx.limits.maxStorageBufferBindingSize;
    const blocks = gramRowBlocks(g.ctx, K, matmulTile(matmulConfig(g.ctx)), maxBind);
    if (K * K * 4 <= maxBind) console.warn(`binding limit ${maxBind} B holds the whole M2: nothing is split here`);
    const chunks = [5, 3];
    const M = 8;
    const x = data(M, K, 5, 21);
    const stats = g.covInit(K);
    let r0 = 0;
    for (const rows of chunks) {
      const t = g.upload(x.slice(r0 * K, (r0 + rows) * K), [rows, K]);
      g.covAccumulate(stats, t);
      g.free(t);
      r0 += rows;
    }
    const cs = feedCpu(x, chunks, K);
    // Block edges, tile edges, first and last rows.
    const rowSet = new Set([0, 1, 127, 128, K - 1]);
    for (const b of blocks.slice(1)) for (const r of [b - 1, b]) rowSet.add(r);
    const rows = [...rowSet].sort((a, b) => a - b);
    const got = new Float32Array(rows.length * K);
    const want = new Float32Array(rows.length * K);
    for (const [ri, i] of rows.entries()) {
      got.set(await g.ctx.readBuffer(stats.m2.buffer, K, i * K), ri * K);
      want.set(cs.m2.data.subarray(i * K, (i + 1) * K), ri * K);
    }
    const diag = Float64Array.from({ length: K }, (_, i) => cs.m2.data[i * K + i]);
    // Against the CPU twin (no f64 reference at this size): tolerances of both, and the merge
    // bound of the two chunks for each.
    const bound = mergeBound(x, chunks, K, rows);
    const e = worstM2(got, want, diag, (ri, j) => 2 * bound[ri * K + j], K, rows, TOL.gpu.m2 + TOL.cpu.m2);
    expect(e.worst, `rows ${rows}: ${e.at}`).toBeLessThanOrEqual(1);

    // The consumers on the real M2: linear with M2 as W (one-hot X rows pick M2's columns, which
    // equal its rows exactly: the mirror writes the same value), a column gather and a row slice.
    const pick = [0, 4000, K - 1];
    const onehot = new Float32Array(pick.length * K);
    pick.forEach((j, r) => (onehot[r * K + j] = 1));
    const ox = g.upload(onehot, [pick.length, K]);
    const lin = await g.read(g.linear(ox, stats.m2));
    const gat = await g.read(g.gatherColumns(stats.m2, pick)); // [K × 3]
    const sl = await g.read(g.sliceRows(stats.m2, pick[1], 1));
    for (const [r, j] of pick.entries()) {
      const row = await g.ctx.readBuffer(stats.m2.buffer, K, j * K);
      expect(Buffer.from(lin.subarray(r * K, (r + 1) * K).slice().buffer).equals(Buffer.from(row.buffer))).toBe(true);
      const col = Float32Array.from({ length: K }, (_, i) => gat[i * pick.length + r]);
      expect(Buffer.from(col.buffer).equals(Buffer.from(row.buffer))).toBe(true);
      if (j === pick[1]) expect(Buffer.from(sl.buffer).equals(Buffer.from(row.buffer))).toBe(true);
    }
    g.free(ox);
    g.covFree(stats);
  }, 180_000);
});

describe('no dispatch above the work cap', () => {
  it('linear splits its output columns by work: same bits, one dispatch per tile of columns', async () => {
    const g = gpu();
    const tile = matmulTile(matmulConfig(g.ctx));
    for (const K of [300, 301]) { // vec4 and scalar paths
      const M = 37;
      const N = 3 * tile + 5;
      const x = randArray(M * K, K, 2);
      const w = randArray(N * K, K + 1, 0.05);
      const gx = g.upload(x, [M, K]);
      const gw = g.upload(w, [N, K]);
      const cap = 2 * M * K * tile * 1.5; // room for one tile of columns, not two
      const before = g.ctx.dispatchCount;
      const ys = await g.read(linear(g.ctx, gx, gw, null, { maxDispatchFlop: cap }));
      expect(g.ctx.dispatchCount - before).toBe(4);
      const y1 = await g.read(linear(g.ctx, gx, gw, null));
      expect(Buffer.from(ys.buffer).equals(Buffer.from(y1.buffer))).toBe(true);
      const yc = cpu.linear(cpu.upload(x, [M, K]), cpu.upload(w, [N, K])).data;
      for (let i = 0; i < ys.length; i++) expect(Math.abs(ys[i] - yc[i])).toBeLessThan(1e-4);
      g.free(gx);
      g.free(gw);
    }
  });

  it('the Gram update splits M2 into row blocks by work: same bits as one dispatch', async () => {
    const g = gpu();
    const tile = matmulTile(matmulConfig(g.ctx));
    const K = 2 * tile + 44;
    const M = 50;
    const x = data(M, K, 3, 77);
    const cap = 2 * M * tile * tile; // blocks of one tile of rows: 3 blocks, 6 block pairs
    expect(gramRowBlocks(g.ctx, K, tile, K * K * 4, Math.sqrt(cap / (2 * M)))).toEqual([0, tile, 2 * tile]);
    const split = covInit(g.ctx, K);
    const before = g.ctx.dispatchCount;
    feed(split, x, [M], K, { maxDispatchFlop: cap });
    expect(g.ctx.dispatchCount - before).toBe(1 + 6 + 1); // colstats, 6 Gram blocks, finalize
    const whole = covInit(g.ctx, K);
    feed(whole, x, [M], K, {});
    expect(Buffer.from((await readAll(split.m2)).buffer).equals(Buffer.from((await readAll(whole.m2)).buffer))).toBe(true);
    for (const s of [split, whole]) g.covFree(s);
  });
});


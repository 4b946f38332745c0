// Streaming covariance: chunks of different sizes merged with Chan's update must equal the one-shot
// f64 statistics of all rows, on the CPU and the GPU, including 1-row chunks, K % 4 != 0 (scalar
// loads), K over one 128-wide tile (mirrored off-diagonal blocks) and data on a large offset.
import { describe, expect, it } from 'vitest';
import type { CovStats, Tensor } from '../src/kernels/backend.js';
import { columnSumsq as gpuColumnSumsq, covAccumulate as gpuCovAccumulate } from '../src/kernels/gpu/covariance.js';
import { matmulConfig } from '../src/kernels/gpu/linear.js';
import { MATMUL_RR_GPU, MATMUL_RR_GPU_SMALL } from '../src/gpu/tuning.js';
import { data, mergeBound, reference, TOL } from './covariance-helpers.js';
import { useBackends } from './helpers.js';

const { gpu, cpu } = useBackends();

async function check(
  kind: 'cpu' | 'gpu',
  stats: CovStats<Tensor>,
  read: (t: Tensor) => Promise<Float32Array>,
  x: Float32Array,
  chunks: number[],
  K: number,
) {
  const M = chunks.reduce((a, b) => a + b, 0);
  const ref = reference(x, M, K);
  const bound = mergeBound(x, chunks, K);
  expect(stats.count).toBe(M);
  const mean = await read(stats.mean);
  const m2 = await read(stats.m2);
  const sumsq = await read(stats.sumsq);
  for (let c = 0; c < K; c++) {
    expect(Math.abs(mean[c] - ref.mean[c]), `${kind} mean[${c}] ${mean[c]} vs ${ref.mean[c]}`).toBeLessThanOrEqual(
      1e-6 * Math.abs(ref.mean[c]) + 1e-6,
    );
    expect(Math.abs(sumsq[c] - ref.sumsq[c]), `${kind} sumsq[${c}]`).toBeLessThanOrEqual(TOL[kind].sumsq * ref.sumsq[c]);
  }
  let worst = 0;
  let at = -1;
  for (let i = 0; i < K; i++) {
    for (let j = 0; j < K; j++) {
      const scale = Math.sqrt(ref.m2[i * K + i] * ref.m2[j * K + j]);
      const e = Math.abs(m2[i * K + j] - ref.m2[i * K + j]) / (TOL[kind].m2 * scale + bound[i * K + j]);
      if (!(e <= worst)) {
        worst = e;
        at = i * K + j;
      }
    }
  }
  expect(worst, `${kind} M2[${Math.floor(at / K)}, ${at % K}] = ${m2[at]}, want ${ref.m2[at]}`).toBeLessThanOrEqual(1);
}

function splitRows(M: number, rows: number): number[] {
  const out: number[] = [];
  for (let r = 0; r < M; r += rows) out.push(Math.min(rows, M - r));
  return out;
}

const cases = [
  { name: 'K=37 (scalar loads), offset 1e3', K: 37, offset: 1e3, chunks: [7, 1, 64, 33, 1, 130] },
  { name: 'K=64 (vec4 loads), offset 1e3', K: 64, offset: 1e3, chunks: [50, 1, 1, 97, 20] },
  { name: 'K=130 (two tiles, mirrored blocks)', K: 130, offset: 3, chunks: [40, 1, 90] },
  { name: 'K=1', K: 1, offset: 1e3, chunks: [3, 1, 5] },
  { name: '1-row chunks only', K: 12, offset: 1e3, chunks: [1, 1, 1, 1, 1] },
];

describe('covariance', () => {
  it.each(cases)('chunked merge equals one-shot f64: $name', async ({ K, offset, chunks }) => {
    const M = chunks.reduce((a, b) => a + b, 0);
    const x = data(M, K, offset, K * 7 + chunks.length);
    const g = gpu();
    const sc = cpu.covInit(K);
    const sg = g.covInit(K);
    let r0 = 0;
    for (const rows of chunks) {
      const part = x.subarray(r0 * K, (r0 + rows) * K);
      cpu.covAccumulate(sc, cpu.upload(part.slice(), [rows, K]));
      const t = g.upload(part.slice(), [rows, K]);
      g.covAccumulate(sg, t);
      g.free(t);
      r0 += rows;
    }
    await check('cpu', sc, (t) => cpu.read(t as never), x, chunks, K);
    await check('gpu', sg, (t) => g.read(t as never), x, chunks, K);
    g.covFree(sg);
  });

  // The register-resident Gram launches only upper tiles: a triangle per M2 row block, all tiles
  // of a pair of blocks. 64×64 tiles put K=130 over three tiles; pretend binding limits split M2
  // into row blocks (triangles of 2 tiles per side, and pairs).
  it.each(cases)('GPU register-resident Gram (64×64 tiles) equals one-shot f64: $name', async ({ K, offset, chunks }) => {
    const M = chunks.reduce((a, b) => a + b, 0);
    const x = data(M, K, offset, K * 7 + chunks.length);
    const g = gpu();
    const sg = g.covInit(K);
    let r0 = 0;
    for (const rows of chunks) {
      const t = g.upload(x.slice(r0 * K, (r0 + rows) * K), [rows, K]);
      gpuCovAccumulate(g.ctx, sg, t, { registerTile: MATMUL_RR_GPU_SMALL });
      g.free(t);
      r0 += rows;
    }
    await check('gpu', sg, (t) => g.read(t as never), x, chunks, K);
    g.covFree(sg);
  });

  it('GPU register-resident Gram with M2 in row blocks: triangles and pairs of blocks', async () => {
    const g = gpu();
    const K = 300;
    const chunks = [90, 1, 60];
    const M = chunks.reduce((a, b) => a + b, 0);
    const x = data(M, K, 1e3, 17);
    for (const [registerTile, blockRows] of [[MATMUL_RR_GPU, 128], [MATMUL_RR_GPU_SMALL, 128], [MATMUL_RR_GPU_SMALL, 320]] as const) {
      const s = g.covInit(K);
      let r0 = 0;
      for (const rows of chunks) {
        const t = g.upload(x.slice(r0 * K, (r0 + rows) * K), [rows, K]);
        gpuCovAccumulate(g.ctx, s, t, { registerTile, maxM2BindingBytes: blockRows * K * 4 });
        g.free(t);
        r0 += rows;
      }
      await check('gpu', s, (t) => g.read(t as never), x, chunks, K);
      g.covFree(s);
    }
  });

  it('GPU: the other register tile, and row chunks for a too-large X', async () => {
    const g = gpu();
    const K = 40;
    const M = 150;
    const x = data(M, K, 1e3, 5);
    const def = matmulConfig(g.ctx);
    const other = def.WIDE ? { WG_X: 16, WG_Y: 16, BK: 16, WIDE: false } : { WG_X: 8, WG_Y: 8, BK: 16, WIDE: true };
    for (const opts of [{ config: other }, { maxBindingBytes: 4096 }]) {
      const s = g.covInit(K);
      const t = g.upload(x, [M, K]);
      gpuCovAccumulate(g.ctx, s, t, opts);
      g.free(t);
      // The pretend 4 KiB binding limit splits X into chunks of floor(3072 / (4K)) = 19 rows.
      const chunks = 'maxBindingBytes' in opts ? splitRows(M, Math.floor((4096 * 0.75) / (K * 4))) : [M];
      await check('gpu', s, (u) => g.read(u as never), x, chunks, K);
      g.covFree(s);
    }
  });

  it('rejects a chunk with the wrong number of columns', () => {
    const g = gpu();
    const sc = cpu.covInit(4);
    expect(() => cpu.covAccumulate(sc, cpu.upload(new Float32Array(6), [2, 3]))).toThrow(/3 columns.*dim 4/);
    const sg = g.covInit(4);
    expect(() => g.covAccumulate(sg, g.upload(new Float32Array(6), [2, 3]))).toThrow(/3 columns.*dim 4/);
    g.covFree(sg);
  });
});

describe('columnSumsq', () => {
  it('equals float64 Σx² per column on both backends: K % 4 != 0, one row, none, and an X fed in row blocks', async () => {
    const g = gpu();
    for (const [M, K, bind] of [[300, 37, undefined], [1, 5, undefined], [0, 3, undefined], [257, 20, 4096]] as const) {
      const x = data(M, K, M + K, 1e3);
      const want = new Float64Array(K);
      for (let r = 0; r < M; r++) for (let c = 0; c < K; c++) want[c] += x[r * K + c] ** 2;
      const got = [
        await g.read(gpuColumnSumsq(g.ctx, g.upload(x, [M, K]), { maxBindingBytes: bind })),
        (cpu.columnSumsq(cpu.upload(x, [M, K])) as { data: Float32Array }).data,
      ];
      for (const [i, v] of got.entries()) {
        expect(v.length).toBe(K);
        for (let c = 0; c < K; c++) expect(Math.abs(v[c] - want[c]), `${i ? 'cpu' : 'gpu'} ${M}×${K} column ${c}`).toBeLessThanOrEqual(1e-6 * want[c] + 1e-30);
      }
    }
  });
});

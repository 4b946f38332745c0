// The transpose op (Backend.transpose): the GPU kernel against its CPU twin at awkward shapes (one
// row, one column, sizes that are no multiple of 4 or of a workgroup), and in blocks when the matrix
// is over the storage-binding limit (forced small here), where each block binds only its rows.
import { describe, expect, it } from 'vitest';
import { transpose } from '../src/kernels/gpu/elementwise.js';
import { randn, useBackends } from './helpers.js';

const { gpu, cpu } = useBackends();

describe('transpose', () => {
  for (const [R, C] of [[1, 1], [1, 7], [7, 1], [37, 53], [64, 257], [300, 129]]) {
    it(`[${R} × ${C}]: the GPU gives its CPU twin's values exactly`, async () => {
      const x = randn(R * C, R * 1000 + C);
      const want = cpu.transpose(cpu.upload(x, [R, C]));
      expect(want.shape).toEqual([C, R]);
      for (let r = 0; r < R; r++) for (let c = 0; c < C; c++) expect(want.data[c * R + r]).toBe(x[r * C + c]);
      const g = gpu();
      const t = g.upload(x, [R, C]);
      const y = g.transpose(t);
      expect(y.shape).toEqual([C, R]);
      expect(await g.read(y)).toEqual(want.data);
      g.free(t);
      g.free(y);
    });
  }

  it('over the binding limit: blocks of input rows × input columns give the same matrix', async () => {
    const g = gpu();
    const [R, C] = [300, 129];
    const x = randn(R * C, 5);
    const t = g.upload(x, [R, C]);
    const want = cpu.transpose(cpu.upload(x, [R, C])).data;
    // Input rows go in steps of 64 (129 floats a row), output rows in steps of 16 (300 floats), so
    // that block offsets stay 256-byte aligned: blocks of 64 × 16, 128 × 64 and 64 × 32 rows.
    for (const limit of [64 * C * 4 + 8, 64 * R * 4, 40000]) {
      const y = transpose(g.ctx, t, { maxBindingBytes: limit });
      expect(await g.read(y), `limit ${limit}`).toEqual(want);
      g.free(y);
    }
    g.free(t);
  });

  it('a binding too small for one aligned block of rows is refused, naming the shape', () => {
    const g = gpu();
    const t = g.upload(new Float32Array(300 * 129), [300, 129]);
    expect(() => transpose(g.ctx, t, { maxBindingBytes: 1024 })).toThrow('transpose: 64 input rows of 129 values of [300,129]');
    g.free(t);
  });
});

// Gram + Chan merge of the streaming covariance (see covariance.wgsl for the whole algorithm):
// G = Σ_r (x_r − μb)(x_r − μb)ᵀ as a tiled matmul over rows (lib/matmul_tile.wgsl with both
// operands taken from the columns of X), and an epilogue that merges M2 += G + δδᵀ·na·nb/n,
// δ = μb − μa, on upper-triangle tiles only, mirrored.
//
// The workgroup tile for output block (I, J) needs X[r0.., I] and X[r0.., J], which are already
// [k][m] in X's row-major layout, so the workgroup copy needs no transpose. Output tiles are
// square (BN == BM: the host checks WG_X == WG_Y).
//
// M2 above maxStorageBufferBindingSize is bound in row blocks (whole tiles each): one dispatch per
// pair of blocks P ≤ Q covers the output tiles with rows in P and columns in Q, writing its tiles to
// block P and their mirrors to block Q (binding m2b), so the triangle is still computed once.
//
// The including shader declares binding 0 (X) and `centred(r, c, mu)`: columns c..c+3 of row r
// minus the chunk mean, zero outside X (gram_vec4.wgsl reads vec4, gram_scalar.wgsl f32).
#include "lib/matmul_tile"

override BM4: u32 = BM / 4u;    // NT must be a multiple of BM4 (host checks)

#include "lib/gram_io"

// M2[i][j] += G[i][j] + δi·δj·f, and the mirror element for off-diagonal tiles.
fn mergeTile(acc: ptr<function, array<vec4<f32>, ACC>>, gi0: u32, gj0: u32, mirror: bool) {
  for (var q = 0u; q < TM * TN4; q++) {
    let i = gi0 + q / TN4;
    if (i < gp.K) { mergeRow4(i, gj0 + (q % TN4) * 4u, (*acc)[q], mirror); }
  }
}

// Grid: (tiles of block Q, tiles of block P); only tiles with J ≥ I work. The early return depends
// only on the workgroup id and uniforms, so the barriers below stay in uniform control flow.
@compute @workgroup_size(WG_X, WG_Y)
fn main(
  @builtin(local_invocation_id) lid: vec3<u32>,
  @builtin(workgroup_id) wid: vec3<u32>,
  @builtin(local_invocation_index) li: u32,
) {
  let bi = gp.ti0 + wid.y; let bj = gp.tj0 + wid.x;
  if (bj < bi) { return; }
  let i0 = bi * BM; let j0 = bj * BM;
  // Each thread always copies the same 4 columns (li % BM4) of every tile row it handles.
  let c4 = li % BM4;
  let muI = chunkMean4(i0 + c4 * 4u);
  let muJ = chunkMean4(j0 + c4 * 4u);
  var acc: array<vec4<f32>, ACC>;
  for (var r0 = 0u; r0 < gp.M; r0 += BK) {
    for (var k = li / BM4; k < BK; k += NT / BM4) {
      As[k * BM4 + c4] = centred(r0 + k, i0 + c4 * 4u, muI);
      Bs[k * BM4 + c4] = centred(r0 + k, j0 + c4 * 4u, muJ);
    }
    multiplyTiles(&acc, lid.x, lid.y);
  }
  mergeTile(&acc, i0 + lid.y * TM, j0 + lid.x * TN, bi != bj);
}

// Gram + Chan merge of the streaming covariance with register-resident tiles: the hooks of the
// generated `main` (src/kernels/gpu/matmul-gen.ts, layout 'cols': both operands are columns of
// the row-major chunk X, so a fetched vec4 is already a row of the [k][m] tile). The algorithm is
// lib/gram.wgsl's: M2 += G + δδᵀ·na·nb/n on upper-triangle tiles, mirrored; here only those tiles
// are launched (a triangle of tiles for one row block, all tiles of a pair of blocks P < Q).
//
// The including shader declares binding 0 (X) and `centred(r, c, mu)`: columns c..c+3 of row r
// minus the chunk mean, zero outside X.

#include "lib/gram_io"

fn innerLength() -> u32 { return gp.M; }

// Tile (bi, bj), bi ≤ bj, of workgroup `wid`; a triangle's tiles are numbered row by row.
fn tileOrigin(wid: vec3<u32>) -> vec2<u32> {
  var bi = gp.ti0 + wid.y;
  var bj = gp.tj0 + wid.x;
  if (gp.pair == 0u) {
    var t = wid.x;
    var i = 0u;
    while (t >= gp.tiles - i) { t -= gp.tiles - i; i++; }
    bi = gp.ti0 + i;
    bj = gp.ti0 + i + t;
  }
  return vec2<u32>(bi * BM4 * 4u, bj * BN4 * 4u);
}

// Only upper tiles are launched: all of them are computed.
fn skipTile(m0: u32, n0: u32) -> bool { return false; }

fn fetchA(r: u32, c: u32) -> vec4<f32> { return centred(r, c, chunkMean4(c)); }
fn fetchB(r: u32, c: u32) -> vec4<f32> { return centred(r, c, chunkMean4(c)); }

// M2[i][j..j+3] += G + δi·δj·f, and the mirror elements when the tile is off the diagonal (a
// diagonal tile computes both of its triangles itself).
fn storeOut(i: u32, j: u32, v: vec4<f32>) {
  if (i < gp.K) { mergeRow4(i, j, v, i / (BM4 * 4u) != j / (BN4 * 4u)); }
}

// Gram + Chan merge of the streaming covariance with register-resident tiles: the hooks of the
// generated `main` (src/kernels/gpu/matmul-gen.ts, layout 'cols': both operands are columns of
// the row-major chunk X, so a fetched vec4 is already a row of the [k][m] tile). The algorithm is
// lib/gram.wgsl's: M2 += G + δδᵀ·na·nb/n on upper-triangle tiles, mirrored; here only those tiles
// are launched (a triangle of tiles for one row block, all tiles of a pair of blocks P < Q).
//
// The including shader declares binding 0 (X) and `centred(r, c, mu)`: columns c..c+3 of row r
// minus the chunk mean, zero outside X.

struct GramParams {
  M: u32,
  K: u32,
  ti0: u32,   // tile row of block P's first tile
  tj0: u32,   // tile column of block Q's first tile
  rowA: u32,  // first M2 row bound to m2
  rowB: u32,  // first M2 row bound to m2b
  pair: u32,  // 1: a pair of blocks P < Q (grid: tiles of Q × tiles of P); 0: one block's triangle (grid: T(T+1)/2)
  tiles: u32, // T: tiles along the side of block P when pair == 0
  f: f32,     // na·nb/n  (0 for the first chunk)
}

@group(0) @binding(1) var<storage, read> cs: array<f32>;        // [μb | Σx²]
@group(0) @binding(2) var<storage, read> meanA: array<f32>;     // μa (stats.mean before merge)
@group(0) @binding(3) var<storage, read_write> m2: array<f32>;   // M2 rows [rowA, …) × K
@group(0) @binding(4) var<storage, read_write> m2b: array<f32>;  // M2 rows [rowB, …) × K
@group(0) @binding(5) var<uniform> gp: GramParams;

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

// Chunk mean of columns c..c+3 (0 past K).
fn chunkMean4(c: u32) -> vec4<f32> {
  var v = vec4<f32>(0.0);
  for (var q = 0u; q < 4u; q++) {
    if (c + q < gp.K) { v[q] = cs[c + q]; }
  }
  return v;
}

fn fetchA(r: u32, c: u32) -> vec4<f32> { return centred(r, c, chunkMean4(c)); }
fn fetchB(r: u32, c: u32) -> vec4<f32> { return centred(r, c, chunkMean4(c)); }

// M2[i][j..j+3] += G + δi·δj·f, and the mirror elements when the tile is off the diagonal (a
// diagonal tile computes both of its triangles itself).
fn storeOut(i: u32, j: u32, v: vec4<f32>) {
  let K = gp.K;
  if (i >= K) { return; }
  let mirror = i / (BM4 * 4u) != j / (BN4 * 4u);
  let di = cs[i] - meanA[i];
  for (var c = 0u; c < 4u; c++) {
    let jc = j + c;
    if (jc < K) {
      let g = v[c] + di * (cs[jc] - meanA[jc]) * gp.f;
      m2[(i - gp.rowA) * K + jc] += g;
      if (mirror) {
        if (gp.pair != 0u) { m2b[(jc - gp.rowB) * K + i] += g; } else { m2[(jc - gp.rowA) * K + i] += g; }
      }
    }
  }
}

// The covariance Gram kernels' uniforms, bindings and chunk mean (lib/gram.wgsl, lib/gram_rr.wgsl).

struct GramParams {
  M: u32,
  K: u32,
  ti0: u32,   // tile row of block P's first tile
  tj0: u32,   // tile column of block Q's first tile
  rowA: u32,  // first M2 row bound to m2
  rowB: u32,  // first M2 row bound to m2b
  pair: u32,  // 1: a pair of blocks P ≠ Q, mirrored elements go to m2b; 0: one block (m2b is a dummy)
  tiles: u32, // tiles along the side of block P when pair == 0 (the register core's triangle launch)
  f: f32,     // na·nb/n  (0 for the first chunk)
}

@group(0) @binding(1) var<storage, read> cs: array<f32>;        // [μb | Σx²]
@group(0) @binding(2) var<storage, read> meanA: array<f32>;     // μa (stats.mean before merge)
@group(0) @binding(3) var<storage, read_write> m2: array<f32>;   // M2 rows [rowA, …) × K
@group(0) @binding(4) var<storage, read_write> m2b: array<f32>;  // M2 rows [rowB, …) × K
@group(0) @binding(5) var<uniform> gp: GramParams;

// Chunk mean of columns c..c+3 (0 past K).
fn chunkMean4(c: u32) -> vec4<f32> {
  var v = vec4<f32>(0.0);
  for (var q = 0u; q < 4u; q++) {
    if (c + q < gp.K) { v[q] = cs[c + q]; }
  }
  return v;
}

// M2[i][j..j+3] += G + δi·δj·f for row i < K, and the mirror elements when `mirror`.
fn mergeRow4(i: u32, j: u32, v: vec4<f32>, mirror: bool) {
  let K = gp.K;
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

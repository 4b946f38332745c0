// Y = X·Wᵀ (+ b): X [M×K] and W [N×K] row-major (the checkpoint Linear layout), b [N], Y [M×N].
// f32 accumulation, tiled as lib/matmul_tile.wgsl describes (A = X, B = W).
//
// The including shader declares bindings 0 and 1 (X and W) and `fetchA`/`fetchB`, which return
// 4 consecutive k of one row, zero outside the matrix: linear_vec4.wgsl reads vec4 (needs
// K % 4 == 0, so every row starts 16-byte aligned), linear_scalar.wgsl reads f32 (any K).
//
// Bounds: M, N and K need not be multiples of the tile. Out-of-range X/W elements load as 0 (so they
// add nothing) and out-of-range Y elements are not written.
#include "lib/matmul_tile"

override BK4: u32 = BK / 4u;

#include "lib/linear_io"

// ---- tile loads: thread `li` fetches 4 consecutive k of one row, stores them transposed --------

// Element c of v is k = 4·kq + c of row r: it goes to row k of the [k][m] tile, lane r % 4 of
// vec4 r / 4 (a tile row holds BM / 4 vec4s for A, BN / 4 for B).
fn putA(kq: u32, r: u32, v: vec4<f32>) {
  let base = kq * 4u * (BM / 4u) + r / 4u;
  for (var c = 0u; c < 4u; c++) { As[base + c * (BM / 4u)][r % 4u] = v[c]; }
}

fn putB(kq: u32, r: u32, v: vec4<f32>) {
  let base = kq * 4u * (BN / 4u) + r / 4u;
  for (var c = 0u; c < 4u; c++) { Bs[base + c * (BN / 4u)][r % 4u] = v[c]; }
}

// A runtime loop on purpose: unrolled, the per-element bounds checks make the pipeline take tens
// of seconds to compile on lavapipe, for no speed.
fn storeY(acc: ptr<function, array<vec4<f32>, ACC>>, gm0: u32, gn0: u32) {
  for (var q = 0u; q < TM * TN4; q++) {
    let m = gm0 + q / TN4;
    let n = gn0 + (q % TN4) * 4u;
    let v = (*acc)[q];
    if (m < p.M) {
      for (var c = 0u; c < 4u; c++) {
        if (n + c < p.N) {
          var y = v[c];
          if (p.hasBias != 0u) { y += bias[p.yCol + n + c]; }
          Y[m * p.ldy + p.yCol + n + c] = y;
        }
      }
    }
  }
}

// Grid: (ceil(N / BN), ceil(M / BM)).
@compute @workgroup_size(WG_X, WG_Y)
fn main(
  @builtin(local_invocation_id) lid: vec3<u32>,
  @builtin(workgroup_id) wid: vec3<u32>,
  @builtin(local_invocation_index) li: u32,
) {
  let m0 = tileRow(wid.y, BM) * BM;
  let n0 = wid.x * BN;
  if (belowDiagonal(m0, n0, BM, BN)) { return; }
  var acc: array<vec4<f32>, ACC>;
  for (var k0 = 0u; k0 < p.K; k0 += BK) {
    for (var i = li; i < BM * BK4; i += NT) {
      let r = i / BK4; let kq = i % BK4;
      putA(kq, r, fetchA(m0 + r, k0 + kq * 4u));
    }
    for (var i = li; i < BN * BK4; i += NT) {
      let r = i / BK4; let kq = i % BK4;
      putB(kq, r, fetchB(n0 + r, k0 + kq * 4u));
    }
    multiplyTiles(&acc, lid.x, lid.y);
  }
  storeY(&acc, m0 + lid.y * TM, n0 + lid.x * TN);
}

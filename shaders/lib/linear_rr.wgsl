// Y = X·Wᵀ (+ b) with register-resident tiles: the hooks of the generated `main`
// (src/kernels/gpu/matmul-gen.ts, layout 'rows': A = X [M×K], B = W [N×K], both row-major).
// The including shader declares bindings 0 and 1 (X and W) and fetchA/fetchB, which return
// 4 consecutive k of one row, zero outside the matrix (lib/linear_fetch_*.wgsl).
//
// Bounds: M, N and K need not be multiples of the tile. Out-of-range X/W elements load as 0 (so
// they add nothing) and out-of-range Y elements are not written.

#include "lib/linear_io"

fn innerLength() -> u32 { return p.K; }

// Grid: (ceil(N / BN), ceil(M / BM)).
fn tileOrigin(wid: vec3<u32>) -> vec2<u32> { return vec2<u32>(tileRow(wid.y, BM4 * 4u) * BM4 * 4u, wid.x * BN4 * 4u); }

fn skipTile(m0: u32, n0: u32) -> bool { return belowDiagonal(m0, n0, BM4 * 4u, BN4 * 4u); }

// Row m, columns n..n+3 of this dispatch's output block.
fn storeOut(m: u32, n: u32, v: vec4<f32>) {
  if (m >= p.M) { return; }
  for (var c = 0u; c < 4u; c++) {
    if (n + c < p.N) {
      var y = v[c];
      if (p.hasBias != 0u) { y += bias[p.yCol + n + c]; }
      Y[m * p.ldy + p.yCol + n + c] = y;
    }
  }
}

// Shared by the Cholesky factorisation and its triangular solves. The block size B is a host
// define (`const B: u32`, src/gpu/tuning.ts); the including shader declares `L`, the row-major
// n×n factor, at binding 0.

// The diagonal block of the current block column: lower triangle of L's B×B block at (k, k).
var<workgroup> blk: array<f32, B * B>;

// Loads the lower triangle of L's diagonal block at (k, k) into `blk` (zero above the diagonal
// and past n); `threads` invocations share the work, `li` is this one.
fn loadDiagonalBlock(li: u32, threads: u32, n: u32, k: u32) {
  let bs = min(B, n - k);
  for (var e = li; e < B * B; e += threads) {
    let r = e / B;
    let c = e % B;
    var v = 0.0;
    if (r < bs && c <= r) { v = L[(k + r) * n + k + c]; }
    blk[e] = v;
  }
}

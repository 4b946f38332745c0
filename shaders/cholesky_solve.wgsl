// Triangular solves with a Cholesky factor L (row-major n×n, lower), in place on X (n×m, which
// starts as a copy of B). Blocked by B rows (a host define); mode 0 = forward (L·Y = X), mode 1 = backward
// (Lᵀ·X = Y, blocks visited last to first).
//   block  : one thread per right-hand-side column solves the B-row diagonal block (L11 shared);
//   update : the other rows lose the block's contribution (a GEMM with inner dimension B),
//            tiles of TR rows × TC columns, one output per thread.
#include "lib/cholesky_block"

override TC: u32;  // columns per update tile (a power of two), set by the host
override WG: u32;  // threads per workgroup, set by the host for each entry point

struct Params { n: u32, m: u32, k: u32, mode: u32 }
@group(0) @binding(0) var<storage, read> L: array<f32>;
@group(0) @binding(1) var<storage, read_write> X: array<f32>;
@group(0) @binding(2) var<uniform> p: Params;

var<workgroup> xs: array<f32, B * TC>;   // B×TC solved rows of the current block

// `blk` (lib/cholesky_block.wgsl) holds L11, the diagonal block.
@compute @workgroup_size(WG)
fn block(@builtin(local_invocation_index) li: u32, @builtin(workgroup_id) wid: vec3u) {
  let n = p.n; let m = p.m; let k = p.k;
  let bs = min(B, n - k);
  loadDiagonalBlock(li, WG, n, k);
  workgroupBarrier();
  let j = wid.x * WG + li;
  if (j >= m) { return; }
  var x: array<f32, B>;
  for (var r = 0u; r < bs; r++) { x[r] = X[(k + r) * m + j]; }
  if (p.mode == 0u) {
    for (var r = 0u; r < bs; r++) {
      var s = x[r];
      for (var t = 0u; t < r; t++) { s -= blk[r * B + t] * x[t]; }
      x[r] = s / blk[r * B + r];
    }
  } else {
    for (var rr = 0u; rr < bs; rr++) {
      let r = bs - 1u - rr;
      var s = x[r];
      for (var t = r + 1u; t < bs; t++) { s -= blk[t * B + r] * x[t]; }
      x[r] = s / blk[r * B + r];
    }
  }
  for (var r = 0u; r < bs; r++) { X[(k + r) * m + j] = x[r]; }
}

@compute @workgroup_size(WG)
fn update(@builtin(local_invocation_index) li: u32, @builtin(workgroup_id) wid: vec3u) {
  let n = p.n; let m = p.m; let k = p.k;
  let bs = min(B, n - k);
  let TR = WG / TC;
  let c0 = wid.x * TC;
  for (var e = li; e < B * TC; e += WG) {
    let t = e / TC;
    let c = e % TC;
    var v = 0.0;
    if (t < bs && c0 + c < m) { v = X[(k + t) * m + c0 + c]; }
    xs[e] = v;
  }
  workgroupBarrier();
  let tr = li / TC;
  let tc = li % TC;
  let j = c0 + tc;
  var i: u32;
  if (p.mode == 0u) {
    i = k + bs + wid.y * TR + tr;
    if (i >= n || j >= m) { return; }
  } else {
    i = wid.y * TR + tr;
    if (i >= k || j >= m) { return; }
  }
  var acc = 0.0;
  if (p.mode == 0u) {
    let row = i * n + k;
    for (var t = 0u; t < bs; t++) { acc += L[row + t] * xs[t * TC + tc]; }
  } else {
    for (var t = 0u; t < bs; t++) { acc += L[(k + t) * n + i] * xs[t * TC + tc]; }
  }
  X[i * m + j] -= acc;
}

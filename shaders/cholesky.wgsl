// Blocked right-looking Cholesky factorisation A = L·Lᵀ, in place on L (row-major n×n, which
// starts as a copy of A). Per block column k (B columns, a host define):
//   diag  : one workgroup factors the B×B diagonal block in workgroup memory (records failure);
//   panel : every row below the block solves x·L11ᵀ = a (one thread per row, L11 shared);
//   syrk  : the trailing lower triangle loses L21·L21ᵀ (B×B output tiles, 2×2 per thread).
// `status` (u32): [0] smallest linear index of a non-finite input (n·n = none),
//                 [1] 1 + index of the first bad pivot (0 = none), [2] its value (f32 bits).
// Every entry point uses the same bindings so one TS call shape fits all (auto layout drops
// unused bindings, hence the phony `_ =` uses).
#include "lib/cholesky_block"

override WG: u32;   // threads of prep, diag and panel (diag needs at least B), set by the host
override WG_X: u32; // syrk: B/2 × B/2 threads, 2×2 outputs each, set by the host
override WG_Y: u32;

struct Params { n: u32, k: u32 }
@group(0) @binding(0) var<storage, read_write> L: array<f32>;
@group(0) @binding(1) var<storage, read_write> status: array<atomic<u32>>;
@group(0) @binding(2) var<uniform> p: Params;

fn nonFinite(x: f32) -> bool {
  // Bit test rather than x != x: WGSL lets compilers assume floats are finite.
  return (bitcast<u32>(x) & 0x7f800000u) == 0x7f800000u;
}

// Zeroes the strict upper triangle and records the first non-finite entry of the whole matrix.
@compute @workgroup_size(WG)
fn prep(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let idx = gid.x + gid.y * nwg.x * WG;
  let n = p.n;
  if (idx >= n * n) { return; }
  let v = L[idx];
  if (nonFinite(v)) { atomicMin(&status[0], idx); }
  if (idx % n > idx / n) { L[idx] = 0.0; }
}

var<workgroup> pj: array<f32, B * B>;  // syrk: the panel rows of the tile's columns

@compute @workgroup_size(WG)
fn diag(@builtin(local_invocation_index) li: u32) {
  let n = p.n;
  let k = p.k;
  let bs = min(B, n - k);
  loadDiagonalBlock(li, WG, n, k);
  workgroupBarrier();
  for (var j = 0u; j < bs; j++) {
    if (li == 0u) {
      let d = blk[j * B + j];
      if ((d <= 0.0 || nonFinite(d)) && atomicLoad(&status[1]) == 0u) {
        atomicStore(&status[1], k + j + 1u);
        atomicStore(&status[2], bitcast<u32>(d));
      }
      blk[j * B + j] = sqrt(d); // NaN for a bad pivot: harmless, the call is rejected
    }
    workgroupBarrier();
    let s = blk[j * B + j];
    if (li > j && li < bs) { blk[li * B + j] = blk[li * B + j] / s; }
    workgroupBarrier();
    for (var e = li; e < B * B; e += WG) {
      let r = e / B;
      let c = e % B;
      if (c > j && r >= c && r < bs) { blk[e] = blk[e] - blk[r * B + j] * blk[c * B + j]; }
    }
    workgroupBarrier();
  }
  for (var e = li; e < B * B; e += WG) {
    let r = e / B;
    let c = e % B;
    if (r < bs && c <= r) { L[(k + r) * n + k + c] = blk[e]; }
  }
}

// Rows i ≥ k+B: L[i, k:k+B] ← A[i, k:k+B] · L11⁻ᵀ (forward substitution along the row).
@compute @workgroup_size(WG)
fn panel(@builtin(local_invocation_index) li: u32, @builtin(workgroup_id) wid: vec3u) {
  _ = &status;
  let n = p.n;
  let k = p.k;
  let bs = min(B, n - k);
  loadDiagonalBlock(li, WG, n, k);
  workgroupBarrier();
  let i = k + bs + wid.x * WG + li;
  if (i >= n) { return; }
  var x: array<f32, B>;
  let row = i * n + k;
  for (var j = 0u; j < bs; j++) {
    var s = L[row + j];
    for (var t = 0u; t < j; t++) { s -= x[t] * blk[j * B + t]; }
    x[j] = s / blk[j * B + j];
  }
  for (var j = 0u; j < bs; j++) { L[row + j] = x[j]; }
}

// Trailing update of the lower triangle: L[i, j] -= Σ_t L[i, k+t]·L[j, k+t] for i ≥ j ≥ k+B.
// Workgroup (tx, ty) owns the B×B tile of rows k0+B·ty, columns k0+B·tx; tiles above the
// diagonal exit at once. Thread (x, y) computes rows y and y+WG_Y, columns x and x+WG_X of it.
@compute @workgroup_size(WG_X, WG_Y)
fn syrk(@builtin(local_invocation_id) lid: vec3u, @builtin(workgroup_id) wid: vec3u) {
  _ = &status;
  if (wid.x > wid.y) { return; }
  let n = p.n;
  let k = p.k;
  let k0 = k + B; // only called when a full block precedes the trailing matrix
  let r0 = k0 + wid.y * B;
  let c0 = k0 + wid.x * B;
  let li = lid.y * WG_X + lid.x;
  for (var e = li; e < B * B; e += WG_X * WG_Y) {
    let r = e / B;
    let t = e % B;
    var a = 0.0;
    var b = 0.0;
    if (r0 + r < n) { a = L[(r0 + r) * n + k + t]; }
    if (c0 + r < n) { b = L[(c0 + r) * n + k + t]; }
    blk[e] = a;
    pj[e] = b;
  }
  workgroupBarrier();
  var acc00 = 0.0;
  var acc01 = 0.0;
  var acc10 = 0.0;
  var acc11 = 0.0;
  let ra = lid.y;
  let rb = lid.y + WG_Y;
  let ca = lid.x;
  let cb = lid.x + WG_X;
  for (var t = 0u; t < B; t++) {
    let a0 = blk[ra * B + t];
    let a1 = blk[rb * B + t];
    let b0 = pj[ca * B + t];
    let b1 = pj[cb * B + t];
    acc00 += a0 * b0;
    acc01 += a0 * b1;
    acc10 += a1 * b0;
    acc11 += a1 * b1;
  }
  let i0 = r0 + ra;
  let i1 = r0 + rb;
  let j0 = c0 + ca;
  let j1 = c0 + cb;
  if (i0 < n && j0 <= i0) { L[i0 * n + j0] -= acc00; }
  if (i0 < n && j1 <= i0) { L[i0 * n + j1] -= acc01; }
  if (i1 < n && j0 <= i1) { L[i1 * n + j0] -= acc10; }
  if (i1 < n && j1 <= i1) { L[i1 * n + j1] -= acc11; }
}

// Transpose of one block: y[c, r] = x[r, c] for the input rows r0 … r0 + h − 1 and columns
// c0 … c0 + w − 1. x is bound from its row r0 (rows of C values), y from its row c0 (rows of R
// values), so a matrix over the storage-binding limit is done in blocks that each fit.
override WG: u32; // threads per workgroup, set by the host
struct Params { R: u32, C: u32, r0: u32, c0: u32, h: u32, w: u32 }
@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read_write> y: array<f32>;
@group(0) @binding(2) var<uniform> p: Params;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = gid.x + gid.y * nwg.x * WG;
  if (i >= p.h * p.w) { return; }
  // Neighbouring threads write neighbouring outputs (one row of y).
  let cl = i / p.h;
  let rl = i % p.h;
  y[cl * p.R + p.r0 + rl] = x[rl * p.C + p.c0 + cl];
}

// Helpers of the matrix-function kernels (src/kernels/gpu/matfun.ts) on square row-major [n × n]
// matrices: a linear combination with the identity, and per-row statistics for the scaling.

override WG: u32; // threads per workgroup, set by the host for each entry point

struct CombineParams {
  size: u32,  // n·n
  n: u32,
  hasY: u32,  // 0: y is a dummy binding
  a: f32,
  b: f32,
  c: f32,
}
@group(0) @binding(0) var<storage, read> cx: array<f32>;
@group(0) @binding(1) var<storage, read> cy: array<f32>;
@group(0) @binding(2) var<storage, read_write> cout: array<f32>;
@group(0) @binding(3) var<uniform> cp: CombineParams;

// out = a·X + b·Y + c·I
@compute @workgroup_size(WG)
fn combine(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = gid.x + gid.y * nwg.x * WG;
  if (i >= cp.size) { return; }
  var v = cp.a * cx[i];
  if (cp.hasY == 1u) { v += cp.b * cy[i]; }
  if (i / cp.n == i % cp.n) { v += cp.c; }
  cout[i] = v;
}

struct RowParams {
  n: u32,
}
@group(0) @binding(0) var<storage, read> ra: array<f32>;
@group(0) @binding(1) var<storage, read_write> rout: array<f32>;
@group(0) @binding(2) var<uniform> rp: RowParams;

// rout[2r] = Σ_j |a_rj| (the ∞-norm is their maximum), rout[2r + 1] = a_rr (their sum is the trace).
@compute @workgroup_size(WG)
fn rowstats(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let r = gid.x + gid.y * nwg.x * WG;
  if (r >= rp.n) { return; }
  var s = 0.0;
  for (var j = 0u; j < rp.n; j++) { s += abs(ra[r * rp.n + j]); }
  rout[2u * r] = s;
  rout[2u * r + 1u] = ra[r * rp.n + r];
}

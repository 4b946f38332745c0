// The lower triangle of a square row-major [n × n] matrix copied from its upper triangle, in
// place: what a symmetric product (src/kernels/gpu/linear.ts, symmetricLinear) did not compute.
override WG: u32; // threads per workgroup, set by the host
struct Params { n: u32, size: u32 }
@group(0) @binding(0) var<storage, read_write> y: array<f32>;
@group(0) @binding(1) var<uniform> p: Params;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = gid.x + gid.y * nwg.x * WG;
  if (i >= p.size) { return; }
  let r = i / p.n;
  let c = i % p.n;
  if (r > c) { y[i] = y[c * p.n + r]; }
}

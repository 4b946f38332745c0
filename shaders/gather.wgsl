// Column gather: y[r, j] = x[r, cols[j]] (cols stored as f32, exact below 2^24).
override WG: u32; // threads per workgroup, set by the host
struct Params { rows: u32, inCols: u32, outCols: u32 }
@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read> cols: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;
@group(0) @binding(3) var<uniform> p: Params;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = gid.x + gid.y * nwg.x * WG;
  if (i >= p.rows * p.outCols) { return; }
  let r = i / p.outCols;
  let j = i % p.outCols;
  y[i] = x[r * p.inCols + u32(cols[j])];
}

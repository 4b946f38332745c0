// Elementwise binary ops over flat arrays. op 0: a + b; op 1: silu(a) * b (SwiGLU).
override OP: u32 = 0u;
override WG: u32; // threads per workgroup, set by the host
struct Params { n: u32 }
@group(0) @binding(0) var<storage, read> a: array<f32>;
@group(0) @binding(1) var<storage, read> b: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;
@group(0) @binding(3) var<uniform> p: Params;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = gid.x + gid.y * nwg.x * WG;
  if (i >= p.n) { return; }
  if (OP == 0u) {
    y[i] = a[i] + b[i];
  } else {
    let g = a[i];
    y[i] = g / (1.0 + exp(-g)) * b[i];
  }
}

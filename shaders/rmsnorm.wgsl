// Row-wise RMSNorm: one workgroup per row, a tree reduction of the sum of squares.
override WG: u32; // threads per row, set by the host (a power of two)
struct Params { rows: u32, cols: u32, eps: f32 }
@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read> w: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;
@group(0) @binding(3) var<uniform> p: Params;
var<workgroup> part: array<f32, WG>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) li: u32,
        @builtin(num_workgroups) nwg: vec3u) {
  let row = wid.x + wid.y * nwg.x;
  if (row >= p.rows) { return; }
  let base = row * p.cols;
  var ss = 0.0;
  for (var j = li; j < p.cols; j += WG) { let v = x[base + j]; ss += v * v; }
  part[li] = ss;
  workgroupBarrier();
  for (var s = WG / 2u; s > 0u; s >>= 1u) {
    if (li < s) { part[li] += part[li + s]; }
    workgroupBarrier();
  }
  let inv = inverseSqrt(part[0] / f32(p.cols) + p.eps);
  for (var j = li; j < p.cols; j += WG) { y[base + j] = x[base + j] * inv * w[j]; }
}

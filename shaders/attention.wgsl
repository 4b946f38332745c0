// Causal attention with grouped KV heads. One invocation per (row, query head): a single pass with
// an online softmax (running max and sum), so no T×T score matrix is stored. The head dimension HD
// is a compile-time constant prepended by the host (`const HD: u32`), so the accumulator is a fixed
// register array with constant-trip loops (lavapipe and real GPUs both keep it in registers).
// Output: the per-head attention result before o_proj, [rows, H*d].
override WG: u32; // threads per workgroup, set by the host
struct Params { rows: u32, seqLen: u32, nHeads: u32, nKvHeads: u32, headDim: u32, scale: f32 }
@group(0) @binding(0) var<storage, read> q: array<f32>;
@group(0) @binding(1) var<storage, read> k: array<f32>;
@group(0) @binding(2) var<storage, read> v: array<f32>;
@group(0) @binding(3) var<storage, read_write> o: array<f32>;
@group(0) @binding(4) var<uniform> p: Params;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let idx = gid.x + gid.y * nwg.x * WG;
  if (idx >= p.rows * p.nHeads) { return; }
  let row = idx / p.nHeads;
  let h = idx % p.nHeads;
  let g = h / (p.nHeads / p.nKvHeads);
  let first = row - row % p.seqLen;
  let qo = row * p.nHeads * HD + h * HD;
  let kw = p.nKvHeads * HD;
  var qv: array<f32, HD>;
  var acc: array<f32, HD>;
  for (var j = 0u; j < HD; j++) { qv[j] = q[qo + j] * p.scale; acc[j] = 0.0; }
  var m = -3.0e38;
  var l = 0.0;
  for (var s = first; s <= row; s++) {
    let ko = s * kw + g * HD;
    var dot = 0.0;
    for (var j = 0u; j < HD; j++) { dot += qv[j] * k[ko + j]; }
    let mNew = max(m, dot);
    let corr = exp(m - mNew);
    let e = exp(dot - mNew);
    l = l * corr + e;
    for (var j = 0u; j < HD; j++) { acc[j] = acc[j] * corr + e * v[ko + j]; }
    m = mNew;
  }
  let inv = 1.0 / l;
  for (var j = 0u; j < HD; j++) { o[qo + j] = acc[j] * inv; }
}

// Rotary position embedding, one invocation per rotated pair. mode 0 = llama2.c adjacent
// pairs (2i, 2i+1); 1 = Hugging Face rotate-half (i, i + d/2).
override WG: u32; // threads per workgroup, set by the host
struct Params { rows: u32, nHeads: u32, headDim: u32, seqLen: u32, mode: u32, posOffset: u32, theta: f32 }
@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read_write> y: array<f32>;
@group(0) @binding(2) var<uniform> p: Params;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let half = p.headDim / 2u;
  let idx = gid.x + gid.y * nwg.x * WG;
  let perRow = p.nHeads * half;
  if (idx >= p.rows * perRow) { return; }
  let row = idx / perRow;
  let rem = idx % perRow;
  let h = rem / half;
  let i = rem % half;
  let pos = f32(row % p.seqLen + p.posOffset);
  // Same formula as the CPU twin: θ^(−2i/d), angle computed in f32.
  let invFreq = 1.0 / pow(p.theta, f32(2u * i) / f32(p.headDim));
  let ang = pos * invFreq;
  let c = cos(ang);
  let s = sin(ang);
  let base = row * p.nHeads * p.headDim + h * p.headDim;
  var a = base + i;
  var b = base + i + half;
  if (p.mode == 0u) { a = base + 2u * i; b = a + 1u; }
  let x0 = x[a];
  let x1 = x[b];
  y[a] = x0 * c - x1 * s;
  y[b] = x0 * s + x1 * c;
}

// Row reductions, one workgroup per row.
// entry `cosine`: out[row] = cos(a_row, b_row) (0 when a row is zero).
// entry `nll`: out[row] = logsumexp(a_row) - a_row[target]; targets hold ids as f32 in b.
override WG: u32; // threads per row, set by the host (a power of two)
struct Params { rows: u32, cols: u32 }
@group(0) @binding(0) var<storage, read> a: array<f32>;
@group(0) @binding(1) var<storage, read> b: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;
@group(0) @binding(3) var<uniform> p: Params;
var<workgroup> r0: array<f32, WG>;
var<workgroup> r1: array<f32, WG>;
var<workgroup> r2: array<f32, WG>;

fn rowIndex(wid: vec3u, nwg: vec3u) -> u32 { return wid.x + wid.y * nwg.x; }

@compute @workgroup_size(WG)
fn cosine(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) li: u32,
          @builtin(num_workgroups) nwg: vec3u) {
  let row = rowIndex(wid, nwg);
  if (row >= p.rows) { return; }
  let base = row * p.cols;
  var dot = 0.0; var na = 0.0; var nb = 0.0;
  for (var j = li; j < p.cols; j += WG) {
    let x = a[base + j]; let z = b[base + j];
    dot += x * z; na += x * x; nb += z * z;
  }
  r0[li] = dot; r1[li] = na; r2[li] = nb;
  workgroupBarrier();
  for (var s = WG / 2u; s > 0u; s >>= 1u) {
    if (li < s) { r0[li] += r0[li + s]; r1[li] += r1[li + s]; r2[li] += r2[li + s]; }
    workgroupBarrier();
  }
  if (li == 0u) {
    let den = sqrt(r1[0]) * sqrt(r2[0]); // not sqrt(r1 * r2): the product of two large norms overflows f32
    // A zero row has cosine 0; a non-finite one stays non-finite (reported upstream, not hidden).
    y[row] = select(r0[0] / den, 0.0, den == 0.0);
  }
}

@compute @workgroup_size(WG)
fn nll(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) li: u32,
       @builtin(num_workgroups) nwg: vec3u) {
  let row = rowIndex(wid, nwg);
  if (row >= p.rows) { return; }
  let base = row * p.cols;
  var m = -3.0e38;
  for (var j = li; j < p.cols; j += WG) { m = max(m, a[base + j]); }
  r0[li] = m;
  workgroupBarrier();
  for (var s = WG / 2u; s > 0u; s >>= 1u) {
    if (li < s) { r0[li] = max(r0[li], r0[li + s]); }
    workgroupBarrier();
  }
  let mx = r0[0];
  var sum = 0.0;
  for (var j = li; j < p.cols; j += WG) { sum += exp(a[base + j] - mx); }
  r1[li] = sum;
  workgroupBarrier();
  for (var s = WG / 2u; s > 0u; s >>= 1u) {
    if (li < s) { r1[li] += r1[li + s]; }
    workgroupBarrier();
  }
  if (li == 0u) {
    let t = u32(b[row]);
    y[row] = log(r1[0]) + mx - a[base + t];
  }
}

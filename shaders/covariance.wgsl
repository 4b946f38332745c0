// Streaming column covariance of X [M×K] (rows are samples), merged chunk by chunk with Chan's
// parallel update (see CovStats in src/kernels/backend.ts). One covAccumulate runs:
//
//   colstats  chunk mean μb [K] and chunk Σx² [K]                      → cs = [μb | Σx²]
//   gram      G = Σ_r (x_r − μb)(x_r − μb)ᵀ, a tiled matmul over rows;
//             its epilogue merges: M2 += G + δδᵀ·na·nb/n, δ = μb − μa     (upper-triangle tiles,
//             mirrored, so half the work)
//   finalize  μ = μa + δ·nb/n,  sumsq += Σx²
//
// Centring each chunk on its own mean before the product is what keeps f32 accurate when the
// data sit on a large offset (activations with a big mean): Σx² − n·μ² would cancel catastrophically.
//
// The Gram kernel is shaders/gram_vec4.wgsl / gram_scalar.wgsl (lib/gram.wgsl: the matmul tiling
// of lib/matmul_tile.wgsl, shared with the linear kernel). This file holds the column kernels.

// Threads per workgroup, set by the host for each entry point: WG_X × WG_Y for colstats, WG for the others.
override WG_X: u32;
override WG_Y: u32;
override WG: u32;

// ---- colstats -----------------------------------------------------------------------------------

struct StatsParams {
  M: u32,
  K: u32,
}

@group(0) @binding(0) var<storage, read> Xs: array<f32>;
@group(0) @binding(1) var<storage, read_write> csOut: array<f32>;
@group(0) @binding(2) var<uniform> sp: StatsParams;

var<workgroup> partial: array<vec2<f32>, WG_X * WG_Y>;

// Workgroup: WG_X columns × WG_Y row-phases; each thread sums every WG_Y-th row (Kahan), then the
// partial sums of a column are added in workgroup memory.
@compute @workgroup_size(WG_X, WG_Y)
fn colstats(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>) {
  let col = wid.x * WG_X + lid.x;
  var s = vec2<f32>(0.0);   // (Σx, Σx²)
  var comp = vec2<f32>(0.0);
  if (col < sp.K) {
    for (var r = lid.y; r < sp.M; r += WG_Y) {
      let x = Xs[r * sp.K + col];
      let y = vec2<f32>(x, x * x) - comp;
      let t = s + y;
      comp = (t - s) - y;
      s = t;
    }
  }
  partial[lid.y * WG_X + lid.x] = s;
  workgroupBarrier();
  if (lid.y == 0u && col < sp.K) {
    var tot = partial[lid.x];
    for (var q = 1u; q < WG_Y; q++) { tot += partial[q * WG_X + lid.x]; }
    csOut[col] = tot.x / f32(sp.M);
    csOut[sp.K + col] = tot.y;
  }
}

// ---- finalize: the mean and Σx² of the merged statistics ----------------------------------------

struct FinalParams {
  K: u32,
  w: f32,   // nb / n
}

@group(0) @binding(0) var<storage, read> csIn: array<f32>;
@group(0) @binding(1) var<storage, read_write> meanOut: array<f32>;
@group(0) @binding(2) var<storage, read_write> sumsqOut: array<f32>;
@group(0) @binding(3) var<uniform> fp: FinalParams;

@compute @workgroup_size(WG)
fn finalize(@builtin(global_invocation_id) gid: vec3<u32>) {
  let c = gid.x;
  if (c >= fp.K) { return; }
  let ma = meanOut[c];
  meanOut[c] = ma + (csIn[c] - ma) * fp.w;
  sumsqOut[c] += csIn[fp.K + c];
}

// ---- zero fill (fresh statistics live in pooled buffers) ---------------------------------------

struct FillParams {
  n: u32,
}

@group(0) @binding(0) var<storage, read_write> fillOut: array<f32>;
@group(0) @binding(1) var<uniform> fl: FillParams;

@compute @workgroup_size(WG)
fn zero(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.x + gid.y * nwg.x * WG;
  if (i < fl.n) { fillOut[i] = 0.0; }
}

// Streaming column covariance of X [M×K] (rows are samples), merged chunk by chunk with Chan's
// parallel update (see CovStats in src/kernels/backend.ts). One covAccumulate runs:
//
//   colstats  chunk mean μb [K] and chunk Σx² [K]                      → cs = [μb | Σx²]
//   gram_*    G = Σ_r (x_r − μb)(x_r − μb)ᵀ, a tiled matmul over rows;
//             its epilogue merges: M2 += G + δδᵀ·na·nb/n, δ = μb − μa     (upper-triangle tiles,
//             mirrored, so half the work)
//   finalize  μ = μa + δ·nb/n,  sumsq += Σx²
//
// Centring each chunk on its own mean before the product is what keeps f32 accurate when the
// data sit on a large offset (activations with a big mean): Σx² − n·μ² would cancel catastrophically.
//
// M2 above maxStorageBufferBindingSize is bound in row blocks (whole tiles each): one dispatch per
// pair of blocks P ≤ Q covers the output tiles with rows in P and columns in Q, writing its tiles to
// block P and their mirrors to block Q (binding m2b), so the triangle is still computed once.
//
// The Gram kernel is the linear kernel's tiling (shaders/linear.wgsl: keep the two in step) with
// both operands taken from the columns of X: the workgroup tile for output block (I, J) needs
// X[r0.., I] and X[r0.., J], which are already [k][m] in X's row-major layout, so the workgroup
// copy needs no transpose.

override WG_X: u32 = 8u;
override WG_Y: u32 = 8u;
override BK: u32 = 16u;      // rows of X per workgroup-memory tile
override WIDE: bool = true;  // register tile 16×16 (true) or 8×8 (false), as in linear.wgsl

override TM: u32 = select(8u, 16u, WIDE);
override TN: u32 = TM;
override TN4: u32 = TN / 4u;
override BM: u32 = WG_Y * TM;   // == BN: square output tiles
override NT: u32 = WG_X * WG_Y;
override BM4: u32 = BM / 4u;    // NT must be a multiple of BM4 (host checks)

const ACC: u32 = 64u;

// ---- colstats -----------------------------------------------------------------------------------

struct StatsParams {
  M: u32,
  K: u32,
}

@group(0) @binding(0) var<storage, read> Xs: array<f32>;
@group(0) @binding(1) var<storage, read_write> csOut: array<f32>;
@group(0) @binding(2) var<uniform> sp: StatsParams;

const CS_COLS: u32 = 64u;
const CS_ROWS: u32 = 4u;
var<workgroup> partial: array<vec2<f32>, CS_COLS * CS_ROWS>;

// Workgroup: 64 columns × 4 row-phases; each thread sums every 4th row (Kahan), then the four
// partial sums of a column are added in workgroup memory.
@compute @workgroup_size(CS_COLS, CS_ROWS)
fn colstats(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>) {
  let col = wid.x * CS_COLS + lid.x;
  var s = vec2<f32>(0.0);   // (Σx, Σx²)
  var comp = vec2<f32>(0.0);
  if (col < sp.K) {
    for (var r = lid.y; r < sp.M; r += CS_ROWS) {
      let x = Xs[r * sp.K + col];
      let y = vec2<f32>(x, x * x) - comp;
      let t = s + y;
      comp = (t - s) - y;
      s = t;
    }
  }
  partial[lid.y * CS_COLS + lid.x] = s;
  workgroupBarrier();
  if (lid.y == 0u && col < sp.K) {
    var tot = partial[lid.x];
    for (var q = 1u; q < CS_ROWS; q++) { tot += partial[q * CS_COLS + lid.x]; }
    csOut[col] = tot.x / f32(sp.M);
    csOut[sp.K + col] = tot.y;
  }
}

// ---- gram + Chan merge --------------------------------------------------------------------------

struct GramParams {
  M: u32,
  K: u32,
  ti0: u32,   // tile row of workgroup y = 0 (first tile of block P)
  tj0: u32,   // tile column of workgroup x = 0 (first tile of block Q)
  rowA: u32,  // first M2 row bound to m2
  rowB: u32,  // first M2 row bound to m2b
  pair: u32,  // 1: mirrored elements go to m2b (block Q ≠ P); 0: to m2 (m2b is a dummy)
  f: f32,     // na·nb/n  (0 for the first chunk)
}

@group(0) @binding(0) var<storage, read> X4: array<vec4<f32>>;
@group(0) @binding(0) var<storage, read> X1: array<f32>;
@group(0) @binding(1) var<storage, read> cs: array<f32>;        // [μb | Σx²]
@group(0) @binding(2) var<storage, read> meanA: array<f32>;     // μa (stats.mean before merge)
@group(0) @binding(3) var<storage, read_write> m2: array<f32>;   // M2 rows [rowA, …) × K
@group(0) @binding(4) var<storage, read_write> m2b: array<f32>;  // M2 rows [rowB, …) × K
@group(0) @binding(5) var<uniform> gp: GramParams;

var<workgroup> As: array<vec4<f32>, BK * BM / 4u>;  // [k][i]
var<workgroup> Bs: array<vec4<f32>, BK * BM / 4u>;  // [k][j]

// Columns c..c+3 of row r, centred on the chunk mean; zero outside X (rows ≥ M add nothing).
fn centred4(r: u32, c: u32, mu: vec4<f32>) -> vec4<f32> {
  let ok = r < gp.M && c < gp.K;
  let x = X4[select(0u, (r * gp.K + c) / 4u, ok)];
  return select(vec4<f32>(0.0), x - mu, ok);
}

fn centred1(r: u32, c: u32, mu: vec4<f32>) -> vec4<f32> {
  var v = vec4<f32>(0.0);
  if (r < gp.M) {
    for (var q = 0u; q < 4u; q++) {
      if (c + q < gp.K) { v[q] = X1[r * gp.K + c + q] - mu[q]; }
    }
  }
  return v;
}

// Chunk mean of columns c..c+3 (0 past K).
fn chunkMean4(c: u32) -> vec4<f32> {
  var v = vec4<f32>(0.0);
  for (var q = 0u; q < 4u; q++) {
    if (c + q < gp.K) { v[q] = cs[c + q]; }
  }
  return v;
}

fn outer(acc: ptr<function, array<vec4<f32>, ACC>>, i4: u32, j: u32, a: vec4<f32>, b: vec4<f32>) {
  let q = i4 * 4u * TN4 + j;
  (*acc)[q] = fma(vec4<f32>(a.x), b, (*acc)[q]);
  (*acc)[q + TN4] = fma(vec4<f32>(a.y), b, (*acc)[q + TN4]);
  (*acc)[q + 2u * TN4] = fma(vec4<f32>(a.z), b, (*acc)[q + 2u * TN4]);
  (*acc)[q + 3u * TN4] = fma(vec4<f32>(a.w), b, (*acc)[q + 3u * TN4]);
}

fn mma(acc: ptr<function, array<vec4<f32>, ACC>>, tx: u32, ty: u32) {
  for (var k = 0u; k < BK; k++) {
    let ra = k * BM4 + ty * (TM / 4u);
    let rb = k * BM4 + tx * TN4;
    if (WIDE) {
      let a0 = As[ra]; let a1 = As[ra + 1u]; let a2 = As[ra + 2u]; let a3 = As[ra + 3u];
      let b0 = Bs[rb]; let b1 = Bs[rb + 1u]; let b2 = Bs[rb + 2u]; let b3 = Bs[rb + 3u];
      outer(acc, 0u, 0u, a0, b0); outer(acc, 0u, 1u, a0, b1); outer(acc, 0u, 2u, a0, b2); outer(acc, 0u, 3u, a0, b3);
      outer(acc, 1u, 0u, a1, b0); outer(acc, 1u, 1u, a1, b1); outer(acc, 1u, 2u, a1, b2); outer(acc, 1u, 3u, a1, b3);
      outer(acc, 2u, 0u, a2, b0); outer(acc, 2u, 1u, a2, b1); outer(acc, 2u, 2u, a2, b2); outer(acc, 2u, 3u, a2, b3);
      outer(acc, 3u, 0u, a3, b0); outer(acc, 3u, 1u, a3, b1); outer(acc, 3u, 2u, a3, b2); outer(acc, 3u, 3u, a3, b3);
    } else {
      let a0 = As[ra]; let a1 = As[ra + 1u];
      let b0 = Bs[rb]; let b1 = Bs[rb + 1u];
      outer(acc, 0u, 0u, a0, b0); outer(acc, 0u, 1u, a0, b1);
      outer(acc, 1u, 0u, a1, b0); outer(acc, 1u, 1u, a1, b1);
    }
  }
}

// M2[i][j] += G[i][j] + δi·δj·f, and the mirror element for off-diagonal tiles.
fn mergeTile(acc: ptr<function, array<vec4<f32>, ACC>>, gi0: u32, gj0: u32, mirror: bool) {
  let K = gp.K;
  for (var q = 0u; q < TM * TN4; q++) {
    let i = gi0 + q / TN4;
    let j = gj0 + (q % TN4) * 4u;
    if (i < K) {
      let di = cs[i] - meanA[i];
      let v = (*acc)[q];
      for (var c = 0u; c < 4u; c++) {
        let jc = j + c;
        if (jc < K) {
          let g = v[c] + di * (cs[jc] - meanA[jc]) * gp.f;
          m2[(i - gp.rowA) * K + jc] += g;
          if (mirror) {
            if (gp.pair != 0u) { m2b[(jc - gp.rowB) * K + i] += g; } else { m2[(jc - gp.rowA) * K + i] += g; }
          }
        }
      }
    }
  }
}

// Grid: (tiles of block Q, tiles of block P); only tiles with J ≥ I work. The early return depends
// only on the workgroup id and uniforms, so the barriers below stay in uniform control flow.
@compute @workgroup_size(WG_X, WG_Y)
fn gram_vec4(
  @builtin(local_invocation_id) lid: vec3<u32>,
  @builtin(workgroup_id) wid: vec3<u32>,
  @builtin(local_invocation_index) li: u32,
) {
  let bi = gp.ti0 + wid.y; let bj = gp.tj0 + wid.x;
  if (bj < bi) { return; }
  let i0 = bi * BM; let j0 = bj * BM;
  // Each thread always copies the same 4 columns (li % BM4) of every tile row it handles.
  let c4 = li % BM4;
  let muI = chunkMean4(i0 + c4 * 4u);
  let muJ = chunkMean4(j0 + c4 * 4u);
  var acc: array<vec4<f32>, ACC>;
  for (var r0 = 0u; r0 < gp.M; r0 += BK) {
    for (var k = li / BM4; k < BK; k += NT / BM4) {
      As[k * BM4 + c4] = centred4(r0 + k, i0 + c4 * 4u, muI);
      Bs[k * BM4 + c4] = centred4(r0 + k, j0 + c4 * 4u, muJ);
    }
    workgroupBarrier();
    mma(&acc, lid.x, lid.y);
    workgroupBarrier();
  }
  mergeTile(&acc, i0 + lid.y * TM, j0 + lid.x * TN, bi != bj);
}

@compute @workgroup_size(WG_X, WG_Y)
fn gram_scalar(
  @builtin(local_invocation_id) lid: vec3<u32>,
  @builtin(workgroup_id) wid: vec3<u32>,
  @builtin(local_invocation_index) li: u32,
) {
  let bi = gp.ti0 + wid.y; let bj = gp.tj0 + wid.x;
  if (bj < bi) { return; }
  let i0 = bi * BM; let j0 = bj * BM;
  let c4 = li % BM4;
  let muI = chunkMean4(i0 + c4 * 4u);
  let muJ = chunkMean4(j0 + c4 * 4u);
  var acc: array<vec4<f32>, ACC>;
  for (var r0 = 0u; r0 < gp.M; r0 += BK) {
    for (var k = li / BM4; k < BK; k += NT / BM4) {
      As[k * BM4 + c4] = centred1(r0 + k, i0 + c4 * 4u, muI);
      Bs[k * BM4 + c4] = centred1(r0 + k, j0 + c4 * 4u, muJ);
    }
    workgroupBarrier();
    mma(&acc, lid.x, lid.y);
    workgroupBarrier();
  }
  mergeTile(&acc, i0 + lid.y * TM, j0 + lid.x * TN, bi != bj);
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

@compute @workgroup_size(64)
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
  rowStride: u32,   // elements per grid row: gridX · 256
}

@group(0) @binding(0) var<storage, read_write> fillOut: array<f32>;
@group(0) @binding(1) var<uniform> fl: FillParams;

@compute @workgroup_size(256)
fn zero(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>) {
  let i = wid.y * fl.rowStride + wid.x * 256u + lid.x;
  if (i < fl.n) { fillOut[i] = 0.0; }
}

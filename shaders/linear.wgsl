// Y = X·Wᵀ (+ b): X [M×K] and W [N×K] row-major (the checkpoint Linear layout), b [N], Y [M×N].
// f32 accumulation.
//
// Tiling. A workgroup computes a BM×BN tile of Y. For each slice of BK columns of K it copies the
// matching X tile (BM×BK) and W tile (BN×BK) into workgroup memory, transposed to [k][m] / [k][n]
// so the inner loop reads 4 consecutive rows (or columns) as one vec4. Each thread owns a TM×TN
// register tile: per k it loads TM/4 + TN/4 vec4s and does TM·TN FMAs.
//
// The register tile is 16×16 (WIDE, the default) or 8×8. Why 16×16: on CPU-backed adapters
// (Mesa lavapipe/llvmpipe, SwiftShader) every divergent load from workgroup memory is expanded into
// one scalar load per SIMD lane, so loads — not FMAs — dominate, and the register tile is the
// lever (measured on lavapipe at 1024³: 8×8 ≈ 13, 8×16 ≈ 18, 16×16 ≈ 24 GFLOP/s of CPU time;
// 16×32 and 32×16 are slower again). Real GPUs want 8×8 with 16×16 threads: a 16×16 tile is 256
// accumulators, more registers than they have. The host picks (src/kernels/gpu/linear.ts).
//
// Two entry points share everything but the global loads: `linear_vec4` reads X and W as vec4
// (needs K % 4 == 0, so every row starts 16-byte aligned) and `linear_scalar` reads f32 (any K).
// They bind different views of bindings 0 and 1, which WGSL allows because no entry point uses both.
//
// Bounds: M, N and K need not be multiples of the tile. Out-of-range X/W elements load as 0 (so they
// add nothing) and out-of-range Y elements are not written.

override WG_X: u32 = 8u;   // threads along N
override WG_Y: u32 = 8u;   // threads along M
override BK: u32 = 16u;    // K-slice per workgroup-memory tile (multiple of 4)
override WIDE: bool = true; // register tile 16×16 (true) or 8×8 (false)

override TM: u32 = select(8u, 16u, WIDE); // rows of Y per thread
override TN: u32 = TM;                    // columns of Y per thread
override TN4: u32 = TN / 4u;              // vec4 accumulators per register-tile row
override BM: u32 = WG_Y * TM;             // rows of Y per workgroup
override BN: u32 = WG_X * TN;             // columns of Y per workgroup
override NT: u32 = WG_X * WG_Y;           // threads per workgroup
override BK4: u32 = BK / 4u;

// Register-tile capacity: TM·TN/4 vec4s (64 for 16×16). Only the first TM·TN/4 are used.
const ACC: u32 = 64u;

struct Params {
  M: u32,
  K: u32,
  N: u32,       // rows of the bound W range = output columns computed by this dispatch
  hasBias: u32,
  ldy: u32,     // row stride of Y (the full output width)
  yCol: u32,    // first output column (and bias index) of this W range
}

@group(0) @binding(0) var<storage, read> X4: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read> W4: array<vec4<f32>>;
@group(0) @binding(0) var<storage, read> X1: array<f32>;
@group(0) @binding(1) var<storage, read> W1: array<f32>;
@group(0) @binding(2) var<storage, read> bias: array<f32>;
@group(0) @binding(3) var<storage, read_write> Y: array<f32>;
@group(0) @binding(4) var<uniform> p: Params;

// [k][m] and [k][n], four consecutive m (n) per vec4.
var<workgroup> As: array<vec4<f32>, BK * BM / 4u>;
var<workgroup> Bs: array<vec4<f32>, BK * BN / 4u>;

// ---- tile loads: thread `li` fetches 4 consecutive k of one row, stores them transposed --------

fn putA(kq: u32, r: u32, v: vec4<f32>) {
  let base = kq * 4u * (BM / 4u) + r / 4u;
  let c = r % 4u;
  As[base][c] = v.x;
  As[base + BM / 4u][c] = v.y;
  As[base + 2u * (BM / 4u)][c] = v.z;
  As[base + 3u * (BM / 4u)][c] = v.w;
}

fn putB(kq: u32, r: u32, v: vec4<f32>) {
  let base = kq * 4u * (BN / 4u) + r / 4u;
  let c = r % 4u;
  Bs[base][c] = v.x;
  Bs[base + BN / 4u][c] = v.y;
  Bs[base + 2u * (BN / 4u)][c] = v.z;
  Bs[base + 3u * (BN / 4u)][c] = v.w;
}

// Row `row` (of `rows`), columns k..k+3 of a [rows×K] matrix, zero outside. K % 4 == 0.
fn fetchX4(row: u32, k: u32) -> vec4<f32> {
  let ok = row < p.M && k < p.K;
  return select(vec4<f32>(0.0), X4[select(0u, (row * p.K + k) / 4u, ok)], ok);
}

fn fetchW4(row: u32, k: u32) -> vec4<f32> {
  let ok = row < p.N && k < p.K;
  return select(vec4<f32>(0.0), W4[select(0u, (row * p.K + k) / 4u, ok)], ok);
}

fn fetchX1(row: u32, k: u32) -> vec4<f32> {
  var v = vec4<f32>(0.0);
  if (row < p.M) {
    let base = row * p.K;
    for (var c = 0u; c < 4u; c++) {
      if (k + c < p.K) { v[c] = X1[base + k + c]; }
    }
  }
  return v;
}

fn fetchW1(row: u32, k: u32) -> vec4<f32> {
  var v = vec4<f32>(0.0);
  if (row < p.N) {
    let base = row * p.K;
    for (var c = 0u; c < 4u; c++) {
      if (k + c < p.K) { v[c] = W1[base + k + c]; }
    }
  }
  return v;
}

// ---- inner product on the workgroup tiles --------------------------------------------------------

// acc[i * TN4 + j] holds Y row i (of the thread's TM), columns 4j..4j+3 (of its TN).
// Adds the outer product of rows 4·i4..4·i4+3 (a) and column vec4 j (b).
fn outer(acc: ptr<function, array<vec4<f32>, ACC>>, i4: u32, j: u32, a: vec4<f32>, b: vec4<f32>) {
  let q = i4 * 4u * TN4 + j;
  (*acc)[q] = fma(vec4<f32>(a.x), b, (*acc)[q]);
  (*acc)[q + TN4] = fma(vec4<f32>(a.y), b, (*acc)[q + TN4]);
  (*acc)[q + 2u * TN4] = fma(vec4<f32>(a.z), b, (*acc)[q + 2u * TN4]);
  (*acc)[q + 3u * TN4] = fma(vec4<f32>(a.w), b, (*acc)[q + 3u * TN4]);
}

// Written out rather than looped: the accumulator indices must be constants for the compiler to
// keep the register tile in registers (a loop it does not unroll turns it into indexed memory).
fn mma(acc: ptr<function, array<vec4<f32>, ACC>>, tx: u32, ty: u32) {
  for (var k = 0u; k < BK; k++) {
    let ra = k * (BM / 4u) + ty * (TM / 4u);
    let rb = k * (BN / 4u) + tx * TN4;
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

// A runtime loop on purpose: unrolled, the per-element bounds checks make the pipeline take tens
// of seconds to compile on lavapipe, for no speed.
fn storeY(acc: ptr<function, array<vec4<f32>, ACC>>, gm0: u32, gn0: u32) {
  for (var q = 0u; q < TM * TN4; q++) {
    let m = gm0 + q / TN4;
    let n = gn0 + (q % TN4) * 4u;
    let v = (*acc)[q];
    if (m < p.M) {
      for (var c = 0u; c < 4u; c++) {
        if (n + c < p.N) {
          var y = v[c];
          if (p.hasBias != 0u) { y += bias[p.yCol + n + c]; }
          Y[m * p.ldy + p.yCol + n + c] = y;
        }
      }
    }
  }
}

// ---- entry points --------------------------------------------------------------------------------
// Grid: (ceil(N / BN), ceil(M / BM)).

@compute @workgroup_size(WG_X, WG_Y)
fn linear_vec4(
  @builtin(local_invocation_id) lid: vec3<u32>,
  @builtin(workgroup_id) wid: vec3<u32>,
  @builtin(local_invocation_index) li: u32,
) {
  let m0 = wid.y * BM;
  let n0 = wid.x * BN;
  var acc: array<vec4<f32>, ACC>;
  for (var k0 = 0u; k0 < p.K; k0 += BK) {
    for (var i = li; i < BM * BK4; i += NT) {
      let r = i / BK4; let kq = i % BK4;
      putA(kq, r, fetchX4(m0 + r, k0 + kq * 4u));
    }
    for (var i = li; i < BN * BK4; i += NT) {
      let r = i / BK4; let kq = i % BK4;
      putB(kq, r, fetchW4(n0 + r, k0 + kq * 4u));
    }
    workgroupBarrier();
    mma(&acc, lid.x, lid.y);
    workgroupBarrier();
  }
  storeY(&acc, m0 + lid.y * TM, n0 + lid.x * TN);
}

@compute @workgroup_size(WG_X, WG_Y)
fn linear_scalar(
  @builtin(local_invocation_id) lid: vec3<u32>,
  @builtin(workgroup_id) wid: vec3<u32>,
  @builtin(local_invocation_index) li: u32,
) {
  let m0 = wid.y * BM;
  let n0 = wid.x * BN;
  var acc: array<vec4<f32>, ACC>;
  for (var k0 = 0u; k0 < p.K; k0 += BK) {
    for (var i = li; i < BM * BK4; i += NT) {
      let r = i / BK4; let kq = i % BK4;
      putA(kq, r, fetchX1(m0 + r, k0 + kq * 4u));
    }
    for (var i = li; i < BN * BK4; i += NT) {
      let r = i / BK4; let kq = i % BK4;
      putB(kq, r, fetchW1(n0 + r, k0 + kq * 4u));
    }
    workgroupBarrier();
    mma(&acc, lid.x, lid.y);
    workgroupBarrier();
  }
  storeY(&acc, m0 + lid.y * TM, n0 + lid.x * TN);
}

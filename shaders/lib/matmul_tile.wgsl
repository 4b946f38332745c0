// The register-tiled inner product shared by the linear (linear_*.wgsl) and Gram (gram_*.wgsl)
// kernels: tile sizes as override constants, the two workgroup-memory tiles and `mma`.
//
// A workgroup computes a BM×BN tile of the output. For each slice of BK along the inner dimension
// the kernel copies the matching A tile (BM×BK) and B tile (BN×BK) into workgroup memory as
// [k][m] / [k][n], so the inner loop reads 4 consecutive rows (or columns) as one vec4. Each
// thread owns a TM×TN register tile: per k it loads TM/4 + TN/4 vec4s and does TM·TN FMAs.
//
// The register tile is 16×16 (WIDE) or 8×8. Why 16×16: on CPU-backed adapters (Mesa
// lavapipe/llvmpipe, SwiftShader) every divergent load from workgroup memory is expanded into one
// scalar load per SIMD lane, so loads — not FMAs — dominate, and the register tile is the lever
// (bench:kernels measures it; wider or taller tiles than 16×16 are slower again). Real GPUs want
// 8×8 with more threads: a 16×16 tile is more accumulators than they have registers. The host
// picks (src/gpu/tuning.ts) and passes every size below as an override.

override WG_X: u32;         // threads along N
override WG_Y: u32;         // threads along M
override BK: u32;           // inner-dimension slice per workgroup-memory tile (multiple of 4)
override WIDE: bool;        // register tile 16×16 (true) or 8×8 (false)

override TM: u32 = select(8u, 16u, WIDE); // rows of the output per thread
override TN: u32 = TM;                    // columns of the output per thread
override TN4: u32 = TN / 4u;              // vec4 accumulators per register-tile row
override BM: u32 = WG_Y * TM;             // rows of the output per workgroup
override BN: u32 = WG_X * TN;             // columns of the output per workgroup
override NT: u32 = WG_X * WG_Y;           // threads per workgroup

// Register-tile capacity in vec4s: enough for the wide tile; the narrow one uses the first part.
const ACC: u32 = 64u;

// [k][m] and [k][n], four consecutive m (n) per vec4.
var<workgroup> As: array<vec4<f32>, BK * BM / 4u>;
var<workgroup> Bs: array<vec4<f32>, BK * BN / 4u>;

// acc[i * TN4 + j] holds output row i (of the thread's TM), columns 4j..4j+3 (of its TN).
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

// One slice step of the tile loop: the tiles are loaded; multiply them, with the barriers that
// keep the next load from overwriting tiles still being read.
fn multiplyTiles(acc: ptr<function, array<vec4<f32>, ACC>>, tx: u32, ty: u32) {
  workgroupBarrier();
  mma(acc, tx, ty);
  workgroupBarrier();
}

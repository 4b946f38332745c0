// The linear kernels' uniforms and output bindings (lib/linear.wgsl, lib/linear_rr.wgsl).

struct Params {
  M: u32,
  K: u32,
  N: u32,       // rows of the bound W range = output columns computed by this dispatch
  hasBias: u32,
  ldy: u32,     // row stride of Y (the full output width)
  yCol: u32,    // first output column (and bias index) of this W range
  row0: u32,    // row of the whole product that X's first bound row is (row-chunked products)
  upper: u32,   // 1: the product is symmetric; tiles wholly below its diagonal are skipped (the host mirrors)
}

@group(0) @binding(2) var<storage, read> bias: array<f32>;
@group(0) @binding(3) var<storage, read_write> Y: array<f32>;
@group(0) @binding(4) var<uniform> p: Params;

// The tile row that workgroup row `y` computes, tiles bm rows high. A symmetric product's rows
// have less work the lower they are (more of their tiles skip), so they are taken in the order
// 0, T−1, 1, T−2, …: any contiguous range of workgroups — what a CPU-backed driver hands each
// thread — then holds about the same work.
fn tileRow(y: u32, bm: u32) -> u32 {
  if (p.upper == 0u) { return y; }
  let t = (p.M + bm - 1u) / bm;
  return select(t - 1u - y / 2u, y / 2u, y % 2u == 0u);
}

// The tile with origin (m0, n0) and size bm × bn lies wholly below the diagonal of the whole product.
fn belowDiagonal(m0: u32, n0: u32, bm: u32, bn: u32) -> bool {
  return p.upper != 0u && p.yCol + n0 + bn <= p.row0 + m0;
}

// X and W of the linear kernels read as vec4 (K % 4 == 0: every row starts 16-byte aligned):
// bindings 0 and 1 and the fetches.

@group(0) @binding(0) var<storage, read> X4: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read> W4: array<vec4<f32>>;

// Row `row`, columns k..k+3, zero outside the matrix.
fn fetchA(row: u32, k: u32) -> vec4<f32> {
  let ok = row < p.M && k < p.K;
  return select(vec4<f32>(0.0), X4[select(0u, (row * p.K + k) / 4u, ok)], ok);
}

fn fetchB(row: u32, k: u32) -> vec4<f32> {
  let ok = row < p.N && k < p.K;
  return select(vec4<f32>(0.0), W4[select(0u, (row * p.K + k) / 4u, ok)], ok);
}

// X and W of the linear kernels read as f32 (any K): bindings 0 and 1 and the fetches.

@group(0) @binding(0) var<storage, read> X1: array<f32>;
@group(0) @binding(1) var<storage, read> W1: array<f32>;

// Row `row`, columns k..k+3, zero outside the matrix.
fn fetchA(row: u32, k: u32) -> vec4<f32> {
  var v = vec4<f32>(0.0);
  for (var c = 0u; c < 4u; c++) { if (row < p.M && k + c < p.K) { v[c] = X1[row * p.K + k + c]; } }
  return v;
}

fn fetchB(row: u32, k: u32) -> vec4<f32> {
  var v = vec4<f32>(0.0);
  for (var c = 0u; c < 4u; c++) { if (row < p.N && k + c < p.K) { v[c] = W1[row * p.K + k + c]; } }
  return v;
}
